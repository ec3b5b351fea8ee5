"""What a policy's ``notation`` trust block says: trust store, identities, verification level."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from cryptography import x509
from cryptography.hazmat.primitives.hashes import SHA256

_SHA256 = SHA256()


class VerificationLevel(Enum):
    """How much of a Notation signature is enforced (the Notation trust-policy levels).

    strict: integrity, authenticity, authentic timestamp, expiry and
    revocation are enforced. permissive: integrity and authenticity enforced,
    expiry (and the authentic timestamp) only logged. audit: only integrity
    enforced, the rest logged.
    """

    STRICT = "strict"
    PERMISSIVE = "permissive"
    AUDIT = "audit"


@dataclass(frozen=True)
class TrustedCertificate:
    """A trust anchor with the file it came from (for messages)."""

    certificate: x509.Certificate
    label: str


@dataclass(frozen=True)
class NotationTrust:
    """A Notation trust block.

    ``trust_store``: root (or intermediate) CA certificates the chain of a
    ``notary.x509`` signature must contain. ``signing_authorities``: the
    certificates a ``notary.x509.signingAuthority`` signature's chain must
    contain; kept apart because such a chain is checked at the signer's own
    authentic signing time, which a plain CA must not be trusted with. ``trusted_identities``:
    ``x509.subject: <DN>`` entries (the leaf's subject must contain every RDN
    given), or ``*`` for any identity the trust store vouches for.
    ``tsa_roots``: roots for RFC 3161 timestamp countersignatures.
    """

    trust_store: tuple[TrustedCertificate, ...]
    trusted_identities: tuple[str, ...]
    verification_level: VerificationLevel = VerificationLevel.STRICT
    tsa_roots: tuple[TrustedCertificate, ...] = ()
    signing_authorities: tuple[TrustedCertificate, ...] = ()

    @property
    def signer_id(self) -> str:
        """The one signer this trust block contributes to a threshold."""
        anchors = ",".join(
            sorted(
                c.certificate.fingerprint(_SHA256).hex()
                for c in (*self.trust_store, *self.signing_authorities)
            )
        )
        return f"notation:{anchors}|{';'.join(self.trusted_identities)}"
