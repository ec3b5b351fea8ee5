"""Trust authorities: named sets of keys (later identities) that a policy rule refers to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gate.signatures.keys import PublicKey

if TYPE_CHECKING:
    from gate.signatures.keyless.authority import KeylessTrust
    from gate.signatures.notary.authority import NotaryTrust
    from gate.signatures.notation.authority import NotationTrust


@dataclass(frozen=True)
class TrustAuthority:
    """A named authority from the policy's ``spec.trust``, e.g. ``release``.

    ``cosign_keys`` verify cosign key-based signatures; ``notary`` is a Notary
    v1 (Docker Content Trust) repository root; ``keyless`` a Sigstore
    certificate identity; ``notation`` a Notation trust store and identities.
    """

    name: str
    cosign_keys: tuple[PublicKey, ...] = ()
    notary: NotaryTrust | None = None
    keyless: KeylessTrust | None = None
    notation: NotationTrust | None = None

    @property
    def kinds(self) -> tuple[str, ...]:
        """The signature kinds this authority has trust material for (``"cosign"``...)."""
        kinds: list[str] = []
        if self.cosign_keys:
            kinds.append("cosign")
        if self.notary is not None:
            kinds.append("notaryV1")
        if self.keyless is not None:
            kinds.append("keyless")
        if self.notation is not None:
            kinds.append("notation")
        return tuple(kinds)

    @property
    def possible_signers(self) -> frozenset[str]:
        """Ids of the distinct signers this authority can contribute to a threshold.

        Each cosign key is one signer; a Notary repository root is one (its
        pinned keys are alternatives, e.g. during a rotation, not co-signers),
        and so are a keyless identity and a Notation trust block.
        """
        signers = {key.fingerprint for key in self.cosign_keys}
        for block in (self.notary, self.keyless, self.notation):
            if block is not None:
                signers.add(block.signer_id)
        return frozenset(signers)
