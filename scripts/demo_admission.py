"""Demo helper: send the gate webhook an AdmissionReview for a Deployment of IMAGE.

The Deployment comes from `kubectl create deployment --dry-run=client` when
kubectl is installed (what a user's `kubectl apply` would send), else it is
written here with the same shape. Prints what Kubernetes would tell the user.
Usage: demo_admission.py URL IMAGE NAME
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.request
import uuid
from typing import Any


def deployment(name: str, image: str) -> dict[str, Any]:
    """A Deployment object for ``image``, as kubectl writes it."""
    kubectl = shutil.which("kubectl")
    if kubectl is not None:
        completed = subprocess.run(
            [
                kubectl,
                "create",
                "deployment",
                name,
                f"--image={image}",
                "--dry-run=client",
                "-o",
                "json",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if completed.returncode == 0:
            document: dict[str, Any] = json.loads(completed.stdout)
            return document
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": image}]},
            },
        },
    }


def main() -> int:
    """Post one review and print the answer in one or two lines."""
    url, image, name = sys.argv[1:4]
    obj = deployment(name, image)
    review = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": str(uuid.uuid4()),
            "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
            "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
            "name": name,
            "namespace": "default",
            "operation": "CREATE",
            "userInfo": {"username": "demo-user"},
            "object": obj,
            "dryRun": False,
        },
    }
    request = urllib.request.Request(  # noqa: S310 - a loopback URL the demo started
        url, data=json.dumps(review).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        response = json.load(answer)["response"]
    if response["allowed"]:
        print(f"  admitted: deployment {name} ({image})")
        for warning in response.get("warnings") or []:
            print(f"  warning: {warning}")
    else:
        print(f"  refused: {response['status']['message']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
