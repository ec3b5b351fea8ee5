"""DSSE envelopes and in-toto Statements (``gate.signatures.dsse``, ``gate.signatures.intoto``).

Real signed envelopes (the DSSE spec vector, in-toto-golang's RSA-PSS layout,
the envelope of a real Sigstore DSSE bundle) are mutated as bytes and as JSON.
Parsing gives an envelope or a one-line ``InputError``; verification with the
envelope's real key gives its signers or a ``GateError``, and it only
succeeds while the signed content (payload type and payload) is unchanged.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st

from gate.errors import GateError
from gate.signatures.dsse import (
    DsseKey,
    Envelope,
    SignatureScheme,
    parse_envelope,
    verify_envelope,
)
from gate.signatures.intoto import (
    Statement,
    binds,
    parse_statement,
    statement_from_envelope,
    subject_digests,
    verify_attestation,
)
from gate.signatures.keys import PublicKey, load_public_key
from tests.fuzz.support import (
    examples,
    gate_outcome,
    json_values,
    mutated_bytes,
    mutated_json,
    serialised,
)
from tests.support.realdata import real_fixtures

STATEMENT_KEYS = (
    "_type",
    "subject",
    "predicateType",
    "predicate",
    "name",
    "digest",
    "sha256",
    "sha512",
    "predicate_type",
    "Subject",
)
STATEMENT_TYPES = (
    "https://in-toto.io/Statement/v1",
    "https://in-toto.io/Statement/v0.1",
    "layout",
)


class SignedEnvelope:
    """A real envelope, the key that signed it (with its scheme), and what it signs."""

    def __init__(self, name: str, data: bytes, key: DsseKey) -> None:
        self.name = name
        self.data = data
        self.key = key
        self.envelope = parse_envelope(data)

    def __repr__(self) -> str:
        return f"SignedEnvelope({self.name!r})"


def _key(pem: bytes, label: str) -> PublicKey:
    return load_public_key(pem, label=label)


@pytest.fixture(scope="module")
def envelopes() -> tuple[SignedEnvelope, ...]:
    """The spec vector (ECDSA r||s), the in-toto layout (RSA-PSS), a Sigstore DSSE statement."""
    intoto = real_fixtures("signatures", "intoto")
    spec = intoto / "dsse-spec-vector"
    layout = intoto / "in-toto-golang"
    bundle_path = real_fixtures(
        "signatures", "sigstore", "conformance", "bundle-verify", "happy-path-intoto-in-dsse-v3"
    )
    bundle = json.loads((bundle_path / "bundle.sigstore.json").read_bytes())
    leaf = x509.load_der_x509_certificate(
        base64.b64decode(bundle["verificationMaterial"]["certificate"]["rawBytes"])
    )
    leaf_pem = leaf.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return (
        SignedEnvelope(
            "dsse-spec-vector",
            (spec / "envelope.json").read_bytes(),
            DsseKey(_key((spec / "pubkey.pem").read_bytes(), "spec"), SignatureScheme.ECDSA_RAW),
        ),
        SignedEnvelope(
            "in-toto-golang layout",
            (layout / "demo.dsse.layout").read_bytes(),
            DsseKey(
                _key((layout / "alice.pub").read_bytes(), "alice"),
                SignatureScheme.RSA_PSS_SHA256,
            ),
        ),
        SignedEnvelope(
            "happy-path-intoto-in-dsse-v3",
            json.dumps(bundle["dsseEnvelope"]).encode(),
            DsseKey.default(_key(leaf_pem, "leaf")),
        ),
    )


def test_the_real_envelopes_verify(envelopes: tuple[SignedEnvelope, ...]) -> None:
    for signed in envelopes:
        assert verify_envelope(signed.envelope, [signed.key]) == (signed.key.key,)


def _mutated(signed: SignedEnvelope, data: st.DataObject) -> bytes:
    if data.draw(st.booleans()):
        return data.draw(mutated_bytes(signed.data))
    return data.draw(serialised(data.draw(mutated_json(json.loads(signed.data)))))


@given(data=st.data())
def test_a_mutated_envelope_only_verifies_with_its_signed_content_unchanged(
    envelopes: tuple[SignedEnvelope, ...], data: st.DataObject
) -> None:
    signed = data.draw(st.sampled_from(envelopes))
    blob = _mutated(signed, data)
    envelope = gate_outcome(lambda: parse_envelope(blob, source="fuzz envelope"))
    if isinstance(envelope, GateError):
        return
    assert isinstance(envelope, Envelope)
    verified = gate_outcome(lambda: verify_envelope(envelope, [signed.key], source="fuzz"))
    if not isinstance(verified, GateError):
        assert envelope.payload_type == signed.envelope.payload_type
        assert envelope.payload == signed.envelope.payload
    attestation = gate_outcome(lambda: verify_attestation(envelope, [signed.key], source="fuzz"))
    if not isinstance(attestation, GateError):
        assert envelope.payload == signed.envelope.payload
        assert attestation.statement == statement_from_envelope(signed.envelope)


@settings(max_examples=examples(0.5))
@given(data=st.data())
def test_a_mutated_payload_never_verifies(
    envelopes: tuple[SignedEnvelope, ...], data: st.DataObject
) -> None:
    signed = data.draw(st.sampled_from(envelopes))
    original = signed.envelope
    payload = data.draw(mutated_bytes(original.payload))
    payload_type = data.draw(st.sampled_from((original.payload_type, original.payload_type + " ")))
    if (payload, payload_type) == (original.payload, original.payload_type):
        return
    changed = Envelope(payload_type, payload, original.signatures)
    result = gate_outcome(lambda: verify_envelope(changed, [signed.key]))
    assert isinstance(result, GateError), "a changed payload verified"


# -- Statements -------------------------------------------------------------------------------


def _check_statement(blob: bytes) -> None:
    statement = gate_outcome(lambda: parse_statement(blob, source="fuzz statement"))
    if not isinstance(statement, GateError):
        assert isinstance(statement, Statement)
        for digest in subject_digests(statement):
            assert binds(statement, digest)


@settings(max_examples=examples(0.5))
@given(data=st.data())
def test_mutated_real_statements_parse_or_fail_with_one_line(
    envelopes: tuple[SignedEnvelope, ...], data: st.DataObject
) -> None:
    conformance = real_fixtures("signatures", "sigstore", "conformance")
    sources = [(conformance / "statement.json").read_bytes(), envelopes[2].envelope.payload]
    original = data.draw(st.sampled_from(sources))
    if data.draw(st.booleans()):
        _check_statement(data.draw(mutated_bytes(original)))
    else:
        _check_statement(data.draw(serialised(data.draw(mutated_json(json.loads(original))))))


def _statement_like() -> st.SearchStrategy[Any]:
    leaves = st.one_of(
        json_values,
        st.sampled_from(STATEMENT_TYPES),
        st.sampled_from(("a" * 64, "A" * 64, "a" * 128, "sha256:" + "a" * 64)),
    )
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=3),
            st.dictionaries(st.sampled_from(STATEMENT_KEYS), children, max_size=5),
        ),
        max_leaves=15,
    )


@settings(max_examples=examples(0.25))
@given(document=_statement_like(), statement_type=st.sampled_from(STATEMENT_TYPES))
def test_generated_statements_parse_or_fail_with_one_line(
    document: Any, statement_type: str
) -> None:
    if isinstance(document, dict):
        document = {"_type": statement_type, **document}
    _check_statement(json.dumps(document).encode())


@settings(max_examples=examples(0.25))
@given(blob=st.binary(max_size=300))
def test_arbitrary_bytes_are_no_envelope_and_no_statement(blob: bytes) -> None:
    gate_outcome(lambda: parse_envelope(blob))
    _check_statement(blob)
