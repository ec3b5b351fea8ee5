"""The injected clock: one instant per evaluation, so every time check agrees."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def fixed_clock(instant: datetime) -> Clock:
    """A clock that always answers ``instant`` (tests, replays of old verdicts)."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)

    def _now() -> datetime:
        return instant

    return _now
