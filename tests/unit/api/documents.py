"""Small synthetic documents and an app of the API blueprint alone, shared by the API tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask

from gate.clock import fixed_clock
from gate.store.sql import SqlVerdictStore
from webhook.api import create_api_blueprint
from webhook.tokens import TokenSet

DIGEST_A = "sha256:" + "a1" * 32
DIGEST_B = "sha256:" + "b2" * 32
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)

READER = "reader-token-0123456789abcdef"
WRITER = "writer-token-0123456789abcdef"
ADMIN = "admin-token-0123456789abcdef0"


def tokens() -> TokenSet:
    """``reader`` may read, ``writer`` may only write, ``ci`` may do both."""
    return TokenSet.of(
        {
            "reader": (READER, ["read"]),
            "writer": (WRITER, ["write"]),
            "ci": (ADMIN, ["read", "write"]),
        }
    )


def bearer(token: str) -> dict[str, str]:
    """The Authorization header of ``token``."""
    return {"Authorization": f"Bearer {token}"}


def make_app(store: SqlVerdictStore, **options: Any) -> Flask:
    """A Flask app made of the API blueprint only, over ``store``."""
    app = Flask("gate-api-test")
    app.register_blueprint(
        create_api_blueprint(
            store, options.pop("tokens", tokens()), clock=fixed_clock(NOW), **options
        )
    )
    return app


@contextmanager
def sqlite_store(directory: Path) -> Iterator[SqlVerdictStore]:
    """A real SQLite store in ``directory``."""
    store = SqlVerdictStore.from_url(f"sqlite:///{directory / 'gate.db'}")
    try:
        yield store
    finally:
        store.close()


def trivy_report(digest: str | None = DIGEST_A, created: str = "2026-02-28T10:00:00Z") -> bytes:
    """A Trivy JSON report with one finding, naming ``digest`` (none when None)."""
    metadata: dict[str, Any] = {}
    if digest is not None:
        metadata["RepoDigests"] = [f"registry.example/app@{digest}"]
    document = {
        "SchemaVersion": 2,
        "CreatedAt": created,
        "ArtifactName": "registry.example/app:1.0",
        "ArtifactType": "container_image",
        "Metadata": metadata,
        "Results": [
            {
                "Target": "app (alpine 3.19.1)",
                "Class": "os-pkgs",
                "Type": "alpine",
                "Vulnerabilities": [
                    {
                        "VulnerabilityID": "CVE-2024-0001",
                        "PkgName": "openssl",
                        "InstalledVersion": "3.1.4-r0",
                        "Severity": "HIGH",
                    }
                ],
            }
        ],
    }
    return json.dumps(document).encode()


def cyclonedx_sbom(digest: str | None = DIGEST_A, timestamp: str = "2026-02-27T09:00:00Z") -> bytes:
    """A CycloneDX JSON SBOM of one library, its subject the image ``digest``."""
    metadata: dict[str, Any] = {"timestamp": timestamp}
    if digest is not None:
        metadata["component"] = {
            "type": "container",
            "name": "registry.example/app",
            "purl": f"pkg:oci/app@{digest.replace(':', '%3A')}",
        }
    document = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": metadata,
        "components": [{"type": "library", "name": "lodash", "version": "4.17.21"}],
    }
    return json.dumps(document).encode()


def gate_report(*images: dict[str, Any], decision: str | None = None) -> dict[str, Any]:
    """A gate JSON report (``verdict_to_dict`` shape) of ``images`` (one allowed by default)."""
    if not images:
        images = (image(),)
    order = ["allow", "warn", "deny"]
    worst = max((order.index(i["decision"]) for i in images), default=0)
    return {
        "decision": decision or order[worst],
        "decided": True,
        "errors": [],
        "policy": "production",
        "evaluatedAt": "2026-03-01T11:59:00+00:00",
        "gateVersion": "0.1.0",
        "images": list(images),
        "policyDigest": "sha256:" + "cc" * 32,
    }


def image(
    reference: str = "registry.example/app:1.0",
    digest: str | None = DIGEST_A,
    decision: str = "allow",
    **fields: Any,
) -> dict[str, Any]:
    """One image of a gate JSON report."""
    base: dict[str, Any] = {
        "reference": reference,
        "digest": digest,
        "decision": decision,
        "rule": "signed-images",
        "reason": "signed by release-key; no findings above the threshold",
        "mode": "enforce",
        "namespace": None,
        "checks": [
            {
                "check": "signatures",
                "outcome": "pass" if decision != "deny" else "fail",
                "reason": "signed by release-key",
                "details": {"signers": ["release-key"], "count": 1},
            }
        ],
    }
    base.update(fields)
    return base
