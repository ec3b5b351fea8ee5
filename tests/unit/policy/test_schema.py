"""The policy JSON Schema: shipped in the package, compiled once, readable errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from gate.policy import schema as schema_module
from gate.policy.schema import policy_schema, schema_issues, schema_text

REPO = Path(__file__).resolve().parents[3]


def _walk_properties(node: Any, where: str) -> list[str]:
    """Paths of every property definition that lacks a title or a description."""
    missing: list[str] = []
    if isinstance(node, dict):
        for name, prop in node.get("properties", {}).items():
            if "title" not in prop or "description" not in prop:
                missing.append(f"{where}.{name}")
        for key, value in node.items():
            missing.extend(_walk_properties(value, f"{where}.{key}"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            missing.extend(_walk_properties(value, f"{where}[{index}]"))
    return missing


def test_editor_copy_is_identical_to_the_packaged_schema() -> None:
    # policies/policy.schema.json is what editors load next to the example;
    # gate/data/policy.schema.json is what the installed package loads.
    editor_copy = (REPO / "policies" / "policy.schema.json").read_text(encoding="utf-8")
    assert editor_copy == schema_text(), (
        "policies/policy.schema.json differs from gate/data/policy.schema.json; "
        "copy the packaged one over it"
    )


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = policy_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"]


def test_every_property_has_a_title_and_description() -> None:
    assert _walk_properties(policy_schema(), "$") == []


def test_every_object_forbids_unknown_fields() -> None:
    def objects(node: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        if isinstance(node, dict):
            if node.get("type") == "object":
                found.append(node)
            for value in node.values():
                found.extend(objects(value))
        elif isinstance(node, list):
            for value in node:
                found.extend(objects(value))
        return found

    for obj in objects(policy_schema()):
        assert "additionalProperties" in obj, obj.get("title")
        # trust maps names to authorities, graceDays severities to days (names checked by
        # propertyNames); everything else is closed.
        assert obj["additionalProperties"] is False or obj.get("title") in {
            "Trust authorities",
            "Grace days",
        }


def test_no_remote_references() -> None:
    text = schema_text()
    refs = [v for k, v in _pairs(json.loads(text)) if k == "$ref"]
    assert refs
    assert all(ref.startswith("#/") for ref in refs)


def _pairs(node: Any) -> list[tuple[str, Any]]:
    pairs: list[tuple[str, Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            pairs.append((key, value))
            pairs.extend(_pairs(value))
    elif isinstance(node, list):
        for value in node:
            pairs.extend(_pairs(value))
    return pairs


def test_validator_is_compiled_once(monkeypatch: pytest.MonkeyPatch) -> None:
    schema_issues({})  # first use compiles

    def no_more(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the schema was read or compiled again")

    monkeypatch.setattr(schema_module, "Draft202012Validator", no_more)
    monkeypatch.setattr(schema_module, "schema_text", no_more)
    for _ in range(3):
        assert schema_issues({"apiVersion": "gate/v1"})
    assert schema_module._validator() is schema_module._validator()


def _base(spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "gate/v1", "kind": "Policy", "metadata": {"name": "t"}, "spec": spec}


@pytest.mark.parametrize(
    ("document", "path", "reason"),
    [
        (
            _base(
                {"rules": [{"name": "r", "match": {}, "vulnerabilities": {"denySeverty": "HIGH"}}]}
            ),
            ("spec", "rules", 0, "vulnerabilities", "denySeverty"),
            'unknown field "denySeverty" (did you mean "denySeverity"?)',
        ),
        (
            _base({"mode": "loud"}),
            ("spec", "mode"),
            "must be one of enforce, warn, audit",
        ),
        (
            _base({"rules": [{"name": "r", "match": {"images": "a/b"}}]}),
            ("spec", "rules", 0, "match", "images"),
            "expected a list, got a string",
        ),
        (
            _base({"rules": "nope"}),
            ("spec", "rules"),
            "expected a list, got a string",
        ),
        (
            {"apiVersion": "gate/v2", "kind": "Policy", "metadata": {"name": "t"}, "spec": {}},
            ("apiVersion",),
            'must be gate/v1, got "gate/v2"',
        ),
        (
            {"apiVersion": "gate/v1", "kind": "Pol", "metadata": {"name": "t"}, "spec": {}},
            ("kind",),
            'must be Policy, got "Pol"',
        ),
        (
            _base({"rules": [{"match": {"images": ["a.io/x"]}, "action": "allow"}]}),
            ("spec", "rules", 0, "name"),
            'missing required field "name"',
        ),
        (
            _base({"rules": [{"name": "r", "match": {}, "vulnerabilities": {"maxScanAge": "7"}}]}),
            ("spec", "rules", 0, "vulnerabilities", "maxScanAge"),
            "not a duration: write a positive number followed by m, h, d or w (30m, 12h, 7d, 2w)",
        ),
        (
            _base({"rules": [{"name": "r", "match": {}, "signatures": {}}]}),
            ("spec", "rules", 0, "signatures"),
            "give exactly one of anyOf, allOf, threshold",
        ),
        (
            _base({"rules": [{"name": "r", "match": {}, "vulnerabilities": {"maxCvss": 11}}]}),
            ("spec", "rules", 0, "vulnerabilities", "maxCvss"),
            "must be at most 10",
        ),
        (
            _base({"trust": {"bad.name": {}}}),
            ("spec", "trust", "bad.name"),
            "\"bad.name\": not a valid trust authority name: letters, digits, '-' and '_', "
            "starting with a letter or digit, at most 63 characters",
        ),
        (
            _base(
                {"rules": [{"name": "r", "match": {}, "vulnerabilities": {"fixableOnly": "yes"}}]}
            ),
            ("spec", "rules", 0, "vulnerabilities", "fixableOnly"),
            "expected true or false, got a string",
        ),
        (
            _base({"moda": "warn"}),
            ("spec", "moda"),
            'unknown field "moda" (did you mean "mode"?)',
        ),
        (
            _base({"zzz": 1}),
            ("spec", "zzz"),
            'unknown field "zzz" (expected one of defaultAction, evidenceSources, exceptions, '
            "mode, rules, trust, vex)",
        ),
    ],
)
def test_errors_are_translated(
    document: dict[str, Any], path: tuple[Any, ...], reason: str
) -> None:
    issues = {issue.path: issue.reason for issue in schema_issues(document)}
    assert issues.get(path) == reason, issues
