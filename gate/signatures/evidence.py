"""What signature verification produces: per trust authority, who signed, or why not."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from gate.oci.digest import Digest
from gate.oci.source import ResolvedImage
from gate.signatures.trust import TrustAuthority


@dataclass(frozen=True)
class VerifiedSignature:
    """One signature that verified against a trusted key or identity of an authority."""

    authority: str
    kind: str  # "cosign", later "notary", "notation", "keyless"
    signer: str  # stable id of the trusted key/identity, e.g. "SHA256:<spki hash>"
    signer_label: str  # what a person recognises: key file name, identity
    digest: Digest  # the image digest the signature covers (== the resolved digest)


@dataclass(frozen=True)
class AuthorityResult:
    """The outcome of checking one trust authority against one image digest.

    ``signatures`` holds every signature that verified; ``rejections`` one
    sentence for each signature object that was found and did not count, and
    why (wrong key, transplanted digest, bad payload...). ``error`` is set
    when no decision was possible (registry unreachable): that fails closed.
    ``notes`` are things a reader should know that did not change the outcome
    (e.g. a Rekor bundle that was not checked, a differing docker-reference).
    """

    authority: str
    signatures: tuple[VerifiedSignature, ...] = ()
    rejections: tuple[str, ...] = ()
    error: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def signers(self) -> frozenset[str]:
        """Distinct trusted keys/identities that signed."""
        return frozenset(s.signer for s in self.signatures)

    @property
    def satisfied(self) -> bool:
        """True when at least one trusted key or identity signed and no error occurred."""
        return self.error is None and bool(self.signatures)


class SignatureVerifier(Protocol):
    """One signature kind: check an image digest against one trust authority."""

    def verify(self, image: ResolvedImage, authority: TrustAuthority) -> AuthorityResult:
        """Return what verified and what was rejected; never raise for a bad signature."""
        ...
