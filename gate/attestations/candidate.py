"""An attestation object found in the registry, fetched and read as far as it can be without trust.

Discovery (``layout.py``, ``referrers.py``) produces candidates; verification
(``verify.py``) decides, per trust authority, whether each one counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from gate.signatures.dsse import Envelope

#: The media type of a DSSE envelope (cosign ``.att`` layers, DSSE referrers).
DSSE_MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json"


@dataclass(frozen=True)
class Candidate:
    """One attestation object: a DSSE envelope (maybe with keyless material) or a Sigstore bundle.

    ``problem`` says why it can never count, whatever the authority (a blob
    that does not match its descriptor, an unreadable envelope...).
    ``hint`` is the predicate type the registry listing claims: unsigned,
    used only to sort rejections into the checks they concern.
    ``certificate``/``chain``/``rekor_bundle`` are cosign's keyless
    annotations on a ``.att`` layer; ``bundle`` a Sigstore bundle (JSON bytes).
    """

    label: str
    problem: str | None = None
    hint: str | None = None
    envelope: Envelope | None = None
    raw_envelope: bytes = b""
    certificate: str | None = None
    chain: str | None = None
    rekor_bundle: str | None = None
    bundle: bytes | None = None

    @property
    def keyless(self) -> bool:
        """True when a certificate (legacy annotation or bundle) signed it, not a bare key."""
        return self.certificate is not None or self.bundle is not None


def short_digest_label(kind: str, digest: object) -> str:
    """``kind (sha256:0123456789ab..)``: how sentences name a blob or manifest."""
    text = str(digest)
    algorithm, _, hex_digits = text.partition(":")
    return f"{kind} ({algorithm}:{hex_digits[:12]}..)" if hex_digits else f"{kind} ({text})"
