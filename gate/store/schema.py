"""The verdict store's tables and the ordered migrations that create and evolve them.

The ``Table`` objects describe the latest schema; ``MIGRATIONS`` is the ordered
list of steps from an empty database to it, each recorded in ``schema_version``.
A step is written against what the database looked like at its version, so a
later step alters tables with explicit DDL rather than re-running ``create_all``.

Checks are kept as JSON text in the verdict row rather than in a child table:
they are always read whole with their verdict and never filtered on, so one row
per verdict keeps ``record`` to one insert, keyset pagination to one indexed
scan with no join, and the column portable between SQLite and PostgreSQL.
The one part of them that is counted, the finding ids a verdict failed for,
is copied into ``verdict_findings`` when the verdict is recorded
(``gate.store.findings``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Dialect,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    func,
    select,
    text,
)
from sqlalchemy.types import DateTime, TypeDecorator

from gate.store.findings import failed_finding_ids_of_json


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that goes in and comes out timezone-aware in UTC, on every backend.

    PostgreSQL stores ``timestamptz``; SQLite has no time type, so the value is
    normalised to UTC and stored naive, which keeps its text form sortable.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes; convert to UTC (naive on SQLite)."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to the verdict store")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach UTC to what SQLite returns; convert PostgreSQL's session zone to UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", UtcDateTime, nullable=False),
)

verdicts = Table(
    "verdicts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("time", UtcDateTime, nullable=False),
    Column("source", String(16), nullable=False),
    Column("reference", Text, nullable=False),
    Column("digest", Text, nullable=True),
    Column("namespace", Text, nullable=True),
    Column("workload_kind", Text, nullable=True),
    Column("workload_name", Text, nullable=True),
    # "user" is a reserved word in PostgreSQL
    Column("username", Text, nullable=True),
    Column("decision", String(16), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("policy_name", Text, nullable=False),
    Column("policy_digest", Text, nullable=False),
    Column("rule", Text, nullable=True),
    Column("reason", Text, nullable=False),
    Column("duration_ms", Float, nullable=True),
    Column("decided", Boolean, nullable=False),
    Column("checks", Text, nullable=False),
    # Pagination walks (time desc, id desc); each filter narrows that walk.
    Index("ix_verdicts_time_id", "time", "id"),
    Index("ix_verdicts_digest_time_id", "digest", "time", "id"),
    Index("ix_verdicts_namespace_time_id", "namespace", "time", "id"),
    Index("ix_verdicts_decision_time_id", "decision", "time", "id"),
    Index("ix_verdicts_source_time_id", "source", "time", "id"),
    # The dashboard's counts for one namespace, from the index alone (version 2).
    Index("ix_verdicts_namespace_decision_time", "namespace", "decision", "time"),
)

evidence = Table(
    "evidence",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("digest", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("format", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime, nullable=True),
    Column("received_at", UtcDateTime, nullable=False),
    Column("pushed_by", Text, nullable=True),
    Index("ix_evidence_digest_kind_created", "digest", "kind", "created_at"),
)


# One row per (verdict, finding id) for every verdict whose vulnerabilities check
# failed (``gate.store.findings``): the dashboard's "top findings" is then one
# indexed GROUP BY instead of parsing the checks JSON of every verdict. Time,
# decision and namespace are copied from the verdict so the count needs no join.
verdict_findings = Table(
    "verdict_findings",
    metadata,
    Column("verdict_id", String(32), primary_key=True),
    Column("finding_id", Text, primary_key=True),
    Column("time", UtcDateTime, nullable=False),
    Column("decision", String(16), nullable=False),
    Column("namespace", Text, nullable=True),
    Index("ix_verdict_findings_decision_time", "decision", "time", "finding_id"),
    Index("ix_verdict_findings_namespace_time", "namespace", "decision", "time", "finding_id"),
)


# Exceptions as data (``gate.policy.exceptions``): one row per exception, revoked ones
# kept; every create, revoke and first-noticed expiry in ``exception_audit`` with the
# whole record as JSON, so the log alone tells the story (version 3).
exceptions = Table(
    "exceptions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("finding_id", Text, nullable=True),
    Column("purl", Text, nullable=True),
    Column("images", Text, nullable=False),  # JSON list of globs
    Column("namespaces", Text, nullable=False),  # JSON list of globs
    Column("owner", Text, nullable=False),
    Column("ticket", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("expires", UtcDateTime, nullable=False),
    Column("created", UtcDateTime, nullable=False),
    Column("created_by", Text, nullable=True),
    Column("revoked", Boolean, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
    Column("revoked_by", Text, nullable=True),
    Column("expired_noticed_at", UtcDateTime, nullable=True),
    Index("ix_exceptions_revoked_expires", "revoked", "expires"),
)

exception_audit = Table(
    "exception_audit",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("exception_id", String(32), nullable=False),
    Column("time", UtcDateTime, nullable=False),
    Column("action", String(16), nullable=False),  # create | revoke | expired
    Column("actor", Text, nullable=True),
    Column("record", Text, nullable=False),  # the exception as JSON after the action
    Index("ix_exception_audit_exception_time", "exception_id", "time", "id"),
    Index("ix_exception_audit_time", "time", "id"),
)


def _v1_initial_tables(connection: Connection) -> None:
    metadata.create_all(connection, tables=[verdicts, evidence], checkfirst=True)


#: Verdicts read per batch when ``verdict_findings`` is filled from older verdicts.
_BACKFILL_BATCH = 500
#: How the store serialises a failing vulnerabilities check (``sql._checks_to_json``):
#: a cheap pre-filter, so only those verdicts' JSON is parsed by the backfill.
_FAILED_VULNERABILITIES = '%"check":"vulnerabilities","outcome":"fail"%'


def _v2_verdict_findings(connection: Connection) -> None:
    # The table as it is at version 2, written out so a later change to
    # ``verdict_findings`` does not change what this step creates.
    table = Table(
        "verdict_findings",
        MetaData(),
        Column("verdict_id", String(32), primary_key=True),
        Column("finding_id", Text, primary_key=True),
        Column("time", UtcDateTime, nullable=False),
        Column("decision", String(16), nullable=False),
        Column("namespace", Text, nullable=True),
        Index("ix_verdict_findings_decision_time", "decision", "time", "finding_id"),
        Index("ix_verdict_findings_namespace_time", "namespace", "decision", "time", "finding_id"),
    )
    table.create(connection, checkfirst=True)
    connection.execute(
        text(
            "CREATE INDEX IF NOT EXISTS ix_verdicts_namespace_decision_time "
            "ON verdicts (namespace, decision, time)"
        )
    )
    # Verdicts recorded before this version: their ids are taken from the JSON once.
    last_id = ""
    while True:
        rows = connection.execute(
            select(
                verdicts.c.id,
                verdicts.c.time,
                verdicts.c.decision,
                verdicts.c.namespace,
                verdicts.c.checks,
            )
            .where(verdicts.c.id > last_id, verdicts.c.checks.like(_FAILED_VULNERABILITIES))
            .order_by(verdicts.c.id)
            .limit(_BACKFILL_BATCH)
        ).all()
        if not rows:
            return
        last_id = rows[-1].id
        found: list[dict[str, Any]] = []
        for row in rows:
            try:
                items = json.loads(row.checks)
            except ValueError:
                continue  # an unreadable verdict is reported when it is read, not here
            found.extend(
                {
                    "verdict_id": row.id,
                    "finding_id": finding_id,
                    "time": row.time,
                    "decision": row.decision,
                    "namespace": row.namespace,
                }
                for finding_id in failed_finding_ids_of_json(items)
            )
        if found:
            connection.execute(table.insert(), found)


def _v3_exceptions(connection: Connection) -> None:
    # Both tables as they are at version 3, written out (see ``_v2_verdict_findings``).
    version3 = MetaData()
    Table(
        "exceptions",
        version3,
        Column("id", String(32), primary_key=True),
        Column("finding_id", Text, nullable=True),
        Column("purl", Text, nullable=True),
        Column("images", Text, nullable=False),
        Column("namespaces", Text, nullable=False),
        Column("owner", Text, nullable=False),
        Column("ticket", Text, nullable=False),
        Column("reason", Text, nullable=False),
        Column("expires", UtcDateTime, nullable=False),
        Column("created", UtcDateTime, nullable=False),
        Column("created_by", Text, nullable=True),
        Column("revoked", Boolean, nullable=False),
        Column("revoked_at", UtcDateTime, nullable=True),
        Column("revoked_by", Text, nullable=True),
        Column("expired_noticed_at", UtcDateTime, nullable=True),
        Index("ix_exceptions_revoked_expires", "revoked", "expires"),
    )
    Table(
        "exception_audit",
        version3,
        Column("id", String(32), primary_key=True),
        Column("exception_id", String(32), nullable=False),
        Column("time", UtcDateTime, nullable=False),
        Column("action", String(16), nullable=False),
        Column("actor", Text, nullable=True),
        Column("record", Text, nullable=False),
        Index("ix_exception_audit_exception_time", "exception_id", "time", "id"),
        Index("ix_exception_audit_time", "time", "id"),
    )
    version3.create_all(connection, checkfirst=True)


#: Ordered migration steps: (version, what it does, the step). Append only.
MIGRATIONS: tuple[tuple[int, str, Callable[[Connection], None]], ...] = (
    (1, "verdicts and evidence tables", _v1_initial_tables),
    (
        2,
        "verdict_findings (the failing finding ids of each verdict); verdicts by namespace "
        "and decision",
        _v2_verdict_findings,
    ),
    (3, "exceptions and exception_audit (exceptions as data)", _v3_exceptions),
)

LATEST_VERSION = MIGRATIONS[-1][0]

# Any constant unique to this application: two gates starting together on one
# PostgreSQL serialise their migrations on it.
_PG_MIGRATION_LOCK = 0x67617465  # "gate"


class SchemaTooNewError(RuntimeError):
    """The database was migrated by a newer gate than this one."""


def migrate(connection: Connection) -> int:
    """Bring the schema to ``LATEST_VERSION`` inside the caller's transaction.

    On PostgreSQL a transaction-level advisory lock makes concurrent starters
    wait for each other (DDL is transactional there, so the loser sees the
    finished schema); on SQLite the caller holds the write lock
    (``BEGIN IMMEDIATE``). Returns the version the database is at.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
    metadata.create_all(connection, tables=[schema_version], checkfirst=True)
    current: Any = connection.execute(select(func.max(schema_version.c.version))).scalar()
    current_version = int(current) if current is not None else 0
    if current_version > LATEST_VERSION:
        raise SchemaTooNewError(
            f"database schema is at version {current_version}, "
            f"newer than this gate supports ({LATEST_VERSION})"
        )
    for version, _description, step in MIGRATIONS:
        if version <= current_version:
            continue
        step(connection)
        connection.execute(
            schema_version.insert().values(version=version, applied_at=datetime.now(UTC))
        )
        current_version = version
    return current_version
