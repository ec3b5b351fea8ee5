"""Documents, keys and registries for the attestation tests (all generated here)."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from gate.attestations.candidate import DSSE_MEDIA_TYPE
from gate.attestations.layout import attestation_tag
from gate.attestations.predicate_file import Predicate
from gate.attestations.writer import attest_image, sign_pae
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.oci.source import ResolvedImage
from gate.signatures import gojson
from gate.signatures.dsse import pae
from gate.signatures.intoto import (
    COSIGN_VULN_V1,
    CYCLONEDX_BOM,
    PAYLOAD_TYPE,
    SLSA_PROVENANCE_V1,
    STATEMENT_V1,
)
from gate.signatures.keyfile import SupportedPrivateKey
from gate.signatures.signer import signature_config, signature_manifest
from tests.unit.signatures.helpers import REPO
from tests.unit.signatures.keyless.fake_sigstore import ReferrerRegistry

SCAN_TIME = "2026-05-30T10:00:00Z"


def cyclonedx(*components: tuple[str, str, str]) -> dict[str, Any]:
    """A CycloneDX 1.5 SBOM with (name, version, license id) components (npm purls)."""
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "components": [
            {
                "type": "library",
                "name": name,
                "version": version,
                "purl": f"pkg:npm/{name}@{version}",
                "licenses": [{"license": {"id": license_id}}],
            }
            for name, version, license_id in components
        ],
    }


def spdx(*packages: tuple[str, str, str]) -> dict[str, Any]:
    """An SPDX 2.3 JSON document with (name, version, license) packages."""
    return {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": "app",
        "documentNamespace": "https://example.test/spdx/app",
        "creationInfo": {"created": "2026-05-30T10:00:00Z", "creators": ["Tool: test"]},
        "packages": [
            {
                "SPDXID": f"SPDXRef-Package-{index}",
                "name": name,
                "versionInfo": version,
                "downloadLocation": "NOASSERTION",
                "licenseConcluded": license_id,
                "licenseDeclared": license_id,
                "externalRefs": [
                    {
                        "referenceCategory": "PACKAGE-MANAGER",
                        "referenceType": "purl",
                        "referenceLocator": f"pkg:npm/{name}@{version}",
                    }
                ],
            }
            for index, (name, version, license_id) in enumerate(packages)
        ],
    }


def trivy(*critical: str, created: str | None = SCAN_TIME) -> dict[str, Any]:
    """A Trivy JSON report with one CRITICAL fixable finding per id in ``critical``."""
    document: dict[str, Any] = {
        "SchemaVersion": 2,
        "ArtifactName": "registry.example/team/app",
        "ArtifactType": "container_image",
        "Metadata": {},
        "Results": [
            {
                "Target": "app (alpine 3.20)",
                "Class": "os-pkgs",
                "Type": "alpine",
                "Vulnerabilities": [
                    {
                        "VulnerabilityID": vuln_id,
                        "PkgName": "openssl",
                        "InstalledVersion": "3.0.0",
                        "FixedVersion": "3.0.1",
                        "Severity": "CRITICAL",
                    }
                    for vuln_id in critical
                ],
            }
        ],
    }
    if created is not None:
        document["CreatedAt"] = created
    return document


def vuln(report: Mapping[str, Any] | None, finished: str | None = SCAN_TIME) -> dict[str, Any]:
    """A cosign vuln/v1 predicate around ``report``."""
    predicate: dict[str, Any] = {
        "invocation": {"parameters": None, "uri": "", "event_id": "", "builder.id": ""},
        "scanner": {
            "uri": "https://github.com/aquasecurity/trivy",
            "version": "0.50.0",
            "db": {"uri": "", "version": ""},
            "result": report,
        },
    }
    if finished is not None:
        predicate["metadata"] = {"scanStartedOn": finished, "scanFinishedOn": finished}
    return predicate


SLSA_V1 = {
    "buildDefinition": {"buildType": "https://example.test/build/v1", "externalParameters": {}},
    "runDetails": {"builder": {"id": "https://example.test/builder"}},
}


def statement(
    subject: Digest, predicate_type: str, predicate: Mapping[str, Any], *, kind: str = STATEMENT_V1
) -> bytes:
    """An in-toto statement about ``subject``."""
    return json.dumps(
        {
            "_type": kind,
            "subject": [{"name": "app", "digest": {subject.algorithm: subject.hex}}],
            "predicateType": predicate_type,
            "predicate": predicate,
        }
    ).encode()


def envelope(key: SupportedPrivateKey, payload: bytes, payload_type: str = PAYLOAD_TYPE) -> bytes:
    """A DSSE envelope over ``payload`` signed with ``key`` (as cosign signs it)."""
    signature = sign_pae(key, pae(payload_type, payload))
    return json.dumps(
        {
            "payloadType": payload_type,
            "payload": base64.b64encode(payload).decode(),
            "signatures": [{"keyid": "", "sig": base64.b64encode(signature).decode()}],
        }
    ).encode()


def att_layer(
    registry: ReferrerRegistry,
    data: bytes,
    *,
    hint: str | None = CYCLONEDX_BOM,
    media_type: str = DSSE_MEDIA_TYPE,
    extra: Mapping[str, str] | None = None,
    repository: ImageReference = REPO,
    size: int | None = None,
    digest: Digest | None = None,
) -> dict[str, Any]:
    """Store ``data`` as a blob and return its ``.att`` layer descriptor."""
    stored = registry.put_blob(repository, data, digest=digest)
    annotations = {"dev.cosignproject.cosign/signature": "", **(extra or {})}
    if hint is not None:
        annotations["predicateType"] = hint
    return {
        "mediaType": media_type,
        "size": len(data) if size is None else size,
        "digest": str(stored),
        "annotations": gojson.go_map(annotations),
    }


def put_att(
    registry: ReferrerRegistry,
    image: ResolvedImage,
    layers: Sequence[Mapping[str, Any]],
    *,
    repository: ImageReference = REPO,
) -> Digest:
    """Store an ``.att`` manifest with ``layers`` under the image's attestation tag."""
    config = signature_config([Digest.parse(str(layer["digest"])) for layer in layers])
    registry.put_blob(repository, config)
    manifest = signature_manifest(config, layers)
    return registry.put_manifest(repository, manifest, tag=attestation_tag(image.digest))


def attest(
    registry: ReferrerRegistry,
    image: ResolvedImage,
    key: SupportedPrivateKey,
    predicate_type: str,
    body: Mapping[str, Any],
) -> Digest:
    """``gate attest`` into the memory registry; returns the ``.att`` manifest digest."""
    outcome = attest_image(registry, registry, image, key, Predicate(predicate_type, body))
    return outcome.manifest_digest


def iso(instant: datetime) -> str:
    """RFC 3339 with a Z."""
    return instant.isoformat().replace("+00:00", "Z")


__all__ = [
    "COSIGN_VULN_V1",
    "CYCLONEDX_BOM",
    "SLSA_PROVENANCE_V1",
    "att_layer",
    "attest",
    "cyclonedx",
    "envelope",
    "iso",
    "put_att",
    "spdx",
    "statement",
    "trivy",
    "vuln",
]
