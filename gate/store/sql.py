"""``SqlVerdictStore``: the verdict store on SQLAlchemy Core, SQLite or PostgreSQL.

SQLite (the default, one replica) runs in WAL mode with a busy timeout and
takes the write lock up front (``BEGIN IMMEDIATE``) for writes, so several
worker processes on one file queue instead of failing. PostgreSQL (several
replicas) gets connect, statement and lock timeouts and TCP keepalives, so a
database that stops answering becomes a ``BackendError`` in seconds rather than
a hung admission request. The schema is created and migrated on start.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Row,
    and_,
    create_engine,
    event,
    func,
    or_,
    select,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from gate.errors import BackendError, GateError, InputError
from gate.store import schema, stats
from gate.store.bulk import BulkInsert
from gate.store.exceptions import ExceptionStoreMixin
from gate.store.findings import failed_finding_ids
from gate.store.ids import looks_like_id, new_id
from gate.store.model import (
    CheckRecord,
    DecisionCounts,
    EvidenceKind,
    NewEvidence,
    NewVerdict,
    StatsBucket,
    StoredEvidence,
    StoredVerdict,
    TopEntry,
    VerdictPage,
    VerdictQuery,
    VerdictSource,
)
from gate.store.query import (
    check_aware,
    check_limit,
    decode_cursor,
    encode_cursor,
    glob_matches,
    glob_to_regex,
)

_URL_HINT = "expected sqlite:///path, sqlite:// or postgresql+psycopg://user@host:port/db"
#: Serialised check lists kept by identity (cleared when full).
_CHECKS_MEMO_SIZE = 256
_WRITE = "gate_write"  # execution option: this transaction writes (SQLite: BEGIN IMMEDIATE)


def _plain(value: Any) -> Any:
    """Check details as JSON-ready values (mappings, sequences, enums, dates)."""
    if value is None or type(value) in (str, int, float, bool):
        return value
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((_plain(item) for item in value), key=str)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    # Reports render unknown values the same way; the store keeps what they show.
    return str(value)


def _checks_to_json(checks: Sequence[CheckRecord]) -> str:
    return json.dumps(
        [
            {
                "check": check.check,
                "outcome": str(_plain(check.outcome)),
                "reason": check.reason,
                "details": _plain(check.details),
            }
            for check in checks
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _checks_from_json(text: str) -> tuple[CheckRecord, ...]:
    items = json.loads(text)
    if not isinstance(items, list):
        raise ValueError("checks is not a list")
    checks = []
    for item in items:
        details = item["details"]
        if not isinstance(details, dict):
            raise ValueError("check details is not an object")
        checks.append(
            CheckRecord(
                check=str(item["check"]),
                outcome=str(item["outcome"]),
                reason=str(item["reason"]),
                details=MappingProxyType(details),
            )
        )
    return tuple(checks)


class SqlVerdictStore(ExceptionStoreMixin):
    """``VerdictStore`` on a SQLAlchemy engine; build it with :meth:`from_url`.

    Thread-safe: one instance serves every request thread of a worker.
    """

    def __init__(self, engine: Engine, *, label: str, password: str | None = None) -> None:
        """Wrap an engine whose schema is already migrated (see :meth:`from_url`).

        ``label`` names the database in error messages (password hidden);
        ``password`` is scrubbed from any driver message that might echo it.
        """
        self._engine = engine
        self._label = label
        # An in-memory SQLite database is one connection shared by every
        # thread: its transactions take turns (or they nest and fail).
        self._shared_connection: threading.RLock | None = (
            threading.RLock() if isinstance(engine.pool, StaticPool) else None
        )
        self._password = password
        self._insert_verdicts = BulkInsert(schema.verdicts, engine.dialect)
        self._insert_findings = BulkInsert(schema.verdict_findings, engine.dialect)
        # The webhook hands the same checks object for a reused decision: serialise
        # it (and find its failing finding ids) once.
        self._checks_json: dict[int, tuple[Sequence[CheckRecord], str, tuple[str, ...]]] = {}

    # -- construction ---------------------------------------------------------------

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        pool_size: int = 5,
        connect_timeout: float = 5.0,
        statement_timeout: float = 10.0,
    ) -> SqlVerdictStore:
        """Connect to ``url``, create or migrate the schema and return the store.

        ``sqlite:///relative/path`` (parent directory created), ``sqlite:////abs``,
        ``sqlite://`` (in memory, one shared connection: tests only) or
        ``postgresql+psycopg://user@host:port/db`` (``postgresql://`` means the
        same). ``connect_timeout`` bounds connecting (and, on SQLite, waiting
        for the write lock); ``statement_timeout`` bounds each PostgreSQL
        statement. Raises ``InputError`` for a URL it cannot use and
        ``BackendError`` when the database cannot be reached or migrated.
        """
        if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1:
            raise InputError("must be a positive integer", field="pool_size")
        if connect_timeout <= 0 or statement_timeout <= 0:
            raise InputError("timeouts must be positive", field="connect_timeout")
        try:
            parsed = make_url(url)
        except (ArgumentError, ValueError, TypeError):
            # The parser's own message would echo the URL, password included.
            raise InputError(f"not a database URL ({_URL_HINT})", field="database URL") from None
        backend = parsed.get_backend_name()
        try:
            if backend == "sqlite":
                engine = _sqlite_engine(parsed, pool_size=pool_size, busy_timeout=connect_timeout)
            elif backend == "postgresql":
                engine = _postgres_engine(
                    parsed,
                    pool_size=pool_size,
                    connect_timeout=connect_timeout,
                    statement_timeout=statement_timeout,
                )
            else:
                raise InputError(
                    f"unsupported database {backend!r} ({_URL_HINT})", field="database URL"
                )
        except (ArgumentError, NoSuchModuleError):
            raise InputError(
                f"cannot use this database URL ({_URL_HINT})", field="database URL"
            ) from None
        store = cls(
            engine,
            label=parsed.render_as_string(hide_password=True),
            password=parsed.password if isinstance(parsed.password, str) else None,
        )
        try:
            store._migrate()
        except BaseException:
            engine.dispose()
            raise
        return store

    def _migrate(self) -> None:
        with self._failing_as("schema migration"), self._transaction(write=True) as connection:
            try:
                schema.migrate(connection)
            except schema.SchemaTooNewError as exc:
                raise BackendError(f"verdict store {self._label}: {exc}") from None

    # -- plumbing ---------------------------------------------------------------------

    @contextmanager
    def _failing_as(self, operation: str) -> Iterator[None]:
        """Turn every database failure inside into one ``BackendError`` line."""
        try:
            yield
        except GateError:
            raise
        except (SQLAlchemyError, OSError) as exc:
            raise BackendError(
                f"verdict store {self._label}: {operation} failed: {self._describe(exc)}"
            ) from None

    def _describe(self, exc: BaseException) -> str:
        origin = getattr(exc, "orig", None) or exc
        lines = [line.strip() for line in str(origin).splitlines() if line.strip()]
        # psycopg puts "connection to server ... failed" first and the cause after
        detail = "; ".join(lines[:2]) if lines else type(origin).__name__
        if self._password:
            detail = detail.replace(self._password, "***")
        return detail[:300]

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[Connection]:
        turn: AbstractContextManager[Any] = self._shared_connection or nullcontext()
        with turn, self._engine.connect() as connection:
            if write:
                connection.execution_options(**{_WRITE: True})
            with connection.begin():
                yield connection

    # -- verdicts ---------------------------------------------------------------------

    def record(self, verdicts: Sequence[NewVerdict]) -> tuple[str, ...]:
        """Store ``verdicts`` in one transaction; return their ids in order.

        The finding ids a verdict failed for go to ``verdict_findings`` in the
        same transaction (see ``gate.store.findings``).
        """
        rows = []
        finding_rows: list[dict[str, Any]] = []
        for index, verdict in enumerate(verdicts):
            text, finding_ids = self._serialised_checks(verdict.checks)
            row = _verdict_row(index, verdict, text)
            rows.append(row)
            if finding_ids:
                # One conversion of the time for all of the verdict's finding rows.
                bound_time = self._insert_findings.bind("time", row["time"])
                finding_rows.extend(
                    {
                        "verdict_id": row["id"],
                        "finding_id": finding_id,
                        "time": bound_time,
                        "decision": row["decision"],
                        "namespace": row["namespace"],
                    }
                    for finding_id in finding_ids
                )
        if not rows:
            return ()
        with self._failing_as("record"), self._transaction(write=True) as connection:
            self._insert_verdicts.execute(connection, rows)
            self._insert_findings.execute_bound(connection, finding_rows)
        return tuple(str(row["id"]) for row in rows)

    def _serialised_checks(self, checks: Sequence[CheckRecord]) -> tuple[str, tuple[str, ...]]:
        entry = self._checks_json.get(id(checks))
        if entry is not None and entry[0] is checks:
            return entry[1], entry[2]
        text = _checks_to_json(checks)
        finding_ids = failed_finding_ids(
            (check.check, str(_plain(check.outcome)), check.details) for check in checks
        )
        if len(self._checks_json) >= _CHECKS_MEMO_SIZE:
            self._checks_json.clear()
        self._checks_json[id(checks)] = (checks, text, finding_ids)
        return text, finding_ids

    def get(self, verdict_id: str) -> StoredVerdict | None:
        """One verdict by id, or None (also for strings that cannot be an id)."""
        if not looks_like_id(verdict_id):
            return None
        with self._failing_as("get"), self._transaction(write=False) as connection:
            row = connection.execute(
                select(schema.verdicts).where(schema.verdicts.c.id == verdict_id)
            ).first()
            return None if row is None else self._verdict(row)

    def query(
        self, query: VerdictQuery, *, limit: int = 100, cursor: str | None = None
    ) -> VerdictPage:
        """Verdicts matching ``query``, newest first by (time, id), at most ``limit``.

        Keyset pagination: the cursor is the (time, id) of the last item
        returned, so pages stay consistent while new verdicts arrive.
        """
        limit = check_limit(limit)
        table = schema.verdicts
        conditions: list[Any] = []
        if query.image is not None:
            if self._engine.dialect.name == "sqlite":
                # Python's backtracking regex engine is quadratic-to-exponential on
                # many-wildcard globs; SQLite calls the linear matcher instead.
                conditions.append(func.gate_glob(query.image, table.c.reference) == 1)
            else:
                conditions.append(table.c.reference.regexp_match(glob_to_regex(query.image)))
        if query.digest is not None:
            conditions.append(table.c.digest == query.digest)
        if query.namespace is not None:
            conditions.append(table.c.namespace == query.namespace)
        if query.decision is not None:
            conditions.append(table.c.decision == query.decision)
        if query.source is not None:
            conditions.append(table.c.source == _source(query.source, "source").value)
        since = check_aware(query.since, "since")
        if since is not None:
            conditions.append(table.c.time >= since)
        until = check_aware(query.until, "until")
        if until is not None:
            conditions.append(table.c.time < until)
        if cursor is not None:
            after_time, after_id = decode_cursor(cursor)
            conditions.append(
                or_(
                    table.c.time < after_time,
                    and_(table.c.time == after_time, table.c.id < after_id),
                )
            )
        statement = (
            select(table)
            .where(and_(True, *conditions))
            .order_by(table.c.time.desc(), table.c.id.desc())
            .limit(limit + 1)
        )
        with self._failing_as("query"), self._transaction(write=False) as connection:
            rows = connection.execute(statement).all()
            items = tuple(self._verdict(row) for row in rows[:limit])
        next_cursor = None
        if len(rows) > limit:
            last = items[-1]
            next_cursor = encode_cursor(last.time, last.id)
        return VerdictPage(items=items, next_cursor=next_cursor)

    def _verdict(self, row: Row[Any]) -> StoredVerdict:
        try:
            checks = _checks_from_json(row.checks)
            source = VerdictSource(row.source)
        except (ValueError, KeyError, TypeError) as exc:
            raise BackendError(
                f"verdict store {self._label}: verdict {row.id} is unreadable: {exc}"
            ) from None
        return StoredVerdict(
            id=row.id,
            time=row.time,
            source=source,
            reference=row.reference,
            digest=row.digest,
            decision=row.decision,
            mode=row.mode,
            policy_name=row.policy_name,
            policy_digest=row.policy_digest,
            rule=row.rule,
            reason=row.reason,
            checks=checks,
            namespace=row.namespace,
            workload_kind=row.workload_kind,
            workload_name=row.workload_name,
            user=row.username,
            duration_ms=row.duration_ms,
            decided=bool(row.decided),
        )

    # -- aggregates (``VerdictStats``) -----------------------------------------------

    def decision_counts(
        self,
        since: datetime,
        until: datetime,
        *,
        bucket: StatsBucket,
        namespace: str | None = None,
    ) -> tuple[DecisionCounts, ...]:
        """Verdicts per decision in every UTC ``bucket`` meeting ``[since, until)``, oldest
        first, empty buckets included (at most ``gate.store.stats.MAX_BUCKETS``)."""
        since, until = stats.check_window(since, until)
        bucket = stats.check_bucket(bucket)
        stats.bucket_starts(since, until, bucket)  # refuses too many buckets before the query
        statement = stats.decision_counts_statement(
            self._engine.dialect.name, since, until, bucket, namespace
        )
        with self._failing_as("decision counts"), self._transaction(write=False) as connection:
            rows = connection.execute(statement).all()
        return stats.decision_counts(rows, since, until, bucket)

    def top_images(
        self,
        since: datetime,
        until: datetime,
        *,
        decision: str = "deny",
        namespace: str | None = None,
        limit: int = 10,
    ) -> tuple[TopEntry, ...]:
        """The image references with the most verdicts of ``decision`` in the window."""
        since, until = stats.check_window(since, until)
        statement = stats.top_images_statement(
            since, until, stats.check_decision(decision), namespace, stats.check_top_limit(limit)
        )
        with self._failing_as("top images"), self._transaction(write=False) as connection:
            return stats.top_entries(connection.execute(statement).all())

    def top_findings(
        self,
        since: datetime,
        until: datetime,
        *,
        decision: str = "deny",
        namespace: str | None = None,
        limit: int = 10,
    ) -> tuple[TopEntry, ...]:
        """The finding ids that failed the most verdicts of ``decision`` in the window."""
        since, until = stats.check_window(since, until)
        statement = stats.top_findings_statement(
            since, until, stats.check_decision(decision), namespace, stats.check_top_limit(limit)
        )
        with self._failing_as("top findings"), self._transaction(write=False) as connection:
            return stats.top_entries(connection.execute(statement).all())

    # -- evidence ---------------------------------------------------------------------

    def put_evidence(self, evidence: NewEvidence) -> str:
        """Store one evidence document; return its id."""
        kind = _kind(evidence.kind)
        received_at = check_aware(evidence.received_at, "received_at")
        if received_at is None:
            raise InputError("is required", field="received_at")
        if not isinstance(evidence.data, bytes | bytearray | memoryview):
            raise InputError("must be bytes", field="data")
        row = {
            "id": new_id(),
            "digest": evidence.digest,
            "kind": kind.value,
            "format": evidence.format,
            "name": evidence.name,
            "data": bytes(evidence.data),
            "created_at": check_aware(evidence.created_at, "created_at"),
            "received_at": received_at,
            "pushed_by": evidence.pushed_by,
        }
        with self._failing_as("put_evidence"), self._transaction(write=True) as connection:
            connection.execute(schema.evidence.insert(), row)
        return str(row["id"])

    def latest_evidence(self, digest: str, kind: EvidenceKind) -> StoredEvidence | None:
        """The evidence of ``kind`` for ``digest`` with the newest ``created_at``
        (``received_at`` for documents without one), or None."""
        found = self.evidence_for(digest, kind, limit=1)
        return found[0] if found else None

    def evidence_for(
        self, digest: str, kind: EvidenceKind, *, limit: int = 100
    ) -> tuple[StoredEvidence, ...]:
        """Every evidence document of ``kind`` for ``digest``, newest first (at most ``limit``)."""
        table = schema.evidence
        statement = (
            select(table)
            .where(table.c.digest == digest, table.c.kind == _kind(kind).value)
            .order_by(
                func.coalesce(table.c.created_at, table.c.received_at).desc(),
                table.c.received_at.desc(),
                table.c.id.desc(),
            )
            .limit(limit)
        )
        with self._failing_as("evidence_for"), self._transaction(write=False) as connection:
            rows = connection.execute(statement).all()
        return tuple(self._evidence(row) for row in rows)

    def _evidence(self, row: Row[Any]) -> StoredEvidence:
        try:
            stored_kind = EvidenceKind(row.kind)
        except ValueError:
            raise BackendError(
                f"verdict store {self._label}: evidence {row.id} has unknown kind {row.kind!r}"
            ) from None
        return StoredEvidence(
            id=row.id,
            digest=row.digest,
            kind=stored_kind,
            format=row.format,
            name=row.name,
            data=bytes(row.data),
            created_at=row.created_at,
            received_at=row.received_at,
            pushed_by=row.pushed_by,
        )

    # -- lifetime ---------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (the webhook's re-checks take a PostgreSQL advisory lock on it)."""
        return self._engine

    def close(self) -> None:
        """Release every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> SqlVerdictStore:
        """Use the store in a ``with`` block that closes it."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the store."""
        self.close()


