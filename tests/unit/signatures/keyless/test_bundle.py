"""Sigstore bundles on a fake instance: both engines, identities, attacks and bad input."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gate.oci.digest import Digest
from gate.signatures.keyless.authority import IdentityPattern, KeylessTrust
from gate.signatures.keyless.bundle import (
    ENGINE_GATE,
    ENGINE_SIGSTORE,
    _InclusionProof,
    _verify_checkpoint,
    _verify_inclusion,
    check_bundle,
    verify_bundle,
    verify_bundle_with_key,
)
from gate.signatures.keyless.trusted_root import (
    KeylessVerificationError,
    SigstoreTrustRoot,
    load_trusted_root,
)
from gate.signatures.keys import load_public_key
from tests.support.realdata import real_fixtures
from tests.unit.signatures.keyless.fake_sigstore import (
    BUNDLE_V01,
    EPOCH,
    GITHUB,
    FakeSigstore,
    Issued,
    b64,
    make_ca,
    sign,
)

ARTIFACT = b"the artifact\n"
IMAGE = Digest.of(b"an image manifest")


@pytest.fixture(scope="module")
def instance() -> FakeSigstore:
    return FakeSigstore()


@pytest.fixture(scope="module")
def root_path(instance: FakeSigstore, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return instance.write_root(tmp_path_factory.mktemp("root") / "trusted_root.json")


@pytest.fixture(scope="module")
def root(root_path: Path) -> SigstoreTrustRoot:
    return load_trusted_root(root_path)


@pytest.fixture(scope="module")
def alice(instance: FakeSigstore) -> Issued:
    return instance.issue()


def encode(bundle: dict[str, Any]) -> bytes:
    return json.dumps(bundle).encode()


def trust(subject: str, issuer: str, root_path: Path, *, regexp: bool = False) -> KeylessTrust:
    return KeylessTrust(
        IdentityPattern(subject, regexp), IdentityPattern(issuer, regexp), trusted_root=root_path
    )


# -- the two engines ---------------------------------------------------------------------


def test_v03_message_bundle_goes_through_sigstore_python(
    instance: FakeSigstore, alice: Issued, root: SigstoreTrustRoot
) -> None:
    result = check_bundle(
        encode(instance.message_bundle(ARTIFACT, alice)), Digest.of(ARTIFACT), root
    )
    assert result.engine == ENGINE_SIGSTORE
    assert result.identity is not None
    assert result.identity.label == f"alice@example.com ({GITHUB})"
    assert result.integrated_time == EPOCH
    assert result.signed_times == (EPOCH,)
    assert result.log_index == 0
    assert result.predicate_type is None


def test_v01_bundle_with_inclusion_promise_only_is_checked_by_the_gate(
    instance: FakeSigstore, alice: Issued, root: SigstoreTrustRoot
) -> None:
    bundle = instance.message_bundle(ARTIFACT, alice, media_type=BUNDLE_V01, proof=False)
    result = check_bundle(encode(bundle), Digest.of(ARTIFACT), root)
    assert result.engine == ENGINE_GATE
    assert result.integrated_time == EPOCH


def test_v03_bundle_without_inclusion_proof_is_refused(
    instance: FakeSigstore, alice: Issued, root: SigstoreTrustRoot
) -> None:
    bundle = instance.message_bundle(ARTIFACT, alice, proof=False)
    with pytest.raises(
        KeylessVerificationError, match="needs an inclusion proof with a checkpoint"
    ):
        check_bundle(encode(bundle), Digest.of(ARTIFACT), root)


def test_dsse_statement_must_name_the_artifact(
    instance: FakeSigstore, alice: Issued, root: SigstoreTrustRoot
) -> None:
    data = encode(instance.dsse_bundle(IMAGE, alice))
    result = check_bundle(data, IMAGE, root)
    assert result.predicate_type == "https://sigstore.dev/cosign/sign/v1"
    other = Digest.of(b"another image")
    with pytest.raises(KeylessVerificationError, match=f"do not include {other}"):
        check_bundle(data, other, root)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("payloadType", "text/plain", "is not application/vnd.in-toto+json"),
        ("payload", b64(b'{"_type": "https://in-toto.io/Layout/v1"}'), "not an in-toto Statement"),
    ],
)
def test_dsse_payload_must_be_an_in_toto_statement(
    instance: FakeSigstore, root: SigstoreTrustRoot, field: str, value: str, reason: str
) -> None:
    # Re-sign the altered envelope so that only the payload checks can object.
    leaf = instance.issue()
    bundle = instance.dsse_bundle(IMAGE, leaf)
    envelope = bundle["dsseEnvelope"]
    envelope[field] = value
    payload_type = envelope["payloadType"]
    payload = base64.b64decode(envelope["payload"])
    pae = b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type.encode(), len(payload), payload)
    signature = sign(leaf.key, pae)
    envelope["signatures"][0]["sig"] = b64(signature)
    body = instance.dsse_entry(
        payload, signature, leaf.certificate.public_bytes(serialization.Encoding.PEM)
    )
    bundle["verificationMaterial"]["tlogEntries"] = [
        instance.tlog_entry(body, "dsse", int(EPOCH.timestamp()))
    ]
    with pytest.raises(KeylessVerificationError, match=re.escape(reason)):
        check_bundle(encode(bundle), IMAGE, root)


# -- identities --------------------------------------------------------------------------


def test_identity_must_match_subject_and_issuer(
    instance: FakeSigstore, alice: Issued, root_path: Path
) -> None:
    data = encode(instance.message_bundle(ARTIFACT, alice))
    artifact = Digest.of(ARTIFACT)
    assert verify_bundle(data, artifact, trust("alice@example.com", GITHUB, root_path))
    with pytest.raises(KeylessVerificationError, match="not by the trusted identity"):
        verify_bundle(data, artifact, trust("bob@example.com", GITHUB, root_path))
    # The right SAN from another issuer is another identity.
    with pytest.raises(KeylessVerificationError, match="not by the trusted identity"):
        verify_bundle(
            data, artifact, trust("alice@example.com", "https://accounts.google.com", root_path)
        )


@pytest.mark.parametrize(
    "case",
    [
        # An unanchored search would accept these; the patterns must match the whole value.
        (
            "https://github.com/acme-evil/app/.github/workflows/r.yml@refs/heads/main",
            GITHUB,
            r"https://github\.com/acme",
            r"https://token\.actions\.githubusercontent\.com",
        ),
        (
            "mallory@example.com.evil.test",
            GITHUB,
            r"[a-z]+@example\.com",
            r"https://token\.actions\.githubusercontent\.com",
        ),
        (
            "alice@example.com",
            "https://token.actions.githubusercontent.com.evil.test",
            r"alice@example\.com",
            r"https://token\.actions\.githubusercontent\.com",
        ),
    ],
)
def test_unanchored_regex_attack(
    instance: FakeSigstore, root_path: Path, case: tuple[str, str, str, str]
) -> None:
    subject, issuer, pattern_subject, pattern_issuer = case
    leaf = instance.issue(subject, issuer, uri=subject.startswith("https://"))
    data = encode(instance.message_bundle(ARTIFACT, leaf))
    patterns = trust(pattern_subject, pattern_issuer, root_path, regexp=True)
    with pytest.raises(KeylessVerificationError, match="not by the trusted identity"):
        verify_bundle(data, Digest.of(ARTIFACT), patterns)


def test_regex_identity_matches_the_whole_value(instance: FakeSigstore, root_path: Path) -> None:
    workflow = "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.2.0"
    leaf = instance.issue(workflow, uri=True)
    data = encode(instance.message_bundle(ARTIFACT, leaf))
    patterns = trust(
        r"https://github\.com/acme/app/\.github/workflows/release\.yml@refs/tags/v.*",
        r"https://token\.actions\.githubusercontent\.com",
        root_path,
        regexp=True,
    )
    result = verify_bundle(data, Digest.of(ARTIFACT), patterns)
    assert result.identity is not None
    assert result.identity.subject == workflow


# -- chain material ----------------------------------------------------------------------


def _with_chain(bundle: dict[str, Any], *extra: Any) -> dict[str, Any]:
    material = bundle["verificationMaterial"]
    leaf = material.pop("certificate", None) or material["x509CertificateChain"]["certificates"][0]
    material["x509CertificateChain"] = {
        "certificates": [
            leaf,
            *({"rawBytes": b64(c.public_bytes(serialization.Encoding.DER))} for c in extra),
        ]
    }
    return bundle


def test_root_in_bundle_chain_must_be_a_trusted_anchor(
    instance: FakeSigstore, alice: Issued, root: SigstoreTrustRoot
) -> None:
    evil_key = ec.generate_private_key(ec.SECP256R1())
    evil_root = make_ca("evil-root", evil_key)
    bundle = instance.message_bundle(ARTIFACT, alice, media_type=BUNDLE_V01, proof=False)
    with pytest.raises(KeylessVerificationError, match="root certificate that is not a trust"):
        check_bundle(encode(_with_chain(bundle, evil_root)), Digest.of(ARTIFACT), root)
    # The genuine chain, root included (as old cosign and npm bundles carry it), is harmless.
    genuine = _with_chain(bundle, instance.intermediate, instance.root)
    assert check_bundle(encode(genuine), Digest.of(ARTIFACT), root).engine == ENGINE_GATE


def test_attacker_ca_in_bundle_chain_is_not_an_anchor(
    instance: FakeSigstore, root: SigstoreTrustRoot
) -> None:
    evil_root_key = ec.generate_private_key(ec.SECP256R1())
    evil_root = make_ca("evil-root", evil_root_key)
    evil_key = ec.generate_private_key(ec.SECP256R1())
    evil_intermediate = make_ca("evil-intermediate", evil_key, (evil_root, evil_root_key))
    forged = instance.issue(ca=(evil_intermediate, evil_key))
    bundle = instance.message_bundle(ARTIFACT, forged, media_type=BUNDLE_V01, proof=False)
    with pytest.raises(KeylessVerificationError, match="does not chain to a Fulcio CA"):
        check_bundle(encode(_with_chain(bundle, evil_intermediate)), Digest.of(ARTIFACT), root)


# -- log entries -------------------------------------------------------------------------


@pytest.mark.parametrize("proof", [True, False])
def test_authentic_entry_for_other_content(
    instance: FakeSigstore, alice: Issued, root: SigstoreTrustRoot, proof: bool
) -> None:
    # A valid entry (with SET and proof) for another artifact, put into this bundle.
    bundle = instance.message_bundle(ARTIFACT, alice, media_type=BUNDLE_V01, proof=proof)
    other = instance.message_bundle(b"other", alice, media_type=BUNDLE_V01, proof=proof)
    bundle["verificationMaterial"]["tlogEntries"] = other["verificationMaterial"]["tlogEntries"]
    with pytest.raises(KeylessVerificationError, match=r"inconsistent|log entry is for artifact"):
        check_bundle(encode(bundle), Digest.of(ARTIFACT), root)


def test_message_digest_must_be_the_artifact(
    instance: FakeSigstore, alice: Issued, root: SigstoreTrustRoot
) -> None:
    bundle = instance.message_bundle(ARTIFACT, alice, media_type=BUNDLE_V01, proof=False)
    with pytest.raises(KeylessVerificationError, match="message digest"):
        check_bundle(encode(bundle), Digest.of(b"something else"), root)


def test_managed_key_bundle(instance: FakeSigstore, root_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signature = sign(key, ARTIFACT)
    body = instance.hashedrekord(hashlib.sha256(ARTIFACT).hexdigest(), signature, public_pem)
    bundle = {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "publicKey": {"hint": "managed"},
            "tlogEntries": [instance.tlog_entry(body, "hashedrekord", int(EPOCH.timestamp()))],
        },
        "messageSignature": {"signature": b64(signature)},
    }
    data = encode(bundle)
    trusted = load_public_key(public_pem, label="managed.pub")
    result = verify_bundle_with_key(data, Digest.of(ARTIFACT), trusted, trusted_root=root_path)
    assert result.identity is None
    assert result.engine == ENGINE_GATE
    wrong = load_public_key(
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        label="wrong.pub",
    )
    with pytest.raises(KeylessVerificationError, match="does not verify"):
        verify_bundle_with_key(data, Digest.of(ARTIFACT), wrong, trusted_root=root_path)
    with pytest.raises(KeylessVerificationError, match="no key is configured"):
        verify_bundle(data, Digest.of(ARTIFACT), trust("alice@example.com", GITHUB, root_path))


def test_no_log_entry(instance: FakeSigstore, alice: Issued, root: SigstoreTrustRoot) -> None:
    bundle = instance.message_bundle(ARTIFACT, alice)
    bundle["verificationMaterial"]["tlogEntries"] = []
    data = encode(bundle)
    with pytest.raises(KeylessVerificationError, match="no transparency log entry"):
        check_bundle(data, Digest.of(ARTIFACT), root)
    # Not required: then the certificate must be valid now (it is, a minute after issue).
    now = EPOCH.replace(minute=1)
    result = check_bundle(data, Digest.of(ARTIFACT), root, require_tlog=False, now=now)
    assert result.signed_times == (now,)
    with pytest.raises(KeylessVerificationError, match="does not chain"):
        check_bundle(
            data, Digest.of(ARTIFACT), root, require_tlog=False, now=EPOCH.replace(hour=13)
        )


# -- bad input and unknown versions ------------------------------------------------------


def _mutations() -> list[tuple[str, Any, str]]:
    return [
        (
            "mediaType",
            "application/vnd.dev.sigstore.bundle+json;version=99.9",
            "unknown or unsupported",
        ),
        ("mediaType", "application/vnd.dev.sigstore.bundle.v0.4+json", "unknown or unsupported"),
        ("mediaType", None, "unknown or unsupported"),
        ("extra", {}, "unknown field 'extra'"),
        ("dsseEnvelope", {"payload": "", "payloadType": "x", "signatures": []}, "exactly one of"),
        ("messageSignature", None, "exactly one of"),
        ("verificationMaterial", [], "verificationMaterial is missing or not a JSON object"),
    ]


@pytest.mark.parametrize(("field", "value", "reason"), _mutations())
def test_malformed_bundles_are_one_line_rejections(
    instance: FakeSigstore, root: SigstoreTrustRoot, field: str, value: Any, reason: str
) -> None:
    bundle = instance.message_bundle(ARTIFACT, instance.issue())
    if value is None:
        del bundle[field]
    else:
        bundle[field] = value
    with pytest.raises(KeylessVerificationError, match=reason) as raised:
        check_bundle(encode(bundle), Digest.of(ARTIFACT), root)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"{", "not valid JSON"),
        (b"[]", "not a JSON object"),
        (b'{"mediaType": "a", "mediaType": "b"}', "duplicate key"),
        (b"\x00" * ((16 << 20) + 1), "exceeds"),
    ],
)
def test_unparsable_bundles(root: SigstoreTrustRoot, data: bytes, reason: str) -> None:
    with pytest.raises(KeylessVerificationError, match=reason):
        check_bundle(data, Digest.of(ARTIFACT), root)


def test_entry_fields_are_checked(
    instance: FakeSigstore, alice: Issued, root: SigstoreTrustRoot
) -> None:
    cases = [
        ({"logIndex": "-1"}, "logIndex is negative"),
        ({"logIndex": "x"}, "logIndex is missing or not an integer"),
        ({"canonicalizedBody": "!!"}, "canonicalizedBody is not valid base64"),
        ({"unknown": 1}, "unknown field 'unknown'"),
    ]
    for change, reason in cases:
        bundle = instance.message_bundle(ARTIFACT, alice)
        bundle["verificationMaterial"]["tlogEntries"][0].update(change)
        with pytest.raises(KeylessVerificationError, match=reason):
            check_bundle(encode(bundle), Digest.of(ARTIFACT), root)
    bundle = instance.message_bundle(ARTIFACT, alice)
    entries = bundle["verificationMaterial"]["tlogEntries"]
    entries.append(entries[0])
    with pytest.raises(KeylessVerificationError, match="exactly one is expected"):
        check_bundle(encode(bundle), Digest.of(ARTIFACT), root)


def test_material_must_fit_the_version(
    instance: FakeSigstore, alice: Issued, root: SigstoreTrustRoot
) -> None:
    v03_with_chain = _with_chain(instance.message_bundle(ARTIFACT, alice))
    with pytest.raises(KeylessVerificationError, match="single certificate"):
        check_bundle(encode(v03_with_chain), Digest.of(ARTIFACT), root)
    v01 = instance.message_bundle(ARTIFACT, alice, media_type=BUNDLE_V01)
    material = v01["verificationMaterial"]
    material["certificate"] = material.pop("x509CertificateChain")["certificates"][0]
    with pytest.raises(KeylessVerificationError, match="must use x509CertificateChain"):
        check_bundle(encode(v01), Digest.of(ARTIFACT), root)


# -- Merkle inclusion and checkpoints (the gate's own implementation) ---------------------


def _leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def _tree_hash(leaves: list[bytes]) -> bytes:
    """RFC 6962 section 2.1 MTH, written recursively as the RFC states it."""
    if len(leaves) == 1:
        return _leaf(leaves[0])
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(
        b"\x01" + _tree_hash(leaves[:split]) + _tree_hash(leaves[split:])
    ).digest()


def _path(index: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 6962 section 2.1.1 PATH(m, D[n])."""
    if len(leaves) == 1:
        return []
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    if index < split:
        return [*_path(index, leaves[:split]), _tree_hash(leaves[split:])]
    return [*_path(index - split, leaves[split:]), _tree_hash(leaves[:split])]


