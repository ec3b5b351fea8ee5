"""YAML with positions: values, positions, and the YAML problems PyYAML would hide."""

from __future__ import annotations

import pytest

from gate.errors import PolicyError
from gate.policy.yamlpos import MAX_NODES, Mark, load_located


def test_values_and_positions_are_recorded() -> None:
    doc = load_located("a:\n  b: [x, 2]\n  c: true\n", file="p.yaml")
    assert doc.data == {"a": {"b": ["x", 2], "c": True}}
    assert doc.positions.of_value(("a", "b", 1)) == Mark(2, 10)
    assert doc.positions.of_key(("a", "c")) == Mark(3, 3)
    assert doc.positions.of_value(("a", "c")) == Mark(3, 6)
    assert doc.problems == ()


def test_unknown_path_falls_back_to_nearest_ancestor() -> None:
    doc = load_located("a:\n  b: 1\n", file="p.yaml")
    assert doc.positions.of_value(("a", "b", "nope", 3)) == Mark(2, 6)


def test_dates_arrive_as_iso_strings() -> None:
    doc = load_located("d: 2027-01-31\nt: 2027-01-31T10:00:00Z\n", file="p.yaml")
    assert doc.data == {"d": "2027-01-31", "t": "2027-01-31T10:00:00+00:00"}


def test_impossible_date_is_kept_as_text() -> None:
    doc = load_located("d: 2027-02-30\n", file="p.yaml")
    assert doc.data == {"d": "2027-02-30"}
    assert doc.problems == ()


def test_duplicate_keys_are_reported_at_the_second_key() -> None:
    doc = load_located("a: 1\nb: 2\na: 3\n", file="p.yaml")
    assert doc.data == {"a": 3, "b": 2}
    (problem,) = doc.problems
    assert problem.mark == Mark(3, 1)
    assert problem.reason == 'duplicate key "a" (first defined at line 1)'


def test_non_string_keys_are_reported() -> None:
    doc = load_located("on: x\n1: y\nok: z\n", file="p.yaml")
    assert doc.data == {"ok": "z"}
    reasons = [p.reason for p in doc.problems]
    assert reasons == [
        "mapping keys must be strings, got 'on' (bool); quote the key",
        "mapping keys must be strings, got '1' (int); quote the key",
    ]


def test_merge_keys_follow_yaml_semantics() -> None:
    text = "base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n"
    doc = load_located(text, file="p.yaml")
    assert doc.data["use"] == {"x": 1, "y": 3}
    assert doc.problems == ()


def test_unknown_tags_are_reported() -> None:
    doc = load_located("a: !secret x\nb: !!set {p: null}\n", file="p.yaml")
    reasons = [p.reason for p in doc.problems]
    assert reasons[0].startswith("unsupported YAML tag '!secret'")
    assert reasons[1] == "unsupported YAML tag 'tag:yaml.org,2002:set'"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "p.yaml: empty policy file: expected a Policy document"),
        ("# only a comment\n", "p.yaml: empty policy file: expected a Policy document"),
        (
            "a: 1\n---\nb: 2\n",
            "p.yaml:2:1: the file holds more than one YAML document; a policy file holds "
            "exactly one",
        ),
        (
            "a: [1, 2\n",
            "p.yaml:2:1: invalid YAML: while parsing a flow sequence, expected ',' "
            "or ']', but got '<stream end>'",
        ),
        ("a: b: c\n", "p.yaml:1:5: invalid YAML: mapping values are not allowed here"),
    ],
)
def test_unreadable_documents_raise_one_error(text: str, expected: str) -> None:
    with pytest.raises(PolicyError) as caught:
        load_located(text, file="p.yaml")
    assert str(caught.value) == expected


def test_alias_bomb_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 8):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    with pytest.raises(PolicyError, match=f"more than {MAX_NODES} nodes"):
        load_located("\n".join(lines) + "\n", file="p.yaml")


def test_recursive_alias_is_reported() -> None:
    doc = load_located("a: &a [*a]\n", file="p.yaml")
    assert doc.data == {"a": [None]}
    (problem,) = doc.problems
    assert problem.reason == "recursive YAML alias (a node that contains itself)"


def test_deep_flow_nesting_is_refused_before_parsing() -> None:
    with pytest.raises(PolicyError) as caught:
        load_located("a: " + "[" * 400_000 + "]" * 400_000 + "\n", file="p.yaml")
    assert str(caught.value) == (
        "p.yaml:1:104: invalid YAML: [ and { nested more than 100 levels deep"
    )


def test_moderate_flow_nesting_is_fine() -> None:
    doc = load_located("a: " + "[" * 20 + "]" * 20 + "\n", file="p.yaml")
    assert doc.problems == ()


def test_deep_block_nesting_is_an_error_not_a_crash() -> None:
    text = "".join("  " * level + f"k{level}:\n" for level in range(600)) + "  " * 600 + "x\n"
    with pytest.raises(PolicyError, match="nested too deeply"):
        load_located(text, file="p.yaml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\x00", "p.yaml:1:1: invalid YAML: character U+0000 is not allowed in a YAML file"),
        (
            "a: b\n  c: \x07d\n",
            "p.yaml:2:6: invalid YAML: character U+0007 is not allowed in a YAML file",
        ),
    ],
)
def test_characters_yaml_refuses_are_a_policy_error_found_by_fuzzing(
    text: str, expected: str
) -> None:
    # tests/fuzz/test_policy.py: PyYAML's reader raised ReaderError when the loader was made,
    # outside the error handling (a traceback instead of a PolicyError).
    with pytest.raises(PolicyError) as caught:
        load_located(text, file="p.yaml")
    assert str(caught.value) == expected
