"""The behaviour every ``SqlVerdictStore`` backend must show, as one reusable test class.

``StoreContract`` is not collected by itself (no ``Test`` prefix); each backend
subclasses it and provides the ``store_url`` fixture: an empty database per
test. ``tests/unit/store/test_sql_sqlite.py`` runs it on SQLite files,
``tests/integration/test_store_postgres.py`` on a real PostgreSQL.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, select, text

from gate.errors import InputError
from gate.store import schema
from gate.store.model import (
    CheckRecord,
    EvidenceKind,
    NewEvidence,
    NewVerdict,
    StoredVerdict,
    VerdictQuery,
    VerdictSource,
)
from gate.store.query import encode_cursor
from gate.store.sql import SqlVerdictStore

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64


def verdict(**changes: object) -> NewVerdict:
    """A plain allow verdict at ``T0``, with ``changes`` applied."""
    base = NewVerdict(
        time=T0,
        source=VerdictSource.ADMISSION,
        reference="registry.example/team/app:1.0",
        digest=DIGEST_A,
        decision="allow",
        mode="enforce",
        policy_name="default",
        policy_digest="sha256:" + "c" * 64,
        rule="signed",
        reason="all checks passed",
        namespace="prod",
    )
    return replace(base, **changes)  # type: ignore[arg-type]  # test helper takes any field


def all_ids(store: SqlVerdictStore, query: VerdictQuery, limit: int) -> list[list[str]]:
    """The ids of every page of ``query``, page by page, following the cursors."""
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        page = store.query(query, limit=limit, cursor=cursor)
        pages.append([item.id for item in page.items])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor
        assert len(pages) < 1000, "pagination does not end"


GLOB_REFERENCES = (
    "registry.example/team/app:1.0",
    "registry.example/team/sub/app:1.0",
    "registry.example/other/app:2.0",
    "registry.example/team/app_x:1.0",
    "registry.example/team/appZx:1.0",
    "REGISTRY.example/team/app:1.0",
    "registryXexample/team/app:1.0",
    "docker.io/library/nginx@sha256:abc",
    "ghcr.io/ünïcode/app:ß",
)

GLOB_CASES: tuple[tuple[str, set[str]], ...] = (
    ("**", set(GLOB_REFERENCES)),
    ("registry.example/*/app:1.0", {"registry.example/team/app:1.0"}),
    (
        "registry.example/**/app:1.0",
        {"registry.example/team/app:1.0", "registry.example/team/sub/app:1.0"},
    ),
    (
        "registry.example/team/*",
        {
            "registry.example/team/app:1.0",
            "registry.example/team/app_x:1.0",
            "registry.example/team/appZx:1.0",
        },
    ),
    ("registry.example/team/app?1.0", {"registry.example/team/app:1.0"}),
    ("registry.example/team/app_x:1.0", {"registry.example/team/app_x:1.0"}),
    ("registry.example/team/app%", set()),
    ("registry.example?team/app:1.0", set()),
    ("registry.example/team/app", set()),
    (
        "*/team/app:1.0",
        {
            "registry.example/team/app:1.0",
            "REGISTRY.example/team/app:1.0",
            "registryXexample/team/app:1.0",
        },
    ),
    ("registry.example/**", set(GLOB_REFERENCES[:5])),
    ("docker.io/library/nginx@sha256:*", {"docker.io/library/nginx@sha256:abc"}),
    ("docker.io/library/nginx@sha256:a[b]c", set()),
    ("docker.io/library/nginx@sha256:a.c", set()),
    ("ghcr.io/ünïcode/*:?", {"ghcr.io/ünïcode/app:ß"}),
    ("*", set()),
)


class StoreContract:
    """Tests every backend must pass; subclasses provide ``store_url``."""

    @pytest.fixture
    def store_url(self) -> str:
        """An empty database for one test (overridden by each backend)."""
        raise NotImplementedError

    @pytest.fixture
    def store(self, store_url: str) -> Iterator[SqlVerdictStore]:
        """A store on ``store_url``, closed after the test."""
        store = SqlVerdictStore.from_url(store_url)
        try:
            yield store
        finally:
            store.close()

    # -- record and get -------------------------------------------------------------

    def test_round_trip_every_field(self, store: SqlVerdictStore) -> None:
        plus_two = timezone(timedelta(hours=2))
        new = NewVerdict(
            time=datetime(2024, 5, 1, 14, 30, 15, 123456, tzinfo=plus_two),
            source=VerdictSource.CI,
            reference="ghcr.io/ünïcode/app:ß-1",
            digest=DIGEST_B,
            decision="deny",
            mode="audit",
            policy_name="pölicy ✓",
            policy_digest="sha256:" + "d" * 64,
            rule="no-criticals",
            reason="CVE-2024-0001 (critical) in libfoo — fix available",
            checks=(
                CheckRecord(
                    check="vulnerabilities",
                    outcome="fail",
                    reason="1 critical",
                    details={
                        "findings": [{"id": "CVE-2024-0001", "score": 9.8, "fixed": True}],
                        "note": "日本語",
                        "none": None,
                    },
                ),
                CheckRecord(check="signatures", outcome="pass", reason="signed by ci"),
            ),
            namespace="päyments",
            workload_kind="Deployment",
            workload_name="api",
            user="system:serviceaccount:ci:deployer",
            duration_ms=12.5,
            decided=False,
        )
        (verdict_id,) = store.record([new])
        stored = store.get(verdict_id)
        assert stored is not None
        expected = StoredVerdict(
            **{**new.__dict__, "time": datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)},
            id=verdict_id,
        )
        assert stored == expected
        assert stored.time.tzinfo is not None
        assert stored.time.utcoffset() == timedelta(0)
        assert isinstance(stored.source, VerdictSource)
        assert stored.checks[0].details["findings"][0]["score"] == 9.8

    def test_optional_fields_none(self, store: SqlVerdictStore) -> None:
        new = verdict(digest=None, rule=None, namespace=None, duration_ms=None, checks=())
        (verdict_id,) = store.record([new])
        stored = store.get(verdict_id)
        assert stored == StoredVerdict(**new.__dict__, id=verdict_id)

    def test_record_returns_distinct_ids_in_order(self, store: SqlVerdictStore) -> None:
        news = [verdict(reference=f"r.example/app:{n}") for n in range(5)]
        ids = store.record(news)
        assert len(set(ids)) == 5
        got = [store.get(verdict_id) for verdict_id in ids]
        assert [g.reference for g in got if g is not None] == [n.reference for n in news]

    def test_record_nothing(self, store: SqlVerdictStore) -> None:
        assert store.record([]) == ()

    def test_get_unknown_or_garbage_id(self, store: SqlVerdictStore) -> None:
        store.record([verdict()])
        assert store.get("0" * 26) is None
        assert store.get("'; DROP TABLE verdicts; --") is None
        assert store.get("\x00") is None
        assert store.get("") is None

    def test_naive_time_is_refused(self, store: SqlVerdictStore) -> None:
        with pytest.raises(InputError, match=r"verdicts\[1\]\.time"):
            store.record([verdict(), verdict(time=datetime(2024, 1, 1))])
        assert store.query(VerdictQuery()).items == ()

    # -- filters --------------------------------------------------------------------

    def test_every_filter(self, store: SqlVerdictStore) -> None:
        ids = store.record(
            [
                verdict(time=T0, digest=DIGEST_A, namespace="prod", decision="allow"),
                verdict(
                    time=T0 + timedelta(minutes=1),
                    digest=DIGEST_B,
                    namespace="dev",
                    decision="deny",
                    source=VerdictSource.CI,
                ),
                verdict(time=T0 + timedelta(minutes=2), digest=DIGEST_A, decision="warn"),
                verdict(time=T0 + timedelta(minutes=3), digest=None, namespace=None),
            ]
        )

        def found(**filters: object) -> list[str]:
            query = VerdictQuery(**filters)  # type: ignore[arg-type]  # filters by name
            return [item.id for item in store.query(query).items]

        assert found() == [ids[3], ids[2], ids[1], ids[0]]
        assert found(digest=DIGEST_A) == [ids[2], ids[0]]
        assert found(namespace="dev") == [ids[1]]
        assert found(decision="warn") == [ids[2]]
        assert found(source=VerdictSource.CI) == [ids[1]]
        assert found(source=VerdictSource.ADMISSION) == [ids[3], ids[2], ids[0]]
        assert found(since=T0 + timedelta(minutes=1)) == [ids[3], ids[2], ids[1]]
        assert found(until=T0 + timedelta(minutes=1)) == [ids[0]]
        plus_five = timezone(timedelta(hours=5))
        assert found(
            since=(T0 + timedelta(minutes=1)).astimezone(plus_five),
            until=(T0 + timedelta(minutes=3)).astimezone(plus_five),
        ) == [ids[2], ids[1]]
        assert found(digest=DIGEST_A, namespace="prod", decision="allow") == [ids[0]]
        assert found(digest=DIGEST_A, decision="deny") == []
        assert found(namespace="nowhere") == []

    def test_naive_since_is_refused(self, store: SqlVerdictStore) -> None:
        with pytest.raises(InputError, match="since"):
            store.query(VerdictQuery(since=datetime(2024, 1, 1)))

    @pytest.mark.parametrize(("glob", "expected"), GLOB_CASES)
    def test_image_glob(self, store: SqlVerdictStore, glob: str, expected: set[str]) -> None:
        store.record([verdict(reference=reference) for reference in GLOB_REFERENCES])
        page = store.query(VerdictQuery(image=glob), limit=1000)
        assert {item.reference for item in page.items} == expected

    # -- pagination -----------------------------------------------------------------

    def test_pagination_with_ties_in_time(self, store: SqlVerdictStore) -> None:
        times = [T0 + timedelta(seconds=n // 5) for n in range(23)]  # groups of 5 equal times
        store.record([verdict(time=t, reference=f"r.example/app:{n}") for n, t in enumerate(times)])
        every = store.query(VerdictQuery(), limit=1000).items
        assert len(every) == 23
        order = [(item.time, item.id) for item in every]
        assert order == sorted(order, reverse=True)
        pages = all_ids(store, VerdictQuery(), limit=4)
        assert [len(page) for page in pages] == [4, 4, 4, 4, 4, 3]
        assert [i for page in pages for i in page] == [item.id for item in every]

    def test_last_full_page_has_no_cursor(self, store: SqlVerdictStore) -> None:
        store.record([verdict(time=T0 + timedelta(seconds=n)) for n in range(8)])
        pages = all_ids(store, VerdictQuery(), limit=4)
        assert [len(page) for page in pages] == [4, 4]

    def test_pagination_with_glob_returns_full_pages(self, store: SqlVerdictStore) -> None:
        news = []
        for n in range(30):
            reference = f"keep.example/a/app:{n}" if n % 3 else f"drop.example/a/app:{n}"
            news.append(verdict(time=T0 + timedelta(seconds=n % 7), reference=reference))
        store.record(news)
        pages = all_ids(store, VerdictQuery(image="keep.example/*/app:*"), limit=6)
        assert [len(page) for page in pages] == [6, 6, 6, 2]
        ids = [i for page in pages for i in page]
        assert len(set(ids)) == 20

    def test_new_verdicts_do_not_disturb_later_pages(self, store: SqlVerdictStore) -> None:
        ids = store.record([verdict(time=T0 + timedelta(seconds=n)) for n in range(6)])
        first = store.query(VerdictQuery(), limit=3)
        store.record([verdict(time=T0 + timedelta(hours=1))])
        second = store.query(VerdictQuery(), limit=3, cursor=first.next_cursor)
        assert [item.id for item in second.items] == [ids[2], ids[1], ids[0]]
        assert second.next_cursor is None

    @pytest.mark.parametrize(
        "cursor",
        [
            "",
            "!!!not base64!!!",
            base64.urlsafe_b64encode(b"not json").decode(),
            base64.urlsafe_b64encode(b"[1, 2]").decode(),
            base64.urlsafe_b64encode(json.dumps({"t": "x", "i": "y"}).encode()).decode(),
            base64.urlsafe_b64encode(
                json.dumps({"v": 1, "t": "2024-01-01T00:00:00", "i": "0" * 26}).encode()
            ).decode(),
            base64.urlsafe_b64encode(
                json.dumps({"v": 1, "t": "yesterday", "i": "0" * 26}).encode()
            ).decode(),
            base64.urlsafe_b64encode(
                json.dumps({"v": 1, "t": T0.isoformat(), "i": "x' OR 1=1 --"}).encode()
            ).decode(),
            base64.urlsafe_b64encode(
                json.dumps({"v": 2, "t": T0.isoformat(), "i": "0" * 26}).encode()
            ).decode(),
            "A" * 10_000,
        ],
    )
    def test_bad_cursor(self, store: SqlVerdictStore, cursor: str) -> None:
        with pytest.raises(InputError) as caught:
            store.query(VerdictQuery(), cursor=cursor)
        assert str(caught.value) == "invalid cursor"

    def test_tampered_cursor(self, store: SqlVerdictStore) -> None:
        store.record([verdict(time=T0 + timedelta(seconds=n)) for n in range(3)])
        cursor = store.query(VerdictQuery(), limit=1).next_cursor
        assert cursor is not None
        tampered = cursor[:-3] + ("A" if cursor[-3] != "A" else "B") + cursor[-2:]
        with pytest.raises(InputError, match=r"^invalid cursor$"):
            store.query(VerdictQuery(), cursor=tampered)

    def test_handmade_cursor_positions(self, store: SqlVerdictStore) -> None:
        ids = store.record([verdict(time=T0 + timedelta(seconds=n)) for n in range(3)])
        cursor = encode_cursor(T0 + timedelta(seconds=1), "Z" * 26)
        assert [i.id for i in store.query(VerdictQuery(), cursor=cursor).items] == [ids[1], ids[0]]

    @pytest.mark.parametrize("limit", [0, -1, 1001, True, "10", 2.5])
    def test_bad_limit(self, store: SqlVerdictStore, limit: object) -> None:
        with pytest.raises(InputError, match="limit"):
            store.query(VerdictQuery(), limit=limit)  # type: ignore[arg-type]  # wrong on purpose

    def test_limit_bounds_accepted(self, store: SqlVerdictStore) -> None:
        store.record([verdict(), verdict()])
        assert len(store.query(VerdictQuery(), limit=1).items) == 1
        assert len(store.query(VerdictQuery(), limit=1000).items) == 2

    # -- evidence -------------------------------------------------------------------

    def test_evidence_round_trip_and_newest(self, store: SqlVerdictStore) -> None:
        assert store.latest_evidence(DIGEST_A, EvidenceKind.SCAN) is None

        def evidence(name: str, created: datetime | None, received: datetime) -> NewEvidence:
            return NewEvidence(
                digest=DIGEST_A,
                kind=EvidenceKind.SCAN,
                format="trivy",
                name=name,
                data=name.encode() + b"\x00\xff binary",
                received_at=received,
                created_at=created,
                pushed_by="ci-token",
            )

        # Created long ago but pushed last: must not win over a newer document.
        store.put_evidence(evidence("old.json", T0 - timedelta(days=2), T0 + timedelta(hours=5)))
        newest = evidence("newest.json", T0 + timedelta(hours=1), T0 + timedelta(hours=2))
        newest_id = store.put_evidence(newest)
        # No creation time: its receipt time counts, and it is older than ``newest``.
        store.put_evidence(evidence("undated.json", None, T0 + timedelta(minutes=30)))
        store.put_evidence(
            replace(newest, kind=EvidenceKind.SBOM, created_at=T0 + timedelta(days=1))
        )
        store.put_evidence(replace(newest, digest=DIGEST_B, created_at=T0 + timedelta(days=1)))

        latest = store.latest_evidence(DIGEST_A, EvidenceKind.SCAN)
        assert latest is not None
        assert latest.id == newest_id
        assert latest.data == b"newest.json\x00\xff binary"
        assert latest.created_at == T0 + timedelta(hours=1)
        assert latest.received_at == T0 + timedelta(hours=2)
        assert latest.created_at.tzinfo is not None
        assert (latest.name, latest.format, latest.pushed_by) == (
            "newest.json",
            "trivy",
            "ci-token",
        )
        assert latest.kind is EvidenceKind.SCAN

    def test_undated_evidence_wins_when_received_last(self, store: SqlVerdictStore) -> None:
        base = NewEvidence(
            digest=DIGEST_A,
            kind=EvidenceKind.SBOM,
            format="cyclonedx-json",
            name="a.json",
            data=b"{}",
            received_at=T0,
            created_at=T0,
        )
        store.put_evidence(base)
        later = store.put_evidence(
            replace(base, name="b.json", created_at=None, received_at=T0 + timedelta(hours=1))
        )
        latest = store.latest_evidence(DIGEST_A, EvidenceKind.SBOM)
        assert latest is not None
        assert latest.id == later
        assert latest.created_at is None

    # -- schema and instances -------------------------------------------------------

    def test_migration_is_idempotent(self, store_url: str) -> None:
        for _ in range(3):
            SqlVerdictStore.from_url(store_url).close()
        engine = create_engine(store_url)
        try:
            with engine.connect() as connection:
                versions = connection.execute(select(schema.schema_version.c.version)).all()
        finally:
            engine.dispose()
        # Each step recorded once, however often the store starts.
        assert [row.version for row in versions] == [step[0] for step in schema.MIGRATIONS]

    def test_concurrent_start(self, store_url: str) -> None:
        errors: list[BaseException] = []
        stores: list[SqlVerdictStore] = []
        barrier = threading.Barrier(4)

        def start() -> None:
            try:
                barrier.wait(timeout=30)
                stores.append(SqlVerdictStore.from_url(store_url))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=start) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        assert len(stores) == 4
        ids = [store.record([verdict()])[0] for store in stores]
        engine = create_engine(store_url)
        try:
            with engine.connect() as connection:
                count = connection.execute(text("SELECT count(*) FROM schema_version")).scalar()
        finally:
            engine.dispose()
        assert count == len(schema.MIGRATIONS)
        assert {item.id for item in stores[0].query(VerdictQuery()).items} == set(ids)
        for store in stores:
            store.close()

    def test_two_instances_see_each_other(self, store_url: str) -> None:
        with (
            SqlVerdictStore.from_url(store_url) as first,
            SqlVerdictStore.from_url(store_url) as second,
        ):
            (from_first,) = first.record([verdict(reference="a.example/one:1")])
            (from_second,) = second.record([verdict(reference="a.example/two:1")])
            assert second.get(from_first) is not None
            assert first.get(from_second) is not None
            assert len(first.query(VerdictQuery(image="a.example/**")).items) == 2
