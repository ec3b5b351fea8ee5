"""Stored exceptions and their audit log, for ``SqlVerdictStore`` (``ExceptionStoreMixin``).

Exceptions are never deleted: a revoke sets the revoked fields. Every
create, revoke and the first time an evaluation finds an exception expired
adds a row to ``exception_audit`` in the same transaction as the change,
with who, when, what and the whole record as JSON after the change. The
"expired" event is written at most once per exception, also with several
replicas: the row is claimed by an ``UPDATE ... WHERE expired_noticed_at IS
NULL`` and only the replica whose update took writes the event.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import Connection, Row, and_, case, select

from gate.errors import InputError
from gate.policy.exceptions import ExceptionRecord, NewException, exception_to_dict
from gate.store import schema
from gate.store.ids import looks_like_id, new_id

__all__ = [
    "AUDIT_ACTIONS",
    "ExceptionAuditEntry",
    "ExceptionStore",
    "ExceptionStoreMixin",
]

#: What an audit entry records.
AUDIT_ACTIONS = ("create", "revoke", "expired")
_MAX_LIST = 10000


@dataclass(frozen=True)
class ExceptionAuditEntry:
    """One event of an exception's life: created, revoked, or first found expired."""

    id: str
    exception_id: str
    time: datetime
    action: str  # create | revoke | expired
    actor: str | None  # the token name, or None for "expired" (noticed by an evaluation)
    record: dict[str, Any]  # the exception as the API shows it, after the event


@runtime_checkable
class ExceptionStore(Protocol):
    """What the exception API and the webhook need of a store. Every method raises
    ``BackendError`` when the database cannot be reached."""

    def add_exception(
        self, new: NewException, *, created: datetime, created_by: str | None
    ) -> ExceptionRecord:
        """Store a validated exception and its "create" audit entry; the stored record."""
        ...

    def get_exception(self, exception_id: str) -> ExceptionRecord | None:
        """One exception by id (revoked ones too), or None."""
        ...

    def list_exceptions(
        self,
        *,
        revoked: bool | None = None,
        expires_after: datetime | None = None,
        expires_before: datetime | None = None,
        limit: int = 1000,
    ) -> tuple[ExceptionRecord, ...]:
        """Exceptions by expiry, soonest first: ``revoked`` filters when not None,
        ``expires_after`` exclusive, ``expires_before`` inclusive."""
        ...

    def revoke_exception(
        self, exception_id: str, *, at: datetime, by: str | None
    ) -> ExceptionRecord | None:
        """Mark an exception revoked (kept, with "revoke" audited); None when there is none.
        Revoking a revoked exception changes nothing and audits nothing."""
        ...

    def notice_exception_expired(self, exception_id: str, *, at: datetime) -> bool:
        """Audit "expired" once for an exception found expired at ``at``; True if this call did."""
        ...

    def exception_audit(
        self, exception_id: str | None = None, *, limit: int = 1000
    ) -> tuple[ExceptionAuditEntry, ...]:
        """Audit entries oldest first, of one exception or of all."""
        ...


