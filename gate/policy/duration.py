"""Durations in the policy (``maxScanAge: 7d``): a positive number and one unit, nothing else.

Only ``m`` (minutes), ``h`` (hours), ``d`` (days) and ``w`` (weeks) exist; a
bare number, seconds, months or compound forms are refused, because a
misread unit on a freshness limit is a silent security hole.
"""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION_RE = re.compile(r"^([1-9][0-9]*)([mhdw])$")
_LONGEST = timedelta(weeks=520)
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
_UNITS["w"] = timedelta(weeks=1)


def parse_duration(text: str) -> timedelta:
    """``"30m"`` -> 30 minutes, ``"7d"`` -> 7 days; raise ``ValueError`` for anything else."""
    match = _DURATION_RE.match(text)
    if match is None:
        raise ValueError(
            f'not a duration: "{text}"; write a positive number followed by m, h, d or w '
            "(30m, 12h, 7d, 2w)"
        )
    number = match.group(1)
    unit = _UNITS[match.group(2)]
    # Compare before multiplying: a long digit string would overflow timedelta.
    if len(number) > 7 or int(number) * unit > _LONGEST:
        raise ValueError(f'duration "{text}" is longer than ten years (520w)')
    return int(number) * unit


def format_duration(delta: timedelta) -> str:
    """A short human form of ``delta``: ``9d 3h``, ``5h 20m``, ``12m``, ``0m``."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m"
