"""How a parsed JSON value is named in error messages: ``a string``, ``an array``..."""

from __future__ import annotations


def json_type(value: object) -> str:
    """The JSON type of ``value`` as a message says it (``null``, ``a number``, ``an object``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "an array"
    return "an object"
