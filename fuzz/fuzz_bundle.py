"""Fuzz Sigstore bundle verification (``check_bundle``) from real conformance bundles.

An input is one byte choosing the case (artifact, trusted root, managed key)
and the bundle bytes. Properties: a verification or a one-line
``GateError``; and a bundle that verifies vouches for what the case's
original does (signer, log entry, statement; signing times a subset, as a
tampered timestamp is left out rather than believed; the integrated time the
original's or unknown) with the same signed
material (signature, digest, envelope, certificate, log entry body; the
unsigned ``publicKey.hint`` may change: the configured key is used).
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


def signed_core(document: Any, original: Any = None) -> object:
    """What a bundle's signature and log entry vouch for, read leniently from its JSON.

    The message digest is optional and only informative (the spec forbids
    verifying with it): an absent one stands for ``original``'s.
    """
    try:
        material = document["verificationMaterial"]
        message = document.get("messageSignature") or {}
        envelope = document.get("dsseEnvelope") or {}
        chain = (material.get("x509CertificateChain") or {}).get("certificates") or [{}]
        return (
            _bytes(message.get("signature")),
            _bytes((message.get("messageDigest") or {}).get("digest"))
            or (original[1] if original else None),
            _bytes(envelope.get("payload")),
            envelope.get("payloadType"),
            [_bytes(s.get("sig")) for s in envelope.get("signatures") or []],
            _bytes((material.get("certificate") or {}).get("rawBytes")),
            _bytes(chain[0].get("rawBytes")),
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
        self.times = set(result.signed_times)
        self.integrated = result.integrated_time
        self.core = signed_core(json.loads(self.data))


def vouches_for(result: BundleVerification) -> tuple[object, ...]:
    """The facts a verification establishes."""
    return (
        result.identity,
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
    # A timestamp that no longer verifies is left out (as sigstore-go does), never believed.
    if not set(result.signed_times) <= case.times:
        raise PropertyViolationError(f"verified with a signing time not in the original: {result}")
    # Without its integratedTime an entry still counts by its inclusion proof, with no time.
    if result.integrated_time not in {None, case.integrated}:
        raise PropertyViolationError(f"verified with another integrated time: {result}")
    try:
        document = json.loads(bundle)
    except ValueError:
        return
    if signed_core(document, case.core) != case.core:
        raise PropertyViolationError("verified with changed signed material")


if __name__ == "__main__":
    run("bundle", test_one_input, [bytes([i]) + c.data for i, c in enumerate(LOADED)])
