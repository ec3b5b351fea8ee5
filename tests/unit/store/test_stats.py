"""The bucket arithmetic and parameter checks of ``gate.store.stats`` (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from gate.errors import InputError
from gate.store.model import StatsBucket
from gate.store.stats import (
    MAX_BUCKETS,
    bucket_count,
    bucket_floor,
    bucket_key,
    bucket_starts,
    check_bucket,
    check_decision,
    check_top_limit,
    check_window,
    decision_counts,
)

T0 = datetime(2024, 5, 1, 12, 30, 15, 7, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_floor_and_key_are_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    local = datetime(2024, 5, 2, 1, 30, tzinfo=plus_two)
    assert bucket_floor(local, StatsBucket.HOUR) == datetime(2024, 5, 1, 23, tzinfo=UTC)
    assert bucket_floor(local, StatsBucket.DAY) == datetime(2024, 5, 1, tzinfo=UTC)
    assert bucket_key(local, StatsBucket.HOUR) == "2024-05-01 23"
    assert bucket_key(local, StatsBucket.DAY) == "2024-05-01"


def test_buckets_cover_the_window() -> None:
    assert bucket_starts(T0, T0 + 2 * HOUR, StatsBucket.HOUR) == (
        datetime(2024, 5, 1, 12, tzinfo=UTC),
        datetime(2024, 5, 1, 13, tzinfo=UTC),
        datetime(2024, 5, 1, 14, tzinfo=UTC),
    )
    aligned = datetime(2024, 5, 1, tzinfo=UTC)
    assert bucket_count(aligned, aligned + 24 * HOUR, StatsBucket.HOUR) == 24
    assert bucket_count(aligned, aligned + timedelta(microseconds=1), StatsBucket.DAY) == 1
    assert bucket_count(T0, T0 + timedelta(days=30), StatsBucket.DAY) == 31


def test_too_many_buckets() -> None:
    aligned = datetime(2024, 5, 1, tzinfo=UTC)
    assert len(bucket_starts(aligned, aligned + MAX_BUCKETS * HOUR, StatsBucket.HOUR)) == 1000
    with pytest.raises(InputError, match="1001 hours, more than 1000 buckets"):
        bucket_starts(aligned, aligned + MAX_BUCKETS * HOUR + HOUR / 2, StatsBucket.HOUR)


def test_counts_fill_every_bucket_from_text_or_timestamp_keys() -> None:
    rows = [
        ("2024-05-01 12", "allow", 2),
        (datetime(2024, 5, 1, 14), "deny", 1),  # PostgreSQL's date_trunc: naive UTC
        ("2024-05-01 14", "warn", 3),
        ("2024-05-01 13", "unknown", 9),  # not a decision this store writes
        ("2024-05-01 20", "deny", 9),  # outside the window: cannot happen, ignored
    ]
    buckets = decision_counts(rows, T0, T0 + 2 * HOUR, StatsBucket.HOUR)
    assert [(b.start.hour, b.allow, b.warn, b.deny) for b in buckets] == [
        (12, 2, 0, 0),
        (13, 0, 0, 0),
        (14, 0, 3, 1),
    ]


def test_parameter_checks() -> None:
    assert check_window(T0, T0 + HOUR) == (T0, T0 + HOUR)
    with pytest.raises(InputError, match="since: must be before until"):
        check_window(T0, T0)
    with pytest.raises(InputError, match="until: must be a timezone-aware"):
        check_window(T0, datetime(2024, 5, 2))
    assert check_bucket("day") is StatsBucket.DAY
    for bad in ("week", None, 1):
        with pytest.raises(InputError, match="bucket"):
            check_bucket(bad)
    assert check_decision("warn") == "warn"
    with pytest.raises(InputError, match="decision"):
        check_decision("DENY")
    assert check_top_limit(100) == 100
    for limit in (0, 101, True, 1.0):
        with pytest.raises(InputError, match="limit"):
            check_top_limit(limit)
