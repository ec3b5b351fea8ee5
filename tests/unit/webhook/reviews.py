"""AdmissionReviews around objects that real ``kubectl`` produces (client-side dry run).

``kubectl create deployment|job|cronjob NAME --image=... --dry-run=client -o
json`` needs no cluster; ``kubectl run`` does (it asks the server for its API
groups), so a Pod is made from the pod template kubectl writes into a Job.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import uuid
from typing import Any

import pytest

#: kind -> (API group, version, resource) as the API server names them in a request.
RESOURCES: dict[str, tuple[str, str, str]] = {
    "Pod": ("", "v1", "pods"),
    "ReplicationController": ("", "v1", "replicationcontrollers"),
    "Deployment": ("apps", "v1", "deployments"),
    "ReplicaSet": ("apps", "v1", "replicasets"),
    "StatefulSet": ("apps", "v1", "statefulsets"),
    "DaemonSet": ("apps", "v1", "daemonsets"),
    "Job": ("batch", "v1", "jobs"),
    "CronJob": ("batch", "v1", "cronjobs"),
    "ConfigMap": ("", "v1", "configmaps"),
}


def kubectl_create(kind: str, name: str, image: str) -> dict[str, Any]:
    """``kubectl create deployment|job|cronjob NAME --image=IMAGE --dry-run=client -o json``."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    extra = ["--schedule=*/5 * * * *"] if kind == "cronjob" else []
    completed = subprocess.run(
        [
            kubectl,
            "create",
            kind,
            name,
            f"--image={image}",
            *extra,
            "--dry-run=client",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    document: dict[str, Any] = json.loads(completed.stdout)
    return document


def kubectl_pod(name: str, image: str) -> dict[str, Any]:
    """A Pod with one container, its spec as kubectl writes it (from a Job's template)."""
    job = kubectl_create("job", name, image)
    template = job["spec"]["template"]
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"name": name, "creationTimestamp": None},
        "spec": copy.deepcopy(template["spec"]),
        "status": {},
    }


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    """The pod spec inside ``obj`` (a Pod, a workload with a template, or a CronJob)."""
    if obj["kind"] == "Pod":
        spec: dict[str, Any] = obj["spec"]
    elif obj["kind"] == "CronJob":
        spec = obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    else:
        spec = obj["spec"]["template"]["spec"]
    return spec


def add_containers(
    obj: dict[str, Any], *, init: str | None = None, ephemeral: str | None = None
) -> dict[str, Any]:
    """``obj`` with an init container and/or an ephemeral (debug) container added."""
    spec = pod_spec(obj)
    if init is not None:
        spec.setdefault("initContainers", []).append(
            {"name": "init", "image": init, "resources": {}}
        )
    if ephemeral is not None:
        spec.setdefault("ephemeralContainers", []).append(
            {"name": "debugger", "image": ephemeral, "stdin": True, "tty": True}
        )
    return obj


def admission_review(
    obj: dict[str, Any] | None,
    *,
    kind: str | None = None,
    namespace: str = "team-a",
    operation: str = "CREATE",
    dry_run: bool = False,
    sub_resource: str | None = None,
    username: str = "alice@example.com",
    uid: str | None = None,
) -> dict[str, Any]:
    """The AdmissionReview the API server would send for ``obj``."""
    kind = kind or (obj["kind"] if obj is not None else "Pod")
    group, version, resource = RESOURCES[kind]
    name = (obj or {}).get("metadata", {}).get("name", "")
    request: dict[str, Any] = {
        "uid": uid or str(uuid.uuid4()),
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": resource},
        "requestKind": {"group": group, "version": version, "kind": kind},
        "requestResource": {"group": group, "version": version, "resource": resource},
        "name": name,
        "namespace": namespace,
        "operation": operation,
        "userInfo": {"username": username, "uid": "u-1", "groups": ["system:authenticated"]},
        "object": obj,
        "oldObject": None,
        "dryRun": dry_run,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": f"{operation.title()}Options"},
    }
    if sub_resource is not None:
        request["subResource"] = sub_resource
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
