"""The admission webhook against a real registry: kubectl-made objects, signed and unsigned images.

Images are pushed with skopeo and signed with ``gate sign``; the app is the
real Flask app over a real SQLite verdict store; every request counted comes
from ``RegistryClient.requests_made``.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gate.cli import main
from gate.oci.client import RegistryClient, RegistryOptions
from gate.oci.digest import Digest
from gate.store.model import (
    EvidenceKind,
    NewEvidence,
    NewVerdict,
    VerdictPage,
    VerdictQuery,
    VerdictSource,
)
from gate.store.sql import SqlVerdictStore
from tests.integration.gate_cli import isolate_environment, make_key_pair, write_policy
from tests.integration.registry_server import RunningRegistry
from tests.support.images import build_image, push_image
from tests.unit.webhook.reviews import add_containers, admission_review, kubectl_create, kubectl_pod
from webhook.app import create_app, state_of
from webhook.checker import DECISION_TTL, TtlCache
from webhook.settings import Settings

pytestmark = pytest.mark.integration

POLICY = """\
apiVersion: gate/v1
kind: Policy
metadata: {name: cluster}
spec:
  defaultAction: deny
  trust:
    release: {cosign: {publicKeys: [keys/release.pub]}}
  rules:
    - name: tolerated
      match: {images: ["127.0.0.1:*/hook/tolerated*"]}
      action: warn
    - name: legacy
      match: {images: ["127.0.0.1:*/hook/legacy*"]}
      mode: warn
      signatures: {anyOf: [release]}
    - name: scanned
      match: {images: ["127.0.0.1:*/hook/scanned*"]}
      signatures: {anyOf: [release]}
      vulnerabilities: {denySeverity: CRITICAL, requireScan: true}
    - name: local
      match: {images: ["127.0.0.1:*/**"]}
      signatures: {anyOf: [release]}
"""

DENY_ALL = """\
apiVersion: gate/v1
kind: Policy
metadata: {name: lockdown}
spec:
  defaultAction: deny
  rules:
    - name: nothing
      match: {images: ["**"]}
      action: deny
"""


@dataclass(frozen=True)
class Images:
    """References pushed for the module (``host/hook/...:1``) and their digests."""

    host: str
    keys: Path
    digests: dict[str, Digest]

    def ref(self, name: str) -> str:
        """``host/hook/<name>:1``."""
        return f"{self.host}/hook/{name}:1"


@pytest.fixture(scope="module")
def images(registry: RunningRegistry, tmp_path_factory: pytest.TempPathFactory) -> Images:
    """Pushed images: signed, scanned, debug, cached (signed); unsigned, legacy, tolerated."""
    keys = tmp_path_factory.mktemp("webhook") / "keys"
    key, _ = make_key_pair(keys, "release")
    signed = {"signed", "scanned", "debug", "cached", "digest-only"}
    digests: dict[str, Digest] = {}
    with pytest.MonkeyPatch.context() as patch:
        isolate_environment(patch, tmp_path_factory.mktemp("home"))
        for name in ("signed", "unsigned", "legacy", "tolerated", "scanned", "debug", "cached"):
            digests[name] = push_image(
                registry, f"hook/{name}", "1", build_image(content=name.encode())
            )
            if name in signed:
                assert main(["sign", f"{registry.host}/hook/{name}:1", "--key", str(key)]) == 0
    return Images(registry.host, keys, digests)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_environment(monkeypatch, tmp_path / "home")


AppFactory = Callable[..., Flask]


@pytest.fixture
def make_app(images: Images, tmp_path: Path) -> Iterator[AppFactory]:
    """Builds apps over the module's policy (or ``policy_text``), closed after the test."""
    made: list[Flask] = []

    def factory(policy_text: str = POLICY, **overrides: Any) -> Flask:
        directory = images.keys.parent
        policy = write_policy(
            directory, policy_text, name=f"policy-{len(made)}-{tmp_path.name}.yaml"
        )
        fields: dict[str, Any] = {
            "policy": policy,
            "db_url": f"sqlite:///{tmp_path / f'gate-{len(made)}.db'}",
            "policy_reload_interval": 0,
        }
        fields.update({k: v for k, v in overrides.items() if k in Settings.__dataclass_fields__})
        extra = {k: v for k, v in overrides.items() if k not in Settings.__dataclass_fields__}
        app = create_app(Settings(**fields), **extra)
        made.append(app)
        return app

    yield factory
    for app in made:
        state_of(app).close()


