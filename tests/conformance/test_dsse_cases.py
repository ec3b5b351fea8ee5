"""Real DSSE / in-toto vectors: CASES.md section 5 (IT-01..IT-04) and the predicate bodies.

Also the DSSE layer of real Sigstore bundles (section 1): their envelopes are
checked with the leaf certificate's key only, which shows the DER ECDSA path
and statement parsing on real data; certificate trust, Rekor and identities
belong to the keyless verifier.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gate.errors import InputError, VerificationError
from gate.oci.digest import Digest
from gate.signatures.dsse import (
    DsseKey,
    SignatureScheme,
    envelope_from_json,
    parse_envelope,
    verify_envelope,
)
from gate.signatures.intoto import (
    COSIGN_VULN_V1,
    CYCLONEDX_BOM,
    PAYLOAD_TYPE,
    SLSA_PROVENANCE_V02,
    SLSA_PROVENANCE_V1,
    SPDX_DOCUMENT,
    STATEMENT_V01,
    STATEMENT_V1,
    binds,
    parse_statement,
    statement_from_envelope,
    subject_digests,
    verify_attestation,
)
from gate.signatures.keys import PublicKey, load_public_key
from tests.support.realdata import real_fixtures

pytestmark = pytest.mark.conformance


@pytest.fixture(scope="module")
def intoto() -> Path:
    return real_fixtures("signatures", "intoto")


def _key(path: Path) -> PublicKey:
    return load_public_key(path.read_bytes(), label=path.name)


# --- IT-01 / IT-02: the DSSE specification's test vector (P-256, raw r||s) ----------------


def test_it01_pae_is_the_published_one(intoto: Path) -> None:
    vector = intoto / "dsse-spec-vector"
    envelope = parse_envelope((vector / "envelope.json").read_bytes())
    assert envelope.pae() == (vector / "pae.txt").read_bytes()


def test_it01_spec_vector_verifies_with_raw_ecdsa(intoto: Path) -> None:
    vector = intoto / "dsse-spec-vector"
    envelope = parse_envelope((vector / "envelope.json").read_bytes())
    key = _key(vector / "pubkey.pem")
    assert len(envelope.signatures[0].sig) == 64
    assert verify_envelope(envelope, [DsseKey(key, SignatureScheme.ECDSA_RAW)]) == (key,)


def test_it01_raw_signature_is_not_accepted_as_der(intoto: Path) -> None:
    # The encoding is a property of the key configuration, never guessed per signature.
    vector = intoto / "dsse-spec-vector"
    envelope = parse_envelope((vector / "envelope.json").read_bytes())
    with pytest.raises(VerificationError):
        verify_envelope(envelope, [_key(vector / "pubkey.pem")])


def test_it02_changed_payload_type_is_invalid(intoto: Path) -> None:
    vector = intoto / "dsse-spec-vector"
    envelope = parse_envelope((vector / "envelope.json").read_bytes())
    retyped = replace(envelope, payload_type="http://example.com/HelloWorld2")
    key = DsseKey(_key(vector / "pubkey.pem"), SignatureScheme.ECDSA_RAW)
    with pytest.raises(VerificationError):
        verify_envelope(retyped, [key])


# --- IT-03 / IT-04: in-toto-golang's signed layout (RSA-PSS) -------------------------------


def test_it03_layout_signature_verifies_with_rsa_pss(intoto: Path) -> None:
    folder = intoto / "in-toto-golang"
    envelope = parse_envelope((folder / "demo.dsse.layout").read_bytes())
    key = _key(folder / "alice.pub")
    assert envelope.payload_type == PAYLOAD_TYPE
    assert envelope.signatures[0].keyid.startswith("70ca5750")
    assert verify_envelope(envelope, [DsseKey(key, SignatureScheme.RSA_PSS_SHA256)]) == (key,)
    with pytest.raises(VerificationError):
        verify_envelope(envelope, [key])  # PKCS#1 v1.5, the default for RSA keys


def test_it04_signed_layout_is_not_an_attestation(intoto: Path) -> None:
    folder = intoto / "in-toto-golang"
    envelope = parse_envelope((folder / "demo.dsse.layout").read_bytes(), source="demo.dsse.layout")
    key = DsseKey(_key(folder / "alice.pub"), SignatureScheme.RSA_PSS_SHA256)
    with pytest.raises(InputError) as caught:
        verify_attestation(envelope, [key], source="demo.dsse.layout")
    assert str(caught.value).startswith(
        "demo.dsse.layout: _type: is 'layout': not an in-toto Statement"
    )


# --- predicate bodies (unsigned) -----------------------------------------------------------

PREDICATES = {
    "bom-go-mod.cyclonedx.json": (CYCLONEDX_BOM, "cyclonedx"),
    "bom-go-mod.spdx.json": (SPDX_DOCUMENT, "spdx"),
    "cosign-vuln-predicate.json": (COSIGN_VULN_V1, "cosign-vuln"),
    "slsa_predicate_v0_2.json": (SLSA_PROVENANCE_V02, "slsa-provenance-v0.2"),
    "slsa_predicate_v1_0.json": (SLSA_PROVENANCE_V1, "slsa-provenance-v1"),
}


def test_every_predicate_file_is_covered(intoto: Path) -> None:
    assert {p.name for p in (intoto / "predicates").iterdir()} == set(PREDICATES)


@pytest.mark.parametrize("statement_type", [STATEMENT_V1, STATEMENT_V01])
@pytest.mark.parametrize("name", sorted(PREDICATES))
def test_predicate_bodies_are_recognised_inside_a_statement(
    intoto: Path, name: str, statement_type: str
) -> None:
    body = json.loads((intoto / "predicates" / name).read_bytes())
    predicate_type, kind = PREDICATES[name]
    image = Digest.of(name.encode())
    wrapped = {
        "_type": statement_type,
        "subject": [{"name": "registry.example/app", "digest": {"sha256": image.hex}}],
        "predicateType": predicate_type,
        "predicate": body,
    }
    statement = parse_statement(json.dumps(wrapped).encode(), source=name)
    assert statement.predicate_kind == kind
    assert statement.predicate == body
    assert binds(statement, image)


def test_vuln_predicate_has_the_documented_fields(intoto: Path) -> None:
    body = json.loads((intoto / "predicates" / "cosign-vuln-predicate.json").read_bytes())
    assert set(body) >= {"invocation", "scanner", "metadata"}
    assert set(body["scanner"]) >= {"uri", "version", "db", "result"}
    assert set(body["metadata"]) >= {"scanStartedOn", "scanFinishedOn"}


# --- the DSSE layer of real Sigstore bundles -----------------------------------------------

BUNDLES_VALID = {
    "conformance/bundle-verify/happy-path-intoto-in-dsse-v3/bundle.sigstore.json": (
        SLSA_PROVENANCE_V1
    ),
    "conformance/bundle-verify/rekor2-dsse-happy-path/bundle.sigstore.json": SLSA_PROVENANCE_V1,
    "sigstore-python/a.dsse.staging-rekor-v2.txt.sigstore.json": SLSA_PROVENANCE_V1,
    "sigstore-go/sigstore.js@2.0.0-provenance.sigstore.json": SLSA_PROVENANCE_V1,
    "sigstore-go/dsse.sigstore.json": SLSA_PROVENANCE_V02,
    "cosign-oci-referrers/oci-attestation.sigstore.json": (
        "https://cosign.sigstore.dev/attestation/v1"
    ),
}
BUNDLES_BAD_SIGNATURE = (
    "conformance/bundle-verify/dsse-invalid-sig_fail/bundle.sigstore.json",
    "conformance/bundle-verify/rekor2-dsse-invalid-sig_fail/bundle.sigstore.json",
)


def _leaf_key(certificate_der: bytes, label: str) -> PublicKey:
    certificate = x509.load_der_x509_certificate(certificate_der)
    pem = certificate.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return load_public_key(pem, label=label)


def _bundle(relative: str) -> tuple[dict[str, object], PublicKey]:
    path = real_fixtures("signatures", "sigstore", *relative.split("/"))
    bundle = json.loads(path.read_bytes())
    material = bundle["verificationMaterial"]
    if "certificate" in material:
        raw = material["certificate"]["rawBytes"]
    else:
        raw = material["x509CertificateChain"]["certificates"][0]["rawBytes"]
    return bundle, _leaf_key(base64.b64decode(raw), f"{relative} leaf")


@pytest.mark.parametrize("relative", sorted(BUNDLES_VALID))
def test_real_bundle_envelopes_verify_with_their_leaf_key(relative: str) -> None:
    bundle, key = _bundle(relative)
    envelope = envelope_from_json(bundle["dsseEnvelope"], source=relative, path="dsseEnvelope")
    verified = verify_attestation(envelope, [key], source=relative)
    assert verified.signers == (key,)
    assert verified.statement.predicate_type == BUNDLES_VALID[relative]
    assert subject_digests(verified.statement)


def test_cosign_referrers_attestation_binds_its_image() -> None:
    relative = "cosign-oci-referrers/oci-attestation.sigstore.json"
    bundle, key = _bundle(relative)
    envelope = envelope_from_json(bundle["dsseEnvelope"], source=relative)
    statement = verify_attestation(envelope, [key]).statement
    image = Digest.parse("sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4")
    assert binds(statement, image)
    assert not binds(statement, Digest.of(b"another image"))


@pytest.mark.parametrize("relative", BUNDLES_BAD_SIGNATURE)
def test_real_bundle_envelopes_with_a_bad_signature_fail(relative: str) -> None:
    bundle, key = _bundle(relative)
    envelope = envelope_from_json(bundle["dsseEnvelope"], source=relative)
    with pytest.raises(VerificationError):
        verify_envelope(envelope, [key], source=relative)
    # The payload itself is a well-formed statement: only the signature is wrong.
    assert statement_from_envelope(envelope).statement_type == STATEMENT_V1


def test_cos11_tampered_vulnerability_attestation_fails() -> None:
    folder = real_fixtures("signatures", "cosign", "policy-controller-distroless-vuln-att")
    envelope = parse_envelope((folder / "envelope.json").read_bytes(), source="envelope.json")
    certificate = x509.load_pem_x509_certificate((folder / "cert.pem").read_bytes())
    key = _leaf_key(certificate.public_bytes(serialization.Encoding.DER), "cert.pem")
    with pytest.raises(VerificationError):
        verify_attestation(envelope, [key], source="envelope.json")
    statement = statement_from_envelope(envelope)
    assert statement.predicate_kind == "cosign-vuln"
    assert statement.statement_type == STATEMENT_V01
