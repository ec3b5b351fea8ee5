"""Which images an admitted object would run: pod specs of the workload kinds users deploy.

Pod, ReplicationController, Deployment, ReplicaSet, StatefulSet, DaemonSet,
Job and CronJob carry a pod spec (directly or in a template); every
container, init container and ephemeral container image in it is checked.
Other kinds and subresources are not workloads and are admitted untouched,
except ``pods/ephemeralcontainers`` (``kubectl debug``), whose new debug
containers are images that will run: only the ephemeral containers are
checked there, the others were checked when the pod was created.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gate.errors import InputError
from webhook.admission import AdmissionRequest

#: (API group, kind) -> path from the object to its pod spec.
POD_SPEC_PATHS: Mapping[tuple[str, str], tuple[str, ...]] = {
    ("", "Pod"): ("spec",),
    ("", "ReplicationController"): ("spec", "template", "spec"),
    ("apps", "Deployment"): ("spec", "template", "spec"),
    ("apps", "ReplicaSet"): ("spec", "template", "spec"),
    ("apps", "StatefulSet"): ("spec", "template", "spec"),
    ("apps", "DaemonSet"): ("spec", "template", "spec"),
    ("batch", "Job"): ("spec", "template", "spec"),
    ("batch", "CronJob"): ("spec", "jobTemplate", "spec", "template", "spec"),
}
CONTAINER_FIELDS = ("initContainers", "containers", "ephemeralContainers")
EPHEMERAL_SUBRESOURCE = "ephemeralcontainers"
_CHECKED_OPERATIONS = frozenset({"CREATE", "UPDATE"})


@dataclass(frozen=True)
class ContainerImage:
    """One container's image and where it sits in the object (for messages)."""

    container: str
    field: str  # e.g. "spec.template.spec.initContainers[0]"
    image: str


def pod_spec_path(request: AdmissionRequest) -> tuple[str, ...] | None:
    """The path to the pod spec when ``request`` deploys images; None when it is not checked."""
    if request.operation not in _CHECKED_OPERATIONS:
        return None
    path = POD_SPEC_PATHS.get((request.kind.group, request.kind.kind))
    if path is None:
        return None
    if request.sub_resource is None:
        return path
    if request.sub_resource == EPHEMERAL_SUBRESOURCE and request.kind.kind == "Pod":
        return path
    return None


def container_images(request: AdmissionRequest) -> tuple[ContainerImage, ...] | None:
    """Every image ``request`` would run, or None when the request is not checked at all.

    Raises ``InputError`` (field and reason) for an object whose pod spec or
    containers are not shaped as Kubernetes defines them: the gate cannot
    tell what would run, so the caller denies.
    """
    path = pod_spec_path(request)
    if path is None:
        return None
    if request.object is None:
        raise InputError("missing: a CREATE or UPDATE carries the object", field="request.object")
    node: Any = request.object
    walked = "object"
    for key in path:
        node = node.get(key) if isinstance(node, Mapping) else None
        walked += f".{key}"
        if not isinstance(node, Mapping):
            raise InputError("missing or not an object", field=walked)
    fields: tuple[str, ...] = CONTAINER_FIELDS
    if request.sub_resource == EPHEMERAL_SUBRESOURCE:
        fields = ("ephemeralContainers",)
    images: list[ContainerImage] = []
    for name in fields:
        containers = node.get(name)
        if containers is None:
            continue
        where = f"{walked}.{name}"
        if not isinstance(containers, list):
            raise InputError("not a list", field=where)
        for index, container in enumerate(containers):
            at = f"{where}[{index}]"
            if not isinstance(container, Mapping):
                raise InputError("not an object", field=at)
            image = container.get("image")
            if not isinstance(image, str) or not image:
                raise InputError("has no image", field=at)
            label = container.get("name")
            images.append(
                ContainerImage(
                    container=label if isinstance(label, str) and label else f"#{index}",
                    field=at.removeprefix("object."),
                    image=image,
                )
            )
    return tuple(images)
