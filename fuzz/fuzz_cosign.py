"""Fuzz cosign: simple-signing payloads and ``.sig`` manifests (connaisseur's real signature).

Each input is read twice: as a payload (``parse_payload``: a payload or a
one-line ``InputError``) and as the ``.sig`` manifest of connaisseur's
alice-signed test image, whose real payload blobs are served as a registry
would. Property of the second: alice's authority is only satisfied while the
manifest still carries the original payload digest and signature. Run:
``python fuzz/fuzz_cosign.py -max_total_time=120``.
"""

from __future__ import annotations

import base64
import binascii
import json
import sys

import atheris  # type: ignore[import-untyped]  # ships no type information
from harness import PropertyViolationError, outcome, real_fixtures, run

with atheris.instrument_imports(include=["gate"]):
    from gate.errors import BackendError
    from gate.oci.digest import Digest
    from gate.signatures.cosign import (
        SIGNATURE_ANNOTATION,
        clear_parse_memo,
        verify_signature_manifest,
    )
    from gate.signatures.evidence import AuthorityResult
    from gate.signatures.keys import load_public_key
    from gate.signatures.simplesigning import parse_payload
    from gate.signatures.trust import TrustAuthority

IMAGE = Digest.parse("sha256:071bf7a986f1ca9cb2a1f0bc8392822a7777f90d58f2d2c6f271913e08de7c81")
BASE = real_fixtures() / "signatures" / "cosign" / "connaisseur-testimage"
DUMP = BASE / "registry" / "securesystemsengineering" / "testimage"
if not BASE.exists():
    sys.exit(f"real fixtures not found at {BASE} (set GATE_REAL_FIXTURES)")
MANIFEST = (DUMP / "manifests" / f"sha256-{IMAGE.hex}.sig.json").read_bytes()
BLOBS = {
    Digest.parse(p.name.removesuffix(".json")): p.read_bytes()
    for p in sorted((DUMP / "blobs").glob("*.json"))
}
ALICE = TrustAuthority(
    "alice", (load_public_key((BASE / "keys" / "alice.pub").read_bytes(), label="alice.pub"),)
)
_LAYER = json.loads(MANIFEST)["layers"][0]


def _fetch(digest: Digest, max_size: int) -> bytes:
    data = BLOBS.get(digest)
    if data is None:
        raise BackendError(f"blob {digest} unknown (404)")
    if len(data) > max_size:
        raise BackendError(f"blob {digest} larger than {max_size} bytes")
    digest.check(data, what=str(digest))
    return data


def _decoded(value: object) -> object:
    try:
        return base64.b64decode(value) if isinstance(value, str) else value
    except (binascii.Error, ValueError):
        return value


def _carries(layer: object) -> bool:
    if not isinstance(layer, dict) or not isinstance(layer.get("annotations"), dict):
        return False
    wanted = _decoded(_LAYER["annotations"][SIGNATURE_ANNOTATION])
    return bool(
        layer.get("digest") == _LAYER["digest"]
        and _decoded(layer["annotations"].get(SIGNATURE_ANNOTATION)) == wanted
    )


def _carries_the_signature(manifest: bytes) -> bool:
    try:
        layers = json.loads(manifest)["layers"]
    except (ValueError, KeyError, TypeError, IndexError):
        return False
    return isinstance(layers, list) and any(_carries(layer) for layer in layers)


def test_one_input(data: bytes) -> None:
    """One input: a payload and a ``.sig`` manifest."""
    outcome(lambda: parse_payload(data, source="fuzz payload"))
    clear_parse_memo()
    result = outcome(lambda: verify_signature_manifest(data, _fetch, IMAGE, ALICE))
    if not isinstance(result, AuthorityResult):
        raise PropertyViolationError(f"verify_signature_manifest raised {result!r}")
    for sentence in (*result.rejections, *result.notes, result.error or ""):
        if "\n" in sentence:
            raise PropertyViolationError(f"a sentence spans lines: {sentence!r}")
    if result.satisfied and not _carries_the_signature(data):
        raise PropertyViolationError("verified without the original payload and signature")


if __name__ == "__main__":
    run("cosign", test_one_input, [MANIFEST, *BLOBS.values()])
