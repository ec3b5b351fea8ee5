"""The one error hierarchy of the gate, split by whose fault an error is.

Every error renders as a single line that names the file, the field and the
reason, so that a CI log or an admission response can show it verbatim.
"""

from __future__ import annotations


class GateError(Exception):
    """Root of every error the gate raises on purpose."""

    #: Exit code the CLI maps this error to.
    exit_code: int = 2


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
        return f"{location}{field}{self.reason}"


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
        return f"{prefix}: {self.reason}" if prefix else self.reason


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
