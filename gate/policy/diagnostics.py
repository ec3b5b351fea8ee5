"""Collecting every error of a policy file, each with its line, column and field path.

The YAML reader, the schema check and the semantic pass all report here, so
one run shows every problem of the file, in file order, at most one per field.
"""

from __future__ import annotations

import json
import re

from gate.errors import PolicyError, PolicyValidationError
from gate.policy.yamlpos import FieldPath, Mark, Positions

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def render_field(path: FieldPath) -> str:
    """``("spec", "rules", 0, "signatures", "anyOf", 1)`` -> ``rules[0].signatures.anyOf[1]``.

    Paths under ``spec`` drop the ``spec.`` prefix: that is where almost every
    field lives and the prefix would only add noise.
    """
    if len(path) > 1 and path[0] == "spec":
        path = path[1:]
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            text += f".{part}" if text else part
        else:
            text += f"[{json.dumps(part)}]"
    return text


class Diagnostics:
    """Collects ``PolicyError``s for one file; the first error reported for a field wins."""

    def __init__(self, file: str, positions: Positions) -> None:
        self.file = file
        self.positions = positions
        self._errors: list[tuple[int, int, int, PolicyError]] = []
        self._fields: set[FieldPath] = set()

    def error(
        self,
        path: FieldPath,
        reason: str,
        *,
        at_key: bool = False,
        shown_path: FieldPath | None = None,
    ) -> None:
        """Record ``reason`` for the field at ``path`` (positioned at its key if ``at_key``)."""
        mark = self.positions.of_key(path) if at_key else self.positions.of_value(path)
        self.error_at(path, mark, reason, shown_path=shown_path)

    def error_at(
        self,
        path: FieldPath,
        mark: Mark | None,
        reason: str,
        *,
        shown_path: FieldPath | None = None,
    ) -> None:
        """Record ``reason`` for ``path`` at an explicit position.

        ``shown_path`` is the field path printed when it differs from the one
        that identifies the problem (an unknown key is shown under its parent).
        """
        if path in self._fields:
            return
        self._fields.add(path)
        shown = render_field(shown_path if shown_path is not None else path)
        error = PolicyError(
            reason,
            file=self.file,
            line=mark.line if mark else None,
            column=mark.column if mark else None,
            field=shown or None,
        )
        line = mark.line if mark else 0
        column = mark.column if mark else 0
        self._errors.append((line, column, len(self._errors), error))

    def has_error_under(self, prefix: FieldPath) -> bool:
        """True when an error was recorded for ``prefix`` or any field below it.

        The semantic pass uses it to make sure that a section it could not
        build was reported by someone: nothing present may vanish silently.
        """
        size = len(prefix)
        return any(field[:size] == prefix for field in self._fields)

    @property
    def errors(self) -> tuple[PolicyError, ...]:
        """Every recorded error, in file order."""
        return tuple(entry[3] for entry in sorted(self._errors, key=lambda e: e[:3]))

    def raise_if_any(self) -> None:
        """Raise one ``PolicyValidationError`` carrying every error, if there are any."""
        if self._errors:
            raise PolicyValidationError(self.errors)
