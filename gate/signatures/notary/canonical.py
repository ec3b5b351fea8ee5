"""Canonical JSON as Notary signs it (Go ``github.com/docker/go/canonical/json``).

A TUF signature covers the canonical form of the ``signed`` object, not the
bytes on the wire. Notary's form is compact JSON with object keys sorted
byte-wise (code point order), and a string escaping that differs from both
Go's ``encoding/json`` and Python's ``json``: only ``"`` and ``\\`` are
escaped, control characters and ``<>&`` are written as they are, and U+2028 /
U+2029 become ``\\u2028`` / ``\\u2029``.

Numbers: Notary signs the output of Go ``int`` fields, i.e. plain decimal
integers, and that is what is written here. Fractional numbers, exponents and
integers beyond 2**53 (which Go's float64 round trip in the verifier cannot
reproduce) are refused rather than guessed at: metadata carrying them fails
closed. Lone surrogates (``"\\ud800"``) are refused for the same reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

_MAX_SAFE_INTEGER = 2**53
_ESCAPE_RE = re.compile('["\\\\\u2028\u2029]')
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


class CanonicalJSONError(ValueError):
    """A value has no canonical JSON form Notary could have signed (one-line reason)."""


def canonical_string(text: str) -> str:
    """``text`` as a canonical JSON string literal, quotes included."""
    if _SURROGATE_RE.search(text):
        raise CanonicalJSONError("string contains a lone UTF-16 surrogate")
    return '"' + _ESCAPE_RE.sub(lambda m: _ESCAPES[m.group(0)], text) + '"'


def _encode(value: object, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(canonical_string(value))
    elif isinstance(value, int):
        if abs(value) > _MAX_SAFE_INTEGER:
            raise CanonicalJSONError(f"integer {value} is too large for canonical JSON")
        out.append(str(value))
    elif isinstance(value, float):
        raise CanonicalJSONError(f"number {value!r} is not an integer")
    elif isinstance(value, Mapping):
        keys = list(value)
        for key in keys:
            if not isinstance(key, str):
                raise CanonicalJSONError(f"object key {key!r} is not a string")
        out.append("{")
        # Go sorts map keys byte-wise on UTF-8; for valid strings that is code point order.
        for index, key in enumerate(sorted(keys)):
            if index:
                out.append(",")
            out.append(canonical_string(key))
            out.append(":")
            _encode(value[key], out)
        out.append("}")
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise CanonicalJSONError(f"cannot write {type(value).__name__} as canonical JSON")


def encode_canonical(value: object) -> bytes:
    """The canonical JSON bytes of ``value`` (parsed JSON: dict, list, str, int, bool, None).

    Raises ``CanonicalJSONError`` for values Notary could not have signed.
    """
    out: list[str] = []
    try:
        _encode(value, out)
    except RecursionError:
        raise CanonicalJSONError("nested too deeply") from None
    return "".join(out).encode("utf-8")
