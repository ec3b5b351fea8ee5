"""``ApiClient`` and the CLI's remote commands against the API served over real HTTP.

The server is werkzeug's threaded server on 127.0.0.1 (plain and TLS) running
an app of the API blueprint over a real SQLite store; ``gate evidence push``
resolves images in the real ``docker-registry`` of the ``registry`` fixture.
"""

from __future__ import annotations

import io
import json
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from werkzeug.serving import BaseWSGIServer, make_server

from gate.api_client import ApiClient
from gate.errors import BackendError, InputError
from gate.oci.client import RegistryClient, RegistryOptions
from gate.policy.verdict import CheckResult, Decision, ImageVerdict, Outcome, Verdict
from gate.remote import evidence_push, record_check, render_verdict_table, verdicts_list
from gate.store.model import EvidenceKind, VerdictQuery
from gate.store.sql import SqlVerdictStore
from tests.integration.registry_server import RunningRegistry
from tests.support.images import build_image, push_image
from tests.support.tls import TestCA
from tests.unit.api.documents import (
    ADMIN,
    DIGEST_A,
    READER,
    WRITER,
    cyclonedx_sbom,
    gate_report,
    image,
    make_app,
    trivy_report,
)

pytestmark = pytest.mark.integration

POLICY_DIGEST = "sha256:" + "ee" * 32


@dataclass
class Served:
    """A running API server and the store behind it."""

    url: str
    store: SqlVerdictStore
    db_dir: Path


