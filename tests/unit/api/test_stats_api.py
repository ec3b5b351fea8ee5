"""``/api/v1/stats``: the dashboard's aggregates over a real SQLite store, via Flask's client."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gate.clock import fixed_clock
from gate.errors import BackendError
from gate.store.model import (
    CheckRecord,
    DecisionCounts,
    NewVerdict,
    StatsBucket,
    TopEntry,
    VerdictSource,
)
from gate.store.sql import SqlVerdictStore
from tests.unit.api.documents import NOW, READER, WRITER, bearer, sqlite_store, tokens
from webhook.api import create_api_blueprint
from webhook.stats_api import create_stats_blueprint

DECISIONS = "/api/v1/stats/decisions"
TOP = "/api/v1/stats/top"
HOUR = timedelta(hours=1)


def _verdict(time: datetime, decision: str, **changes: Any) -> NewVerdict:
    base = NewVerdict(
        time=time,
        source=VerdictSource.ADMISSION,
        reference="registry.example/shop/web:1",
        digest="sha256:" + "ab" * 32,
        decision=decision,
        mode="enforce",
        policy_name="production",
        policy_digest="sha256:" + "dd" * 32,
        rule="signed",
        reason="test",
        namespace="shop",
    )
    return replace(base, **changes)


def _failing(*ids: str) -> tuple[CheckRecord, ...]:
    return (
        CheckRecord(
            "vulnerabilities",
            "fail",
            "findings break the limits",
            {"violations": [{"id": finding} for finding in ids]},
        ),
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlVerdictStore]:
    with sqlite_store(tmp_path) as opened:
        opened.record(
            [
                _verdict(NOW - 30 * 60 * timedelta(seconds=1), "allow"),
                _verdict(NOW - 2 * HOUR, "deny", checks=_failing("CVE-1", "CVE-2")),
                _verdict(
                    NOW - 3 * HOUR,
                    "deny",
                    reference="registry.example/pay/api:2",
                    namespace="pay",
                    checks=_failing("CVE-1"),
                ),
                _verdict(NOW - 3 * HOUR, "warn", namespace="pay"),
                _verdict(NOW - timedelta(days=3), "deny", checks=_failing("CVE-3")),
                _verdict(NOW - timedelta(days=10), "deny", checks=_failing("CVE-4")),
                _verdict(NOW, "deny"),  # at "now": outside the default windows (until exclusive)
            ]
        )
        yield opened


def _app(stats: Any) -> Flask:
    app = Flask("gate-stats-test")
    app.register_blueprint(create_stats_blueprint(stats, tokens(), clock=fixed_clock(NOW)))
    return app


@pytest.fixture
def client(store: SqlVerdictStore) -> FlaskClient:
    return _app(store).test_client()


def _get(client: FlaskClient, path: str, **params: str) -> Any:
    response = client.get(path, query_string=params, headers=bearer(READER))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _error(client: FlaskClient, path: str, params: dict[str, str]) -> str:
    response = client.get(path, query_string=params, headers=bearer(READER))
    assert response.status_code == 400
    document = response.get_json()
    assert set(document) == {"error"}
    message: str = document["error"]
    assert "\n" not in message
    return message


# -- authentication ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", [DECISIONS, f"{TOP}?kind=images"])
def test_no_token_unknown_token_and_missing_scope(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="gate"'
    assert "Authorization: Bearer" in response.get_json()["error"]
    response = client.get(path, headers=bearer("not-a-token-of-this-server"))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert response.get_json() == {"error": "invalid or unknown bearer token"}
    response = client.get(path, headers=bearer(WRITER))
    assert response.status_code == 403
    assert response.get_json() == {"error": "token 'writer' lacks the 'read' scope"}
    assert 'scope="read"' in response.headers["WWW-Authenticate"]


def test_authentication_comes_before_parameters(client: FlaskClient) -> None:
    # A bad parameter without a token is a 401: nothing is told to an unknown caller.
    assert client.get(f"{DECISIONS}?bucket=week").status_code == 401


# -- /stats/decisions -----------------------------------------------------------------------------


def test_decisions_default_to_the_last_24_hours_by_hour(client: FlaskClient) -> None:
    answer = _get(client, DECISIONS)
    assert answer["bucket"] == "hour"
    assert answer["until"] == "2026-03-01T12:00:00+00:00"
    assert answer["since"] == "2026-02-28T12:00:00+00:00"
    assert answer["namespace"] is None
    assert len(answer["buckets"]) == 24
    assert answer["buckets"][0] == {
        "start": "2026-02-28T12:00:00+00:00",
        "allow": 0,
        "warn": 0,
        "deny": 0,
    }
    by_start = {b["start"]: b for b in answer["buckets"]}
    assert by_start["2026-03-01T11:00:00+00:00"]["allow"] == 1
    assert by_start["2026-03-01T10:00:00+00:00"]["deny"] == 1
    assert by_start["2026-03-01T09:00:00+00:00"] == {
        "start": "2026-03-01T09:00:00+00:00",
        "allow": 0,
        "warn": 1,
        "deny": 1,
    }
    assert answer["totals"] == {"allow": 1, "warn": 1, "deny": 2}


def test_decisions_by_day_with_a_window_and_a_namespace(client: FlaskClient) -> None:
    answer = _get(client, DECISIONS, bucket="day")
    assert len(answer["buckets"]) == 31  # 30 days from noon to noon meet 31 days
    assert answer["totals"] == {"allow": 1, "warn": 1, "deny": 4}
    answer = _get(
        client,
        DECISIONS,
        bucket="day",
        since="2026-02-26T00:00:00+02:00",
        until="2026-03-02T00:00:00Z",
        namespace="shop",
    )
    assert answer["since"] == "2026-02-25T22:00:00+00:00"
    assert answer["namespace"] == "shop"
    assert [b["start"][:10] for b in answer["buckets"]] == [
        "2026-02-25",
        "2026-02-26",
        "2026-02-27",
        "2026-02-28",
        "2026-03-01",
    ]
    assert answer["totals"] == {"allow": 1, "warn": 0, "deny": 3}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"bucket": "week"}, "bucket: must be hour or day; got 'week'"),
        ({"bucket": ""}, "bucket: is empty"),
        ({"since": "yesterday"}, "since: not an RFC 3339 time with offset"),
        ({"until": "2026-03-01T12:00:00"}, "until: not an RFC 3339 time with offset"),
        ({"since": "2026-03-01T12:00:00Z"}, "since: is not before until"),
        ({"since": "2026-01-01T00:00:00Z"}, "since: the window holds 1428 hours, more than 1000"),
        ({"since": "2026-01-01T00:00:00Z", "bucket": "day"}, None),
        ({"since": "2020-01-01T00:00:00Z", "bucket": "day"}, "narrow the window"),
        ({"namespace": "x" * 254}, "namespace: longer than 253 characters"),
        ({"namespace": "a\tb"}, "namespace: contains control characters"),
        ({"image": "x"}, "image: unknown parameter (expected bucket, namespace, since, until)"),
    ],
)
def test_decisions_bad_parameters(
    client: FlaskClient, params: dict[str, str], message: str | None
) -> None:
    if message is None:
        _get(client, DECISIONS, **params)
    else:
        assert message in _error(client, DECISIONS, params)


def test_a_parameter_given_twice_is_refused(client: FlaskClient) -> None:
    response = client.get(f"{DECISIONS}?bucket=hour&bucket=day", headers=bearer(READER))
    assert response.status_code == 400
    assert response.get_json() == {"error": "bucket: given more than once"}


# -- /stats/top -----------------------------------------------------------------------------------


def test_top_images_of_the_last_seven_days(client: FlaskClient) -> None:
    answer = _get(client, TOP, kind="images")
    assert answer["kind"] == "images"
    assert answer["decision"] == "deny"
    assert answer["since"] == "2026-02-22T12:00:00+00:00"
    assert answer["until"] == "2026-03-01T12:00:00+00:00"
    assert answer["items"] == [
        {
            "reference": "registry.example/shop/web:1",
            "count": 2,
            "lastSeen": "2026-03-01T10:00:00+00:00",
        },
        {
            "reference": "registry.example/pay/api:2",
            "count": 1,
            "lastSeen": "2026-03-01T09:00:00+00:00",
        },
    ]


def test_top_findings_with_parameters(client: FlaskClient) -> None:
    answer = _get(client, TOP, kind="findings")
    assert [(i["id"], i["count"]) for i in answer["items"]] == [
        ("CVE-1", 2),
        ("CVE-2", 1),
        ("CVE-3", 1),
    ]
    assert set(answer["items"][0]) == {"id", "count", "lastSeen"}
    answer = _get(client, TOP, kind="findings", namespace="pay", limit="5")
    assert [(i["id"], i["count"]) for i in answer["items"]] == [("CVE-1", 1)]
    answer = _get(client, TOP, kind="findings", since="2026-02-01T00:00:00Z", limit="1")
    assert [(i["id"], i["count"]) for i in answer["items"]] == [("CVE-1", 2)]
    answer = _get(client, TOP, kind="images", decision="warn")
    assert [(i["reference"], i["count"]) for i in answer["items"]] == [
        ("registry.example/shop/web:1", 1)
    ]
    assert _get(client, TOP, kind="images", decision="allow")["items"][0]["count"] == 1


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "kind: required (images or findings)"),
        ({"kind": "cves"}, "kind: must be images or findings; got 'cves'"),
        ({"kind": "images", "decision": "block"}, "decision: must be one of allow, warn, deny"),
        ({"kind": "images", "limit": "0"}, "limit: must be from 1 to 100; got 0"),
        ({"kind": "images", "limit": "101"}, "limit: must be from 1 to 100; got 101"),
        ({"kind": "images", "limit": "ten"}, "limit: must be an integer from 1 to 100"),
        ({"kind": "images", "limit": "\u0661"}, "limit: must be an integer from 1 to 100"),
        (
            {"kind": "images", "since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
            "since: is not before until",
        ),
        ({"kind": "images", "bucket": "day"}, "bucket: unknown parameter"),
    ],
)
def test_top_bad_parameters(client: FlaskClient, params: dict[str, str], message: str) -> None:
    assert message in _error(client, TOP, params)


# -- the store ------------------------------------------------------------------------------------


class _DownStats:
    """``VerdictStats`` whose database is unreachable."""

    def decision_counts(
        self,
        since: datetime,
        until: datetime,
        *,
        bucket: StatsBucket,
        namespace: str | None = None,
    ) -> tuple[DecisionCounts, ...]:
        raise BackendError("verdict store postgresql://db/gate: decision counts failed: timeout")

    def top_images(
        self,
        since: datetime,
        until: datetime,
        *,
        decision: str = "deny",
        namespace: str | None = None,
        limit: int = 10,
    ) -> tuple[TopEntry, ...]:
        raise BackendError("verdict store postgresql://db/gate: top images failed: timeout")

    def top_findings(
        self,
        since: datetime,
        until: datetime,
        *,
        decision: str = "deny",
        namespace: str | None = None,
        limit: int = 10,
    ) -> tuple[TopEntry, ...]:
        raise BackendError("verdict store postgresql://db/gate: top findings failed: timeout")


@pytest.mark.parametrize("path", [DECISIONS, f"{TOP}?kind=images", f"{TOP}?kind=findings"], ids=str)
def test_an_unreachable_store_is_503(path: str) -> None:
    client = _app(_DownStats()).test_client()
    response = client.get(path, headers=bearer(READER))
    assert response.status_code == 503
    assert "failed: timeout" in response.get_json()["error"]


def test_the_stats_routes_live_beside_the_verdict_api(store: SqlVerdictStore) -> None:
    app = _app(store)
    app.register_blueprint(create_api_blueprint(store, tokens(), clock=fixed_clock(NOW)))
    client = app.test_client()
    assert client.get("/api/v1/verdicts", headers=bearer(READER)).status_code == 200
    assert client.get(DECISIONS, headers=bearer(READER)).status_code == 200
    response = client.get("/api/v1/stats/nothing", headers=bearer(READER))
    assert response.status_code == 404