# -- rows -------------------------------------------------------------------------------


def _source(value: str, field: str) -> VerdictSource:
    try:
        return VerdictSource(value)
    except ValueError:
        raise InputError(f"unknown verdict source {value!r}", field=field) from None


def _kind(value: str) -> EvidenceKind:
    try:
        return EvidenceKind(value)
    except ValueError:
        raise InputError(f"unknown evidence kind {value!r}", field="kind") from None


def _verdict_row(index: int, verdict: NewVerdict, checks: str) -> dict[str, Any]:
    where = f"verdicts[{index}]"
    time = check_aware(verdict.time, f"{where}.time")
    if time is None:
        raise InputError("is required", field=f"{where}.time")
    duration = verdict.duration_ms
    if duration is not None and not math.isfinite(duration):
        raise InputError("must be a finite number", field=f"{where}.duration_ms")
    return {
        "id": new_id(),
        "time": time,
        "source": _source(verdict.source, f"{where}.source").value,
        "reference": verdict.reference,
        "digest": verdict.digest,
        "namespace": verdict.namespace,
        "workload_kind": verdict.workload_kind,
        "workload_name": verdict.workload_name,
        "username": verdict.user,
        "decision": str(verdict.decision),
        "mode": str(verdict.mode),
        "policy_name": verdict.policy_name,
        "policy_digest": verdict.policy_digest,
        "rule": verdict.rule,
        "reason": verdict.reason,
        "duration_ms": duration,
        "decided": bool(verdict.decided),
        "checks": checks,
    }


