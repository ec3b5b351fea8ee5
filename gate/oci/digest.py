"""Content digests (``sha256:<hex>``): parsing, computing and checking."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from gate.errors import InputError, VerificationError

_HEX_LENGTH = {"sha256": 64, "sha384": 96, "sha512": 128}
_DIGEST_RE = re.compile(r"(sha256|sha384|sha512):([0-9a-f]+)")


@dataclass(frozen=True, order=True)
class Digest:
    """A content digest such as ``sha256:abc...``; only lowercase hex is valid."""

    algorithm: str
    hex: str

    @classmethod
    def parse(cls, text: str, *, source: str | None = None) -> Digest:
        """Parse ``alg:hex``; raise ``InputError`` for anything else."""
        match = _DIGEST_RE.fullmatch(text)
        if match is None or len(match.group(2)) != _HEX_LENGTH[match.group(1)]:
            raise InputError(f"not a valid digest: {text!r}", source=source)
        return cls(match.group(1), match.group(2))

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        """The digest of ``data``."""
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())

    def matches(self, data: bytes) -> bool:
        """True when ``data`` hashes to this digest."""
        return hashlib.new(self.algorithm, data).hexdigest() == self.hex

    def check(self, data: bytes, *, what: str) -> None:
        """Raise ``VerificationError`` unless ``data`` hashes to this digest."""
        if not self.matches(data):
            actual = Digest.of(data, self.algorithm)
            raise VerificationError(f"{what}: content hashes to {actual}, expected {self}")

    @property
    def tag_form(self) -> str:
        """The cosign / referrers tag form ``sha256-<hex>``."""
        return f"{self.algorithm}-{self.hex}"

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"