def _serve(
    store: SqlVerdictStore, *, ssl_context: tuple[str, str] | None = None
) -> tuple[BaseWSGIServer, threading.Thread]:
    server = make_server("127.0.0.1", 0, make_app(store), threaded=True, ssl_context=ssl_context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    db_dir = tmp_path / "db"
    store = SqlVerdictStore.from_url(f"sqlite:///{db_dir / 'gate.db'}")
    server, thread = _serve(store)
    try:
        yield Served(f"http://127.0.0.1:{server.server_port}", store, db_dir)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        store.close()


def _verdict() -> Verdict:
    signed = ImageVerdict(
        reference="registry.example/app:1.0",
        digest=DIGEST_A,
        decision=Decision.ALLOW,
        rule="signed-images",
        reason="signed by release-key",
        checks=(CheckResult("signatures", Outcome.PASS, "signed by release-key", {"n": 1}),),
        namespace="shop",
    )
    unsigned = ImageVerdict(
        reference="registry.example/tool:2",
        digest="sha256:" + "b2" * 32,
        decision=Decision.DENY,
        rule="signed-images",
        reason="no signature by release-key",
        checks=(CheckResult("signatures", Outcome.FAIL, "no signature by release-key"),),
    )
    return Verdict.of("production", (signed, unsigned), "2026-03-01T12:00:00+00:00")


# -- record, get, list -----------------------------------------------------------------------


def test_a_recorded_check_can_be_read_back(served: Served) -> None:
    ids = record_check(served.url, WRITER, _verdict(), POLICY_DIGEST)
    assert len(ids) == 2
    with ApiClient(served.url, READER) as client:
        first = client.get_verdict(ids[0])
        assert first["reference"] == "registry.example/app:1.0"
        assert first["source"] == "ci"
        assert first["user"] == "writer"
        assert first["policyDigest"] == POLICY_DIGEST
        assert first["checks"][0]["details"] == {"n": 1}
        denied = client.list_verdicts(decision="deny")
        assert [v["id"] for v in denied["items"]] == [ids[1]]
        assert denied["nextCursor"] is None
        page = client.list_verdicts(limit=1)
        assert len(page["items"]) == 1
        rest = client.list_verdicts(limit=1, cursor=page["nextCursor"])
        assert {page["items"][0]["id"], rest["items"][0]["id"]} == set(ids)


def test_the_api_path_may_be_given_with_the_server(served: Served) -> None:
    client = ApiClient(served.url + "/api/v1/", ADMIN)
    assert client.base_url == served.url + "/api/v1"
    assert client.record_verdict(gate_report(image()))


def test_verdicts_list_prints_a_table(served: Served) -> None:
    record_check(served.url, WRITER, _verdict(), POLICY_DIGEST)
    out, err = io.StringIO(), io.StringIO()
    assert verdicts_list(served.url, READER, {"limit": "1"}, "table", out, err=err) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["TIME", "DECISION", "IMAGE", "DIGEST", "NAMESPACE", "RULE"]
    assert len(lines) == 2
    assert "2026-03-01 12:00:00Z" in lines[1]
    assert err.getvalue().startswith("more verdicts: repeat with --cursor ")

    out = io.StringIO()
    verdicts_list(served.url, READER, {"image": "**/app:*"}, "table", out, err=err)
    row = out.getvalue().splitlines()[1].split()
    assert row == [
        "2026-03-01",
        "12:00:00Z",
        "allow",
        "registry.example/app:1.0",
        "sha256:a1a1a1a1a1a1",
        "shop",
        "signed-images",
    ]


def test_verdicts_list_prints_the_api_page_as_json(served: Served) -> None:
    ids = record_check(served.url, WRITER, _verdict(), POLICY_DIGEST)
    out = io.StringIO()
    verdicts_list(served.url, READER, {"source": "ci"}, "json", out)
    page = json.loads(out.getvalue())
    # Same time: newest first falls back to the (sortable) id, descending.
    assert [v["id"] for v in page["items"]] == sorted(ids, reverse=True)
    assert page["nextCursor"] is None


def test_the_table_shows_undecided_verdicts_and_hides_control_characters() -> None:
    table = render_verdict_table(
        [
            {
                "time": "2026-03-01T13:00:00+01:00",
                "decision": "deny",
                "decided": False,
                "reference": "evil\x1b[31m:1",
                "digest": None,
            }
        ]
    )
    row = table.splitlines()[1]
    assert row.split() == ["2026-03-01", "12:00:00Z", "deny!", "evil?[31m:1", "-", "-", "-"]


# -- errors ----------------------------------------------------------------------------------


def test_refusals_are_input_errors_with_status_and_server_text(served: Served) -> None:
    with pytest.raises(InputError) as unknown:
        ApiClient(served.url, "not-a-token-the-server-knows").list_verdicts()
    assert str(unknown.value) == (
        f"GET {served.url}/api/v1/verdicts: HTTP 401: invalid or unknown bearer token"
    )
    with pytest.raises(InputError, match=r"HTTP 403: token 'reader' lacks the 'write' scope"):
        record_check(served.url, READER, _verdict(), POLICY_DIGEST)
    with pytest.raises(InputError, match=r"HTTP 404: no verdict with id 'nope'"):
        ApiClient(served.url, READER).get_verdict("nope")
    with pytest.raises(InputError, match=r"HTTP 400: limit: must be from 1 to 1000; got 0"):
        verdicts_list(served.url, READER, {"limit": "0"}, "json", io.StringIO())
    with pytest.raises(InputError, match=r"HTTP 400: decision: must be one of allow, warn, deny"):
        ApiClient(served.url, READER).list_verdicts(decision="maybe")


def test_a_store_that_went_away_is_a_backend_error(served: Served) -> None:
    served.store.close()
    shutil.rmtree(served.db_dir)
    (served.db_dir / "gate.db").mkdir(parents=True)
    with pytest.raises(BackendError, match=r"HTTP 503: verdict store sqlite.*failed"):
        ApiClient(served.url, READER).list_verdicts()


def test_a_server_that_is_not_there_is_a_backend_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(BackendError, match="cannot reach the gate server") as excinfo:
        ApiClient(f"http://127.0.0.1:{port}", READER, timeout=2).list_verdicts()
    assert "\n" not in str(excinfo.value)


@pytest.mark.parametrize(
    ("url", "token", "message"),
    [
        ("http://gate.example:8443", READER, "refusing to send the API token over plain HTTP"),
        ("ftp://127.0.0.1", READER, "expected an http(s) URL"),
        ("https://user:pw@gate.example", READER, "must not hold credentials"),
        ("https://gate.example:99999", READER, "not a valid URL"),
        ("https://gate.example", "two words", "the API token is empty or holds spaces"),
        ("https://gate.example", "", "the API token is empty"),
    ],
)
def test_unusable_server_urls_and_tokens_are_refused(url: str, token: str, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ApiClient(url, token)


# -- TLS -------------------------------------------------------------------------------------


def test_tls_with_the_servers_ca(tmp_path: Path, test_ca: TestCA) -> None:
    pair = test_ca.issue_server("api")
    store = SqlVerdictStore.from_url(f"sqlite:///{tmp_path / 'gate.db'}")
    server, thread = _serve(store, ssl_context=(str(pair.cert), str(pair.key)))
    url = f"https://127.0.0.1:{server.server_port}"
    try:
        ids = record_check(url, WRITER, _verdict(), POLICY_DIGEST, ca_cert=test_ca.ca_cert)
        assert ApiClient(url, READER, ca_cert=test_ca.ca_cert).get_verdict(ids[0])["id"] == ids[0]
        with pytest.raises(BackendError, match="TLS failed"):
            ApiClient(url, READER).list_verdicts()
    finally:
        server.shutdown()
        thread.join(timeout=10)
        store.close()


# -- gate evidence push ----------------------------------------------------------------------


def _registry_client(tmp_path: Path) -> RegistryClient:
    certs = tmp_path / "no-certs.d"
    certs.mkdir(exist_ok=True)
    return RegistryClient(RegistryOptions(cert_dir=certs), environ={}, home=tmp_path)


def test_evidence_is_pushed_for_the_resolved_digest(
    served: Served, registry: RunningRegistry, tmp_path: Path
) -> None:
    digest = str(push_image(registry, "api/app", "1.0", build_image(content=b"api evidence\n")))
    scan = tmp_path / "trivy.json"
    scan.write_bytes(trivy_report(digest=digest))
    sbom = tmp_path / "bom.json"
    sbom.write_bytes(cyclonedx_sbom(digest=None))
    out = io.StringIO()
    with _registry_client(tmp_path) as registry_client:
        code = evidence_push(
            f"{registry.host}/api/app:1.0",
            [scan],
            [sbom],
            server=served.url,
            token=WRITER,
            registry=registry_client,
            out=out,
        )
    assert code == 0
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"pushed scan trivy.json for {registry.host}/api/app@{digest}")
    assert lines[1].startswith(f"pushed sbom bom.json for {registry.host}/api/app@{digest}")
    stored_scan = served.store.latest_evidence(digest, EvidenceKind.SCAN)
    stored_sbom = served.store.latest_evidence(digest, EvidenceKind.SBOM)
    assert stored_scan is not None
    assert stored_scan.data == scan.read_bytes()
    assert stored_scan.pushed_by == "writer"
    assert stored_sbom is not None
    assert stored_sbom.name == "bom.json"


def test_a_bad_file_pushes_nothing(
    served: Served, registry: RunningRegistry, tmp_path: Path
) -> None:
    digest = str(push_image(registry, "api/bad", "1.0", build_image(content=b"bad evidence\n")))
    good = tmp_path / "trivy.json"
    good.write_bytes(trivy_report(digest=digest))
    bad = tmp_path / "bom.json"
    bad.write_bytes(b'{"bomFormat": "CycloneDX"}')
    with _registry_client(tmp_path) as registry_client, pytest.raises(InputError) as excinfo:
        evidence_push(
            f"{registry.host}/api/bad:1.0",
            [good],
            [bad],
            server=served.url,
            token=WRITER,
            registry=registry_client,
        )
    assert str(excinfo.value) == f"{bad}: specVersion: required field is missing"
    assert served.store.latest_evidence(digest, EvidenceKind.SCAN) is None


def test_evidence_of_another_build_is_refused_by_the_server(
    served: Served, registry: RunningRegistry, tmp_path: Path
) -> None:
    digest = str(push_image(registry, "api/other", "1.0", build_image(content=b"other\n")))
    scan = tmp_path / "trivy.json"
    scan.write_bytes(trivy_report(digest=DIGEST_A))
    with _registry_client(tmp_path) as registry_client, pytest.raises(InputError) as excinfo:
        evidence_push(
            f"{registry.host}/api/other:1.0",
            [scan],
            [],
            server=served.url,
            token=WRITER,
            registry=registry_client,
        )
    assert str(excinfo.value).endswith(
        f"HTTP 400: body: trivy.json describes {DIGEST_A}, not {digest}"
    )
    assert served.store.query(VerdictQuery()).items == ()


def test_nothing_to_push_is_an_input_error(served: Served, tmp_path: Path) -> None:
    with (
        _registry_client(tmp_path) as registry_client,
        pytest.raises(InputError, match="nothing to push"),
    ):
        evidence_push(
            "registry.example/app:1",
            [],
            [],
            server=served.url,
            token=WRITER,
            registry=registry_client,
        )
