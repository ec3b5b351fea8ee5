"""The Kubernetes deployment in ``deploy/``, the TLS script and the Dockerfile.

No cluster is reachable here, so the manifests are checked as a cluster's
client would see them: the real ``kubectl create --dry-run=client`` decodes
every file (with its discovery answered from a cache this module writes, so
an unknown kind or group version is still an error), ``kubectl kustomize``
builds the kustomization, and, when ``kubernetes-validate`` is installed,
every object is checked against the Kubernetes OpenAPI schemas in strict mode
(unknown fields are errors). Then the objects are checked for what the gate
needs: fail-closed webhook registration, exempt namespaces, a hardened pod,
names that agree across objects, a policy that ``gate policy validate``
accepts. ``make-certs.sh`` is run for real and its certificate is checked
with ``cryptography`` and with a TLS handshake.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shlex
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from gate.cli import build_parser
from tests.integration.gate_cli import run_gate
from webhook.tokens import load_tokens

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
NAMESPACE = "gate-system"
SERVICE_HOST = "gate-webhook.gate-system.svc"
# Every manifest file but the kustomization itself.
MANIFEST_FILES = sorted(p for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml")
# Not in the kustomization, on purpose: templates, and the webhook
# registration whose real caBundle comes from make-certs.sh.
NOT_KUSTOMIZED = {"secrets.example.yaml", "validatingwebhookconfiguration.yaml"}
WORKLOAD_RESOURCES = {
    ("", "pods"),
    ("", "pods/ephemeralcontainers"),
    ("", "replicationcontrollers"),
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
}
# The resources of a real API server that kubectl's discovery answers with:
# (group, version) -> [(plural, kind, namespaced)]. A manifest of any other
# kind or group version fails ("no matches for kind"), as on a cluster.
DISCOVERY: dict[tuple[str, str], list[tuple[str, str, bool]]] = {
    ("", "v1"): [
        ("namespaces", "Namespace", False),
        ("serviceaccounts", "ServiceAccount", True),
        ("configmaps", "ConfigMap", True),
        ("secrets", "Secret", True),
        ("services", "Service", True),
        ("pods", "Pod", True),
    ],
    ("apps", "v1"): [("deployments", "Deployment", True)],
    ("policy", "v1"): [("poddisruptionbudgets", "PodDisruptionBudget", True)],
    ("admissionregistration.k8s.io", "v1"): [
        ("validatingwebhookconfigurations", "ValidatingWebhookConfiguration", False)
    ],
}
# kubectl only talks to this address if its discovery cache is not used;
# nothing listens there, so that fails at once instead of reaching a cluster.
OFFLINE_SERVER = "https://127.0.0.1:1"


@dataclass(frozen=True)
class Kubectl:
    """The real ``kubectl``, configured for a cluster that is never contacted."""

    binary: str
    kubeconfig: Path
    cache_dir: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``kubectl ARGS`` with the offline configuration; fails the test on a non-zero exit."""
        command = [
            self.binary,
            f"--kubeconfig={self.kubeconfig}",
            f"--cache-dir={self.cache_dir}",
            "--request-timeout=10s",
            *args,
        ]
        env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=120, env=env, check=False
        )
        if completed.returncode != 0:
            hint = ""
            if OFFLINE_SERVER.removeprefix("https://") in completed.stderr:
                # A cache miss sends kubectl to the server, which is not there.
                hint = (
                    "\n(kubectl asked the absent API server: a manifest uses a kind or "
                    "apiVersion that DISCOVERY in this test module does not list)"
                )
            pytest.fail(
                f"{shlex.join(command)} exited {completed.returncode}:\n{completed.stderr}{hint}",
                pytrace=False,
            )
        return completed


