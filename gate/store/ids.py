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
#: Every 10-bit value as its two digits: an id is 13 lookups instead of 26 shifts.
_PAIRS = tuple(a + b for a in _ALPHABET for b in _ALPHABET)
_ID_PATTERN = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")
_LENGTH = 26
_SHIFTS = tuple(range(_LENGTH * 5 - 10, -1, -10))


def new_id() -> str:
    """A fresh id: recording time in milliseconds, then 80 random bits."""
    return encode((time.time_ns() // 1_000_000) << 80 | secrets.randbits(80))


def encode(value: int) -> str:
    """The 26 Crockford base32 digits of a 128-bit ``value``, most significant first."""
    pairs = _PAIRS
    return "".join([pairs[(value >> shift) & 0x3FF] for shift in _SHIFTS])


def looks_like_id(value: object) -> bool:
    """Whether ``value`` has the shape of an id this store hands out."""
    return isinstance(value, str) and _ID_PATTERN.fullmatch(value) is not None
