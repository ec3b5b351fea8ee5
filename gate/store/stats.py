"""The dashboard's aggregates as SQL: decisions per time bucket, most denied images and findings.

Everything is counted by the database with ``GROUP BY`` over an indexed time
range, so an answer costs one pass over the window's index entries, not the
transfer and parsing of its verdicts. The statements are built here per
dialect (SQLite and PostgreSQL name their date functions differently) and run
by ``gate.store.sql.SqlVerdictStore``; the bucket arithmetic is pure Python,
so both backends return the same buckets, empty ones included.

Buckets are UTC hours or UTC days. SQLite groups by the start of a bucket as
text (``YYYY-MM-DD HH`` or ``YYYY-MM-DD``), PostgreSQL by the truncated UTC
timestamp; both become the same key here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, literal_column, select

from gate.errors import InputError
from gate.store import schema
from gate.store.model import DecisionCounts, StatsBucket, TopEntry
from gate.store.query import check_aware

#: The most buckets one answer may hold (41 days of hours, 2.7 years of days).
MAX_BUCKETS = 1000
#: The longest "most often" list.
MAX_TOP = 100
DECISIONS = ("allow", "warn", "deny")

_WIDTH = {StatsBucket.HOUR: timedelta(hours=1), StatsBucket.DAY: timedelta(days=1)}
_KEY_FORMAT = {StatsBucket.HOUR: "%Y-%m-%d %H", StatsBucket.DAY: "%Y-%m-%d"}
_KEY_LENGTH = {StatsBucket.HOUR: len("YYYY-MM-DD HH"), StatsBucket.DAY: len("YYYY-MM-DD")}


def check_window(since: datetime, until: datetime) -> tuple[datetime, datetime]:
    """``(since, until)`` in UTC; ``InputError`` when either is naive or they are out of order."""
    start = check_aware(since, "since")
    end = check_aware(until, "until")
    if start is None or end is None:
        raise InputError("is required", field="since" if start is None else "until")
    if start >= end:
        raise InputError("must be before until", field="since")
    return start, end


def check_bucket(bucket: object) -> StatsBucket:
    """``bucket`` as a ``StatsBucket``; ``InputError`` for anything else."""
    if isinstance(bucket, str) and bucket in StatsBucket.__members__.values():
        return StatsBucket(bucket)
    raise InputError(f"must be hour or day, not {bucket!r}", field="bucket")


def check_decision(decision: object) -> str:
    """``decision`` if it is allow, warn or deny; ``InputError`` otherwise."""
    if decision not in DECISIONS:
        raise InputError(f"must be allow, warn or deny, not {decision!r}", field="decision")
    assert isinstance(decision, str)  # noqa: S101 - narrowed by the membership test
    return decision


def check_top_limit(limit: object) -> int:
    """``limit`` if it is an integer in 1..``MAX_TOP``; ``InputError`` otherwise."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_TOP:
        raise InputError(f"must be an integer between 1 and {MAX_TOP}", field="limit")
    return limit


def bucket_floor(instant: datetime, bucket: StatsBucket) -> datetime:
    """The start (UTC) of the bucket holding ``instant``."""
    instant = instant.astimezone(UTC)
    if bucket is StatsBucket.DAY:
        return instant.replace(hour=0, minute=0, second=0, microsecond=0)
    return instant.replace(minute=0, second=0, microsecond=0)


