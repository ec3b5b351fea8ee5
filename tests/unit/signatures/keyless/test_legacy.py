"""Legacy cosign keyless signatures (certificate + chain + SET annotations), on a fake instance."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gate.signatures.keyless.legacy import (
    LegacyVerification,
    certificate_identity,
    load_pem_certificates,
    parse_cosign_bundle,
    verify_legacy_attestation,
    verify_legacy_signature,
)
from gate.signatures.keyless.trusted_root import (
    KeylessVerificationError,
    SigstoreTrustRoot,
    load_trusted_root,
)
from tests.unit.signatures.keyless.fake_sigstore import (
    EPOCH,
    GITHUB,
    FakeSigstore,
    Issued,
    b64,
    canonical,
    make_ca,
    pem,
    sign,
)

PAYLOAD = (
    b'{"critical":{"identity":{"docker-reference":"registry.example/team/app"},'
    b'"image":{"docker-manifest-digest":"sha256:' + b"ab" * 32 + b'"},'
    b'"type":"cosign container image signature"},"optional":null}'
)
INTEGRATED = int(EPOCH.timestamp())


@pytest.fixture(scope="module")
def instance() -> FakeSigstore:
    return FakeSigstore()


@pytest.fixture(scope="module")
def root(instance: FakeSigstore, tmp_path_factory: pytest.TempPathFactory) -> SigstoreTrustRoot:
    return load_trusted_root(instance.write_root(tmp_path_factory.mktemp("root") / "root.json"))


@dataclass(frozen=True)
class Layer:
    """The annotations of one keyless ``.sig`` layer and its payload."""

    payload: bytes
    signature: bytes
    certificate: str
    chain: str | None
    bundle: str | None


def signed_layer(
    instance: FakeSigstore,
    leaf: Issued,
    *,
    payload: bytes = PAYLOAD,
    logged_payload: bytes | None = None,
    logged_signer: Issued | None = None,
    logged_signature: bytes | None = None,
    integrated: int = INTEGRATED,
) -> Layer:
    signature = sign(leaf.key, payload)
    body = instance.hashedrekord(
        hashlib.sha256(logged_payload or payload).hexdigest(),
        logged_signature or signature,
        pem((logged_signer or leaf).certificate),
    )
    return Layer(
        payload, signature, leaf.pem, instance.chain_pem, instance.cosign_bundle(body, integrated)
    )


def verify(
    layer: Layer,
    root: SigstoreTrustRoot,
    *,
    require_tlog: bool = True,
    now: datetime = datetime(2026, 11, 22, tzinfo=UTC),
) -> LegacyVerification:
    return verify_legacy_signature(
        payload=layer.payload,
        signature=layer.signature,
        certificate=layer.certificate,
        chain=layer.chain,
        bundle=layer.bundle,
        root=root,
        now=now,
        require_tlog=require_tlog,
    )


def test_valid_signature_names_identity_time_and_entry(
    instance: FakeSigstore, root: SigstoreTrustRoot
) -> None:
    result = verify(signed_layer(instance, instance.issue()), root)
    assert result.identity.label == f"alice@example.com ({GITHUB})"
    assert result.integrated_time == EPOCH
    assert result.checked_at == EPOCH
    assert result.log_index == 7
    assert result.payload == PAYLOAD


# -- identity ----------------------------------------------------------------------------


def test_identity_from_uri_san_and_either_issuer_extension(instance: FakeSigstore) -> None:
    workflow = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main"
    for extensions in (("v1",), ("v2",), ("v1", "v2")):
        leaf = instance.issue(workflow, uri=True, issuer_extensions=extensions)
        identity = certificate_identity(leaf.certificate)
        assert (identity.subject, identity.issuer) == (workflow, GITHUB)


@pytest.mark.parametrize(
    ("extensions", "issuer_v1", "extra_sans", "reason"),
    [
        ((), None, (), "no OIDC issuer extension"),
        (("v1", "v2"), "https://evil.example", (), "two different OIDC issuers"),
        (("v1", "v2"), None, ("mallory@example.com",), "names 2 identities"),
    ],
)
def test_ambiguous_or_missing_identity_is_refused(
    instance: FakeSigstore,
    extensions: tuple[str, ...],
    issuer_v1: str | None,
    extra_sans: tuple[str, ...],
    reason: str,
) -> None:
    leaf = instance.issue(issuer_extensions=extensions, issuer_v1=issuer_v1, extra_sans=extra_sans)
    with pytest.raises(KeylessVerificationError, match=reason):
        certificate_identity(leaf.certificate)


# -- chain, SCT, time --------------------------------------------------------------------


def test_chain_annotation_is_never_a_trust_anchor(
    instance: FakeSigstore, root: SigstoreTrustRoot
) -> None:
    # The attacker runs its own "Fulcio", issues alice's identity and logs the
    # signature in the (public) Rekor: the SET is authentic, the chain is not.
    evil_root_key = ec.generate_private_key(ec.SECP256R1())
    evil_root = make_ca("evil-root", evil_root_key)
    evil_key = ec.generate_private_key(ec.SECP256R1())
    evil_intermediate = make_ca("evil-intermediate", evil_key, (evil_root, evil_root_key))
    forged = instance.issue(ca=(evil_intermediate, evil_key))
    layer = signed_layer(instance, forged)
    layer = replace(layer, chain=(pem(evil_intermediate) + pem(evil_root)).decode())
    with pytest.raises(KeylessVerificationError, match="does not chain to a Fulcio CA"):
        verify(layer, root)


def test_certificate_without_sct_is_refused(
    instance: FakeSigstore, root: SigstoreTrustRoot
) -> None:
    layer = signed_layer(instance, instance.issue(sct=False))
    with pytest.raises(KeylessVerificationError, match="no embedded SCT"):
        verify(layer, root)


def test_sct_from_an_untrusted_ct_log_is_refused(
    root: SigstoreTrustRoot, instance: FakeSigstore
) -> None:
    other = replace(instance, ct_key=ec.generate_private_key(ec.SECP256R1()))
    other.root, other.intermediate = instance.root, instance.intermediate
    layer = signed_layer(instance, other.issue())
    with pytest.raises(KeylessVerificationError, match="is not in the trusted root"):
        verify(layer, root)


def test_certificate_must_be_valid_at_the_integrated_time(
    instance: FakeSigstore, root: SigstoreTrustRoot
) -> None:
    # Fulcio leaves live ten minutes; a log entry an hour later is not covered.
    layer = signed_layer(instance, instance.issue(), integrated=INTEGRATED + 3600)
    with pytest.raises(KeylessVerificationError, match="at 2025-06-01T13:00:00Z"):
        verify(layer, root)


def test_fulcio_ca_must_be_valid_at_the_signing_time(
    instance: FakeSigstore, tmp_path: Path
) -> None:
    retired = load_trusted_root(
        instance.write_root(
            tmp_path / "root.json", ca_valid=("2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z")
        )
    )
    with pytest.raises(KeylessVerificationError, match=r"no Fulcio CA .* was valid at"):
        verify(signed_layer(instance, instance.issue()), retired)


def test_log_key_must_be_valid_at_the_integrated_time(
    instance: FakeSigstore, tmp_path: Path
) -> None:
    rotated = load_trusted_root(
        instance.write_root(tmp_path / "root.json", tlog_valid=("2025-07-01T00:00:00Z", None))
    )
    with pytest.raises(KeylessVerificationError, match="was not valid at 2025-06-01T12:00:00Z"):
        verify(signed_layer(instance, instance.issue()), rotated)


# -- the log entry -----------------------------------------------------------------------


def test_forged_set_is_refused(instance: FakeSigstore, root: SigstoreTrustRoot) -> None:
    layer = signed_layer(instance, instance.issue())
    assert layer.bundle is not None
    document = json.loads(layer.bundle)
    document["SignedEntryTimestamp"] = b64(
        sign(ec.generate_private_key(ec.SECP256R1()), b"anything")
    )
    with pytest.raises(KeylessVerificationError, match="signed entry timestamp does not verify"):
        verify(replace(layer, bundle=json.dumps(document)), root)


def test_set_covers_the_integrated_time(instance: FakeSigstore, root: SigstoreTrustRoot) -> None:
    layer = signed_layer(instance, instance.issue())
    assert layer.bundle is not None
    document = json.loads(layer.bundle)
    document["Payload"]["integratedTime"] += 60  # still inside the certificate's lifetime
    with pytest.raises(KeylessVerificationError, match="signed entry timestamp does not verify"):
        verify(replace(layer, bundle=json.dumps(document)), root)


@pytest.mark.parametrize("what", ["payload", "certificate", "signature"])
def test_authentic_log_entry_for_other_content_is_refused(
    instance: FakeSigstore, root: SigstoreTrustRoot, what: str
) -> None:
    # CVE-2022-36056: the SET is genuine, but the entry it covers binds something else.
    leaf = instance.issue()
    other = instance.issue("bob@example.com")
    layer = signed_layer(
        instance,
        leaf,
        logged_payload=b"other payload" if what == "payload" else None,
        logged_signer=other if what == "certificate" else None,
        logged_signature=sign(leaf.key, b"other") if what == "signature" else None,
    )
    with pytest.raises(KeylessVerificationError, match="log entry"):
        verify(layer, root)


def test_signature_must_verify_with_the_certificate_key(
    instance: FakeSigstore, root: SigstoreTrustRoot
) -> None:
    leaf = instance.issue()
    bogus = sign(instance.issue().key, PAYLOAD)
    # The log entry faithfully records the bogus signature; only the key check can catch it.
    layer = signed_layer(instance, leaf, logged_signature=bogus)
    with pytest.raises(KeylessVerificationError, match="does not verify with the signing"):
        verify(replace(layer, signature=bogus), root)


def test_missing_log_entry_is_refused_unless_the_log_is_not_required(
    instance: FakeSigstore, root: SigstoreTrustRoot
) -> None:
    layer = replace(signed_layer(instance, instance.issue()), bundle=None)
    with pytest.raises(KeylessVerificationError, match="no transparency-log entry"):
        verify(layer, root)
    # Without a log there is no signing time: the ten-minute certificate must be valid now.
    during = EPOCH + timedelta(minutes=1)
    assert verify(layer, root, require_tlog=False, now=during).checked_at == during
    with pytest.raises(KeylessVerificationError, match="does not chain"):
        verify(layer, root, require_tlog=False, now=EPOCH + timedelta(hours=1))


# -- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("certificate", "not a certificate", "not a PEM certificate"),
        ("chain", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "chain"),
        ("bundle", "{", "Rekor bundle annotation: not valid JSON"),
        ("bundle", '{"SignedEntryTimestamp": "AA==", "Payload": {}}', "Rekor entry body"),
        ("bundle", "[]", "not a JSON object"),
    ],
)
def test_malformed_annotations_are_one_line_rejections(
    instance: FakeSigstore, root: SigstoreTrustRoot, field: str, value: str, reason: str
) -> None:
    layer = signed_layer(instance, instance.issue())
    layer = Layer(
        layer.payload,
        layer.signature,
        value if field == "certificate" else layer.certificate,
        value if field == "chain" else layer.chain,
        value if field == "bundle" else layer.bundle,
    )
    with pytest.raises(KeylessVerificationError, match=reason) as raised:
        verify(layer, root)
    assert "\n" not in str(raised.value)


def test_two_certificates_in_the_certificate_annotation(
    instance: FakeSigstore, root: SigstoreTrustRoot
) -> None:
    layer = signed_layer(instance, instance.issue())
    layer = replace(layer, certificate=layer.certificate + instance.issue().pem)
    with pytest.raises(KeylessVerificationError, match="holds 2 certificates"):
        verify(layer, root)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("integratedTime", -1, "integratedTime is not a non-negative integer"),
        ("logID", "zz", "logID is not a 32-byte hex log id"),
        ("logIndex", True, "logIndex"),
    ],
)
def test_cosign_bundle_fields_are_checked(field: str, value: object, reason: str) -> None:
    payload: dict[str, object] = {
        "body": "e30=",
        "integratedTime": 1,
        "logIndex": 1,
        "logID": "00" * 32,
    }
    payload[field] = value
    document = {"SignedEntryTimestamp": "AA==", "Payload": payload}
    with pytest.raises(KeylessVerificationError, match=reason):
        parse_cosign_bundle(json.dumps(document))


# -- attestations (.att) -----------------------------------------------------------------


def _envelope(leaf: Issued, statement: bytes) -> tuple[bytes, bytes]:
    payload_type = "application/vnd.in-toto+json"
    pae = b"DSSEv1 %d %s %d %s" % (
        len(payload_type),
        payload_type.encode(),
        len(statement),
        statement,
    )
    signature = sign(leaf.key, pae)
    envelope = json.dumps(
        {
            "payloadType": payload_type,
            "payload": b64(statement),
            "signatures": [{"keyid": "", "sig": b64(signature)}],
        }
    ).encode()
    return envelope, signature


STATEMENT = canonical(
    {
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://cosign.sigstore.dev/attestation/vuln/v1",
        "subject": [{"name": "app", "digest": {"sha256": "ab" * 32}}],
        "predicate": {},
    }
)


def _intoto_body(payload: bytes, leaf: Issued) -> bytes:
    return canonical(
        {
            "apiVersion": "0.0.1",
            "kind": "intoto",
            "spec": {
                "content": {
                    "hash": {"algorithm": "sha256", "value": "00" * 32},
                    "payloadHash": {
                        "algorithm": "sha256",
                        "value": hashlib.sha256(payload).hexdigest(),
                    },
                },
                "publicKey": base64.b64encode(pem(leaf.certificate)).decode(),
            },
        }
    )


def test_attestation_in_intoto_entry(instance: FakeSigstore, root: SigstoreTrustRoot) -> None:
    leaf = instance.issue()
    envelope, _ = _envelope(leaf, STATEMENT)
    result = verify_legacy_attestation(
        envelope=envelope,
        certificate=leaf.pem,
        chain=instance.chain_pem,
        bundle=instance.cosign_bundle(_intoto_body(STATEMENT, leaf), INTEGRATED),
        root=root,
        now=datetime(2026, 11, 22, tzinfo=UTC),
    )
    assert result.statement is not None
    assert result.statement.predicate_type == "https://cosign.sigstore.dev/attestation/vuln/v1"


def test_tampered_attestation_with_authentic_entry(
    instance: FakeSigstore, root: SigstoreTrustRoot
) -> None:
    leaf = instance.issue()
    envelope, _ = _envelope(leaf, STATEMENT.replace(b"ab", b"cd"))
    with pytest.raises(KeylessVerificationError, match="payload hash does not match"):
        verify_legacy_attestation(
            envelope=envelope,
            certificate=leaf.pem,
            chain=instance.chain_pem,
            bundle=instance.cosign_bundle(_intoto_body(STATEMENT, leaf), INTEGRATED),
            root=root,
            now=datetime(2026, 11, 22, tzinfo=UTC),
        )


def test_attestation_in_dsse_entry_and_its_signature_list(
    instance: FakeSigstore, root: SigstoreTrustRoot
) -> None:
    leaf = instance.issue()
    envelope, signature = _envelope(leaf, STATEMENT)
    good = instance.dsse_entry(STATEMENT, signature, pem(leaf.certificate))
    other = instance.dsse_entry(STATEMENT, sign(leaf.key, b"x"), pem(leaf.certificate))

    def check(body: bytes) -> LegacyVerification:
        return verify_legacy_attestation(
            envelope=envelope,
            certificate=leaf.pem,
            chain=instance.chain_pem,
            bundle=instance.cosign_bundle(body, INTEGRATED),
            root=root,
            now=datetime(2026, 11, 22, tzinfo=UTC),
        )

    assert check(good).identity.subject == "alice@example.com"
    with pytest.raises(KeylessVerificationError, match="not the envelope's signature"):
        check(other)


def test_a_pem_certificate_whose_extensions_do_not_decode_is_refused(
    instance: FakeSigstore,
) -> None:
    # The annotation path of the bundle fix (fuzz/fuzz_bundle.py): decoded when loaded.
    signer = instance.issue("https://example.com/workflow", uri=True)
    der = signer.certificate.public_bytes(serialization.Encoding.DER)
    broken = der.replace(b"https://example.com", b"https://exampl\xe9.com")
    text = (
        b"-----BEGIN CERTIFICATE-----\n"
        + base64.encodebytes(broken)
        + b"-----END CERTIFICATE-----\n"
    )
    with pytest.raises(KeylessVerificationError, match="its extensions do not decode"):
        load_pem_certificates(text, "certificate annotation")
