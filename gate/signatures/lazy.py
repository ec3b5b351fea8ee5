"""A verifier made on first use, so a run that needs no such signature never imports its stack.

Keyless verification pulls in sigstore-python (pydantic models, TUF, ...);
Notation pulls in CBOR and RFC 3161 code. A ``gate check`` whose policy has
only cosign keys should not pay for either at start-up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from gate.oci.source import ResolvedImage
from gate.signatures.evidence import AuthorityResult, SignatureVerifier
from gate.signatures.trust import TrustAuthority


class LazyVerifier:
    """A ``SignatureVerifier`` that builds the real one with ``factory`` when first asked."""

    def __init__(self, factory: Callable[[], SignatureVerifier]) -> None:
        self._factory = factory
        self._verifier: SignatureVerifier | None = None
        self._lock = threading.Lock()

    def verify(self, image: ResolvedImage, authority: TrustAuthority) -> AuthorityResult:
        """Delegate to the real verifier, made on the first call."""
        with self._lock:
            if self._verifier is None:
                self._verifier = self._factory()
            verifier = self._verifier
        return verifier.verify(image, authority)
