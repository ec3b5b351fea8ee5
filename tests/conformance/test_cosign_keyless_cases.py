"""Real legacy cosign keyless signatures: CASES.md section 2, COS-08..COS-11.

COS-08..10 use connaisseur's registry dump, served through the registry
interface as in ``test_cosign_cases.py`` (that registry has no referrers API,
so only the ``.sig`` tag form is found). COS-11 is a policy-controller
attestation (envelope, certificate, chain and Rekor bundle as files) checked
through ``legacy.py``. None of the rows says "ref": the clock is fixed to
today so that results never depend on when the suite runs.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gate.clock import fixed_clock
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.oci.source import FetchedManifest, ResolvedImage
from gate.signatures.cosign import CosignVerifier, signature_tag
from gate.signatures.keyless.authority import IdentityPattern, KeylessTrust
from gate.signatures.keyless.legacy import (
    load_leaf,
    parse_cosign_bundle,
    parse_envelope,
    signing_key,
    verify_inclusion_promise,
    verify_legacy_attestation,
    verify_legacy_signature,
    verify_raw,
)
from gate.signatures.keyless.trusted_root import KeylessVerificationError, load_trusted_root
from gate.signatures.keyless.verifier import KeylessVerifier
from gate.signatures.keys import load_public_key
from gate.signatures.trust import TrustAuthority
from tests.support.fixture_registry import MemoryRegistry, load_registry_dump
from tests.support.realdata import real_fixtures

pytestmark = pytest.mark.conformance

REPO = ImageReference.parse("docker.io/securesystemsengineering/testimage")
KEYLESS = "sha256:31dc72a13a0c34b40eb95419d2b2fd67320c856baf3b72da518023ee8d370aee"
TODAY = datetime(2026, 11, 22, tzinfo=UTC)
SIGNER = "philipp.belitz@securesystems.de"
GITHUB_OAUTH = "https://github.com/login/oauth"


class DumpRegistry(MemoryRegistry):
    """The registry dump, served like a registry without the OCI referrers API."""

    def fetch_referrers(
        self, repository: ImageReference, digest: Digest, artifact_type: str | None = None
    ) -> FetchedManifest | None:
        self.calls.append(("referrers", repository.name, str(digest)))
        return None


@pytest.fixture(scope="module")
def testimage() -> Path:
    return real_fixtures("signatures", "cosign", "connaisseur-testimage")


def _registry(testimage: Path) -> DumpRegistry:
    registry = DumpRegistry()
    load_registry_dump(
        testimage / "registry" / "securesystemsengineering" / "testimage", REPO, registry
    )
    return registry


def _image(registry: MemoryRegistry) -> ResolvedImage:
    image = registry.resolve(REPO.with_tag("keyless"))
    assert str(image.digest) == KEYLESS  # the digest CASES.md names
    return image


def _keyless(subject: str, issuer: str) -> TrustAuthority:
    return TrustAuthority(
        "keyless", keyless=KeylessTrust(IdentityPattern(subject), IdentityPattern(issuer))
    )


def test_cos_08_keyless_signature_with_set(testimage: Path) -> None:
    registry = _registry(testimage)
    image = _image(registry)
    authority = _keyless(SIGNER, GITHUB_OAUTH)
    result = KeylessVerifier(registry, clock=fixed_clock(TODAY)).verify(image, authority)
    assert result.satisfied, result
    assert result.rejections == ()
    (signature,) = result.signatures
    assert signature.kind == "keyless"
    assert signature.signer_label == f"{SIGNER} ({GITHUB_OAUTH})"
    assert authority.keyless is not None
    assert signature.signer == authority.keyless.signer_id
    # The payload names another repository; cosign ignores that by spec, and so do we (noted).
    assert any("index.docker.io/phbelitz/rekor-test" in note for note in result.notes)


def test_cos_08_pure_core_times(testimage: Path) -> None:
    dump = testimage / "registry" / "securesystemsengineering" / "testimage"
    manifest = json.loads(
        (dump / "manifests" / f"{signature_tag(Digest.parse(KEYLESS))}.json").read_bytes()
    )
    (layer,) = manifest["layers"]
    annotations = layer["annotations"]
    result = verify_legacy_signature(
        payload=(dump / "blobs" / f"{layer['digest']}.json").read_bytes(),
        signature=base64.b64decode(annotations["dev.cosignproject.cosign/signature"]),
        certificate=annotations["dev.sigstore.cosign/certificate"],
        chain=annotations["dev.sigstore.cosign/chain"],
        bundle=annotations["dev.sigstore.cosign/bundle"],
        root=load_trusted_root(None),
        now=TODAY,
    )
    # Certificate 15:18:10-15:28:10, checked at the SET's integrated time, never the wall clock.
    assert result.integrated_time == datetime(2024, 5, 30, 15, 18, 17, tzinfo=UTC)
    assert result.checked_at == result.integrated_time
    assert result.log_index == 98235800


def test_cos_09_other_identity(testimage: Path) -> None:
    registry = _registry(testimage)
    result = KeylessVerifier(registry, clock=fixed_clock(TODAY)).verify(
        _image(registry), _keyless("bob@gmail.com", "https://accounts.google.com")
    )
    assert not result.satisfied
    assert result.error is None
    (rejection,) = result.rejections
    assert f"signed by {SIGNER} ({GITHUB_OAUTH})" in rejection
    assert "not by the trusted identity bob@gmail.com (https://accounts.google.com)" in rejection


@pytest.mark.parametrize("key", ["alice", "bob", "charlie", "default"])
def test_cos_10_keyless_signature_is_not_a_key_signature(testimage: Path, key: str) -> None:
    registry = _registry(testimage)
    image = _image(registry)
    trusted = load_public_key((testimage / "keys" / f"{key}.pub").read_bytes(), label=key)
    authority = TrustAuthority(key, (trusted,))
    # Neither verifier lets it count for a key: the cosign one refuses keyless layers,
    # the keyless one has no identity to check it against.
    by_key = CosignVerifier(registry).verify(image, authority)
    assert not by_key.satisfied
    assert "keyless" in by_key.rejections[0]
    by_identity = KeylessVerifier(registry, clock=fixed_clock(TODAY)).verify(image, authority)
    assert not by_identity.satisfied
    assert by_identity.error == f"authority '{key}' has no keyless identity"


def test_cos_11_tampered_attestation_with_authentic_log_entry() -> None:
    folder = real_fixtures("signatures", "cosign", "policy-controller-distroless-vuln-att")
    envelope = (folder / "envelope.json").read_bytes()
    certificate = (folder / "cert.pem").read_text()
    with pytest.raises(KeylessVerificationError) as raised:
        verify_legacy_attestation(
            envelope=envelope,
            certificate=certificate,
            chain=(folder / "chain.pem").read_text(),
            bundle=(folder / "rekor_bundle.json").read_text(),
            root=load_trusted_root(None),
            now=TODAY,
        )
    # The SET is genuine; the envelope is not the one that was logged.
    entry = parse_cosign_bundle((folder / "rekor_bundle.json").read_text())
    logged_at = verify_inclusion_promise(entry, load_trusted_root(None))
    assert logged_at == datetime.fromtimestamp(1659061729, tz=UTC)
    assert "payload hash does not match the signed payload" in str(raised.value)
    # And its DSSE signature does not verify either, whatever the log says.
    parsed = parse_envelope(json.loads(envelope))
    key = signing_key(load_leaf(certificate))
    assert not verify_raw(key, parsed.signature, parsed.pae())
