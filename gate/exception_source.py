"""Where a ``Gate`` gets stored exceptions from: the webhook's cached store, or a CI file.

The policy engine stays pure (``gate.policy.exception_match``); this is the
one I/O interface for exceptions. ``current`` may raise ``GateError`` when
they cannot be read, and the check then fails closed for a rule with
vulnerability limits; ``noticed_expired`` reports exceptions a verdict found
expired (the webhook audits each once) and never raises.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from gate.policy.exceptions import CompiledException, ExceptionRecord

__all__ = ["ExceptionSource", "StaticExceptions", "admissible"]


class ExceptionSource(Protocol):
    """The exceptions a check may apply, and where to report expired ones."""

    def current(self) -> tuple[CompiledException, ...]:
        """Active and recently expired, not revoked exceptions; ``GateError`` if unreadable."""
        ...

    def noticed_expired(self, exception_ids: Sequence[str], now: datetime) -> None:
        """A verdict at ``now`` reported these exceptions expired; must not raise."""
        ...


class StaticExceptions:
    """A fixed list of exceptions (``gate check --exceptions FILE``); expiry is only reported."""

    def __init__(self, records: Sequence[ExceptionRecord]) -> None:
        """Compile ``records`` once (their fields were validated when they were read)."""
        self._compiled = tuple(r.compile() for r in records if not r.revoked)

    def current(self) -> tuple[CompiledException, ...]:
        """Every exception of the file."""
        return self._compiled

    def noticed_expired(self, exception_ids: Sequence[str], now: datetime) -> None:
        """Nothing to record: the verdict itself says which entries expired."""


def admissible(
    exceptions: Sequence[CompiledException], max_days: int
) -> tuple[CompiledException, ...]:
    """The exceptions whose lifetime the policy's ``spec.exceptions.maxDays`` allows."""
    return tuple(e for e in exceptions if e.record.allowed_by(max_days))