def bucket_count(since: datetime, until: datetime, bucket: StatsBucket) -> int:
    """How many buckets meet the window ``[since, until)``."""
    start = bucket_floor(since, bucket)
    width = _WIDTH[bucket]
    return max(1, -(-(until - start) // width))


def bucket_starts(since: datetime, until: datetime, bucket: StatsBucket) -> tuple[datetime, ...]:
    """The start of every bucket meeting ``[since, until)``, oldest first.

    ``InputError`` when there would be more than ``MAX_BUCKETS`` of them.
    """
    count = bucket_count(since, until, bucket)
    if count > MAX_BUCKETS:
        raise InputError(
            f"the window holds {count} {bucket.value}s, more than {MAX_BUCKETS} buckets; "
            f"narrow it or use bucket=day",
            field="since",
        )
    start = bucket_floor(since, bucket)
    width = _WIDTH[bucket]
    return tuple(start + index * width for index in range(count))


def bucket_key(start: datetime, bucket: StatsBucket) -> str:
    """The text the SQL of ``decision_counts_statement`` groups a bucket under."""
    return start.astimezone(UTC).strftime(_KEY_FORMAT[bucket])


def _bucket_key_sql(dialect: str, bucket: StatsBucket) -> ColumnElement[Any]:
    time = schema.verdicts.c.time
    # Literal formats, not bound parameters: PostgreSQL matches the GROUP BY
    # expression to the selected one textually, and two parameters differ.
    if dialect == "postgresql":
        # date_trunc of the UTC wall time: a timestamp, turned into the key in Python
        # (to_char on every row costs as much again as the whole count).
        utc = func.timezone(literal_column("'UTC'"), time)
        return func.date_trunc(literal_column(f"'{bucket.value}'"), utc)
    # SQLite keeps the time as UTC text in SQLAlchemy's fixed storage format
    # ("YYYY-MM-DD HH:MM:SS.ffffff"): its prefix is the key, at a third of
    # strftime's cost per row.
    return func.substr(time, literal_column("1"), literal_column(str(_KEY_LENGTH[bucket])))


def decision_counts_statement(
    dialect: str,
    since: datetime,
    until: datetime,
    bucket: StatsBucket,
    namespace: str | None,
) -> Select[Any]:
    """``(key, decision, n)`` rows: verdicts per bucket and decision in the window."""
    table = schema.verdicts
    key = _bucket_key_sql(dialect, bucket).label("bucket_key")
    conditions = [
        # Always true of a stored verdict, but it lets the database count from the
        # (decision, time, id) index alone instead of reading every verdict row.
        table.c.decision.in_(DECISIONS),
        table.c.time >= since,
        table.c.time < until,
    ]
    if namespace is not None:
        conditions.append(table.c.namespace == namespace)
    return (
        select(key, table.c.decision, func.count().label("n"))
        .where(and_(*conditions))
        .group_by(key, table.c.decision)
    )


def decision_counts(
    rows: Any, since: datetime, until: datetime, bucket: StatsBucket
) -> tuple[DecisionCounts, ...]:
    """Every bucket of the window with the counts of ``rows`` (from the statement above)."""
    counts: dict[str, dict[str, int]] = {}
    for key, decision, number in rows:
        if decision in DECISIONS:
            text = key.strftime(_KEY_FORMAT[bucket]) if isinstance(key, datetime) else str(key)
            counts.setdefault(text, {})[decision] = int(number)
    return tuple(
        DecisionCounts(start=start, **_known(counts.get(bucket_key(start, bucket), {})))
        for start in bucket_starts(since, until, bucket)
    )


def _known(counts: Mapping[str, int]) -> dict[str, int]:
    return {decision: counts.get(decision, 0) for decision in DECISIONS}


def top_images_statement(
    since: datetime, until: datetime, decision: str, namespace: str | None, limit: int
) -> Select[Any]:
    """``(key, n, last)`` rows: image references with the most verdicts of ``decision``."""
    table = schema.verdicts
    conditions = [table.c.decision == decision, table.c.time >= since, table.c.time < until]
    if namespace is not None:
        conditions.append(table.c.namespace == namespace)
    count = func.count().label("n")
    return (
        select(table.c.reference.label("key"), count, func.max(table.c.time).label("last"))
        .where(and_(*conditions))
        .group_by(table.c.reference)
        .order_by(count.desc(), table.c.reference)
        .limit(limit)
    )


def top_findings_statement(
    since: datetime, until: datetime, decision: str, namespace: str | None, limit: int
) -> Select[Any]:
    """``(key, n, last)`` rows: finding ids failed in the most verdicts of ``decision``."""
    table = schema.verdict_findings
    conditions = [table.c.decision == decision, table.c.time >= since, table.c.time < until]
    if namespace is not None:
        conditions.append(table.c.namespace == namespace)
    count = func.count().label("n")
    return (
        select(table.c.finding_id.label("key"), count, func.max(table.c.time).label("last"))
        .where(and_(*conditions))
        .group_by(table.c.finding_id)
        .order_by(count.desc(), table.c.finding_id)
        .limit(limit)
    )


def top_entries(rows: Any) -> tuple[TopEntry, ...]:
    """``TopEntry`` values of ``(key, n, last)`` rows."""
    return tuple(
        TopEntry(key=str(key), count=int(number), last_seen=_utc(last))
        for key, number, last in rows
    )


def _utc(value: Any) -> datetime:
    if isinstance(value, str):  # SQLite's max() of a time column can come back as text
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"not a time: {value!r}")
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
