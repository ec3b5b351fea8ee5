"""The verdict API blueprint over a real SQLite store, through Flask's test client."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gate.store.model import EvidenceKind, NewVerdict, VerdictQuery, VerdictSource
from gate.store.sql import SqlVerdictStore
from tests.unit.api.documents import (
    ADMIN,
    DIGEST_A,
    DIGEST_B,
    NOW,
    READER,
    WRITER,
    bearer,
    cyclonedx_sbom,
    gate_report,
    image,
    make_app,
    sqlite_store,
    trivy_report,
)

VERDICTS = "/api/v1/verdicts"
EVIDENCE = "/api/v1/evidence"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlVerdictStore]:
    with sqlite_store(tmp_path) as opened:
        yield opened


@pytest.fixture
def app(store: SqlVerdictStore) -> Flask:
    return make_app(store)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def admission(
    reference: str,
    *,
    time: datetime,
    decision: str = "allow",
    namespace: str | None = "shop",
    digest: str | None = DIGEST_B,
) -> NewVerdict:
    return NewVerdict(
        time=time,
        source=VerdictSource.ADMISSION,
        reference=reference,
        digest=digest,
        decision=decision,
        mode="enforce",
        policy_name="production",
        policy_digest="sha256:" + "dd" * 32,
        rule="signed-images",
        reason="signed",
        namespace=namespace,
        workload_kind="Deployment",
        workload_name="web",
        user="system:serviceaccount:kube-system:replicaset-controller",
        duration_ms=12.5,
    )


def error_of(response: Any) -> str:
    document = response.get_json()
    assert isinstance(document, dict)
    assert set(document) == {"error"}
    message: str = document["error"]
    assert "\n" not in message
    assert "Traceback" not in message
    return message


# -- authentication -------------------------------------------------------------------------


def test_the_openapi_document_needs_no_token(client: FlaskClient) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.get_json()["openapi"].startswith("3.1")


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", VERDICTS), ("GET", f"{VERDICTS}/x"), ("POST", VERDICTS), ("POST", EVIDENCE)],
)
def test_no_token_is_401_with_a_bearer_challenge(
    client: FlaskClient, method: str, path: str
) -> None:
    response = client.open(path, method=method)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in error_of(response)


@pytest.mark.parametrize("header", ["Bearer not-a-known-token-at-all", f"Basic {READER}"])
def test_an_unknown_token_is_401(client: FlaskClient, header: str) -> None:
    response = client.get(VERDICTS, headers={"Authorization": header})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert error_of(response) == "invalid or unknown bearer token"


def test_a_write_token_cannot_read(client: FlaskClient) -> None:
    response = client.get(VERDICTS, headers=bearer(WRITER))
    assert response.status_code == 403
    assert error_of(response) == "token 'writer' lacks the 'read' scope"
    assert 'scope="read"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("path", [VERDICTS, f"{EVIDENCE}?digest={DIGEST_A}&kind=scan"])
def test_a_read_token_cannot_write(client: FlaskClient, path: str) -> None:
    response = client.post(path, headers=bearer(READER), data=b"{}")
    assert response.status_code == 403
    assert error_of(response) == "token 'reader' lacks the 'write' scope"


# -- POST /verdicts and GET /verdicts/<id> ---------------------------------------------------


def test_a_recorded_report_reads_back_image_by_image(client: FlaskClient) -> None:
    report = gate_report(
        image(namespace="shop"),
        image(
            "registry.example/broken:2",
            digest=None,
            decision="deny",
            rule=None,
            reason="could not decide, denied: registry unreachable",
            checks=[{"check": "resolve", "outcome": "error", "reason": "registry unreachable"}],
        ),
    )
    response = client.post(VERDICTS, json=report, headers=bearer(WRITER))
    assert response.status_code == 201
    ids = response.get_json()["ids"]
    assert len(ids) == 2

    first = client.get(f"{VERDICTS}/{ids[0]}", headers=bearer(READER)).get_json()
    assert first == {
        "id": ids[0],
        "time": "2026-03-01T11:59:00+00:00",
        "source": "ci",
        "reference": "registry.example/app:1.0",
        "digest": DIGEST_A,
        "decision": "allow",
        "decided": True,
        "mode": "enforce",
        "policyName": "production",
        "policyDigest": "sha256:" + "cc" * 32,
        "rule": "signed-images",
        "reason": "signed by release-key; no findings above the threshold",
        "namespace": "shop",
        "workloadKind": None,
        "workloadName": None,
        "user": "writer",
        "durationMs": None,
        "checks": [
            {
                "check": "signatures",
                "outcome": "pass",
                "reason": "signed by release-key",
                "details": {"signers": ["release-key"], "count": 1},
            }
        ],
    }
    second = client.get(f"{VERDICTS}/{ids[1]}", headers=bearer(ADMIN)).get_json()
    assert second["decision"] == "deny"
    assert second["decided"] is False
    assert second["digest"] is None
    assert second["rule"] is None


def test_a_report_without_policy_digest_is_recorded_without_one(client: FlaskClient) -> None:
    report = gate_report()
    del report["policyDigest"]
    ids = client.post(VERDICTS, json=report, headers=bearer(ADMIN)).get_json()["ids"]
    assert (
        client.get(f"{VERDICTS}/{ids[0]}", headers=bearer(ADMIN)).get_json()["policyDigest"] is None
    )


@pytest.mark.parametrize("verdict_id", ["0" * 26, "nope", "x" * 300, "%00"])
def test_an_unknown_id_is_404(client: FlaskClient, verdict_id: str) -> None:
    response = client.get(f"{VERDICTS}/{verdict_id}", headers=bearer(READER))
    assert response.status_code == 404
    assert error_of(response).startswith("no verdict with id")


def _deep(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {}
    for _ in range(levels):
        node = {"x": node}
    return node


def _report_with(**changes: Any) -> dict[str, Any]:
    report = gate_report()
    report.update(changes)
    return report


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "body: not JSON: Expecting value at line 1 column 1"),
        (b"[1, 2]", "body: expected a gate JSON report (an object with decision, images, ...)"),
        (b'{"decision": NaN}', "body: not JSON: NaN is not valid JSON"),
        (_report_with(images=[]), "body.images: is empty: nothing to record"),
        (_report_with(images="x"), "body.images: must be a list"),
        (_report_with(policy=None), "body.policy: missing"),
        (_report_with(evaluatedAt="yesterday"), "body.evaluatedAt: not an RFC 3339 time"),
        (
            _report_with(evaluatedAt="2026-03-01T11:59:00"),
            "body.evaluatedAt: not an RFC 3339 time with offset",
        ),
        (_report_with(policyDigest="md5:abc"), "body.policyDigest: not a digest"),
        (_report_with(decision="maybe"), "body.decision: must be one of allow, warn, deny"),
        (
            _report_with(decision="allow", images=[image(decision="deny")]),
            "body.decision: is allow but the worst image decision is deny",
        ),
        (
            _report_with(images=[image(), image(digest="sha256:short")]),
            "body.images[1].digest: not a digest",
        ),
        (_report_with(images=[image(mode="strict")]), "body.images[0].mode: must be one of"),
        (
            _report_with(images=[{**image(), "reference": 7}]),
            "body.images[0].reference: must be a string",
        ),
        (_report_with(images=[image(reason=None)]), "body.images[0].reason: must be a string"),
        (_report_with(images=["x"]), "body.images[0]: must be an object"),
        (
            _report_with(images=[image(checks=[{"check": "x", "outcome": "ok", "reason": ""}])]),
            "body.images[0].checks[0].outcome: must be one of pass, fail, warn, skip, error",
        ),
        (
            _report_with(
                images=[
                    image(checks=[{"check": "x", "outcome": "pass", "reason": "", "details": 1}])
                ]
            ),
            "body.images[0].checks[0].details: must be an object",
        ),
        (
            b'{"decision": "allow", "policy": "p", "evaluatedAt": "2026-03-01T11:59:00Z",'
            b' "images": [{"reference": "r", "digest": null, "decision": "allow", "rule": null,'
            b' "reason": "", "mode": "enforce", "checks": [{"check": "c", "outcome": "pass",'
            b' "reason": "", "details": {"n": 1e999}}]}]}',
            "body.images[0].checks[0].details: holds a number out of range",
        ),
        (
            _report_with(
                images=[
                    image(
                        checks=[
                            {"check": "c", "outcome": "pass", "reason": "", "details": _deep(40)}
                        ]
                    )
                ]
            ),
            "body.images[0].checks[0].details: nested more than 32 levels deep",
        ),
        (
            json.dumps(_report_with(images=[image(reason="\ud800")])).encode(),
            "body: holds a lone UTF-16 surrogate",
        ),
    ],
)
def test_a_bad_report_is_400_naming_the_field(
    client: FlaskClient, store: SqlVerdictStore, body: Any, message: str
) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = client.post(
        VERDICTS, data=data, headers=bearer(WRITER), content_type="application/json"
    )
    assert response.status_code == 400
    assert error_of(response).startswith(message)
    assert store.query(_everything()).items == ()


def _everything() -> VerdictQuery:
    return VerdictQuery()


def test_a_report_over_the_size_limit_is_413(store: SqlVerdictStore) -> None:
    client = make_app(store, max_report_bytes=100).test_client()
    response = client.post(VERDICTS, json=gate_report(), headers=bearer(WRITER))
    assert response.status_code == 413
    assert error_of(response) == "request body larger than 100 bytes"


# -- GET /verdicts ---------------------------------------------------------------------------


@pytest.fixture
def recorded(store: SqlVerdictStore, client: FlaskClient) -> dict[str, str]:
    """Four admission verdicts an hour apart and one CI verdict; their ids by a short name."""
    base = NOW - timedelta(hours=10)
    names = ["web", "api", "job", "old"]
    ids = store.record(
        [
            admission("registry.example/shop/web:1", time=base + timedelta(hours=4)),
            admission(
                "registry.example/shop/api:2", time=base + timedelta(hours=3), decision="deny"
            ),
            admission(
                "other.example/batch/job:3",
                time=base + timedelta(hours=2),
                decision="warn",
                namespace="batch",
            ),
            admission("registry.example/shop/web:0", time=base, digest=DIGEST_A),
        ]
    )
    ci_ids = client.post(VERDICTS, json=gate_report(), headers=bearer(WRITER)).get_json()["ids"]
    return dict(zip([*names, "ci"], [*ids, *ci_ids], strict=True))


def listed(client: FlaskClient, **params: str) -> list[str]:
    response = client.get(VERDICTS, query_string=params, headers=bearer(READER))
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


def test_everything_is_listed_newest_first(client: FlaskClient, recorded: dict[str, str]) -> None:
    assert listed(client) == [recorded[n] for n in ("ci", "web", "api", "job", "old")]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"image": "registry.example/shop/*"}, ["web", "api", "old"]),
        ({"image": "registry.example/*"}, ["ci"]),
        ({"image": "**/web:?"}, ["web", "old"]),
        ({"image": "registry.example/**"}, ["ci", "web", "api", "old"]),
        ({"digest": DIGEST_A}, ["ci", "old"]),
        ({"namespace": "batch"}, ["job"]),
        ({"decision": "deny"}, ["api"]),
        ({"source": "ci"}, ["ci"]),
        ({"source": "admission", "namespace": "shop"}, ["web", "api", "old"]),
        ({"since": "2026-03-01T05:00:00Z"}, ["ci", "web", "api"]),
        ({"until": "2026-03-01T05:00:00+00:00"}, ["job", "old"]),
        (
            {"since": "2026-03-01T06:00:00+01:00", "until": "2026-03-01T11:00:00+01:00"},
            ["web", "api"],
        ),
    ],
)
def test_filters_select_verdicts(
    client: FlaskClient,
    recorded: dict[str, str],
    params: dict[str, str],
    expected: list[str],
) -> None:
    assert listed(client, **params) == [recorded[n] for n in expected]


def test_pages_follow_the_cursor_to_the_end(client: FlaskClient, store: SqlVerdictStore) -> None:
    # Several at the same instant: the cursor must break ties, not skip or repeat.
    times = [NOW - timedelta(minutes=m) for m in (1, 1, 1, 2, 3, 3, 4)]
    ids = store.record(
        [admission(f"registry.example/app:{i}", time=t) for i, t in enumerate(times)]
    )
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": "3"} | ({"cursor": cursor} if cursor else {})
        page = client.get(VERDICTS, query_string=params, headers=bearer(READER)).get_json()
        seen.extend(item["id"] for item in page["items"])
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert pages == 3
    assert sorted(seen) == sorted(ids)
    assert len(seen) == len(set(seen))
    listed_times = [store.get(i).time for i in seen]  # type: ignore[union-attr]  # all present
    assert listed_times == sorted(listed_times, reverse=True)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": "0"}, "limit: must be from 1 to 1000; got 0"),
        ({"limit": "1001"}, "limit: must be from 1 to 1000; got 1001"),
        ({"limit": "ten"}, "limit: must be an integer from 1 to 1000; got 'ten'"),
        ({"limit": "-5"}, "limit: must be an integer from 1 to 1000"),
        ({"decision": "maybe"}, "decision: must be one of allow, warn, deny; got 'maybe'"),
        ({"source": "cd"}, "source: must be admission, ci or recheck; got 'cd'"),
        ({"since": "yesterday"}, "since: not an RFC 3339 time with offset"),
        ({"until": "2026-03-01T10:00:00"}, "until: not an RFC 3339 time with offset"),
        ({"since": "2026-02-30T10:00:00Z"}, "since: not a valid time"),
        (
            {"since": "2026-03-02T00:00:00Z", "until": "2026-03-01T00:00:00Z"},
            "since: is after until",
        ),
        ({"digest": "sha256:xyz"}, "digest: not a digest (sha256:<64 lowercase hex>)"),
        ({"cursor": "garbage"}, "cursor: invalid cursor"),
        ({"namespce": "shop"}, "namespce: unknown parameter (expected cursor, decision, digest"),
        ({"image": ""}, "image: is empty"),
        ({"image": "**a**a**a*b"}, "image: more than 3 wildcards (* ** ?)"),
        ({"image": "a" * 257}, "image: longer than 256 characters"),
        ({"namespace": "a\x01b"}, "namespace: contains control characters"),
    ],
)
def test_bad_filters_are_400_naming_the_parameter(
    client: FlaskClient, params: dict[str, str], message: str
) -> None:
    response = client.get(VERDICTS, query_string=params, headers=bearer(READER))
    assert response.status_code == 400
    assert error_of(response).startswith(message)


def test_a_repeated_filter_is_400(client: FlaskClient) -> None:
    response = client.get(f"{VERDICTS}?decision=allow&decision=deny", headers=bearer(READER))
    assert response.status_code == 400
    assert error_of(response) == "decision: given more than once"


# -- POST /evidence --------------------------------------------------------------------------


def test_a_scan_report_is_stored_for_its_digest(
    client: FlaskClient, store: SqlVerdictStore
) -> None:
    data = trivy_report()
    response = client.post(
        EVIDENCE,
        query_string={"digest": DIGEST_A, "kind": "scan", "name": "trivy.json"},
        data=data,
        headers=bearer(WRITER),
    )
    assert response.status_code == 201
    answer = response.get_json()
    assert answer["digest"] == DIGEST_A
    assert answer["kind"] == "scan"
    stored = store.latest_evidence(DIGEST_A, EvidenceKind.SCAN)
    assert stored is not None
    assert stored.id == answer["id"]
    assert stored.data == data
    assert stored.format == "trivy"
    assert stored.name == "trivy.json"
    assert stored.created_at == datetime(2026, 2, 28, 10, 0, tzinfo=UTC)
    assert stored.received_at == NOW
    assert stored.pushed_by == "writer"
    assert store.latest_evidence(DIGEST_A, EvidenceKind.SBOM) is None


def test_an_sbom_is_stored_and_the_newest_document_wins(
    client: FlaskClient, store: SqlVerdictStore
) -> None:
    for stamp in ("2026-02-27T09:00:00Z", "2026-02-28T09:00:00Z", "2026-02-26T09:00:00Z"):
        response = client.post(
            EVIDENCE,
            query_string={"digest": DIGEST_A, "kind": "sbom", "name": f"sbom-{stamp[:10]}.json"},
            data=cyclonedx_sbom(timestamp=stamp),
            headers=bearer(ADMIN),
        )
        assert response.status_code == 201
    stored = store.latest_evidence(DIGEST_A, EvidenceKind.SBOM)
    assert stored is not None
    assert stored.name == "sbom-2026-02-28.json"
    assert stored.format == "cyclonedx"


def test_an_evidence_name_defaults_to_kind_and_digest(
    client: FlaskClient, store: SqlVerdictStore
) -> None:
    response = client.post(
        EVIDENCE,
        query_string={"digest": DIGEST_A, "kind": "scan"},
        data=trivy_report(digest=None),
        headers=bearer(WRITER),
    )
    assert response.status_code == 201
    stored = store.latest_evidence(DIGEST_A, EvidenceKind.SCAN)
    assert stored is not None
    assert stored.name == "scan-a1a1a1a1a1a1"


@pytest.mark.parametrize(
    ("params", "data", "message"),
    [
        ({"kind": "scan"}, trivy_report(), "digest: required"),
        ({"digest": "latest", "kind": "scan"}, trivy_report(), "digest: not a digest"),
        ({"digest": DIGEST_A}, trivy_report(), "kind: required (scan, sbom or vex)"),
        (
            {"digest": DIGEST_A, "kind": "attestation"},
            trivy_report(),
            "kind: must be scan, sbom or vex",
        ),
        (
            {"digest": DIGEST_A, "kind": "scan", "tag": "x"},
            trivy_report(),
            "tag: unknown parameter",
        ),
        (
            {"digest": DIGEST_A, "kind": "scan", "name": "t.json"},
            b"{not json",
            "t.json: not valid JSON",
        ),
        ({"digest": DIGEST_A, "kind": "scan", "name": "t.json"}, b"", "t.json: the file is empty"),
        (
            {"digest": DIGEST_A, "kind": "scan", "name": "bom.json"},
            cyclonedx_sbom(),
            "bom.json: ",
        ),
        (
            {"digest": DIGEST_A, "kind": "sbom", "name": "trivy.json"},
            trivy_report(),
            "trivy.json: recognised as Trivy JSON, which is a scanner report, not an SBOM",
        ),
        (
            {"digest": DIGEST_B, "kind": "scan", "name": "trivy.json"},
            trivy_report(),
            f"body: trivy.json describes {DIGEST_A}, not {DIGEST_B}",
        ),
    ],
)
def test_bad_evidence_is_400_with_one_line(
    client: FlaskClient,
    store: SqlVerdictStore,
    params: dict[str, str],
    data: bytes,
    message: str,
) -> None:
    response = client.post(EVIDENCE, query_string=params, data=data, headers=bearer(WRITER))
    assert response.status_code == 400
    assert error_of(response).startswith(message)
    for kind in EvidenceKind:
        assert store.latest_evidence(DIGEST_A, kind) is None


def test_evidence_over_the_size_limit_is_413(store: SqlVerdictStore) -> None:
    client = make_app(store, max_evidence_bytes=1000).test_client()
    response = client.post(
        EVIDENCE,
        query_string={"digest": DIGEST_A, "kind": "scan"},
        data=trivy_report() + b" " * 1000,
        headers=bearer(WRITER),
    )
    assert response.status_code == 413
    assert error_of(response) == "request body larger than 1000 bytes"
    assert store.latest_evidence(DIGEST_A, EvidenceKind.SCAN) is None


def test_the_evidence_limit_overrides_a_smaller_app_limit(store: SqlVerdictStore) -> None:
    # The webhook caps admission reviews at a few MiB; SBOMs may be bigger than that.
    app = make_app(store)
    app.config["MAX_CONTENT_LENGTH"] = 100
    response = app.test_client().post(
        EVIDENCE,
        query_string={"digest": DIGEST_A, "kind": "scan"},
        data=trivy_report(),
        headers=bearer(WRITER),
    )
    assert response.status_code == 201


# -- the store going away --------------------------------------------------------------------


def test_an_unreachable_store_is_503_with_the_reason(tmp_path: Path) -> None:
    directory = tmp_path / "db"
    directory.mkdir()
    store = SqlVerdictStore.from_url(f"sqlite:///{directory / 'gate.db'}")
    client = make_app(store).test_client()
    assert client.get(VERDICTS, headers=bearer(READER)).status_code == 200
    # The database file disappears and a directory stands in its place: every new
    # connection fails, as with a database server that went away.
    store.close()
    shutil.rmtree(directory)
    (directory / "gate.db").mkdir(parents=True)
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", VERDICTS, {}),
        ("GET", f"{VERDICTS}/01HZZZZZZZZZZZZZZZZZZZZZZZ", {}),
        ("POST", VERDICTS, {"json": gate_report()}),
        (
            "POST",
            f"{EVIDENCE}?digest={DIGEST_A}&kind=scan",
            {"data": trivy_report()},
        ),
    ]
    for method, path, kwargs in requests:
        response = client.open(path, method=method, headers=bearer(ADMIN), **kwargs)
        assert response.status_code == 503, (method, path, response.get_json())
        assert error_of(response).startswith("verdict store sqlite")
    store.close()


def test_push_vex_evidence_keeps_every_document(
    client: FlaskClient, store: SqlVerdictStore
) -> None:
    def vex(name: str, stamp: str) -> bytes:
        return json.dumps(
            {
                "@context": "https://openvex.dev/ns/v0.2.0",
                "@id": f"https://acme.example/vex/{name}",
                "author": "Acme",
                "timestamp": stamp,
                "version": 1,
                "statements": [
                    {
                        "vulnerability": {"name": "CVE-2024-1"},
                        "products": [{"@id": f"pkg:oci/app@{DIGEST_A}"}],
                        "status": "fixed",
                    }
                ],
            }
        ).encode()

    for name, stamp in (("a", "2026-01-01T00:00:00Z"), ("b", "2026-02-01T00:00:00Z")):
        response = client.post(
            EVIDENCE,
            query_string={"digest": DIGEST_A, "kind": "vex", "name": f"{name}.json"},
            data=vex(name, stamp),
            headers=bearer(WRITER),
        )
        assert response.status_code == 201, response.get_json()
    stored = store.evidence_for(DIGEST_A, EvidenceKind.VEX)
    assert [s.name for s in stored] == ["b.json", "a.json"]
    assert all(s.format == "openvex" for s in stored)
    refused = client.post(
        EVIDENCE,
        query_string={"digest": DIGEST_A, "kind": "vex"},
        data=b'{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": []}',
        headers=bearer(WRITER),
    )
    assert refused.status_code == 400
    assert "VEX" in refused.get_json()["error"] or "vex" in refused.get_json()["error"]
