"""VEX documents (``gate.vex.load``): real OpenVEX and CycloneDX VEX mutated, and generated.

Any bytes give a ``VexDocument`` or a one-line ``GateError``.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gate.errors import GateError
from gate.vex.load import load_vex
from gate.vex.model import VexDocument
from tests.fuzz.support import (
    Seed,
    document_mutations,
    examples,
    gate_outcome,
    json_values,
    real_corpus,
    scrambled_json,
    serialised,
)

#: Members of OpenVEX statements and CycloneDX analyses.
KNOWN_KEYS = (
    "statements",
    "vulnerability",
    "name",
    "@id",
    "aliases",
    "products",
    "subcomponents",
    "identifiers",
    "purl",
    "status",
    "justification",
    "impact_statement",
    "action_statement",
    "timestamp",
    "last_updated",
    "author",
    "vulnerabilities",
    "id",
    "analysis",
    "state",
    "response",
    "detail",
    "affects",
    "ref",
    "versions",
    "range",
    "components",
    "bom-ref",
)
MARKERS: tuple[dict[str, Any], ...] = (
    {"@context": "https://openvex.dev/ns/v0.2.0"},
    {"@context": "https://openvex.dev/ns"},
    {"bomFormat": "CycloneDX", "specVersion": "1.5"},
)


@pytest.fixture(scope="module")
def seeds() -> tuple[Seed, ...]:
    """Every real VEX document (OpenVEX and CycloneDX VEX)."""
    return real_corpus("vex")


def _check(data: bytes) -> None:
    result = gate_outcome(lambda: load_vex(data, "fuzz.vex.json"))
    if not isinstance(result, GateError):
        assert isinstance(result, VexDocument)


@settings(max_examples=examples(0.5))
@given(data=st.data())
def test_mutated_real_vex_loads_or_fails_with_one_line(
    seeds: tuple[Seed, ...], data: st.DataObject
) -> None:
    _check(data.draw(document_mutations(seeds)))


@settings(max_examples=examples(0.25))
@given(data=st.data())
def test_vex_shaped_like_real_documents_loads_or_fails_with_one_line(
    seeds: tuple[Seed, ...], data: st.DataObject
) -> None:
    seed = data.draw(st.sampled_from([s for s in seeds if s.document is not None]))
    _check(data.draw(serialised(data.draw(scrambled_json(seed.document)))))


def _nested() -> st.SearchStrategy[Any]:
    return st.recursive(
        json_values,
        lambda children: st.one_of(
            st.lists(children, max_size=3),
            st.dictionaries(st.sampled_from(KNOWN_KEYS), children, max_size=5),
        ),
        max_leaves=16,
    )


@settings(max_examples=examples(0.25))
@given(
    markers=st.sampled_from(MARKERS),
    body=st.dictionaries(st.sampled_from(KNOWN_KEYS), _nested(), max_size=5),
    data=st.data(),
)
def test_generated_vex_loads_or_fails_with_one_line(
    markers: dict[str, Any], body: dict[str, Any], data: st.DataObject
) -> None:
    _check(data.draw(serialised({**body, **markers})))
