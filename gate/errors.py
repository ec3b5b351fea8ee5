"""The one error hierarchy of the gate, split by whose fault an error is.

Every error renders as a single line that names the file, the field and the
reason, so that a CI log or an admission response can show it verbatim.
"""

from __future__ import annotations

import json
import re

#: Characters that end a line for a terminal or ``str.splitlines``.
_LINE_BREAK = re.compile("[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")


def one_line(text: str) -> str:
    """``text`` with its line breaks escaped the way JSON writes them (``\\n``).

    Messages quote what they found (a key, a name, a value); one holding a
    newline must not split the message or forge a log line of its own.
    """
    return _LINE_BREAK.sub(lambda match: json.dumps(match.group())[1:-1], text)


class GateError(Exception):
    """Root of every error the gate raises on purpose."""

    #: Exit code the CLI maps this error to.
    exit_code: int = 2

    def __str__(self) -> str:
        return one_line(super().__str__())


class PolicyError(GateError):
    """The policy file is wrong (YAML, schema or meaning): exit 2.

    Rendered as ``file:line:col: field.path: reason`` with whatever parts are known.
    """

    def __init__(
        self,
        reason: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        field: str | None = None,
    ) -> None:
        self.reason = reason
        self.file = file
        self.line = line
        self.column = column
        self.field = field
        super().__init__(self.render())

    def render(self) -> str:
        """One line: ``policy.yaml:14:7: rules[0].signatures.anyOf[1]: reason``."""
        location = ""
        if self.file is not None:
            location = self.file
            if self.line is not None:
                location += f":{self.line}"
                if self.column is not None:
                    location += f":{self.column}"
            location += ": "
        field = f"{self.field}: " if self.field else ""
        return one_line(f"{location}{field}{self.reason}")


class InputError(GateError):
    """A report, SBOM, key or request is malformed: exit 2, with file and place."""

    def __init__(self, reason: str, *, source: str | None = None, field: str | None = None) -> None:
        self.reason = reason
        self.source = source
        self.field = field
        super().__init__(self.render())

    def render(self) -> str:
        """One line: ``report.json: Results[3].Vulnerabilities: reason``."""
        parts = [p for p in (self.source, self.field) if p]
        prefix = ": ".join(parts)
        return one_line(f"{prefix}: {self.reason}" if prefix else self.reason)


class VerificationError(GateError):
    """Evidence was checked and found wanting: the image is denied (exit 1)."""

    exit_code = 1


class BackendError(GateError):
    """A registry, notary or database could not be reached or answered nonsense.

    The gate could not decide; callers fail closed (exit 2 in the CLI, deny at
    admission).
    """


class PolicyValidationError(PolicyError):
    """Every error found in one policy file, reported together rather than one per run.

    ``errors`` holds one ``PolicyError`` per problem, in file order; ``str()``
    is their lines joined with newlines, so a CI log shows all of them at once.
    """

    def __init__(self, errors: tuple[PolicyError, ...] | list[PolicyError]) -> None:
        if not errors:
            raise ValueError("PolicyValidationError needs at least one error")
        self.errors: tuple[PolicyError, ...] = tuple(errors)
        first = self.errors[0]
        super().__init__(
            first.reason, file=first.file, line=first.line, column=first.column, field=first.field
        )

    def render(self) -> str:
        """All errors, one ``file:line:col: field: reason`` line each."""
        return "\n".join(error.render() for error in self.errors)

    def __str__(self) -> str:
        # The one error whose text has several lines: one per problem, each escaped.
        return self.render()
