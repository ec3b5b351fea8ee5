"""The aggregates every ``SqlVerdictStore`` backend must compute alike, as one reusable class.

``StatsContract`` is not collected by itself; ``tests/unit/store/test_stats_sqlite.py``
runs it on SQLite files and ``tests/integration/test_stats_postgres.py`` on a
real PostgreSQL. Each expected answer is also computed in Python from the
recorded verdicts, so the SQL is checked against a plain definition.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, select

from gate.errors import InputError
from gate.store import schema
from gate.store.findings import failed_finding_ids
from gate.store.ids import new_id
from gate.store.model import (
    CheckRecord,
    DecisionCounts,
    NewVerdict,
    StatsBucket,
    VerdictSource,
)
from gate.store.sql import SqlVerdictStore
from tests.unit.store.contract import verdict

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def failing(*ids: str, outcome: str = "fail") -> CheckRecord:
    """A vulnerabilities check with ``outcome`` listing ``ids`` as violations."""
    return CheckRecord(
        check="vulnerabilities",
        outcome=outcome,
        reason=f"{len(ids)} findings break the limits",
        details={
            "violations": [{"id": finding, "package": "openssl"} for finding in ids],
            "violationsTotal": len(ids),
        },
    )


SIGNED = CheckRecord(check="signatures", outcome="pass", reason="signed", details={})


def history() -> list[NewVerdict]:
    """Verdicts over three days in two namespaces, with failing findings on the denials."""
    return [
        verdict(time=T0, decision="allow"),
        verdict(time=T0 + timedelta(minutes=59, seconds=59, microseconds=999_999)),
        verdict(time=T0 + HOUR, decision="warn", namespace="dev"),
        verdict(
            time=T0 + HOUR + timedelta(minutes=5),
            decision="deny",
            reference="registry.example/team/bad:1",
            checks=(SIGNED, failing("CVE-1", "CVE-2", "CVE-1")),
        ),
        verdict(
            time=T0 + 3 * HOUR,
            decision="deny",
            reference="registry.example/team/bad:1",
            checks=(failing("CVE-1"),),
        ),
        verdict(
            time=T0 + DAY,
            decision="deny",
            reference="registry.example/team/worse:2",
            namespace="dev",
            checks=(failing("CVE-3", "CVE-1"),),
        ),
        verdict(
            time=T0 + DAY + HOUR,
            decision="deny",
            reference="registry.example/team/other:3",
            checks=(SIGNED,),
        ),
        # A warning about a finding is not a failure of it.
        verdict(
            time=T0 + DAY + 2 * HOUR,
            decision="warn",
            reference="registry.example/team/bad:1",
            checks=(failing("CVE-9", outcome="warn"),),
        ),
        # Failed, but the rule's mode made it a warning: counted under decision warn.
        verdict(
            time=T0 + 2 * DAY,
            decision="warn",
            reference="registry.example/team/legacy:1",
            mode="warn",
            checks=(failing("CVE-2"),),
        ),
        verdict(time=T0 - timedelta(microseconds=1), decision="deny"),  # before the window
    ]


def expected_counts(
    verdicts: list[NewVerdict],
    since: datetime,
    until: datetime,
    width: timedelta,
    namespace: str | None = None,
) -> dict[datetime, dict[str, int]]:
    """Non-empty buckets computed from the verdicts directly."""
    counts: dict[datetime, dict[str, int]] = {}
    for item in verdicts:
        if not since <= item.time < until:
            continue
        if namespace is not None and item.namespace != namespace:
            continue
        moment = item.time.astimezone(UTC)
        if width == DAY:
            start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        else:
            start = moment.replace(minute=0, second=0, microsecond=0)
        bucket = counts.setdefault(start, {"allow": 0, "warn": 0, "deny": 0})
        bucket[item.decision] += 1
    return counts


def non_empty(buckets: tuple[DecisionCounts, ...]) -> dict[datetime, dict[str, int]]:
    """The buckets with any verdict, as plain dicts."""
    return {
        b.start: {"allow": b.allow, "warn": b.warn, "deny": b.deny}
        for b in buckets
        if b.allow or b.warn or b.deny
    }


class StatsContract:
    """Aggregates every backend must compute; subclasses provide ``store_url``."""

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

    @pytest.fixture
    def recorded(self, store: SqlVerdictStore) -> list[NewVerdict]:
        """``history()`` recorded in ``store``."""
        verdicts = history()
        store.record(verdicts)
        return verdicts

    # -- decisions over time ------------------------------------------------------------

    def test_hourly_buckets_every_hour_of_the_window(
        self, store: SqlVerdictStore, recorded: list[NewVerdict]
    ) -> None:
        since, until = T0, T0 + 4 * HOUR
        buckets = store.decision_counts(since, until, bucket=StatsBucket.HOUR)
        assert [b.start for b in buckets] == [T0 + i * HOUR for i in range(4)]
        assert buckets == (
            DecisionCounts(T0, allow=2),
            DecisionCounts(T0 + HOUR, warn=1, deny=1),
            DecisionCounts(T0 + 2 * HOUR),
            DecisionCounts(T0 + 3 * HOUR, deny=1),
        )
        assert non_empty(buckets) == expected_counts(recorded, since, until, HOUR)

    def test_daily_buckets_and_namespace(
        self, store: SqlVerdictStore, recorded: list[NewVerdict]
    ) -> None:
        since, until = T0 - 2 * DAY, T0 + 5 * DAY  # noon to noon: eight UTC days meet it
        every = store.decision_counts(since, until, bucket=StatsBucket.DAY)
        assert len(every) == 8
        assert every[0].start == datetime(2024, 4, 29, tzinfo=UTC)
        assert non_empty(every) == expected_counts(recorded, since, until, DAY)
        dev = store.decision_counts(since, until, bucket=StatsBucket.DAY, namespace="dev")
        assert non_empty(dev) == expected_counts(recorded, since, until, DAY, "dev")
        assert sum(b.warn + b.deny + b.allow for b in dev) == 2
        nowhere = store.decision_counts(since, until, bucket=StatsBucket.DAY, namespace="none")
        assert non_empty(nowhere) == {}
        assert len(nowhere) == 8

    def test_window_is_since_inclusive_until_exclusive(
        self, store: SqlVerdictStore, recorded: list[NewVerdict]
    ) -> None:
        # From the last microsecond of the first hour up to (not including) T0 + 1 h 5 min.
        since = T0 + timedelta(minutes=59, seconds=59, microseconds=999_999)
        until = T0 + HOUR + timedelta(minutes=5)
        buckets = store.decision_counts(since, until, bucket=StatsBucket.HOUR)
        assert buckets == (DecisionCounts(T0, allow=1), DecisionCounts(T0 + HOUR, warn=1))

    def test_times_with_other_offsets_are_the_same_instants(
        self, store: SqlVerdictStore, recorded: list[NewVerdict]
    ) -> None:
        plus_two = timezone(timedelta(hours=2))
        buckets = store.decision_counts(
            (T0).astimezone(plus_two),
            (T0 + 4 * HOUR).astimezone(plus_two),
            bucket=StatsBucket.HOUR,
        )
        assert buckets == store.decision_counts(T0, T0 + 4 * HOUR, bucket=StatsBucket.HOUR)
        assert all(b.start.utcoffset() == timedelta(0) for b in buckets)

    def test_a_verdict_recorded_with_an_offset_lands_in_its_utc_bucket(
        self, store: SqlVerdictStore
    ) -> None:
        # 01:30 at +02:00 is 23:30 UTC the day before.
        local = datetime(2024, 5, 2, 1, 30, tzinfo=timezone(timedelta(hours=2)))
        store.record([verdict(time=local, decision="deny")])
        days = store.decision_counts(
            datetime(2024, 5, 1, tzinfo=UTC),
            datetime(2024, 5, 3, tzinfo=UTC),
            bucket=StatsBucket.DAY,
        )
        assert days == (
            DecisionCounts(datetime(2024, 5, 1, tzinfo=UTC), deny=1),
            DecisionCounts(datetime(2024, 5, 2, tzinfo=UTC)),
        )

    def test_bad_windows_are_refused(self, store: SqlVerdictStore) -> None:
        with pytest.raises(InputError, match="since: must be before until"):
            store.decision_counts(T0, T0, bucket=StatsBucket.HOUR)
        with pytest.raises(InputError, match="timezone-aware"):
            store.decision_counts(T0.replace(tzinfo=None), T0 + HOUR, bucket=StatsBucket.HOUR)
        with pytest.raises(InputError, match="more than 1000 buckets"):
            store.decision_counts(
                T0, T0 + 1000 * HOUR + timedelta(seconds=1), bucket=StatsBucket.HOUR
            )
        assert len(store.decision_counts(T0, T0 + 1000 * HOUR, bucket=StatsBucket.HOUR)) == 1000
        with pytest.raises(InputError, match="bucket: must be hour or day"):
            store.decision_counts(T0, T0 + HOUR, bucket="week")  # type: ignore[arg-type]  # wrong on purpose

    # -- top images ------------------------------------------------------------------------

    def test_top_images(self, store: SqlVerdictStore, recorded: list[NewVerdict]) -> None:
        since, until = T0, T0 + 3 * DAY
        top = store.top_images(since, until)
        assert [(e.key, e.count) for e in top] == [
            ("registry.example/team/bad:1", 2),
            ("registry.example/team/other:3", 1),
            ("registry.example/team/worse:2", 1),
        ]
        assert top[0].last_seen == T0 + 3 * HOUR
        expected = Counter(
            v.reference for v in recorded if v.decision == "deny" and since <= v.time < until
        )
        assert {e.key: e.count for e in top} == dict(expected)

    def test_top_images_by_decision_namespace_limit_and_window(
        self, store: SqlVerdictStore, recorded: list[NewVerdict]
    ) -> None:
        since, until = T0, T0 + 3 * DAY
        warned = store.top_images(since, until, decision="warn")
        assert [(e.key, e.count) for e in warned] == [
            ("registry.example/team/app:1.0", 1),
            ("registry.example/team/bad:1", 1),
            ("registry.example/team/legacy:1", 1),
        ]
        dev = store.top_images(since, until, namespace="dev")
        assert [(e.key, e.count) for e in dev] == [("registry.example/team/worse:2", 1)]
        assert len(store.top_images(since, until, limit=1)) == 1
        assert store.top_images(T0 + 2 * DAY, until) == ()
        assert store.top_images(T0 - HOUR, T0)[0].last_seen == T0 - timedelta(microseconds=1)

    def test_top_parameters_are_checked(self, store: SqlVerdictStore) -> None:
        with pytest.raises(InputError, match="decision"):
            store.top_images(T0, T0 + HOUR, decision="maybe")
        with pytest.raises(InputError, match="limit"):
            store.top_findings(T0, T0 + HOUR, limit=0)
        with pytest.raises(InputError, match="limit"):
            store.top_findings(T0, T0 + HOUR, limit=101)
        with pytest.raises(InputError, match="since"):
            store.top_findings(T0 + HOUR, T0)

    # -- top findings ---------------------------------------------------------------------

    def test_top_findings_count_each_verdict_once(
        self, store: SqlVerdictStore, recorded: list[NewVerdict]
    ) -> None:
        since, until = T0, T0 + 3 * DAY
        top = store.top_findings(since, until)
        assert [(e.key, e.count) for e in top] == [("CVE-1", 3), ("CVE-2", 1), ("CVE-3", 1)]
        assert top[0].last_seen == T0 + DAY
        expected: Counter[str] = Counter()
        for item in recorded:
            if item.decision == "deny" and since <= item.time < until:
                expected.update(
                    failed_finding_ids((c.check, c.outcome, c.details) for c in item.checks)
                )
        assert {e.key: e.count for e in top} == dict(expected)

    def test_top_findings_by_decision_and_namespace(
        self, store: SqlVerdictStore, recorded: list[NewVerdict]
    ) -> None:
        since, until = T0, T0 + 3 * DAY
        # The warned image failed CVE-2; CVE-9 only warned and is never counted.
        assert [(e.key, e.count) for e in store.top_findings(since, until, decision="warn")] == [
            ("CVE-2", 1)
        ]
        dev = store.top_findings(since, until, namespace="dev")
        assert [(e.key, e.count) for e in dev] == [("CVE-1", 1), ("CVE-3", 1)]
        assert [e.key for e in store.top_findings(since, until, limit=1)] == ["CVE-1"]
        assert store.top_findings(T0 + 2 * DAY + HOUR, until) == ()

    def test_a_reused_checks_object_counts_for_every_verdict(self, store: SqlVerdictStore) -> None:
        # The webhook hands one checks tuple for a decision reused across admissions.
        checks = (failing("CVE-7"),)
        base = verdict(decision="deny", checks=checks)
        store.record([base, replace(base, time=T0 + HOUR)])
        store.record([replace(base, time=T0 + 2 * HOUR)])
        (entry,) = store.top_findings(T0, T0 + DAY)
        assert (entry.key, entry.count, entry.last_seen) == ("CVE-7", 3, T0 + 2 * HOUR)

    def test_malformed_details_count_nothing(self, store: SqlVerdictStore) -> None:
        odd: list[dict[str, Any]] = [
            {"violations": "CVE-1"},
            {"violations": [{"id": 7}, {"id": ""}, "CVE-2", {"name": "CVE-3"}]},
            {"violations": [{"id": "x" * 201}]},
            {},
        ]
        store.record(
            [
                verdict(
                    decision="deny",
                    checks=(CheckRecord("vulnerabilities", "fail", "odd", details),),
                )
                for details in odd
            ]
        )
        assert store.top_findings(T0, T0 + DAY) == ()
        assert len(store.top_images(T0, T0 + DAY)) == 1

    # -- the migration that added the findings ---------------------------------------------

    def test_upgrading_a_version_1_database_counts_its_old_verdicts(self, store_url: str) -> None:
        engine = create_engine(store_url)
        checks_of = {
            "bad": [
                {"check": "signatures", "outcome": "pass", "reason": "ok", "details": {}},
                {
                    "check": "vulnerabilities",
                    "outcome": "fail",
                    "reason": "2",
                    "details": {"violations": [{"id": "CVE-1"}, {"id": "CVE-2"}]},
                },
            ],
            "fine": [{"check": "vulnerabilities", "outcome": "pass", "reason": "0", "details": {}}],
        }
        rows = [
            # More than one backfill batch of failing verdicts.
            self._v1_row(T0 + timedelta(seconds=i), "deny", checks_of["bad"], namespace="prod")
            for i in range(1201)
        ]
        rows.append(self._v1_row(T0, "allow", checks_of["fine"], namespace="prod"))
        # Passes the backfill's text pre-filter but is not JSON: skipped, not fatal.
        broken = '[{"check":"vulnerabilities","outcome":"fail","reason":"x","details":{'
        rows.append(self._v1_row(T0, "deny", checks_of["bad"], namespace="dev", raw=broken))
        try:
            with engine.begin() as connection:
                schema.metadata.create_all(connection, tables=[schema.schema_version])
                schema._v1_initial_tables(connection)
                connection.execute(schema.schema_version.insert().values(version=1, applied_at=T0))
                connection.execute(schema.verdicts.insert(), rows)
        finally:
            engine.dispose()
        with SqlVerdictStore.from_url(store_url) as store:
            top = store.top_findings(T0, T0 + DAY)
            assert [(e.key, e.count) for e in top] == [("CVE-1", 1201), ("CVE-2", 1201)]
            assert top[0].last_seen == T0 + timedelta(seconds=1200)
            # Newly recorded verdicts add to the old ones.
            store.record([verdict(decision="deny", checks=(failing("CVE-2"),))])
            assert store.top_findings(T0, T0 + DAY, limit=1)[0].key == "CVE-2"
        engine = create_engine(store_url)
        try:
            with engine.connect() as connection:
                versions = connection.execute(select(schema.schema_version.c.version)).all()
        finally:
            engine.dispose()
        assert sorted(row.version for row in versions) == [step[0] for step in schema.MIGRATIONS]
        engine = create_engine(store_url)
        try:
            indexes = {index["name"] for index in inspect(engine).get_indexes("verdicts")}
        finally:
            engine.dispose()
        assert "ix_verdicts_namespace_decision_time" in indexes

    @staticmethod
    def _v1_row(
        time: datetime, decision: str, checks: Any, *, namespace: str, raw: str | None = None
    ) -> dict[str, Any]:
        return {
            "id": new_id(),
            "time": time,
            "source": VerdictSource.ADMISSION.value,
            "reference": "registry.example/team/app:1.0",
            "digest": None,
            "namespace": namespace,
            "workload_kind": None,
            "workload_name": None,
            "username": None,
            "decision": decision,
            "mode": "enforce",
            "policy_name": "default",
            "policy_digest": "",
            "rule": None,
            "reason": "",
            "duration_ms": None,
            "decided": True,
            "checks": raw
            if raw is not None
            else json.dumps(checks, ensure_ascii=False, separators=(",", ":")),
        }
