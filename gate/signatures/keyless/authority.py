"""What a policy's ``keyless`` trust block says: which identity, issued by whom, which root."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

#: The Sigstore public-good instance (Fulcio, Rekor, CT log, TSA), as sigstore-python embeds it.
PUBLIC_GOOD = "sigstore-public-good"


@dataclass(frozen=True)
class IdentityPattern:
    """An exact string or a regular expression that must match the whole value.

    Regular expressions are always anchored (``fullmatch``): ``acme`` must not
    accept ``evil-acme.example``.
    """

    text: str
    regexp: bool = False

    def matches(self, value: str) -> bool:
        """True when ``value`` is the exact string, or the whole of it matches the expression."""
        if not self.regexp:
            return value == self.text
        return re.fullmatch(self.text, value) is not None

    def __str__(self) -> str:
        return f"/{self.text}/" if self.regexp else self.text


@dataclass(frozen=True)
class KeylessTrust:
    """A keyless trust block: a certificate identity and issuer, and the Sigstore root.

    ``subject`` is the certificate's SAN (an email, a workflow URI...);
    ``issuer`` the OIDC issuer from the Fulcio extension. ``trusted_root`` is
    a ``trusted_root.json`` file, or None for the embedded public-good root.
    ``require_tlog``: a signature must come with a verified transparency-log
    entry (Rekor), as cosign requires by default.
    """

    subject: IdentityPattern
    issuer: IdentityPattern
    trusted_root: Path | None = None
    require_tlog: bool = True

    @property
    def root_label(self) -> str:
        """``sigstore-public-good`` or the trusted root file's path."""
        return PUBLIC_GOOD if self.trusted_root is None else str(self.trusted_root)

    @property
    def signer_id(self) -> str:
        """The one signer this identity contributes to a threshold."""
        return f"keyless:{self.issuer}|{self.subject}"

    def matches(self, subject: str, issuer: str) -> bool:
        """True when a certificate's SAN and OIDC issuer are this block's identity."""
        return self.subject.matches(subject) and self.issuer.matches(issuer)
