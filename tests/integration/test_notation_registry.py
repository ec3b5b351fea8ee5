"""Real Notation signatures (CASES.md NT-C-01..04, NT-L-01..03) served by a real docker-registry.

The registry is Docker distribution 2.8, which has no referrers API: the
verifier asks for it, gets a 404 and falls back to the referrers tag schema
(``sha256-<hex>`` index), the path notation takes against such registries.

- connaisseur's dump (``connaisseur-registry``): the image, its tag-schema
  referrers index and the signature manifest notation-go 1.3.0 pushed (OCI
  1.0 form: config media type = the signature type), all byte for byte;
  image layers and configs the dump does not keep get stand-in blobs.
- notation-go's OCI layout: the image manifest byte for byte (config from the
  layout, the 3.3 MB layer a stand-in). Its JWS and COSE envelopes are real,
  but notation-go keeps them as bare files, so the signature manifests and
  referrers indexes around them are written here (OCI 1.1 form:
  ``artifactType`` and the empty config), one repository per envelope so each
  format is verified on its own. NT-L-03 attaches the JWS envelope to the
  layout's ``index.json``, which it does not sign.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from gate.oci.client import RegistryClient, RegistryOptions
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.signatures.evidence import AuthorityResult
from gate.signatures.notation.authority import (
    NotationTrust,
    TrustedCertificate,
    VerificationLevel,
)
from gate.signatures.notation.verifier import (
    EMPTY_CONFIG_MEDIA_TYPE,
    SIGNATURE_ARTIFACT_TYPE,
    NotationVerifier,
)
from gate.signatures.trust import TrustAuthority
from tests.integration.gate_cli import isolate_environment, run_gate, write_policy
from tests.integration.registry_server import RunningRegistry
from tests.support.images import harness_session, put_manifest, seed_manifest
from tests.support.realdata import real_fixtures

pytestmark = pytest.mark.integration

TODAY = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
EMPTY = b"{}"

SSE_REPOSITORY = "sse-secure-systems/testimage"
SIGNED = "sha256:a136cc4e785798e5e8483047cf621cf0a0300a93d47703a3f066c340c070f5cf"
UNSIGNED = "sha256:c51f6b33b43f9f234af90bf310d976ea1bec487ab00ab61bd684b0efbbc15b53"
SIGNATURE = "sha256:d397b30282982b80818b2705f8d542d35158bc59d8bf42549f3e898f23d55a77"
ALPINE = "sha256:19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0"


def _notation(*parts: str) -> Path:
    return real_fixtures("signatures", "notation", *parts)


def _descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": str(Digest.of(data)), "size": len(data), **extra}


def _tag_schema_index(*signatures: bytes) -> bytes:
    entries = [
        _descriptor(OCI_MANIFEST, s, artifactType=SIGNATURE_ARTIFACT_TYPE) for s in signatures
    ]
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()


def _signature_manifest(envelope: bytes, envelope_type: str, subject: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": SIGNATURE_ARTIFACT_TYPE,
            "config": _descriptor(EMPTY_CONFIG_MEDIA_TYPE, EMPTY),
            "layers": [_descriptor(envelope_type, envelope)],
            "subject": subject,
        }
    ).encode()


def _seed_sse(registry: RunningRegistry) -> None:
    dump = _notation("connaisseur-registry", "registry-sse-secure-systems", "testimage")
    manifests = dump / "manifests"
    blobs = {Digest.parse(p.stem): p.read_bytes() for p in (dump / "blobs").glob("sha256:*.json")}
    blobs[Digest.of(EMPTY)] = EMPTY  # the signature manifest's config
    for tag, digest in (("notation-sign", SIGNED), ("notation-unsign", UNSIGNED)):
        data = (manifests / f"{tag}.json").read_bytes()
        assert str(seed_manifest(registry, SSE_REPOSITORY, tag, data, {})) == digest
    signature = (manifests / f"{SIGNATURE}.json").read_bytes()
    seed_manifest(registry, SSE_REPOSITORY, SIGNATURE, signature, blobs)
    index_tag = Digest.parse(SIGNED).tag_form
    index = (manifests / f"{index_tag}.json").read_bytes()
    seed_manifest(registry, SSE_REPOSITORY, index_tag, index, {})


def _seed_layout(registry: RunningRegistry) -> None:
    layout = _notation("notation-go-oci-layout")
    blob_dir = layout / "oci-layout" / "blobs" / "sha256"
    image = (blob_dir / Digest.parse(ALPINE).hex).read_bytes()
    blobs = {Digest.of(p.read_bytes()): p.read_bytes() for p in blob_dir.iterdir()}
    blobs[Digest.of(EMPTY)] = EMPTY
    subject = _descriptor(OCI_MANIFEST, image)
    for name, media_type in (
        ("jws_signature.sig", "application/jose+json"),
        ("cose_signature.sig", "application/cose"),
    ):
        repository = f"notation-go/alpine-{name.split('_')[0]}"
        assert str(seed_manifest(registry, repository, "v2", image, blobs)) == ALPINE
        envelope = (layout / name).read_bytes()
        signature = _signature_manifest(envelope, media_type, subject)
        digest = seed_manifest(
            registry, repository, "sig", signature, {Digest.of(envelope): envelope, **blobs}
        )
        seed_manifest(
            registry, repository, Digest.parse(ALPINE).tag_form, _tag_schema_index(signature), {}
        )
        assert digest == Digest.of(signature)
    # NT-L-03: the layout's index.json (no mediaType field) as an image, the JWS attached to it.
    repository = "notation-go/alpine-index"
    seed_manifest(registry, repository, "v2", image, blobs)
    index = (layout / "oci-layout" / "index.json").read_bytes()
    session = harness_session(registry, repository)
    put_manifest(registry, session, repository, "index", index, media_type=OCI_INDEX)
    envelope = (layout / "jws_signature.sig").read_bytes()
    signature = _signature_manifest(
        envelope, "application/jose+json", _descriptor(OCI_INDEX, index)
    )
    seed_manifest(registry, repository, "sig", signature, {Digest.of(envelope): envelope, **blobs})
    seed_manifest(registry, repository, Digest.of(index).tag_form, _tag_schema_index(signature), {})


@pytest.fixture(scope="module")
def seeded(registry: RunningRegistry) -> RunningRegistry:
    """The session registry serving both fixture sets."""
    _seed_sse(registry)
    _seed_layout(registry)
    return registry


def _trust(pem: Path, identities: tuple[str, ...], level: str = "strict") -> NotationTrust:
    certificate = x509.load_pem_x509_certificate(pem.read_bytes())
    return NotationTrust(
        trust_store=(TrustedCertificate(certificate, f"ca:{pem.parent.name}"),),
        trusted_identities=identities,
        verification_level=VerificationLevel(level),
    )


@dataclass(frozen=True)
class Checked:
    """A verification and the HTTP paths the client asked for."""

    result: AuthorityResult
    paths: tuple[str, ...]


def _verify(registry: RunningRegistry, image: str, trust: NotationTrust) -> Checked:
    with RegistryClient(RegistryOptions()) as client:
        resolved = client.resolve(ImageReference.parse(f"{registry.host}/{image}"))
        verifier = NotationVerifier(client, clock=lambda: TODAY)
        result = verifier.verify(resolved, TrustAuthority("release", notation=trust))
        return Checked(result, tuple(r.path for r in client.requests_made))


def _sse_trust(store: str, level: str = "strict") -> NotationTrust:
    folder = _notation("connaisseur-registry", "truststore", "x509", "ca", store)
    return _trust(folder / f"{store}.pem", ("*",), level)


@pytest.mark.parametrize(
    ("case", "image", "store", "satisfied"),
    [
        ("NT-C-01", "notation-sign", ("default", "strict"), True),
        ("NT-C-02", "notation-sign", ("different-cert", "strict"), False),
        ("NT-C-03", "notation-unsign", ("default", "strict"), False),
        ("NT-C-04", "notation-sign", ("different-cert", "audit"), True),
    ],
)
def test_connaisseur_signature_end_to_end(
    seeded: RunningRegistry, case: str, image: str, store: tuple[str, str], satisfied: bool
) -> None:
    checked = _verify(seeded, f"{SSE_REPOSITORY}:{image}", _sse_trust(*store))
    result = checked.result
    assert result.error is None, result.error
    assert result.satisfied is satisfied, result
    digest = SIGNED if image == "notation-sign" else UNSIGNED
    # The referrers API is asked first (404 on distribution 2.8), then the tag schema.
    assert f"/v2/{SSE_REPOSITORY}/referrers/{digest}" in {p.split("?")[0] for p in checked.paths}
    assert f"/v2/{SSE_REPOSITORY}/manifests/{Digest.parse(digest).tag_form}" in checked.paths
    if case == "NT-C-01":
        [signature] = result.signatures
        assert str(signature.digest) == SIGNED
        assert signature.signer_label.startswith("CN=securesystems.de")
    elif case == "NT-C-02":
        assert "does not contain any trusted certificate" in result.rejections[0]
        assert f"Notation signature {SIGNATURE[:19]}.." in result.rejections[0]
    elif case == "NT-C-03":
        assert result.rejections == (
            f"no Notation signature found for {UNSIGNED} in {seeded.host}/{SSE_REPOSITORY} "
            "(referrers tag-schema)",
        )
    else:
        assert any("authenticity not enforced (audit)" in note for note in result.notes)


def _alpine_trust() -> NotationTrust:
    pem = _notation("notation-go-oci-layout", "truststore", "x509", "ca", "alpine-selfsigned")
    return _trust(pem / "alpine.pem", ("x509.subject:C=US,ST=WA,L=Seattle,O=Notary,CN=alpine",))


@pytest.mark.parametrize(("case", "repository"), [("NT-L-01", "jws"), ("NT-L-02", "cose")])
def test_notation_go_envelopes_end_to_end(
    seeded: RunningRegistry, case: str, repository: str
) -> None:
    checked = _verify(seeded, f"notation-go/alpine-{repository}:v2", _alpine_trust())
    result = checked.result
    assert result.satisfied, result
    [signature] = result.signatures
    assert str(signature.digest) == ALPINE
    assert signature.signer_label == "CN=alpine,O=Notary,L=Seattle,ST=WA,C=US"


def test_signature_of_another_artifact_is_refused_end_to_end(seeded: RunningRegistry) -> None:
    # NT-L-03: the envelope signs the layout's image manifest, not its index.json.
    checked = _verify(seeded, "notation-go/alpine-index:index", _alpine_trust())
    result = checked.result
    assert result.error is None, result.error
    assert not result.satisfied
    [rejection] = result.rejections
    assert f"signature is for {ALPINE}" in rejection


_SSE_CA = ("connaisseur-registry", "truststore", "x509", "ca")
_ALPINE_CA = ("notation-go-oci-layout", "truststore", "x509", "ca", "alpine-selfsigned")
_ALPINE_ID = "x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=alpine"


@pytest.mark.parametrize(
    ("case", "image", "pem", "identity", "expected"),
    [
        (
            "NT-C-01",
            f"{SSE_REPOSITORY}:notation-sign",
            (*_SSE_CA, "default", "default.pem"),
            "*",
            0,
        ),
        (
            "NT-C-02",
            f"{SSE_REPOSITORY}:notation-sign",
            (*_SSE_CA, "different-cert", "different-cert.pem"),
            "*",
            1,
        ),
        (
            "NT-C-03",
            f"{SSE_REPOSITORY}:notation-unsign",
            (*_SSE_CA, "default", "default.pem"),
            "*",
            1,
        ),
        ("NT-L-01", "notation-go/alpine-jws:v2", (*_ALPINE_CA, "alpine.pem"), _ALPINE_ID, 0),
        ("NT-L-02", "notation-go/alpine-cose:v2", (*_ALPINE_CA, "alpine.pem"), _ALPINE_ID, 0),
        ("NT-L-03", "notation-go/alpine-index:index", (*_ALPINE_CA, "alpine.pem"), _ALPINE_ID, 1),
    ],
)
def test_gate_check_and_gate_verify_with_a_notation_policy(  # noqa: PLR0917 - pytest parameters
    seeded: RunningRegistry,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    image: str,
    pem: tuple[str, ...],
    identity: str,
    expected: int,
) -> None:
    isolate_environment(monkeypatch, tmp_path / "home")
    certificate = _notation(*pem)
    policy = write_policy(
        tmp_path,
        f"""\
apiVersion: gate/v1
kind: Policy
metadata: {{name: notation}}
spec:
  trust:
    release:
      notation: {{trustStore: ["{certificate}"], trustedIdentities: ["{identity}"]}}
  rules:
    - name: all
      match: {{images: ["127.0.0.1:*/**"]}}
      signatures: {{anyOf: [release]}}
""",
    )
    reference = f"{seeded.host}/{image}"
    checked = run_gate(capsys, "check", reference, "--policy", str(policy), "--format", "json")
    assert checked.code == expected, f"{case}: {checked.stdout}{checked.stderr}"
    verified = run_gate(
        capsys,
        "verify",
        reference,
        "--notation-cert",
        str(certificate),
        "--notation-identity",
        identity,
    )
    assert verified.code == expected, f"{case}: {verified.stdout}{verified.stderr}"
