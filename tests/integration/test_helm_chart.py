"""The Helm chart ``deploy/helm/gate``: the same objects as ``deploy/``, and values that work.

Rendered by ``tests/support/helmrender`` (Go's ``text/template``, Helm's
engine, with the few Helm functions the chart uses; built here with
``go build``). With its default values the chart must give exactly the
objects of ``deploy/*.yaml`` (compared as data, by kind and name); an
override (replicas, PostgreSQL and Redis URLs from Secrets, an HMAC key,
resources, deadline, allowed registries, disruption budget) must decode with
the real ``kubectl create --dry-run=client`` unchanged, pass the Kubernetes
schemas in strict mode, and carry each value where the pod reads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.test_deploy import (
    DEPLOY,
    NOT_KUSTOMIZED,
    Kubectl,
    _json_stream,
    _serve_options,
    kubectl,  # noqa: F401 - the fixture, shared with the deploy/ tests
)
from tests.support.helm import HelmRenderError, build_renderer, render_chart

pytestmark = pytest.mark.integration

CHART = DEPLOY / "helm" / "gate"
#: deploy/ files the chart renders: every manifest but the Secret templates.
RENDERED_FILES = sorted(
    p for p in DEPLOY.glob("*.yaml") if p.name not in {"kustomization.yaml", "secrets.example.yaml"}
)
DIGEST = "sha256:" + "ab" * 32
OVERRIDE: dict[str, Any] = {
    "replicas": 3,
    "image": {"repository": "registry.corp.example/gate", "digest": DIGEST},
    "server": {"workers": 3, "threads": 8},
    "admissionDeadline": 6,
    "allowedRegistries": ["registry.corp.example", "*.mirror.corp.example"],
    "database": {"secretName": "gate-postgres", "secretKey": "dsn"},
    "redis": {
        "enabled": True,
        "secretName": "gate-redis",
        "secretKey": "url",
        "timeout": "0.05",
        "hmacKeySecret": {"name": "gate-redis-hmac", "key": "key"},
    },
    "resources": {
        "requests": {"cpu": "500m", "memory": "320Mi"},
        "limits": {"cpu": "2", "memory": "640Mi"},
    },
    "podDisruptionBudget": {"minAvailable": 1},
    "webhook": {"timeoutSeconds": 8, "caBundle": "Q0E=", "exemptNamespaces": ["kube-system"]},
    "extraEnv": [{"name": "GATE_CACHE_TTL", "value": "600"}],
}


@pytest.fixture(scope="module")
def renderer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``helmrender``, built once for the module (fails with the install hint without Go)."""
    try:
        return build_renderer(tmp_path_factory.mktemp("helmrender"))
    except HelmRenderError as exc:
        pytest.fail(str(exc), pytrace=False)


