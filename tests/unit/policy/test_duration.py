"""Durations: exactly a positive number and one of m, h, d, w."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gate.policy.duration import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("12h", timedelta(hours=12)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        ("520w", timedelta(weeks=520)),
    ],
)
def test_valid_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "7", "0d", "07d", "7D", "10s", "1mo", "1y", "1d12h", "-1d", " 7d", "1.5d", "d"]
)
def test_invalid_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_too_long() -> None:
    with pytest.raises(ValueError, match="longer than ten years"):
        parse_duration("521w")
    with pytest.raises(ValueError, match="longer than ten years"):
        parse_duration("9" * 40 + "m")


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(days=9, hours=3, minutes=5), "9d 3h"),
        (timedelta(days=2), "2d"),
        (timedelta(hours=5, minutes=20), "5h 20m"),
        (timedelta(hours=5), "5h"),
        (timedelta(minutes=12, seconds=59), "12m"),
        (timedelta(seconds=-5), "0m"),
    ],
)
def test_format_duration(delta: timedelta, text: str) -> None:
    assert format_duration(delta) == text
