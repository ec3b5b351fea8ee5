"""The behaviour of stored exceptions every ``SqlVerdictStore`` backend must show.

``ExceptionsContract`` is subclassed with a ``store_url`` fixture by
``test_exceptions_sqlite.py`` (SQLite files) and
``tests/integration/test_exceptions_postgres.py`` (a real PostgreSQL).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from gate.policy.exceptions import NewException
from gate.store.sql import SqlVerdictStore

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def new(**changes: object) -> NewException:
    """An exception for CVE-1 expiring 10 days after ``T0``, with ``changes``."""
    fields: dict[str, object] = {
        "finding_id": "CVE-1",
        "purl": None,
        "images": ("registry.acme.io/prod/*",),
        "namespaces": ("prod",),
        "owner": "alice",
        "ticket": "SEC-1",
        "reason": "not reachable",
        "expires": T0 + timedelta(days=10),
    }
    fields.update(changes)
    return NewException(**fields)  # type: ignore[arg-type]  # test helper takes any field


class ExceptionsContract:
    """Create, read, list, revoke, notice expiry and the audit log."""

    @pytest.fixture
    def store(self, store_url: str) -> Iterator[SqlVerdictStore]:
        """A migrated store on the backend's fresh database."""
        with SqlVerdictStore.from_url(store_url) as store:
            yield store

    def test_create_and_read_back(self, store: SqlVerdictStore) -> None:
        made = store.add_exception(new(purl="pkg:deb/debian/openssl"), created=T0, created_by="ci")
        assert made.id
        assert made.created == T0
        assert made.created_by == "ci"
        read = store.get_exception(made.id)
        assert read == made
        assert read is not None
        assert read.expires.tzinfo is not None
        assert store.get_exception("not-an-id") is None
        assert store.get_exception("0" * 26) is None

    def test_list_filters_and_order(self, store: SqlVerdictStore) -> None:
        late = store.add_exception(new(expires=T0 + timedelta(days=20)), created=T0, created_by="a")
        soon = store.add_exception(new(expires=T0 + timedelta(days=2)), created=T0, created_by="a")
        gone = store.add_exception(new(expires=T0 - timedelta(days=1)), created=T0, created_by="a")
        revoked = store.add_exception(new(), created=T0, created_by="a")
        store.revoke_exception(revoked.id, at=T0, by="b")
        assert [r.id for r in store.list_exceptions()] == [gone.id, soon.id, revoked.id, late.id]
        active = store.list_exceptions(revoked=False, expires_after=T0)
        assert [r.id for r in active] == [soon.id, late.id]
        expiring = store.list_exceptions(
            revoked=False, expires_after=T0, expires_before=T0 + timedelta(days=7)
        )
        assert [r.id for r in expiring] == [soon.id]
        assert [r.id for r in store.list_exceptions(revoked=True)] == [revoked.id]

    def test_revoke_keeps_the_record(self, store: SqlVerdictStore) -> None:
        made = store.add_exception(new(), created=T0, created_by="ci")
        later = T0 + timedelta(hours=1)
        revoked = store.revoke_exception(made.id, at=later, by="bob")
        assert revoked is not None
        assert (revoked.revoked, revoked.revoked_at, revoked.revoked_by) == (True, later, "bob")
        # Revoking again changes nothing and audits nothing.
        again = store.revoke_exception(made.id, at=later + timedelta(hours=1), by="eve")
        assert again == revoked
        assert [e.action for e in store.exception_audit(made.id)] == ["create", "revoke"]
        assert store.revoke_exception("0" * 26, at=later, by="bob") is None

    def test_audit_log_keeps_who_when_and_the_record(self, store: SqlVerdictStore) -> None:
        made = store.add_exception(new(), created=T0, created_by="ci")
        store.revoke_exception(made.id, at=T0, by="bob")
        create, revoke = store.exception_audit(made.id)
        assert (create.action, create.actor, create.time) == ("create", "ci", T0)
        assert create.record["id"] == made.id
        assert create.record["revoked"] is False
        assert create.record["owner"] == "alice"
        assert create.record["ticket"] == "SEC-1"
        assert (revoke.action, revoke.actor) == ("revoke", "bob")
        assert revoke.record["revoked"] is True
        assert revoke.record["revokedBy"] == "bob"
        other = store.add_exception(new(), created=T0 + timedelta(1), created_by="ci")
        assert [e.exception_id for e in store.exception_audit()] == [made.id, made.id, other.id]

    def test_expiry_is_audited_once(self, store: SqlVerdictStore) -> None:
        made = store.add_exception(new(expires=T0 + timedelta(days=1)), created=T0, created_by="a")
        # Not expired yet: nothing to notice.
        assert not store.notice_exception_expired(made.id, at=T0)
        after = T0 + timedelta(days=2)
        assert store.notice_exception_expired(made.id, at=after)
        assert not store.notice_exception_expired(made.id, at=after + timedelta(hours=1))
        actions = [(e.action, e.actor, e.time) for e in store.exception_audit(made.id)]
        assert actions == [("create", "a", T0), ("expired", None, after)]
        read = store.get_exception(made.id)
        assert read is not None
        assert read.expired_noticed_at == after

    def test_expiry_is_audited_once_by_racing_replicas(
        self, store: SqlVerdictStore, store_url: str
    ) -> None:
        made = store.add_exception(new(expires=T0), created=T0, created_by="a")
        others = [SqlVerdictStore.from_url(store_url) for _ in range(4)]
        wins: list[bool] = []
        try:
            threads = [
                threading.Thread(
                    target=lambda s=s: wins.append(
                        s.notice_exception_expired(made.id, at=T0 + timedelta(1))
                    )
                )
                for s in others
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
        finally:
            for other in others:
                other.close()
        assert sorted(wins) == [False, False, False, True]
        assert [e.action for e in store.exception_audit(made.id)] == ["create", "expired"]
