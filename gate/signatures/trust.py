"""Trust authorities: named sets of keys (later identities) that a policy rule refers to."""

from __future__ import annotations

from dataclasses import dataclass

from gate.signatures.keys import PublicKey


@dataclass(frozen=True)
class TrustAuthority:
    """A named authority from the policy's ``spec.trust``, e.g. ``release``.

    ``cosign_keys`` verify cosign key-based signatures; other kinds of trust
    material (keyless identities, Notary v1 roots, Notation trust stores) are
    added by later signature kinds.
    """

    name: str
    cosign_keys: tuple[PublicKey, ...] = ()

    @property
    def kinds(self) -> tuple[str, ...]:
        """The signature kinds this authority has trust material for (``"cosign"``...)."""
        return ("cosign",) if self.cosign_keys else ()