def _post(client: FlaskClient, review: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/validate", json=review)
    assert response.status_code == 200, response.get_data(as_text=True)
    answer: dict[str, Any] = response.get_json()
    assert answer["apiVersion"] == "admission.k8s.io/v1"
    assert answer["kind"] == "AdmissionReview"
    assert answer["response"]["uid"] == review["request"]["uid"]
    result: dict[str, Any] = answer["response"]
    return result


def _recorded(app: Flask, **query: Any) -> VerdictPage:
    state = state_of(app)
    assert state.recorder.flush(10)
    return state.store.query(VerdictQuery(**query), limit=100)


def test_signed_deployment_is_allowed_and_recorded(make_app: AppFactory, images: Images) -> None:
    app = make_app()
    deployment = kubectl_create("deployment", "web", images.ref("signed"))
    response = _post(app.test_client(), admission_review(deployment, namespace="shop"))
    assert response["allowed"] is True
    assert "warnings" not in response
    [verdict] = _recorded(app).items
    assert verdict.source is VerdictSource.ADMISSION
    assert verdict.decision == "allow"
    assert verdict.reference == images.ref("signed")
    assert verdict.digest == str(images.digests["signed"])
    assert (verdict.namespace, verdict.workload_kind, verdict.workload_name) == (
        "shop",
        "Deployment",
        "web",
    )
    assert verdict.user == "alice@example.com"
    assert verdict.rule == "local"
    assert verdict.policy_name == "cluster"
    assert verdict.policy_digest.startswith("sha256:")
    assert verdict.decided
    assert verdict.duration_ms is not None
    assert {c.check: c.outcome for c in verdict.checks}["signatures"] == "pass"


def test_unsigned_job_is_denied_with_a_readable_message(
    make_app: AppFactory, images: Images
) -> None:
    app = make_app()
    job = kubectl_create("job", "migrate", images.ref("unsigned"))
    response = _post(app.test_client(), admission_review(job))
    assert response["allowed"] is False
    assert response["status"]["code"] == 403
    message = response["status"]["message"]
    assert images.ref("unsigned") in message
    assert "(container migrate)" in message
    assert "rule 'local' denies" in message
    assert "no cosign signatures found" in message
    assert "\n" not in message
    [verdict] = _recorded(app).items
    assert (verdict.decision, verdict.workload_kind) == ("deny", "Job")


def test_pod_init_and_ephemeral_containers_are_checked(
    make_app: AppFactory, images: Images
) -> None:
    app = make_app()
    client = app.test_client()
    clean = add_containers(
        kubectl_pod("debuggable", images.ref("signed")),
        init=images.ref("debug"),
        ephemeral=images.ref("debug"),
    )
    assert _post(client, admission_review(clean))["allowed"] is True
    bad_init = add_containers(kubectl_pod("p1", images.ref("signed")), init=images.ref("unsigned"))
    response = _post(client, admission_review(bad_init))
    assert response["allowed"] is False
    assert "(container init)" in response["status"]["message"]
    bad_debug = add_containers(
        kubectl_pod("p2", images.ref("signed")), ephemeral=images.ref("unsigned")
    )
    response = _post(client, admission_review(bad_debug))
    assert response["allowed"] is False
    assert "(container debugger)" in response["status"]["message"]


def test_kubectl_debug_checks_only_the_new_ephemeral_container(
    make_app: AppFactory, images: Images
) -> None:
    app = make_app()
    client = app.test_client()
    # A pod admitted under an older policy runs an image that would now be denied.
    pod = kubectl_pod("running", images.ref("unsigned"))
    allowed = add_containers(json.loads(json.dumps(pod)), ephemeral=images.ref("debug"))
    review = admission_review(allowed, operation="UPDATE", sub_resource="ephemeralcontainers")
    assert _post(client, review)["allowed"] is True
    denied = add_containers(json.loads(json.dumps(pod)), ephemeral=images.ref("unsigned"))
    review = admission_review(denied, operation="UPDATE", sub_resource="ephemeralcontainers")
    response = _post(client, review)
    assert response["allowed"] is False
    assert "(container debugger)" in response["status"]["message"]


def test_warn_mode_and_warn_action_allow_with_warnings(
    make_app: AppFactory, images: Images
) -> None:
    app = make_app()
    cronjob = kubectl_create("cronjob", "nightly", images.ref("legacy"))
    add_containers(cronjob, init=images.ref("tolerated"))
    response = _post(app.test_client(), admission_review(cronjob))
    assert response["allowed"] is True
    warnings = response["warnings"]
    assert len(warnings) == 2
    assert any(
        images.ref("legacy") in w and "warn mode: would deny" in w and len(w) <= 256
        for w in warnings
    )
    assert any(images.ref("tolerated") in w and "rule 'tolerated' warns" in w for w in warnings)
    decisions = sorted(v.decision for v in _recorded(app).items)
    assert decisions == ["warn", "warn"]


def test_dry_run_is_answered_but_not_recorded(make_app: AppFactory, images: Images) -> None:
    app = make_app()
    client = app.test_client()
    job = kubectl_create("job", "try", images.ref("unsigned"))
    response = _post(client, admission_review(job, dry_run=True))
    assert response["allowed"] is False
    assert _recorded(app).items == ()
    _post(client, admission_review(job))
    assert len(_recorded(app).items) == 1


@pytest.mark.parametrize(
    ("kind", "operation", "sub_resource"),
    [
        ("ConfigMap", "CREATE", None),
        ("Deployment", "DELETE", None),
        ("Deployment", "UPDATE", "scale"),
        ("Pod", "UPDATE", "status"),
        ("Pod", "CONNECT", "exec"),
    ],
)
def test_other_kinds_and_subresources_pass_untouched(
    kind: str,
    operation: str,
    sub_resource: str | None,
    images: Images,
    tmp_path: Path,
) -> None:
    registry_client = RegistryClient()
    app = create_app(
        Settings(
            policy=write_policy(tmp_path, DENY_ALL),
            db_url="sqlite://",
            policy_reload_interval=0,
        ),
        registry=registry_client,
    )
    try:
        obj: dict[str, Any] = {"kind": kind, "apiVersion": "v1", "metadata": {"name": "x"}}
        if kind == "Deployment":
            obj = kubectl_create("deployment", "x", images.ref("unsigned"))
        review = admission_review(obj, kind=kind, operation=operation, sub_resource=sub_resource)
        response = _post(app.test_client(), review)
        assert response["allowed"] is True
        assert "status" not in response
        assert registry_client.requests_made == ()
        assert _recorded(app).items == ()
    finally:
        state_of(app).close()
        registry_client.close()


def _signature_requests(client: RegistryClient, since: int = 0) -> list[str]:
    return [
        f"{r.method} {r.path}"
        for r in client.requests_made[since:]
        if ".sig" in r.path or "/blobs/" in r.path
    ]


def test_second_admission_makes_no_signature_requests(make_app: AppFactory, images: Images) -> None:
    registry_client = RegistryClient()
    # tag_cache_ttl=0: every admission of a tag asks the registry (the default reuses it for 1 s).
    app = make_app(registry=registry_client, tag_cache_ttl=0)
    client = app.test_client()
    tagged = kubectl_create("deployment", "cached", images.ref("cached"))
    assert _post(client, admission_review(tagged))["allowed"] is True
    assert _signature_requests(registry_client), "the first admission verifies the signature"
    before = len(registry_client.requests_made)
    assert _post(client, admission_review(tagged))["allowed"] is True
    second = registry_client.requests_made[before:]
    # The tag is still resolved (a moved tag must be seen), by one HEAD and nothing else.
    assert [(r.method, r.path) for r in second] == [("HEAD", "/v2/hook/cached/manifests/1")]
    pinned = f"{images.host}/hook/cached@{images.digests['cached']}"
    before = len(registry_client.requests_made)
    assert _post(client, admission_review(kubectl_pod("pinned", pinned)))["allowed"] is True
    assert registry_client.requests_made[before:] == ()
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'gate_verification_cache_hits_total{cache="signature"} 2.0' in metrics
    assert 'gate_verification_cache_misses_total{cache="signature"} 1.0' in metrics


def test_fully_cached_images_are_decided_without_the_pool(
    make_app: AppFactory, images: Images, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    client = app.test_client()
    checker = state_of(app).checker
    pool_calls: list[int] = []
    executor = checker._executor  # counting the pool hops is the point

    def counting_executor() -> Any:
        pool_calls.append(1)
        return executor()

    monkeypatch.setattr(checker, "_executor", counting_executor)
    pinned = f"{images.host}/hook/cached@{images.digests['cached']}"
    first = _post(client, admission_review(kubectl_pod("first", pinned)))
    assert first["allowed"] is True
    assert len(pool_calls) == 1, "an uncached image is checked in the pool"
    second = _post(client, admission_review(kubectl_pod("second", pinned)))
    assert second["allowed"] is True
    assert len(pool_calls) == 1, "a fully cached pinned image needs no pool hop"
    # A tag is resolved on every admission (I/O), and stored evidence is read from the store:
    # both still go through the pool and its deadline.
    _post(client, admission_review(kubectl_pod("tagged", images.ref("cached"))))
    assert len(pool_calls) == 2
    scanned = f"{images.host}/hook/scanned@{images.digests['scanned']}"
    _post(client, admission_review(kubectl_pod("scan-1", scanned)))
    _post(client, admission_review(kubectl_pod("scan-2", scanned)))
    assert len(pool_calls) == 4
    page = _recorded(app, digest=str(images.digests["cached"]))
    assert {v.workload_name for v in page.items} == {"first", "second", "tagged"}
    by_name = {v.workload_name: v for v in page.items}
    assert by_name["second"].reason == by_name["first"].reason
    assert by_name["second"].checks == by_name["first"].checks
    assert by_name["second"].decided
    metrics = client.get("/metrics").get_data(as_text=True)
    # Each hit or miss is counted once, whichever path decided the image.
    assert 'gate_verification_cache_misses_total{cache="manifest"} 2.0' in metrics
    assert 'gate_verification_cache_hits_total{cache="manifest"} 3.0' in metrics
    assert 'gate_verification_cache_misses_total{cache="signature"} 2.0' in metrics
    assert 'gate_verification_cache_hits_total{cache="signature"} 3.0' in metrics


def test_fast_path_decisions_are_reused_briefly_per_image_namespace_and_policy(
    make_app: AppFactory, images: Images, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    client = app.test_client()
    state = state_of(app)
    checker = state.checker
    now = [0.0]
    monkeypatch.setattr(checker, "_decisions", TtlCache(DECISION_TTL, 16, clock=lambda: now[0]))
    evaluations: list[int] = []
    cache_only_gate = checker._cache_only_gate  # counting policy evaluations is the point

    def counting(gate: Any, hits: Any) -> Any:
        evaluations.append(1)
        return cache_only_gate(gate, hits)

    monkeypatch.setattr(checker, "_cache_only_gate", counting)
    pinned = f"{images.host}/hook/cached@{images.digests['cached']}"

    def admit(name: str, namespace: str = "team-a") -> dict[str, Any]:
        return _post(client, admission_review(kubectl_pod(name, pinned), namespace=namespace))

    assert admit("warm")["allowed"] is True  # fills the manifest and signature caches
    evaluations.clear()
    assert admit("a")["allowed"] is True
    assert admit("b")["allowed"] is True
    assert len(evaluations) == 1, "the second admission reuses the first decision"
    assert admit("c", namespace="other")["allowed"] is True
    assert len(evaluations) == 2, "another namespace is decided afresh"
    now[0] += DECISION_TTL
    assert admit("d")["allowed"] is True
    assert len(evaluations) == 3, "a decision is reused for DECISION_TTL only"
    state.settings.policy.write_text(DENY_ALL, encoding="utf-8")
    assert state.holder.check_now()
    assert admit("e")["allowed"] is False, "a new policy is never answered from the old one"
    page = _recorded(app, digest=str(images.digests["cached"]))
    assert {v.workload_name for v in page.items} == {"warm", "a", "b", "c", "d", "e"}
    by_name = {v.workload_name: v for v in page.items}
    assert by_name["b"].checks == by_name["a"].checks
    assert by_name["c"].namespace == "other"
    assert by_name["e"].policy_name == "lockdown"


@pytest.mark.parametrize("tag_cache_ttl", [0.0, 1.0])
def test_a_moved_tag_is_seen_despite_the_cache(
    make_app: AppFactory,
    images: Images,
    registry: RunningRegistry,
    monkeypatch: pytest.MonkeyPatch,
    tag_cache_ttl: float,
) -> None:
    app = make_app(tag_cache_ttl=tag_cache_ttl)
    checker = state_of(app).checker
    now = [0.0]
    # The tag cache and the decision reuse on a clock the test moves.
    tags: TtlCache[Any, Any] = TtlCache(tag_cache_ttl, 16, clock=lambda: now[0])
    monkeypatch.setattr(checker, "_tags", tags)
    monkeypatch.setattr(checker._resolver, "_tags", tags)  # the same cache, as built
    monkeypatch.setattr(checker, "_decisions", TtlCache(DECISION_TTL, 16, clock=lambda: now[0]))
    client = app.test_client()
    reference = f"{images.host}/hook/moving-{int(tag_cache_ttl)}:1"
    repository = f"hook/moving-{int(tag_cache_ttl)}"
    push_image(registry, repository, "1", build_image(content=b"signed"))
    # Same bytes as hook/signed, but signatures live per repository: sign here too.
    assert main(["sign", reference, "--key", str(images.keys / "release.key")]) == 0
    deployment = kubectl_create("deployment", "moving", reference)
    assert _post(client, admission_review(deployment))["allowed"] is True
    push_image(registry, repository, "1", build_image(content=b"moved, unsigned"))
    if tag_cache_ttl:
        # Within the tag cache's TTL the answer of the last HEAD stands ...
        assert _post(client, admission_review(deployment))["allowed"] is True
        now[0] += max(tag_cache_ttl, DECISION_TTL)
    # ... and after it the moved tag is seen.
    response = _post(client, admission_review(deployment))
    assert response["allowed"] is False
    assert "no cosign signatures found" in response["status"]["message"]


def _trivy_report(reference: str, *, critical: bool) -> bytes:
    vulnerabilities = [
        {
            "VulnerabilityID": "CVE-2024-0001",
            "PkgName": "openssl",
            "InstalledVersion": "3.0.0",
            "FixedVersion": "3.0.1",
            "Severity": "CRITICAL",
        }
    ]
    document = {
        "SchemaVersion": 2,
        "CreatedAt": datetime.now(UTC).isoformat(),
        "ArtifactName": reference,
        "ArtifactType": "container_image",
        "Metadata": {},
        "Results": [
            {
                "Target": "app",
                "Class": "os-pkgs",
                "Type": "alpine",
                "Vulnerabilities": vulnerabilities if critical else [],
            }
        ],
    }
    return json.dumps(document).encode()


def test_stored_scan_evidence_is_used_for_its_digest(make_app: AppFactory, images: Images) -> None:
    app = make_app()
    client = app.test_client()
    store = state_of(app).store
    reference = images.ref("scanned")
    deployment = kubectl_create("deployment", "scanned", reference)
    response = _post(client, admission_review(deployment))
    assert response["allowed"] is False
    assert "scan" in response["status"]["message"]

    def push(critical: bool) -> None:
        store.put_evidence(
            NewEvidence(
                digest=str(images.digests["scanned"]),
                kind=EvidenceKind.SCAN,
                format="trivy",
                name="trivy.json",
                data=_trivy_report(reference, critical=critical),
                received_at=datetime.now(UTC),
                created_at=datetime.now(UTC),
            )
        )

    push(critical=False)
    assert _post(client, admission_review(deployment))["allowed"] is True
    push(critical=True)
    response = _post(client, admission_review(deployment))
    assert response["allowed"] is False
    assert "CVE-2024-0001" in response["status"]["message"]
    # A VEX document pushed for the digest suppresses the finding at the next admission.
    digest = images.digests["scanned"]
    vex = {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://acme.example/vex/scanned",
        "author": "Acme security",
        "timestamp": datetime.now(UTC).isoformat(),
        "version": 1,
        "statements": [
            {
                "vulnerability": {"name": "CVE-2024-0001"},
                "products": [{"@id": f"pkg:oci/scanned@{digest}"}],
                "status": "not_affected",
                "justification": "vulnerable_code_not_present",
            }
        ],
    }
    store.put_evidence(
        NewEvidence(
            digest=str(digest),
            kind=EvidenceKind.VEX,
            format="openvex",
            name="vex.json",
            data=json.dumps(vex).encode(),
            received_at=datetime.now(UTC),
        )
    )
    response = _post(client, admission_review(deployment))
    assert response["allowed"] is True, response


def test_policy_reload_valid_then_invalid(make_app: AppFactory, images: Images) -> None:
    app = make_app()
    state = state_of(app)
    client = app.test_client()
    deployment = kubectl_create("deployment", "web", images.ref("signed"))
    assert _post(client, admission_review(deployment))["allowed"] is True
    path = state.settings.policy
    path.write_text(DENY_ALL, encoding="utf-8")
    assert state.holder.check_now()
    response = _post(client, admission_review(deployment))
    assert response["allowed"] is False
    assert "rule 'nothing' denies" in response["status"]["message"]
    path.write_text(DENY_ALL.replace("action: deny", "action: maybe"), encoding="utf-8")
    assert not state.holder.check_now()
    assert state.holder.policy.name == "lockdown"
    assert _post(client, admission_review(deployment))["allowed"] is False
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "gate_policy_reload_errors_total 1.0" in metrics
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert "rules[0].action" in ready.get_json()["policy"]["reloadError"]
    path.write_text(POLICY, encoding="utf-8")
    assert state.holder.check_now()
    assert _post(client, admission_review(deployment))["allowed"] is True
    assert "reloadError" not in client.get("/readyz").get_json()["policy"]
    verdicts = _recorded(app).items
    assert {v.policy_name for v in verdicts} == {"cluster", "lockdown"}


def test_policy_file_watcher_reloads_without_a_request(
    make_app: AppFactory, images: Images
) -> None:
    app = make_app(policy_reload_interval=0.05)
    state = state_of(app)
    state.settings.policy.write_text(DENY_ALL, encoding="utf-8")
    reloaded = threading.Event()
    for _ in range(200):
        if state.holder.policy.name == "lockdown":
            reloaded.set()
            break
        reloaded.wait(0.05)
    assert reloaded.is_set()


def test_metrics_and_probes(make_app: AppFactory, images: Images) -> None:
    app = make_app()
    client = app.test_client()
    _post(client, admission_review(kubectl_create("job", "a", images.ref("signed"))))
    _post(client, admission_review(kubectl_create("job", "b", images.ref("unsigned"))))
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["policy"]["name"] == "cluster"
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    text = response.get_data(as_text=True)
    assert 'gate_admission_requests_total{decision="allow"} 1.0' in text
    assert 'gate_admission_requests_total{decision="deny"} 1.0' in text
    assert "gate_admission_duration_seconds_bucket" in text
    assert "gate_registry_errors_total 0.0" in text
    assert "gate_policy_reload_errors_total 0.0" in text


class _FlakyStore:
    """The real store whose ``record`` fails until ``healthy`` is set."""

    def __init__(self, inner: SqlVerdictStore) -> None:
        self.inner = inner
        self.healthy = False

    def record(self, verdicts: Sequence[NewVerdict]) -> tuple[str, ...]:
        if not self.healthy:
            from gate.errors import BackendError  # noqa: PLC0415

            raise BackendError("verdict store: database is down (test)")
        return self.inner.record(verdicts)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_store_failure_changes_no_decision_and_loses_nothing(
    make_app: AppFactory, images: Images, tmp_path: Path
) -> None:
    flaky = _FlakyStore(SqlVerdictStore.from_url(f"sqlite:///{tmp_path / 'flaky.db'}"))
    app = make_app(store=flaky)
    client = app.test_client()
    assert _post(client, admission_review(kubectl_create("job", "a", images.ref("signed"))))[
        "allowed"
    ]
    assert not _post(client, admission_review(kubectl_create("job", "b", images.ref("unsigned"))))[
        "allowed"
    ]
    state = state_of(app)
    assert not state.recorder.flush(0.5)
    assert state.recorder.pending == 2
    assert "gate_store_errors_total 0.0" not in client.get("/metrics").get_data(as_text=True)
    flaky.healthy = True
    assert state.recorder.flush(30)
    decisions = sorted(v.decision for v in flaky.inner.query(VerdictQuery(), limit=10).items)
    assert decisions == ["allow", "deny"]
    flaky.inner.close()


class _SilentRegistry:
    """A TCP server on 127.0.0.1 that accepts connections and never answers."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.host = f"127.0.0.1:{self._server.getsockname()[1]}"
        self._connections: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self._server.settimeout(0.1)
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._connections.append(connection)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for connection in self._connections:
            connection.close()
        self._server.close()


@pytest.fixture
def silent_registry() -> Iterator[_SilentRegistry]:
    """A registry that hangs every request."""
    server = _SilentRegistry()
    yield server
    server.close()


def test_hanging_registry_is_denied_at_the_deadline(
    make_app: AppFactory, silent_registry: _SilentRegistry
) -> None:
    # A client whose own timeouts are far longer than the deadline: the deadline decides.
    slow_client = RegistryClient(RegistryOptions(timeout=60))
    app = make_app(admission_deadline=1, registry=slow_client)
    image = f"{silent_registry.host}/hook/app:1"
    pod = kubectl_pod("stuck", image)
    add_containers(pod, init=f"{silent_registry.host}/hook/init:1")
    response = _post(app.test_client(), admission_review(pod))
    assert response["allowed"] is False
    message = response["status"]["message"]
    assert f"could not verify {image} in time (deadline 1s)" in message
    assert "hook/init:1 in time" in message
    verdicts = _recorded(app).items
    assert len(verdicts) == 2
    assert not any(v.decided for v in verdicts)
    silent_registry.close()
    slow_client.close()


def test_registry_timeouts_derive_from_the_deadline(
    make_app: AppFactory, silent_registry: _SilentRegistry
) -> None:
    app = make_app(admission_deadline=1)
    image = f"{silent_registry.host}/hook/app:1"
    response = _post(app.test_client(), admission_review(kubectl_pod("stuck", image)))
    assert response["allowed"] is False
    message = response["status"]["message"]
    assert image in message
    assert "could not" in message
    text = app.test_client().get("/metrics").get_data(as_text=True)
    assert "gate_registry_errors_total 1.0" in text or "deadline_exceeded_total 1.0" in text