def _write_discovery_cache(cache_dir: Path) -> None:
    """kubectl's on-disk discovery cache, as it writes it after asking a server."""
    host_dir = cache_dir / "discovery" / "127.0.0.1_1"
    groups: dict[str, list[dict[str, str]]] = {}
    for (group, version), resources in DISCOVERY.items():
        group_version = f"{group}/{version}" if group else version
        groups.setdefault(group, []).append({"groupVersion": group_version, "version": version})
        directory = host_dir / group_version
        directory.mkdir(parents=True, exist_ok=True)
        resource_list = {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": group_version,
            "resources": [
                {
                    "name": plural,
                    "singularName": kind.lower(),
                    "namespaced": namespaced,
                    "kind": kind,
                    "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
                }
                for plural, kind, namespaced in resources
            ],
        }
        (directory / "serverresources.json").write_text(json.dumps(resource_list))
    group_list = {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {"name": name, "versions": versions, "preferredVersion": versions[0]}
            for name, versions in groups.items()
        ],
    }
    (host_dir / "servergroups.json").write_text(json.dumps(group_list))


@pytest.fixture(scope="module")
def kubectl(tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    """``kubectl`` with a kubeconfig for an unreachable server and a primed discovery cache."""
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.skip("kubectl is not installed (client only is enough)")
    home = tmp_path_factory.mktemp("kubectl")
    kubeconfig = home / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "offline", "cluster": {"server": OFFLINE_SERVER}}],
                "users": [{"name": "offline", "user": {"token": "unused"}}],
                "contexts": [
                    {"name": "offline", "context": {"cluster": "offline", "user": "offline"}}
                ],
                "current-context": "offline",
            }
        )
    )
    _write_discovery_cache(home / "cache")
    return Kubectl(binary, kubeconfig, home / "cache")


def _json_stream(text: str) -> list[dict[str, Any]]:
    """The objects of kubectl's ``-o json`` output: one JSON document per object."""
    decoder = json.JSONDecoder()
    objects: list[dict[str, Any]] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            return objects
        value, position = decoder.raw_decode(text, position)
        if value.get("kind") == "List":
            objects.extend(value["items"])
        else:
            objects.append(value)


def _identity(obj: dict[str, Any]) -> tuple[str, str]:
    return (obj["kind"], obj["metadata"]["name"])


def _yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


@pytest.fixture(scope="module")
def decoded(kubectl: Kubectl) -> dict[str, list[dict[str, Any]]]:
    """Each manifest file's objects, as ``kubectl create --dry-run=client -o json`` decodes them."""
    result: dict[str, list[dict[str, Any]]] = {}
    for path in MANIFEST_FILES:
        completed = kubectl.run(
            "create", "--dry-run=client", "--validate=false", "-o", "json", "-f", str(path)
        )
        result[path.name] = _json_stream(completed.stdout)
    return result


@pytest.fixture(scope="module")
def objects(decoded: dict[str, list[dict[str, Any]]]) -> dict[tuple[str, str], dict[str, Any]]:
    """All decoded objects by (kind, name)."""
    by_key: dict[tuple[str, str], dict[str, Any]] = {}
    for items in decoded.values():
        for obj in items:
            key = (obj["kind"], obj["metadata"]["name"])
            assert key not in by_key, f"{key} defined twice"
            by_key[key] = obj
    return by_key


