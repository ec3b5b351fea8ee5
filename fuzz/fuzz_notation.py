"""Fuzz Notation envelopes (JWS and COSE) from the real notation-go and connaisseur envelopes.

Properties: ``parse_envelope`` gives an envelope or a one-line
``NotationError``; an envelope that opens (its signature verifies) carries
exactly the signed bytes and payload of one of the real envelopes. The media
type is JWS when the input starts with ``{``, COSE otherwise. Run:
``python fuzz/fuzz_notation.py -max_total_time=120``.
"""

from __future__ import annotations

import sys

import atheris  # type: ignore[import-untyped]  # ships no type information
from harness import PropertyViolationError, outcome, real_fixtures, run

with atheris.instrument_imports(include=["gate"]):
    from gate.errors import GateError
    from gate.signatures.notation.envelope import (
        COSE_MEDIA_TYPE,
        JWS_MEDIA_TYPE,
        NotationError,
        SignatureEnvelope,
        open_envelope,
        parse_envelope,
    )

NOTATION = real_fixtures() / "signatures" / "notation"
if not NOTATION.exists():
    sys.exit(f"real fixtures not found at {NOTATION} (set GATE_REAL_FIXTURES)")
FILES = [
    *sorted((NOTATION / "notation-go-mock" / "envelopes").glob("*valid_sig_env.json")),
    *sorted((NOTATION / "notation-go-timestamp" / "envelopes").glob("*.sig")),
    *sorted((NOTATION / "notation-go-oci-layout").glob("*.sig")),
    *sorted((NOTATION / "connaisseur-registry").rglob("blobs/*.json")),
]
SEEDS = [p.read_bytes() for p in FILES if "invalid" not in p.name]


def media_type(data: bytes) -> str:
    """JWS for JSON text, COSE for anything else."""
    return JWS_MEDIA_TYPE if data.lstrip().startswith(b"{") else COSE_MEDIA_TYPE


SIGNED = {(e.signed_bytes, e.payload) for e in (open_envelope(s, media_type(s)) for s in SEEDS)}


def test_one_input(data: bytes) -> None:
    """One input: an envelope."""
    kind = media_type(data)
    for call in (parse_envelope, open_envelope):
        result = outcome(lambda call=call: call(data, kind, source="fuzz"))  # type: ignore[misc]
        if isinstance(result, GateError) and not isinstance(result, NotationError):
            raise PropertyViolationError(f"not a NotationError: {result!r}")
    opened = outcome(lambda: open_envelope(data, kind, source="fuzz"))
    if (
        isinstance(opened, SignatureEnvelope)
        and (opened.signed_bytes, opened.payload) not in SIGNED
    ):
        raise PropertyViolationError("opened with signed bytes no real envelope has")


if __name__ == "__main__":
    run("notation", test_one_input, SEEDS)
