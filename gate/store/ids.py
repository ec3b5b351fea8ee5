"""Record ids: 26-character, time-ordered, the same on every backend.

An id is 48 bits of milliseconds since the epoch and 80 random bits in
Crockford base32 (the ULID layout), so ids sort roughly by when they were
recorded, stay valid in URLs and need no database sequence.
"""

from __future__ import annotations

import re
import secrets
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ID_PATTERN = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")
_LENGTH = 26


def new_id() -> str:
    """A fresh id: recording time in milliseconds, then 80 random bits."""
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    chars = []
    for _ in range(_LENGTH):
        chars.append(_ALPHABET[value & 0x1F])
        value >>= 5
    return "".join(reversed(chars))


def looks_like_id(value: object) -> bool:
    """Whether ``value`` has the shape of an id this store hands out."""
    return isinstance(value, str) and _ID_PATTERN.fullmatch(value) is not None