def _documents(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


def _by_identity(documents: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for doc in documents:
        key = (doc["kind"], doc["metadata"]["name"])
        assert key not in found, f"{key} rendered twice"
        found[key] = doc
    return found


def _render(renderer: Path, tmp_path: Path, *overrides: dict[str, Any]) -> str:
    return render_chart(renderer, CHART, tmp_path / "render", *overrides)


def test_default_values_render_the_manifests_of_deploy(renderer: Path, tmp_path: Path) -> None:
    rendered = _by_identity(_documents(_render(renderer, tmp_path)))
    expected = _by_identity(
        [doc for path in RENDERED_FILES for doc in _documents(path.read_text())]
    )
    assert sorted(rendered) == sorted(expected)
    for key, obj in expected.items():
        assert rendered[key] == obj, key
    # The kustomization's workload is a subset (the registration is applied last).
    assert {p.name for p in RENDERED_FILES} - NOT_KUSTOMIZED


def _container(objects: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    (container,) = objects["Deployment", "gate-webhook"]["spec"]["template"]["spec"]["containers"]
    result: dict[str, Any] = container
    return result


@pytest.fixture
def overridden(
    renderer: Path,
    tmp_path: Path,
    kubectl: Kubectl,  # noqa: F811 - the fixture imported above
) -> dict[tuple[str, str], dict[str, Any]]:
    """The override render, as ``kubectl create --dry-run=client -o json`` decodes it."""
    text = _render(renderer, tmp_path, OVERRIDE)
    manifest = tmp_path / "rendered.yaml"
    manifest.write_text(text)
    decoded = _json_stream(
        kubectl.run(
            "create", "--dry-run=client", "--validate=false", "-o", "json", "-f", str(manifest)
        ).stdout
    )
    # kubectl reads every field as the YAML says (nothing dropped or retyped).
    assert sorted(decoded, key=lambda d: (d["kind"], d["metadata"]["name"])) == sorted(
        _documents(text), key=lambda d: (d["kind"], d["metadata"]["name"])
    )
    return _by_identity(decoded)


@pytest.mark.parametrize("version", ["1.28.0", "latest"])
def test_an_override_render_matches_the_kubernetes_schemas(
    overridden: dict[tuple[str, str], dict[str, Any]], version: str
) -> None:
    validator = pytest.importorskip(
        "kubernetes_validate", reason="kubernetes-validate (test dependency) is not installed"
    )
    target = validator.latest_version() if version == "latest" else version
    for key, obj in overridden.items():
        try:
            validator.validate(obj, target, strict=True)
        except validator.ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path)
            pytest.fail(f"{key} against Kubernetes {target}: {where}: {exc.message}")


def test_override_values_land_where_the_pod_reads_them(
    overridden: dict[tuple[str, str], dict[str, Any]],
) -> None:
    deployment = overridden["Deployment", "gate-webhook"]
    assert deployment["spec"]["replicas"] == 3
    container = _container(overridden)
    assert container["image"] == f"registry.corp.example/gate@{DIGEST}"
    assert "--workers=3" in container["args"]
    assert "--threads=8" in container["args"]
    assert container["resources"] == OVERRIDE["resources"]
    env = {e["name"]: e for e in container["env"]}
    assert env["GATE_DB_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "gate-postgres",
        "key": "dsn",
    }
    assert env["GATE_REDIS_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "gate-redis",
        "key": "url",
    }
    assert env["GATE_REDIS_TIMEOUT"]["value"] == "0.05"
    assert env["GATE_ADMISSION_DEADLINE"]["value"] == "6"
    assert env["GATE_ALLOWED_REGISTRIES"]["value"] == "registry.corp.example,*.mirror.corp.example"
    assert env["GATE_CACHE_TTL"]["value"] == "600"
    # The HMAC key file is mounted where the variable points.
    key_file = env["GATE_REDIS_HMAC_KEY_FILE"]["value"]
    mount = next(m for m in container["volumeMounts"] if key_file.startswith(m["mountPath"] + "/"))
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    sources = volumes[mount["name"]]["projected"]["sources"]
    items = {
        f"{mount['mountPath']}/{item['path']}": (source["secret"]["name"], item["key"])
        for source in sources
        if "secret" in source
        for item in source["secret"]["items"]
    }
    assert items[key_file] == ("gate-redis-hmac", "key")
    pdb = overridden["PodDisruptionBudget", "gate-webhook"]
    assert pdb["spec"]["minAvailable"] == 1
    (webhook,) = overridden["ValidatingWebhookConfiguration", "gate-webhook"]["webhooks"]
    assert webhook["timeoutSeconds"] == 8
    assert float(env["GATE_ADMISSION_DEADLINE"]["value"]) < webhook["timeoutSeconds"]
    assert webhook["clientConfig"]["caBundle"] == "Q0E="
    (expression,) = webhook["namespaceSelector"]["matchExpressions"]
    assert expression["values"] == ["gate-system", "kube-system"]
    # Still arguments `gate serve` accepts.
    _serve_options(
        [a.replace("$(GATE_DB_URL)", "postgresql+psycopg://g@db/g") for a in container["args"]]
    )


def test_the_redis_environment_makes_valid_settings(
    overridden: dict[tuple[str, str], dict[str, Any]], tmp_path: Path
) -> None:
    """What the pod's environment would hold is accepted by ``Settings.from_env``."""
    from webhook.settings import Settings  # noqa: PLC0415

    env = {e["name"]: e.get("value", "") for e in _container(overridden)["env"]}
    key_file = tmp_path / "hmac.key"
    key_file.write_text("k" * 64)
    env.update(
        GATE_POLICY="/etc/gate/policy.yaml",
        GATE_DB_URL="postgresql+psycopg://gate@db/gate",
        GATE_REDIS_URL="redis://:pw@redis.gate-system.svc:6379/0",
        GATE_REDIS_HMAC_KEY_FILE=str(key_file),
    )
    settings = Settings.from_env(env)
    assert settings.redis_timeout == 0.05
    assert settings.allowed_registries == ("registry.corp.example", "*.mirror.corp.example")


def test_switches_leave_objects_and_variables_out(renderer: Path, tmp_path: Path) -> None:
    off = {
        "namespace": {"create": False},
        "podDisruptionBudget": {"enabled": False},
        "webhook": {"register": False},
        "redis": {"enabled": False, "hmacKeySecret": {"name": "ignored-when-disabled"}},
    }
    objects = _by_identity(_documents(_render(renderer, tmp_path, off)))
    assert sorted(kind for kind, _ in objects) == [
        "ConfigMap",
        "Deployment",
        "Service",
        "ServiceAccount",
    ]
    container = _container(objects)
    assert not [e for e in container["env"] if e["name"].startswith("GATE_REDIS")]
    assert "GATE_ALLOWED_REGISTRIES" not in {e["name"] for e in container["env"]}
    text = yaml.safe_dump(objects["Deployment", "gate-webhook"])
    assert "ignored-when-disabled" not in text


def test_a_release_name_and_namespace_name_everything(renderer: Path, tmp_path: Path) -> None:
    text = render_chart(renderer, CHART, tmp_path / "other", release="edge", namespace="security")
    objects = _by_identity(_documents(text))
    assert ("Deployment", "edge-webhook") in objects
    assert ("ConfigMap", "edge-policy") in objects
    assert ("Namespace", "security") in objects
    for (kind, _), obj in objects.items():
        if kind not in {"Namespace", "ValidatingWebhookConfiguration"}:
            assert obj["metadata"]["namespace"] == "security"
    (webhook,) = objects["ValidatingWebhookConfiguration", "edge-webhook"]["webhooks"]
    assert webhook["clientConfig"]["service"]["name"] == "edge-webhook"
    assert webhook["namespaceSelector"]["matchExpressions"][0]["values"][0] == "security"
    spec = objects["Deployment", "edge-webhook"]["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == "edge-webhook"
    config = next(v for v in spec["volumes"] if v["name"] == "config")
    assert config["projected"]["sources"][0]["configMap"]["name"] == "edge-policy"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"policy": ""}, "values: policy"),
        ({"webhook": {"caBundle": ""}}, "webhook.caBundle"),
        ({"redis": {"enable": True}}, None),  # a misspelt name is harmless: ignored, as in Helm
    ],
)
def test_missing_required_values_fail_the_render(
    renderer: Path, tmp_path: Path, override: dict[str, Any], message: str | None
) -> None:
    if message is None:
        _render(renderer, tmp_path, override)
        return
    with pytest.raises(HelmRenderError, match=message):
        _render(renderer, tmp_path, override)


def test_the_chart_readme_lists_the_functions_the_renderer_has(renderer: Path) -> None:
    """The chart stays within the renderer's functions: any other one fails to parse above."""
    readme = (CHART / "README.md").read_text()
    source = (
        Path(__file__).resolve().parents[1] / "support" / "helmrender" / "main.go"
    ).read_text()
    for function in (
        "toYaml",
        "nindent",
        "indent",
        "quote",
        "default",
        "required",
        "include",
        "join",
    ):
        assert f"`{function}`" in readme, function
        assert f'"{function}"' in source, function
