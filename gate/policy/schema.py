"""The policy's JSON Schema: loaded and compiled once, errors turned into plain sentences.

The canonical schema ships inside the package (``gate/data/policy.schema.json``)
so an installed wheel finds it; ``policies/policy.schema.json`` is an identical
copy next to the example policy for editors (a unit test keeps the two equal).
jsonschema's own messages (``'x' is not of type 'array'``) are replaced by
reasons a policy author can act on.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator

from gate.policy.yamlpos import FieldPath

SCHEMA_RESOURCE = ("gate", "data/policy.schema.json")

DURATION_PATTERN = "^[1-9][0-9]*[mhdw]$"
DATE_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
NAME_PATTERN = "^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$"
AUTHORITY_NAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"

_PATTERN_REASONS = {
    DURATION_PATTERN: "not a duration: write a positive number followed by m, h, d or w "
    "(30m, 12h, 7d, 2w)",
    DATE_PATTERN: "not a date: write YYYY-MM-DD (e.g. 2027-01-31)",
    NAME_PATTERN: "not a valid name: letters, digits, '-', '_' and '.', starting and ending "
    "with a letter or digit, at most 63 characters",
    AUTHORITY_NAME_PATTERN: "not a valid trust authority name: letters, digits, '-' and '_', "
    "starting with a letter or digit, at most 63 characters",
}

# An empty glob list would mean "not constrained", i.e. every image (or
# namespace): never what someone who wrote the key meant. The semantic pass
# reports the same reasons, so the wording does not depend on who saw it first.
EMPTY_MATCH_IMAGES = (
    "an empty images list would match every image; list at least one image glob, or leave "
    "images out"
)
EMPTY_MATCH_NAMESPACES = (
    "an empty namespaces list would match every namespace; list at least one namespace glob, "
    "or leave namespaces out"
)
EMPTY_EXCEPTION_IMAGES = (
    "an empty images list would apply the exception to every image; list at least one image "
    "glob, or leave images out to apply it to every image the rule selects"
)

_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


@dataclass(frozen=True)
class SchemaIssue:
    """One schema violation: the field it concerns, the reason, and where to point.

    ``path`` identifies the problem; ``shown_path`` is the field printed in the
    message (an unknown key is shown under its parent); ``at_key`` asks for the
    position of the key rather than of the value.
    """

    path: FieldPath
    shown_path: FieldPath
    reason: str
    at_key: bool = False


def schema_text() -> str:
    """The policy JSON Schema as shipped in the package."""
    package, name = SCHEMA_RESOURCE
    return resources.files(package).joinpath(name).read_text(encoding="utf-8")


@functools.cache
def policy_schema() -> Mapping[str, Any]:
    """The parsed policy JSON Schema (read once)."""
    loaded: dict[str, Any] = json.loads(schema_text())
    return loaded


@functools.cache
def _validator() -> Draft202012Validator:
    # Compiled once per process: policies are validated at start-up and on
    # reload, never with a fresh validator per load. The schema has only
    # local "#/$defs/..." references, so no retrieval is ever attempted.
    schema = policy_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def schema_issues(document: Any) -> list[SchemaIssue]:
    """Every violation of the policy schema in ``document`` (plain YAML data)."""
    return validator_issues(_validator(), document)


def validator_issues(validator: Draft202012Validator, document: Any) -> list[SchemaIssue]:
    """Every violation of ``validator``'s schema in ``document``, in the policy's wording.

    Other YAML files the gate reads (policy test files) have schemas of their
    own and report their errors the same way.
    """
    issues: list[SchemaIssue] = []
    for error in validator.iter_errors(document):
        issues.extend(_translate(error))
    return issues


def _translate(error: jsonschema.ValidationError) -> Iterator[SchemaIssue]:
    path: FieldPath = tuple(error.absolute_path)
    keyword = str(error.validator)
    instance = error.instance
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    value: Any = error.validator_value
    if keyword == "additionalProperties" and isinstance(instance, Mapping):
        known = sorted(schema.get("properties", {}))
        for key in instance:
            if key not in known:
                yield SchemaIssue((*path, key), path, _unknown_field(str(key), known), at_key=True)
        return
    if keyword == "required" and isinstance(instance, Mapping):
        for name in value:
            if name not in instance:
                yield SchemaIssue((*path, name), path, f'missing required field "{name}"')
        return
    if "propertyNames" in error.absolute_schema_path:
        # jsonschema reports a bad key as an error of the key string itself,
        # positioned at the mapping that holds it.
        key = str(instance)
        reason = f'"{key}": ' + _reason(keyword, value, instance, schema, error)
        yield SchemaIssue((*path, key), path, reason, at_key=True)
        return
    yield SchemaIssue(path, path, _reason(keyword, value, instance, schema, error))


def _reason(
    keyword: str,
    value: Any,
    instance: Any,
    schema: Mapping[str, Any],
    error: jsonschema.ValidationError,
) -> str:
    if keyword == "type":
        wanted = value if isinstance(value, list) else [value]
        words = " or ".join(_TYPE_WORDS.get(str(w), str(w)) for w in wanted)
        return f"expected {words}, got {describe_value(instance)}"
    if keyword == "enum":
        return "must be one of " + ", ".join(str(v) for v in value)
    if keyword == "const":
        return f"must be {value}, got {json.dumps(instance, default=str)}"
    if keyword == "pattern":
        return _PATTERN_REASONS.get(str(value), f"does not match the pattern {value}")
    if keyword == "minItems" and value == 1:
        return empty_list_reason(tuple(error.absolute_path)) or "must not be empty"
    if keyword == "minLength" and value == 1:
        return "must not be empty"
    if keyword == "minimum":
        return f"must be at least {value}"
    if keyword == "maximum":
        return f"must be at most {value}"
    if keyword in ("minProperties", "maxProperties") and schema.get("maxProperties") == 1:
        names = ", ".join(schema.get("properties", {}))
        return f"give exactly one of {names}"
    return error.message


def empty_list_reason(path: FieldPath) -> str | None:
    """Why an empty glob list at ``path`` is refused, or None when ``path`` is no glob list."""
    if not path:
        return None
    if path[-1] == "images":
        return EMPTY_EXCEPTION_IMAGES if "exceptions" in path else EMPTY_MATCH_IMAGES
    if path[-1] == "namespaces":
        return EMPTY_MATCH_NAMESPACES
    return None


def _unknown_field(key: str, known: list[str]) -> str:
    reason = f'unknown field "{key}"'
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if not close:
        lowered = {k.lower(): k for k in known}
        if key.lower() in lowered:
            close = [lowered[key.lower()]]
    if close:
        reason += f' (did you mean "{close[0]}"?)'
    elif known:
        reason += " (expected one of " + ", ".join(known) + ")"
    return reason


def describe_value(value: Any) -> str:
    """A short description of a YAML value's type for messages: "a string", "a list"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, bytes):
        return "binary data"
    return type(value).__name__
