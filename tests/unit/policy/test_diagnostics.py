"""Field paths in messages, and one error per field."""

from __future__ import annotations

import pytest

from gate.errors import PolicyValidationError
from gate.policy.diagnostics import Diagnostics, render_field
from gate.policy.yamlpos import Mark, Positions


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (("spec", "rules", 0, "signatures", "anyOf", 1), "rules[0].signatures.anyOf[1]"),
        (("spec",), "spec"),
        (("apiVersion",), "apiVersion"),
        (("metadata", "name"), "metadata.name"),
        (("spec", "trust", "bad.name"), 'trust["bad.name"]'),
        ((), ""),
    ],
)
def test_render_field(path: tuple[str | int, ...], text: str) -> None:
    assert render_field(path) == text


def test_first_error_per_field_wins_and_order_is_by_position() -> None:
    positions = Positions(values={("a",): Mark(3, 1), ("b",): Mark(1, 5)})
    diagnostics = Diagnostics("p.yaml", positions)
    diagnostics.error(("a",), "first")
    diagnostics.error(("a",), "second")
    diagnostics.error(("b",), "earlier in the file")
    with pytest.raises(PolicyValidationError) as caught:
        diagnostics.raise_if_any()
    assert str(caught.value) == "p.yaml:1:5: b: earlier in the file\np.yaml:3:1: a: first"


def test_nothing_to_raise() -> None:
    Diagnostics("p.yaml", Positions()).raise_if_any()


def test_validation_error_needs_errors() -> None:
    with pytest.raises(ValueError, match="at least one error"):
        PolicyValidationError([])
