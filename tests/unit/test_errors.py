"""The error hierarchy: every message one line, whatever the text it quotes."""

from __future__ import annotations

import pytest

from gate.errors import (
    BackendError,
    GateError,
    InputError,
    PolicyError,
    PolicyValidationError,
    VerificationError,
    one_line,
)
from gate.policy.loader import load_policy_text
from gate.signatures.simplesigning import parse_payload


def test_one_line_escapes_every_line_break_as_json_does() -> None:
    assert one_line("a\nb\rc\x0bd\x0ce\x1cf\x85g\u2028h\u2029i") == (
        "a\\nb\\rc\\u000bd\\fe\\u001cf\\u0085g\\u2028h\\u2029i"
    )
    assert one_line("tab\tand é stay") == "tab\tand é stay"


@pytest.mark.parametrize(
    "error",
    [
        InputError("bad\nvalue", source="file\n.json", field="a\r\nb"),
        PolicyError('unknown field "\n"', file="p.yaml", line=1, column=2, field="x\ny"),
        VerificationError("signed by\nsomeone else"),
        BackendError("registry said:\nno"),
    ],
)
def test_every_error_renders_one_line(error: GateError) -> None:
    assert "\n" not in str(error)
    assert "\r" not in str(error)


def test_a_validation_error_has_one_escaped_line_per_problem() -> None:
    error = PolicyValidationError([PolicyError("a\nb", file="p.yaml"), PolicyError("c")])
    assert str(error) == "p.yaml: a\\nb\nc"


def test_a_key_with_a_newline_in_a_policy_found_by_fuzzing() -> None:
    # tests/fuzz/test_policy.py: an unknown top-level key "\n" split the message in two.
    text = 'apiVersion: gate/v1\nkind: Policy\nmetadata: {name: x}\nspec: {rules: []}\n"\\n": 1\n'
    with pytest.raises(PolicyValidationError) as caught:
        load_policy_text(text)
    assert [line for line in str(caught.value).splitlines() if "unknown field" in line] == [
        'policy.yaml:5:1: unknown field "\\n" (expected one of apiVersion, kind, metadata, spec)'
    ]


def test_a_key_with_a_newline_in_a_cosign_payload_found_by_fuzzing() -> None:
    # tests/fuzz/test_cosign.py: the unknown key was quoted raw in the field path.
    with pytest.raises(InputError) as caught:
        parse_payload(b'{"\\r\\n": 1}', source="payload")
    assert str(caught.value) == "payload: \\r\\n: unknown field refused"