# -- engines ----------------------------------------------------------------------------


def _sqlite_glob(glob: object, reference: object) -> int:
    """SQL function ``gate_glob(glob, reference)``: 1 when the reference matches."""
    if not isinstance(glob, str) or not isinstance(reference, str):
        return 0
    return int(glob_matches(glob, reference))


def _set_wal(cursor: Any, busy_timeout: float) -> None:
    """Switch the database to WAL, waiting out the moment another process does the same.

    SQLite answers "database is locked" at once, without its busy handler,
    when two connections change a new database's journal mode together (four
    replicas starting at once); the switch is retried until ``busy_timeout``.
    """
    deadline = time.monotonic() + busy_timeout
    delay = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def _sqlite_engine(url: URL, *, pool_size: int, busy_timeout: float) -> Engine:
    if url.get_driver_name() not in ("pysqlite", ""):
        raise InputError(f"unsupported SQLite driver ({_URL_HINT})", field="database URL")
    database = url.database
    in_memory = database in (None, "", ":memory:")
    connect_args: dict[str, Any] = {"check_same_thread": False, "timeout": busy_timeout}
    if in_memory:
        # One connection shared by every thread, or each would see its own empty database.
        engine = create_engine(url, connect_args=connect_args, poolclass=StaticPool)
    else:
        assert database is not None  # noqa: S101 -- in_memory covers None
        try:
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackendError(
                f"verdict store {url.render_as_string()}: "
                f"cannot create the directory of {database}: {exc.strerror}"
            ) from None
        engine = create_engine(
            url,
            connect_args=connect_args,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_timeout=busy_timeout * 2,
        )
    busy_ms = int(busy_timeout * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's implicit transactions are turned off so ours (below) decide.
        dbapi_connection.isolation_level = None
        dbapi_connection.create_function("gate_glob", 2, _sqlite_glob, deterministic=True)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if not in_memory:
                _set_wal(cursor, busy_timeout)
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A deferred transaction that later writes can fail at once with
        # SQLITE_BUSY instead of waiting; writers take the lock up front.
        write = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _postgres_engine(
    url: URL, *, pool_size: int, connect_timeout: float, statement_timeout: float
) -> Engine:
    driver = url.get_driver_name()
    if driver in ("", "psycopg2") and "+" not in url.drivername:
        url = url.set(drivername="postgresql+psycopg")
    elif driver != "psycopg":
        raise InputError(
            f"unsupported PostgreSQL driver {driver!r} ({_URL_HINT})", field="database URL"
        )
    statement_ms = int(statement_timeout * 1000)
    options = " ".join(
        (
            f"-c statement_timeout={statement_ms}",
            f"-c lock_timeout={statement_ms}",
            f"-c idle_in_transaction_session_timeout={statement_ms * 6}",
            "-c TimeZone=UTC",
        )
    )
    connect_args: dict[str, Any] = {
        "connect_timeout": max(1, math.ceil(connect_timeout)),
        "options": options,
        "application_name": "gate",
        # A peer that vanishes mid-query is noticed by TCP, not after hours.
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
        "tcp_user_timeout": int((connect_timeout + statement_timeout) * 1000),
    }
    return create_engine(
        url,
        connect_args=connect_args,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=connect_timeout * 2,
        pool_pre_ping=True,
        pool_recycle=1800,
    )
