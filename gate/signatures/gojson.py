"""JSON the way Go's ``encoding/json`` writes it, and a strict reader for untrusted JSON.

cosign and go-containerregistry serialise payloads, configs and manifests with
Go's ``json.Marshal``: no whitespace, struct fields in declaration order, map
keys sorted, and ``<``, ``>``, ``&``, U+2028 and U+2029 escaped. Anything we
sign or push must match those bytes so that digests agree with what cosign
writes. The reader refuses the inputs on which Go and Python would disagree
(duplicate keys) and those that are not JSON at all (``NaN``, bad UTF-8).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

_SURROGATE_RE = re.compile("[\ud800-\udfff]")
# Go escapes these even though JSON does not require it (HTML safety, JS line terminators).
_GO_EXTRA_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_GO_EXTRA_RE = re.compile("[<>&\u2028\u2029]")


class DuplicateKeyError(ValueError):
    """A JSON object repeats a key (Go keeps the last, other parsers the first)."""


def go_string(text: str) -> str:
    """``text`` as a Go ``encoding/json`` string literal, quotes included.

    Python's encoder with ``ensure_ascii=False`` already escapes exactly the
    control characters Go does, with the same short forms (``\\b \\f \\n \\r \\t``,
    as Go >= 1.22 writes them); Go additionally escapes ``<>&`` and the JS line
    terminators, and turns invalid UTF-8 (here: lone surrogates) into U+FFFD.
    """
    if _SURROGATE_RE.search(text):
        text = _SURROGATE_RE.sub("\ufffd", text)
    quoted = json.dumps(text, ensure_ascii=False)
    return _GO_EXTRA_RE.sub(lambda m: _GO_EXTRA_ESCAPES[m.group(0)], quoted)


def _encode(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(go_string(value))
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, Mapping):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys must be strings, not {type(key).__name__}")
            if index:
                out.append(",")
            out.append(go_string(key))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, Sequence):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        # Floats are deliberately absent: Go's float formatting is not Python's repr.
        raise TypeError(f"cannot encode {type(value).__name__} as Go JSON")


def marshal(value: Any) -> bytes:
    """Compact JSON bytes as Go's ``json.Marshal`` would produce them.

    Mappings are written in their iteration order, which plays the role of a
    Go struct's field order; for a Go *map* pass the result of ``go_map()``
    so that keys come out sorted as Go sorts them.
    """
    out: list[str] = []
    _encode(value, out)
    return "".join(out).encode("utf-8")


def go_map(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """``mapping`` with its keys in Go's map order (byte-wise, i.e. code point order)."""
    return {key: mapping[key] for key in sorted(mapping)}


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKeyError(f"duplicate key {key!r}")
            seen.add(key)
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# Built once: json.loads() with hooks would construct a decoder on every call.
_STRICT_DECODER = json.JSONDecoder(
    object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant
)


def loads_strict(data: bytes) -> Any:
    """Parse untrusted JSON; raise ``ValueError`` (one line) on anything doubtful.

    Refused: invalid UTF-8 (Go would silently substitute U+FFFD), a byte order
    mark, ``NaN``/``Infinity``, duplicate object keys, nesting too deep for the
    parser. The caller turns the message into its own typed error.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    if text.startswith("\ufeff"):
        raise ValueError("not valid JSON (starts with a byte order mark)")
    try:
        return _STRICT_DECODER.decode(text)
    except DuplicateKeyError:
        raise
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except RecursionError:
        raise ValueError("not acceptable JSON (nested too deeply)") from None
