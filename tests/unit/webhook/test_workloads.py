"""Which images each workload kind would run."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gate.errors import InputError
from tests.unit.webhook.reviews import (
    add_containers,
    admission_review,
    kubectl_create,
    kubectl_pod,
)
from webhook.admission import parse_review
from webhook.workloads import container_images


def _images(review: dict[str, Any]) -> list[tuple[str, str, str]] | None:
    found = container_images(parse_review(json.dumps(review).encode()))
    return None if found is None else [(c.container, c.field, c.image) for c in found]


@pytest.mark.parametrize(
    ("kind", "container", "field"),
    [
        # kubectl names a deployment's container after the image, a job's after the job.
        ("deployment", "app", "spec.template.spec.containers[0]"),
        ("job", "web", "spec.template.spec.containers[0]"),
        ("cronjob", "web", "spec.jobTemplate.spec.template.spec.containers[0]"),
    ],
)
def test_kubectl_workloads(kind: str, container: str, field: str) -> None:
    obj = kubectl_create(kind, "web", "reg.example/app:1")
    assert _images(admission_review(obj)) == [(container, field, "reg.example/app:1")]


@pytest.mark.parametrize(
    "kind", ["ReplicaSet", "StatefulSet", "DaemonSet", "ReplicationController"]
)
def test_other_templated_workloads(kind: str) -> None:
    obj = kubectl_create("deployment", "web", "reg.example/app:1")
    obj["kind"] = kind
    assert _images(admission_review(obj)) == [
        ("app", "spec.template.spec.containers[0]", "reg.example/app:1")
    ]


def test_pod_with_init_and_ephemeral_containers() -> None:
    pod = add_containers(
        kubectl_pod("p", "reg.example/app:1"), init="reg.example/init:1", ephemeral="busybox"
    )
    assert _images(admission_review(pod)) == [
        ("init", "spec.initContainers[0]", "reg.example/init:1"),
        ("p", "spec.containers[0]", "reg.example/app:1"),
        ("debugger", "spec.ephemeralContainers[0]", "busybox"),
    ]
    debug = admission_review(pod, operation="UPDATE", sub_resource="ephemeralcontainers")
    assert _images(debug) == [("debugger", "spec.ephemeralContainers[0]", "busybox")]


@pytest.mark.parametrize(
    ("kind", "operation", "sub_resource"),
    [
        ("ConfigMap", "CREATE", None),
        ("Pod", "DELETE", None),
        ("Pod", "CONNECT", "exec"),
        ("Pod", "UPDATE", "status"),
        ("Deployment", "UPDATE", "scale"),
    ],
)
def test_not_checked(kind: str, operation: str, sub_resource: str | None) -> None:
    obj = {"kind": kind, "apiVersion": "v1", "metadata": {"name": "x"}, "spec": {}}
    review = admission_review(obj, kind=kind, operation=operation, sub_resource=sub_resource)
    assert _images(review) is None


def test_a_deployment_of_another_api_group_is_not_a_workload() -> None:
    obj = kubectl_create("deployment", "web", "reg.example/app:1")
    review = admission_review(obj)
    review["request"]["kind"]["group"] = "example.com"
    assert _images(review) is None


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda o: o["spec"].pop("template"), "object.spec.template"),
        (lambda o: o["spec"]["template"]["spec"].update(containers={}), "containers"),
        (lambda o: o["spec"]["template"]["spec"]["containers"][0].pop("image"), "containers[0]"),
        (lambda o: o["spec"]["template"]["spec"]["containers"].append("x"), "containers[1]"),
    ],
)
def test_malformed_pod_specs_are_input_errors(mutate: Any, field: str) -> None:
    obj = kubectl_create("deployment", "web", "reg.example/app:1")
    mutate(obj)
    with pytest.raises(InputError) as caught:
        _images(admission_review(obj))
    assert field in str(caught.value)


def test_missing_object_is_an_input_error() -> None:
    review = admission_review(None, kind="Pod")
    with pytest.raises(InputError, match=r"request\.object"):
        _images(review)
