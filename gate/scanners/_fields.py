"""Typed access to parsed JSON with one-line errors that name the file and the JSON path.

Every adapter reads untrusted documents; these helpers turn a wrong type or a
missing field into an ``InputError`` such as
``report.json: Results[3].Vulnerabilities[0].VulnerabilityID: expected a string, got null``
instead of a ``KeyError`` or ``AttributeError`` traceback.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, NoReturn

from gate.errors import InputError

_JSON_TYPE_NAMES = {
    type(None): "null",
    bool: "boolean",
    int: "number",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}


def json_type(value: object) -> str:
    """The JSON name of a parsed value's type (``null``, ``string``, ``array``, ...)."""
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def fail(source: str, path: str, reason: str) -> NoReturn:
    """Raise the ``InputError`` for ``path`` in ``source``."""
    raise InputError(reason, source=source, field=path or None)


def wrong_type(source: str, path: str, expected: str, value: object) -> NoReturn:
    """Raise ``expected a <expected>, got <type>`` for ``path``."""
    fail(source, path, f"expected {expected}, got {json_type(value)}")


def join(path: str, key: str) -> str:
    """``path.key``, or ``key`` at the top level."""
    return f"{path}.{key}" if path else key


def key_path(path: str, key: str) -> str:
    """``path.key`` for a key taken from the document itself (a CVSS source name).

    A key that is not a plain word is quoted as ``path["..."]`` with JSON
    escapes, so that no document can put a line break or a fake path into an
    error message.
    """
    if key and all(c.isalnum() or c in "-_:@/+" for c in key) and key.isascii():
        return join(path, key)
    return f"{path}[{json.dumps(key)}]"


def req_str(obj: dict[str, Any], key: str, source: str, path: str) -> str:
    """``obj[key]`` as a non-empty string, or an error naming ``path.key``."""
    value = obj.get(key)
    if type(value) is str and value:
        return value
    if value is None:
        fail(source, join(path, key), "required field is missing")
    if type(value) is str:
        fail(source, join(path, key), "must not be empty")
    wrong_type(source, join(path, key), "a string", value)


def opt_str(obj: dict[str, Any], key: str, source: str, path: str) -> str | None:
    """``obj[key]`` as a string, None when absent or null, an error for any other type."""
    value = obj.get(key)
    if value is None or type(value) is str:
        return value
    wrong_type(source, join(path, key), "a string", value)


def opt_list(obj: dict[str, Any], key: str, source: str, path: str) -> list[Any]:
    """``obj[key]`` as a list; absent and null read as empty, any other type is an error."""
    value = obj.get(key)
    if type(value) is list:
        return value
    if value is None:
        return []
    wrong_type(source, join(path, key), "an array", value)


def opt_dict(obj: dict[str, Any], key: str, source: str, path: str) -> dict[str, Any]:
    """``obj[key]`` as an object; absent and null read as empty, any other type is an error."""
    value = obj.get(key)
    if type(value) is dict:
        return value
    if value is None:
        return {}
    wrong_type(source, join(path, key), "an object", value)


def opt_number(obj: dict[str, Any], key: str, source: str, path: str) -> float | None:
    """``obj[key]`` as a float (JSON number, not boolean), None when absent or null."""
    value: Any = obj.get(key)
    kind = type(value)
    if kind is float or kind is int:
        return float(value)
    if value is None:
        return None
    wrong_type(source, join(path, key), "a number", value)


def parse_timestamp(text: str) -> datetime | None:
    """An RFC 3339 timestamp as an aware datetime; None when it cannot be trusted as one.

    Nanosecond fractions (Trivy, Go) are truncated to microseconds. Values
    without a UTC offset, the Go zero time ``0001-01-01T00:00:00Z`` and
    placeholders such as ``timestamp:redacted`` give None: an unknown time,
    which a freshness rule must treat as failing, never as "now".
    """
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None or parsed.year <= 1:
        return None
    return parsed
