"""Fuzz Sigstore bundle verification (``check_bundle``) from real conformance bundles.

An input is one byte choosing the case (artifact, trusted root, managed key)
and the bundle bytes. Properties: a verification or a one-line
``GateError``; and a bundle that verifies vouches for what the case's
original does (signer, times, log entry, statement) with the same signed
material (signature, digest, envelope, certificate or key, log entry body).
Run: ``python fuzz/fuzz_bundle.py -max_total_time=120``.
"""

from __future__ import annotations

import base64
import binascii
import json
import sys
from typing import Any

import atheris  # type: ignore[import-untyped]  # ships no type information
from harness import PropertyViolationError, outcome, real_fixtures, run

with atheris.instrument_imports(include=["gate"]):
    from gate.oci.digest import Digest
    from gate.signatures.keyless.bundle import BundleVerification, check_bundle
    from gate.signatures.keyless.trusted_root import SigstoreTrustRoot, load_trusted_root
    from gate.signatures.keys import PublicKey, load_public_key

CASES = (
    "happy-path-v0.1",
    "happy-path-v0.2",
    "happy-path-v0.3",
    "happy-path-intoto-in-dsse-v3",
    "rekor2-happy-path",
    "intoto-with-custom-trust-root",
    "managed-key-happy-path",
)
SIGSTORE = real_fixtures() / "signatures" / "sigstore"
if not SIGSTORE.exists():
    sys.exit(f"real fixtures not found at {SIGSTORE} (set GATE_REAL_FIXTURES)")


def _bytes(value: object) -> object:
    if isinstance(value, str):
        try:
            return base64.b64decode(value)
        except (binascii.Error, ValueError):
            return value
    return value


def signed_core(document: Any) -> object:
    """What a bundle's signature and log entry vouch for, read leniently from its JSON."""
    try:
        material = document["verificationMaterial"]
        message = document.get("messageSignature") or {}
        envelope = document.get("dsseEnvelope") or {}
        chain = (material.get("x509CertificateChain") or {}).get("certificates") or [{}]
        return (
            _bytes(message.get("signature")),
            _bytes((message.get("messageDigest") or {}).get("digest")),
            _bytes(envelope.get("payload")),
            envelope.get("payloadType"),
            [_bytes(s.get("sig")) for s in envelope.get("signatures") or []],
            _bytes((material.get("certificate") or {}).get("rawBytes")),
            _bytes(chain[0].get("rawBytes")),
            material.get("publicKey"),
            [_bytes(e.get("canonicalizedBody")) for e in material.get("tlogEntries") or []],
        )
    except (AttributeError, KeyError, TypeError, IndexError):
        return None


class Case:
    """A conformance bundle that verifies, with everything needed to verify it again."""

    def __init__(self, name: str) -> None:
        folder = SIGSTORE / "conformance" / "bundle-verify" / name
        artifact = folder / "artifact"
        if not artifact.exists():
            artifact = SIGSTORE / "conformance" / "a.txt"
        self.artifact = Digest.of(artifact.read_bytes())
        root_file = folder / "trusted_root.json"
        self.root: SigstoreTrustRoot = load_trusted_root(root_file if root_file.exists() else None)
        key_file = folder / "key.pub"
        self.key: PublicKey | None = (
            load_public_key(key_file.read_bytes(), label=name) if key_file.exists() else None
        )
        self.data = (folder / "bundle.sigstore.json").read_bytes()
        result = check_bundle(self.data, self.artifact, self.root, key=self.key)
        self.vouches = vouches_for(result)
        self.core = signed_core(json.loads(self.data))


def vouches_for(result: BundleVerification) -> tuple[object, ...]:
    """The facts a verification establishes."""
    return (
        result.identity,
        result.signed_times,
        result.integrated_time,
        result.log_index,
        result.statement,
    )


LOADED = [Case(name) for name in CASES]


def test_one_input(data: bytes) -> None:
    """One input: a case number (first byte) and a bundle."""
    if not data:
        return
    case = LOADED[data[0] % len(LOADED)]
    bundle = data[1:]
    result = outcome(lambda: check_bundle(bundle, case.artifact, case.root, key=case.key))
    if not isinstance(result, BundleVerification):
        return
    if vouches_for(result) != case.vouches:
        raise PropertyViolationError(f"verified, but vouches for something else: {result}")
    try:
        document = json.loads(bundle)
    except ValueError:
        return
    if signed_core(document) != case.core:
        raise PropertyViolationError("verified with changed signed material")


if __name__ == "__main__":
    run("bundle", test_one_input, [bytes([i]) + c.data for i, c in enumerate(LOADED)])