class ExceptionStoreMixin:
    """``ExceptionStore`` for a class that provides ``_transaction`` and ``_failing_as``."""

    def _transaction(self, *, write: bool) -> AbstractContextManager[Connection]:
        raise NotImplementedError  # provided by SqlVerdictStore

    def _failing_as(self, operation: str) -> AbstractContextManager[None]:
        raise NotImplementedError  # provided by SqlVerdictStore

    def add_exception(
        self, new: NewException, *, created: datetime, created_by: str | None
    ) -> ExceptionRecord:
        """Store a validated exception and its "create" audit entry; the stored record."""
        record = ExceptionRecord(**vars(new), id=new_id(), created=created, created_by=created_by)
        with self._failing_as("add exception"), self._transaction(write=True) as connection:
            connection.execute(schema.exceptions.insert().values(**_row(record)))
            _audit(connection, record, "create", created, created_by)
        return record

    def get_exception(self, exception_id: str) -> ExceptionRecord | None:
        """One exception by id (revoked ones too), or None (also for a string that is no id)."""
        if not looks_like_id(exception_id):
            return None
        with self._failing_as("get exception"), self._transaction(write=False) as connection:
            return _get(connection, exception_id)

    def list_exceptions(
        self,
        *,
        revoked: bool | None = None,
        expires_after: datetime | None = None,
        expires_before: datetime | None = None,
        limit: int = 1000,
    ) -> tuple[ExceptionRecord, ...]:
        """Exceptions by expiry, soonest first (see ``ExceptionStore.list_exceptions``)."""
        if isinstance(limit, bool) or not 1 <= limit <= _MAX_LIST:
            raise InputError(f"must be 1..{_MAX_LIST}", field="limit")
        table = schema.exceptions
        conditions: list[Any] = []
        if revoked is not None:
            conditions.append(table.c.revoked == revoked)
        if expires_after is not None:
            conditions.append(table.c.expires > expires_after)
        if expires_before is not None:
            conditions.append(table.c.expires <= expires_before)
        statement = select(table).order_by(table.c.expires, table.c.id).limit(limit)
        if conditions:
            statement = statement.where(and_(*conditions))
        with self._failing_as("list exceptions"), self._transaction(write=False) as connection:
            return tuple(_record(row) for row in connection.execute(statement))

    def revoke_exception(
        self, exception_id: str, *, at: datetime, by: str | None
    ) -> ExceptionRecord | None:
        """Mark an exception revoked and audit it; None when there is none."""
        if not looks_like_id(exception_id):
            return None
        table = schema.exceptions
        with self._failing_as("revoke exception"), self._transaction(write=True) as connection:
            result = connection.execute(
                table.update()
                .where(table.c.id == exception_id, table.c.revoked.is_(False))
                .values(revoked=True, revoked_at=at, revoked_by=by)
            )
            record = _get(connection, exception_id)
            if record is not None and result.rowcount == 1:
                _audit(connection, record, "revoke", at, by)
            return record

    def notice_exception_expired(self, exception_id: str, *, at: datetime) -> bool:
        """Audit "expired" once for an exception found expired at ``at``; True if this call did."""
        if not looks_like_id(exception_id):
            return False
        table = schema.exceptions
        with (
            self._failing_as("notice expired exception"),
            self._transaction(write=True) as connection,
        ):
            result = connection.execute(
                table.update()
                .where(
                    table.c.id == exception_id,
                    table.c.expired_noticed_at.is_(None),
                    table.c.expires <= at,
                )
                .values(expired_noticed_at=at)
            )
            if result.rowcount != 1:
                return False
            record = _get(connection, exception_id)
            if record is None:  # pragma: no cover - the row was just updated
                return False
            _audit(connection, record, "expired", at, None)
            return True

    def exception_audit(
        self, exception_id: str | None = None, *, limit: int = 1000
    ) -> tuple[ExceptionAuditEntry, ...]:
        """Audit entries oldest first, of one exception or of all (at most ``limit``)."""
        if isinstance(limit, bool) or not 1 <= limit <= _MAX_LIST:
            raise InputError(f"must be 1..{_MAX_LIST}", field="limit")
        table = schema.exception_audit
        # A create comes before anything else that happened in the same instant.
        first = case((table.c.action == "create", 0), else_=1)
        statement = select(table).order_by(table.c.time, first, table.c.id).limit(limit)
        if exception_id is not None:
            if not looks_like_id(exception_id):
                return ()
            statement = statement.where(table.c.exception_id == exception_id)
        with self._failing_as("read exception audit"), self._transaction(write=False) as connection:
            return tuple(_entry(row) for row in connection.execute(statement))


def _row(record: ExceptionRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "finding_id": record.finding_id,
        "purl": record.purl,
        "images": json.dumps(list(record.images)),
        "namespaces": json.dumps(list(record.namespaces)),
        "owner": record.owner,
        "ticket": record.ticket,
        "reason": record.reason,
        "expires": record.expires,
        "created": record.created,
        "created_by": record.created_by,
        "revoked": record.revoked,
        "revoked_at": record.revoked_at,
        "revoked_by": record.revoked_by,
        "expired_noticed_at": record.expired_noticed_at,
    }


def _get(connection: Connection, exception_id: str) -> ExceptionRecord | None:
    row = connection.execute(
        select(schema.exceptions).where(schema.exceptions.c.id == exception_id)
    ).first()
    return None if row is None else _record(row)


def _record(row: Row[Any]) -> ExceptionRecord:
    return ExceptionRecord(
        finding_id=row.finding_id,
        purl=row.purl,
        images=tuple(_strings(row.images)),
        namespaces=tuple(_strings(row.namespaces)),
        owner=row.owner,
        ticket=row.ticket,
        reason=row.reason,
        expires=row.expires,
        id=row.id,
        created=row.created,
        created_by=row.created_by,
        revoked=bool(row.revoked),
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
        expired_noticed_at=row.expired_noticed_at,
    )


def _strings(text: str) -> Iterator[str]:
    value = json.loads(text)
    if isinstance(value, list):
        yield from (str(item) for item in value)


def _audit(
    connection: Connection, record: ExceptionRecord, action: str, at: datetime, actor: str | None
) -> None:
    connection.execute(
        schema.exception_audit.insert().values(
            id=new_id(),
            exception_id=record.id,
            time=at,
            action=action,
            actor=actor,
            record=json.dumps(exception_to_dict(record), ensure_ascii=False, sort_keys=True),
        )
    )


def _entry(row: Row[Any]) -> ExceptionAuditEntry:
    record = json.loads(row.record)
    return ExceptionAuditEntry(
        id=row.id,
        exception_id=row.exception_id,
        time=row.time,
        action=row.action,
        actor=row.actor,
        record=record if isinstance(record, dict) else {},
    )


def with_expired_noticed(record: ExceptionRecord, at: datetime) -> ExceptionRecord:
    """``record`` as it reads after ``notice_exception_expired`` (for in-memory copies)."""
    return replace(record, expired_noticed_at=at)
