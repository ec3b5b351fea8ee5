"""Fuzz DSSE envelopes and in-toto Statements from real signed envelopes.

Each input is parsed as an envelope (verified with the keys of the DSSE spec
vector, in-toto-golang's layout and a Sigstore DSSE bundle's leaf) and as a
Statement. Properties: results or one-line ``GateError``s; and an envelope
only verifies with a key while it carries that key's original payload type
and payload. Run: ``python fuzz/fuzz_dsse.py -max_total_time=60``.
"""

from __future__ import annotations

import base64
import json
import sys

import atheris  # type: ignore[import-untyped]  # ships no type information
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from harness import PropertyViolationError, outcome, real_fixtures, run

with atheris.instrument_imports(include=["gate"]):
    from gate.signatures.dsse import (
        DsseKey,
        Envelope,
        SignatureScheme,
        parse_envelope,
        verify_envelope,
    )
    from gate.signatures.intoto import parse_statement
    from gate.signatures.keys import load_public_key

SIGNATURES = real_fixtures() / "signatures"
if not SIGNATURES.exists():
    sys.exit(f"real fixtures not found at {SIGNATURES} (set GATE_REAL_FIXTURES)")
_spec = SIGNATURES / "intoto" / "dsse-spec-vector"
_layout = SIGNATURES / "intoto" / "in-toto-golang"
_bundle = json.loads(
    (
        SIGNATURES
        / "sigstore/conformance/bundle-verify/happy-path-intoto-in-dsse-v3/bundle.sigstore.json"
    ).read_bytes()
)
_leaf = x509.load_der_x509_certificate(
    base64.b64decode(_bundle["verificationMaterial"]["certificate"]["rawBytes"])
).public_key()
_leaf_pem = _leaf.public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)
SEEDS: list[tuple[bytes, DsseKey]] = [
    (
        (_spec / "envelope.json").read_bytes(),
        DsseKey(
            load_public_key((_spec / "pubkey.pem").read_bytes(), label="spec"),
            SignatureScheme.ECDSA_RAW,
        ),
    ),
    (
        (_layout / "demo.dsse.layout").read_bytes(),
        DsseKey(
            load_public_key((_layout / "alice.pub").read_bytes(), label="alice"),
            SignatureScheme.RSA_PSS_SHA256,
        ),
    ),
    (
        json.dumps(_bundle["dsseEnvelope"]).encode(),
        DsseKey.default(load_public_key(_leaf_pem, label="leaf")),
    ),
]
SIGNED = [(parse_envelope(data), key) for data, key in SEEDS]


def test_one_input(data: bytes) -> None:
    """One input: an envelope, and a statement."""
    outcome(lambda: parse_statement(data, source="fuzz statement"))
    envelope = outcome(lambda: parse_envelope(data, source="fuzz envelope"))
    if not isinstance(envelope, Envelope):
        return
    for original, key in SIGNED:
        verified = outcome(lambda key=key: verify_envelope(envelope, [key]))  # type: ignore[misc]
        if isinstance(verified, tuple) and (envelope.payload_type, envelope.payload) != (
            original.payload_type,
            original.payload,
        ):
            raise PropertyViolationError("verified with a changed payload or payload type")


if __name__ == "__main__":
    run("dsse", test_one_input, [data for data, _ in SEEDS])