def _pod_spec(objects: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = objects["Deployment", "gate-webhook"]["spec"]["template"]["spec"]
    return spec


def _container(objects: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    containers = _pod_spec(objects)["containers"]
    assert len(containers) == 1
    container: dict[str, Any] = containers[0]
    return container


def _webhook(objects: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    webhooks = objects["ValidatingWebhookConfiguration", "gate-webhook"]["webhooks"]
    assert len(webhooks) == 1
    webhook: dict[str, Any] = webhooks[0]
    return webhook


# --- kubectl and schemas -----------------------------------------------------


def test_every_manifest_decodes_with_kubectl_unchanged(
    decoded: dict[str, list[dict[str, Any]]],
) -> None:
    """kubectl reads each file as the YAML says: nothing dropped, no YAML 1.1 surprise."""
    assert set(decoded) == {p.name for p in MANIFEST_FILES}
    for path in MANIFEST_FILES:
        assert decoded[path.name] == _yaml_documents(path), path.name


def test_kustomization_builds_the_workload(kubectl: Kubectl) -> None:
    """``kubectl kustomize deploy/`` (what ``apply -k`` applies) gives every file's objects."""
    built = list(yaml.safe_load_all(kubectl.run("kustomize", str(DEPLOY)).stdout))
    expected = [
        doc for p in MANIFEST_FILES if p.name not in NOT_KUSTOMIZED for doc in _yaml_documents(p)
    ]
    assert sorted(built, key=_identity) == sorted(expected, key=_identity)
    listed = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(p.name for p in MANIFEST_FILES if p.name not in NOT_KUSTOMIZED)


@pytest.mark.parametrize("version", ["1.28.0", "latest"])
def test_manifests_match_the_kubernetes_schemas(
    objects: dict[tuple[str, str], dict[str, Any]], version: str
) -> None:
    """Strict OpenAPI schema validation: a misspelt or misplaced field is an error."""
    validator = pytest.importorskip(
        "kubernetes_validate", reason="kubernetes-validate (test dependency) is not installed"
    )
    target = validator.latest_version() if version == "latest" else version
    for key, obj in objects.items():
        try:
            validator.validate(obj, target, strict=True)
        except validator.ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path)
            pytest.fail(f"{key} against Kubernetes {target}: {where}: {exc.message}")


def test_every_namespaced_object_is_in_gate_system(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """The exemption in the webhook's namespaceSelector covers every part of the gate."""
    cluster_scoped = {"Namespace", "ValidatingWebhookConfiguration"}
    for (kind, name), obj in objects.items():
        if kind not in cluster_scoped:
            assert obj["metadata"].get("namespace") == NAMESPACE, (kind, name)
    labels = objects["Namespace", NAMESPACE]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


# --- the webhook registration -----------------------------------------------


def test_webhook_fails_closed_and_has_no_side_effects(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """failurePolicy Fail, sideEffects None, v1 reviews, and a timeout above the gate's deadline."""
    webhook = _webhook(objects)
    assert webhook["failurePolicy"] == "Fail"
    assert webhook["sideEffects"] == "None"
    assert webhook["admissionReviewVersions"] == ["v1"]
    assert webhook["matchPolicy"] == "Equivalent"
    assert webhook["timeoutSeconds"] == 10
    env = {e["name"]: e for e in _container(objects)["env"]}
    assert float(env["GATE_ADMISSION_DEADLINE"]["value"]) < webhook["timeoutSeconds"]


def test_webhook_exempts_the_gate_and_kube_system(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """The gate never admits its own pods (bootstrap) nor blocks the control plane."""
    selector = _webhook(objects)["namespaceSelector"]
    assert "matchLabels" not in selector
    (expression,) = selector["matchExpressions"]
    assert expression["key"] == "kubernetes.io/metadata.name"
    assert expression["operator"] == "NotIn"
    assert set(expression["values"]) == {NAMESPACE, "kube-system"}
    assert "objectSelector" not in _webhook(objects)


def test_webhook_sees_every_workload_kind_on_create_and_update(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """Every kind that carries a pod template, for CREATE and UPDATE, and nothing else."""
    seen: set[tuple[str, str]] = set()
    for rule in _webhook(objects)["rules"]:
        assert sorted(rule["operations"]) == ["CREATE", "UPDATE"]
        assert rule["apiVersions"] == ["v1"]
        assert rule.get("scope", "*") in {"Namespaced", "*"}
        for group in rule["apiGroups"]:
            seen.update((group, resource) for resource in rule["resources"])
    assert seen == WORKLOAD_RESOURCES


def test_webhook_calls_the_service_with_a_placeholder_ca(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """The client config names the Service and port; the repository holds no real CA."""
    client = _webhook(objects)["clientConfig"]
    service = objects["Service", "gate-webhook"]
    assert "url" not in client
    assert client["service"] == {
        "name": service["metadata"]["name"],
        "namespace": service["metadata"]["namespace"],
        "path": "/validate",
        "port": service["spec"]["ports"][0]["port"],
    }
    assert base64.b64decode(client["caBundle"]) == b"CA_BUNDLE_PLACEHOLDER"


# --- the Deployment ----------------------------------------------------------


def test_three_replicas_spread_and_a_disruption_budget(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """Three replicas on different nodes where possible; at least two survive a drain."""
    deployment = objects["Deployment", "gate-webhook"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 1
    pod = _pod_spec(objects)
    (term,) = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"].items() <= labels.items()
    pdb = objects["PodDisruptionBudget", "gate-webhook"]
    assert pdb["spec"]["minAvailable"] == 2
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = objects["Service", "gate-webhook"]
    assert service["spec"]["selector"].items() <= labels.items()


def test_pod_runs_non_root_read_only_without_privileges(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """The restricted Pod Security profile, and no service account token."""
    pod = _pod_spec(objects)
    assert pod["automountServiceAccountToken"] is False
    assert objects["ServiceAccount", "gate-webhook"]["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == "gate-webhook"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "hostNetwork" not in pod
    assert "hostPID" not in pod
    context = _container(objects)["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context.get("privileged", False) is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}


def test_probes_and_resources(objects: dict[tuple[str, str], dict[str, Any]]) -> None:
    """Liveness /healthz and readiness /readyz over HTTPS on the serving port; limits set."""
    container = _container(objects)
    (port,) = container["ports"]
    assert port == {"name": "https", "containerPort": 8443, "protocol": "TCP"}
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        http = container[probe]["httpGet"]
        assert http == {"path": path, "port": "https", "scheme": "HTTPS"}, probe
    assert objects["Service", "gate-webhook"]["spec"]["ports"][0]["targetPort"] == "https"
    assert objects["Service", "gate-webhook"]["spec"]["ports"][0]["port"] == 443
    resources = container["resources"]
    assert {"cpu", "memory"} <= resources["requests"].keys()
    assert "memory" in resources["limits"]


def _mounted_files(objects: dict[tuple[str, str], dict[str, Any]]) -> dict[str, tuple[str, str]]:
    """Path in the container -> (ConfigMap or Secret name, key), from the pod's volumes."""
    volumes = {v["name"]: v for v in _pod_spec(objects)["volumes"]}
    files: dict[str, tuple[str, str]] = {}
    for mount in _container(objects)["volumeMounts"]:
        volume = volumes[mount["name"]]
        assert "subPath" not in mount, "a subPath mount is never updated: no policy reload"
        sources = volume.get("projected", {}).get("sources", [])
        for source in sources:
            for kind in ("configMap", "secret"):
                if kind in source:
                    for item in source[kind]["items"]:
                        path = f"{mount['mountPath']}/{item['path']}"
                        files[path] = (source[kind]["name"], item["key"])
    return files


def test_config_policy_tls_and_tokens_are_mounted_where_the_command_reads_them(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """Every file the ``gate serve`` arguments name comes from the ConfigMap or a Secret."""
    container = _container(objects)
    options = dict(arg.removeprefix("--").split("=", 1) for arg in container["args"][1:])
    assert container["args"][0] == "serve"
    files = _mounted_files(objects)
    assert files[options["policy"]] == ("gate-policy", "policy.yaml")
    assert files[options["tls-cert"]] == ("gate-webhook-tls", "tls.crt")
    assert files[options["tls-key"]] == ("gate-webhook-tls", "tls.key")
    assert files[options["tokens"]] == ("gate-api-tokens", "tokens.yaml")
    assert options["port"] == str(container["ports"][0]["containerPort"])
    assert options["host"] == "0.0.0.0"  # noqa: S104 - the pod's address, behind the Service
    assert "policy.yaml" in objects["ConfigMap", "gate-policy"]["data"]
    # The database URL comes from a Secret through the environment, never inline.
    env = {e["name"]: e for e in container["env"]}
    assert options["db"] == "$(GATE_DB_URL)"
    assert env["GATE_DB_URL"]["valueFrom"]["secretKeyRef"] == {"name": "gate-db", "key": "url"}
    # The root filesystem is read-only: a writable /tmp, and state kept there.
    volumes = {v["name"]: v for v in _pod_spec(objects)["volumes"]}
    tmp = next(m for m in container["volumeMounts"] if m["mountPath"] == "/tmp")
    assert "emptyDir" in volumes[tmp["name"]]
    assert env["GATE_STATE_DIR"]["value"].startswith("/tmp/")


def test_secret_templates_hold_placeholders_with_the_keys_the_pod_reads(
    objects: dict[tuple[str, str], dict[str, Any]], tmp_path: Path
) -> None:
    """Each Secret the pod reads has a template with that key, and no real secret."""
    templates = {
        obj["metadata"]["name"]: obj
        for obj in _yaml_documents(DEPLOY / "secrets.example.yaml")
        if obj["kind"] == "Secret"
    }
    needed = {name_key for name_key in _mounted_files(objects).values() if name_key[0] in templates}
    env = {e["name"]: e for e in _container(objects)["env"]}
    reference = env["GATE_DB_URL"]["valueFrom"]["secretKeyRef"]
    needed.add((reference["name"], reference["key"]))
    for name, key in needed:
        assert key in templates[name]["stringData"], (name, key)
    assert templates["gate-db"]["stringData"]["url"].startswith("postgresql+psycopg://")
    assert templates["gate-webhook-tls"]["type"] == "kubernetes.io/tls"
    for path in DEPLOY.rglob("*"):  # the Helm chart's files too
        if path.is_file():
            assert "PRIVATE KEY-----" not in path.read_text(), f"{path} holds a private key"
    # The tokens template is a valid tokens file (whose digests match no token).
    tokens_file = tmp_path / "tokens.yaml"
    tokens_file.write_text(templates["gate-api-tokens"]["stringData"]["tokens.yaml"])
    assert load_tokens(tokens_file).names == ("ci", "security-team")


def test_cluster_policy_validates(
    objects: dict[tuple[str, str], dict[str, Any]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``gate policy validate`` accepts the ConfigMap's policy with nothing beside it.

    The policy is written alone into an empty directory: a key given as a path
    would not be found there, just as it would not in the mounted ConfigMap.
    """
    policy = tmp_path / "policy.yaml"
    policy.write_text(objects["ConfigMap", "gate-policy"]["data"]["policy.yaml"])
    run = run_gate(capsys, "policy", "validate", str(policy))
    assert run.code == 0, run.stderr
    assert "valid policy 'cluster'" in run.stdout


def _serve_options(args: list[str]) -> None:
    """Fails the test when ``gate``'s own parser rejects ``args``; skips before ``serve`` exists."""
    parser = build_parser()
    commands = next(
        action
        # argparse has no public way to list sub-commands.
        for action in parser._actions
        if action.dest == "command"
    )
    if "serve" not in (commands.choices or {}):
        pytest.skip("`gate serve` is not wired into the CLI yet")
    try:
        parser.parse_args(args)
    except SystemExit as exc:
        pytest.fail(f"gate rejects {shlex.join(args)} (exit {exc.code})")


def test_deployment_arguments_parse_with_gate_serve(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """The container's arguments are ones ``gate serve`` accepts."""
    args = [
        arg.replace("$(GATE_DB_URL)", "postgresql+psycopg://gate@db/gate")
        for arg in _container(objects)["args"]
    ]
    _serve_options(args)


# --- the Dockerfile ----------------------------------------------------------


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = (REPO / "Dockerfile").read_text()
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        whole = pending + stripped
        pending = ""
        instruction, _, arguments = whole.partition(" ")
        instructions.append((instruction.upper(), arguments.strip()))
    assert not pending, "Dockerfile ends with a continuation line"
    return instructions


def test_dockerfile_runs_gate_as_the_deployments_non_root_user(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """Slim Python 3.11 base, ``pip install .``, a numeric non-root user, ``gate`` entrypoint."""
    instructions = _dockerfile_instructions()
    bases = [args for name, args in instructions if name == "FROM"]
    assert bases, "no FROM"
    assert all(base.split()[0].startswith("python:3.11-slim") for base in bases)
    assert any(name == "RUN" and "pip install ." in args for name, args in instructions)
    users = [args for name, args in instructions if name == "USER"]
    user, _, group = users[-1].partition(":")
    pod_context = _pod_spec(objects)["securityContext"]
    assert int(user) == pod_context["runAsUser"] != 0
    assert int(group) == pod_context["runAsGroup"]
    final = dict(instructions)  # the last of each wins, as in Docker
    assert json.loads(final["ENTRYPOINT"]) == ["gate"]
    command = json.loads(final["CMD"])
    assert command[0] == "serve"
    assert final["EXPOSE"] == str(_container(objects)["ports"][0]["containerPort"])
    # The default command reads the same paths the Deployment mounts.
    deployment_options = dict(
        arg.removeprefix("--").split("=", 1) for arg in _container(objects)["args"][1:]
    )
    command_options = dict(zip(command[1::2], command[2::2], strict=True))
    for option in ("policy", "tls-cert", "tls-key", "port"):
        assert command_options[f"--{option}"] == deployment_options[option], option
    _serve_options(command)


def test_dockerignore_admits_only_what_the_build_copies() -> None:
    """Everything is excluded but the package sources: no .venv, .git, tests or keys."""
    lines = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    admitted = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert admitted == {"pyproject.toml", "README.md", "gate", "webhook"}
    copied = [args.split() for name, args in _dockerfile_instructions() if name == "COPY"]
    sources = {src for args in copied if not args[0].startswith("--from") for src in args[:-1]}
    assert sources == admitted


# --- make-certs.sh -----------------------------------------------------------


@dataclass(frozen=True)
class CertRun:
    """Files one run of make-certs.sh wrote."""

    out: Path
    ca: x509.Certificate
    cert: x509.Certificate
    stderr: str


def _make_certs(cwd: Path, *args: str, env: dict[str, str] | None = None) -> CertRun:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    completed = subprocess.run(
        ["bash", str(DEPLOY / "make-certs.sh"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    out = cwd / (args[0] if args else "gate-certs")
    return CertRun(
        out,
        x509.load_pem_x509_certificate((out / "ca.crt").read_bytes()),
        x509.load_pem_x509_certificate((out / "tls.crt").read_bytes()),
        completed.stderr,
    )


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertRun:
    """One run of make-certs.sh with the default output directory, in a fresh directory."""
    return _make_certs(tmp_path_factory.mktemp("certs"))


def test_serving_certificate_chains_to_the_ca_with_the_service_names(certs: CertRun) -> None:
    """Signed by the CA, for the Service's DNS names, for server authentication only."""
    ca, cert = certs.ca, certs.cert
    cert.verify_directly_issued_by(ca)
    ca.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns_names = set(names.get_values_for_type(x509.DNSName))
    assert {SERVICE_HOST, f"{SERVICE_HOST}.cluster.local"} <= dns_names
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert cert.not_valid_after_utc > cert.not_valid_before_utc
    key = serialization.load_pem_private_key((certs.out / "tls.key").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.public_key() == cert.public_key()
    for private in ("ca.key", "tls.key"):
        assert (certs.out / private).stat().st_mode & 0o077 == 0, private


@contextlib.contextmanager
def _tls_server(cert: Path, key: Path) -> Iterator[int]:
    """A one-connection TLS server on 127.0.0.1 serving ``cert``; yields its port."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(30)

    def serve() -> None:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        connection.settimeout(30)
        try:
            with context.wrap_socket(connection, server_side=True) as tls:
                tls.sendall(b"ok")
        except (OSError, ssl.SSLError):
            pass  # the client refused the certificate; the client side asserts on it

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        thread.join(timeout=30)


def _handshake(port: int, ca: Path, server_name: str) -> bytes:
    context = ssl.create_default_context(cafile=str(ca))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=30) as raw,
        context.wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        return tls.recv(2)


def test_api_server_would_accept_the_certificate(certs: CertRun) -> None:
    """A TLS client trusting only the CA (as the API server does with caBundle) connects.

    OpenSSL does the chain and host name checks, for the name the API server
    uses; another name is refused.
    """
    with _tls_server(certs.out / "tls.crt", certs.out / "tls.key") as port:
        assert _handshake(port, certs.out / "ca.crt", SERVICE_HOST) == b"ok"
    with (
        _tls_server(certs.out / "tls.crt", certs.out / "tls.key") as port,
        pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"),
    ):
        _handshake(port, certs.out / "ca.crt", "other.gate-system.svc")


def test_ca_bundle_is_the_ca_and_the_rest_of_the_webhook_is_unchanged(
    certs: CertRun, kubectl: Kubectl
) -> None:
    """The patched registration differs from deploy/'s only in caBundle = base64(CA PEM)."""
    patched_path = certs.out / "validatingwebhookconfiguration.yaml"
    (patched,) = _json_stream(
        kubectl.run(
            "create", "--dry-run=client", "--validate=false", "-o", "json", "-f", str(patched_path)
        ).stdout
    )
    ca_pem = (certs.out / "ca.crt").read_bytes()
    client = patched["webhooks"][0]["clientConfig"]
    assert client["caBundle"] == base64.b64encode(ca_pem).decode()
    assert x509.load_pem_x509_certificate(base64.b64decode(client["caBundle"])) == certs.ca
    (original,) = _yaml_documents(DEPLOY / "validatingwebhookconfiguration.yaml")
    original["webhooks"][0]["clientConfig"]["caBundle"] = client["caBundle"]
    assert patched == original


def test_tls_secret_holds_the_certificate_and_key(certs: CertRun, kubectl: Kubectl) -> None:
    """The Secret manifest is a kubernetes.io/tls Secret of the files, named as the pod expects."""
    (secret,) = _json_stream(
        kubectl.run(
            "create",
            "--dry-run=client",
            "--validate=false",
            "-o",
            "json",
            "-f",
            str(certs.out / "gate-webhook-tls.yaml"),
        ).stdout
    )
    assert secret["type"] == "kubernetes.io/tls"
    assert secret["metadata"] == {
        "name": "gate-webhook-tls",
        "namespace": NAMESPACE,
        "labels": {"app.kubernetes.io/name": "gate"},
    }
    for key, file in (("tls.crt", "tls.crt"), ("tls.key", "tls.key"), ("ca.crt", "ca.crt")):
        assert base64.b64decode(secret["data"][key]) == (certs.out / file).read_bytes(), key
    assert "ca.key" not in secret["data"]


def test_second_run_keeps_the_ca_and_issues_a_new_certificate(tmp_path: Path) -> None:
    """Renewing the serving certificate does not change the caBundle the cluster holds."""
    first = _make_certs(tmp_path, "out")
    second = _make_certs(tmp_path, "out", env={"CERT_DAYS": "30"})
    assert "reusing the CA" in second.stderr
    assert second.ca == first.ca
    assert second.cert.serial_number != first.cert.serial_number
    second.cert.verify_directly_issued_by(second.ca)
    lifetime = second.cert.not_valid_after_utc - second.cert.not_valid_before_utc
    assert lifetime.days == 30


@pytest.mark.parametrize("days", ["0", "ten", "-5", "1; rm -rf /"])
def test_bad_validity_is_refused_in_one_line(tmp_path: Path, days: str) -> None:
    """A bad CERT_DAYS stops the script before it writes anything, with one line on stderr."""
    completed = subprocess.run(
        ["bash", str(DEPLOY / "make-certs.sh"), "out"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "CERT_DAYS": days},
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stderr.splitlines() == [
        f"make-certs: CERT_DAYS must be a positive whole number, got '{days}'"
    ]
    assert not (tmp_path / "out").exists()