@pytest.mark.parametrize("size", range(1, 12))
def test_inclusion_proofs_for_every_position(size: int) -> None:
    leaves = [f"entry {i}".encode() for i in range(size)]
    root_hash = _tree_hash(leaves)
    for index in range(size):
        hashes = tuple(_path(index, leaves))
        proof = _InclusionProof(index, root_hash, size, hashes, None)
        _verify_inclusion(proof, leaves[index])
        with pytest.raises(KeylessVerificationError):
            _verify_inclusion(proof, b"another entry")
        if hashes:
            flipped = (bytes([hashes[0][0] ^ 1]) + hashes[0][1:], *hashes[1:])
            with pytest.raises(KeylessVerificationError, match="does not lead to its root"):
                _verify_inclusion(
                    _InclusionProof(index, root_hash, size, flipped, None), leaves[index]
                )
    with pytest.raises(KeylessVerificationError, match="outside the tree"):
        _verify_inclusion(_InclusionProof(size, root_hash, size, (), None), leaves[0])


def test_checkpoints(instance: FakeSigstore, root: SigstoreTrustRoot) -> None:
    log = root.tlog_key(instance.log_id, EPOCH)
    root_hash = _leaf(b"body")
    good = instance.checkpoint(root_hash, 1)
    _verify_checkpoint(_InclusionProof(0, root_hash, 1, (), good), log)
    with pytest.raises(KeylessVerificationError, match="does not commit"):
        _verify_checkpoint(_InclusionProof(0, _leaf(b"other"), 1, (), good), log)
    with pytest.raises(KeylessVerificationError, match="does not commit"):
        _verify_checkpoint(_InclusionProof(0, root_hash, 2, (), good), log)
    other = FakeSigstore(rekor_key=ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(KeylessVerificationError, match="not signed by the log key"):
        _verify_checkpoint(
            _InclusionProof(0, root_hash, 1, (), other.checkpoint(root_hash, 1)), log
        )
    for broken in (good.replace("\n\n", "\n"), good.rstrip("\n"), good.split("\n\n")[0] + "\n\n"):
        with pytest.raises(KeylessVerificationError):
            _verify_checkpoint(_InclusionProof(0, root_hash, 1, (), broken), log)


@pytest.mark.parametrize(
    "media_type", [BUNDLE_V01, "application/vnd.dev.sigstore.bundle.v0.3+json"]
)
def test_a_certificate_whose_extensions_do_not_decode_is_refused_found_by_fuzzing(
    instance: FakeSigstore, root: SigstoreTrustRoot, media_type: str
) -> None:
    # fuzz/fuzz_bundle.py: a non-ASCII byte in the SAN URI loaded as a certificate, and
    # cryptography's lazy extension parsing raised ValueError later, in the leaf profile check.
    signer = instance.issue("https://example.com/workflow", uri=True)
    bundle = instance.message_bundle(ARTIFACT, signer, media_type=media_type)
    material = bundle["verificationMaterial"]
    holder = (
        material["certificate"]
        if "certificate" in material
        else material["x509CertificateChain"]["certificates"][0]
    )
    der = base64.b64decode(holder["rawBytes"])
    holder["rawBytes"] = b64(der.replace(b"https://example.com", b"https://exampl\xe9.com"))
    with pytest.raises(KeylessVerificationError, match="its extensions do not decode"):
        check_bundle(encode(bundle), Digest.of(ARTIFACT), root)


def test_a_log_index_no_signature_covers_is_not_reported_found_by_fuzzing() -> None:
    # fuzz/fuzz_bundle.py: a Rekor v2 entry has no inclusion promise, so its top-level
    # logIndex is signed by nothing; changed from 735 to 736, it verified and was reported.
    folder = real_fixtures(
        "signatures", "sigstore", "conformance", "bundle-verify", "rekor2-happy-path"
    )
    artifact = Digest.of(
        real_fixtures("signatures", "sigstore", "conformance", "a.txt").read_bytes()
    )
    root = load_trusted_root(folder / "trusted_root.json")
    bundle = json.loads((folder / "bundle.sigstore.json").read_bytes())
    assert check_bundle(encode(bundle), artifact, root).log_index == 735
    bundle["verificationMaterial"]["tlogEntries"][0]["logIndex"] = "736"
    assert check_bundle(encode(bundle), artifact, root).log_index == 735  # the proof's
