"""Policy files (``gate.policy.loader``): the repository's policies mutated, and random YAML.

Any text gives a ``Policy`` or a ``PolicyError`` (every problem on its own
line, each line one ``file:line:col: field: reason``), never another
exception: not for broken YAML, not for YAML that is valid but not a policy,
not for a policy that is almost right.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gate.errors import GateError, PolicyError
from gate.policy.loader import load_policy_text
from gate.policy.model import Policy
from tests.fuzz.support import (
    NASTY_STRINGS,
    Seed,
    examples,
    gate_outcome,
    json_paths,
    json_values,
    mutated_bytes,
    mutated_lines,
    mutated_seed,
    scrambled_json,
)

POLICIES = Path(__file__).resolve().parents[2] / "policies"

#: Policy members, drawn as keys at every level of generated documents.
KNOWN_KEYS = (
    "apiVersion",
    "kind",
    "metadata",
    "name",
    "spec",
    "mode",
    "defaultAction",
    "trust",
    "cosign",
    "publicKeys",
    "keyless",
    "issuer",
    "subject",
    "subjectRegExp",
    "notary",
    "notation",
    "rules",
    "match",
    "images",
    "namespaces",
    "action",
    "signatures",
    "anyOf",
    "allOf",
    "threshold",
    "vulnerabilities",
    "denySeverity",
    "fixableOnly",
    "requireScan",
    "maxScanAge",
    "exceptions",
    "id",
    "expires",
    "reason",
    "sbom",
    "require",
    "deniedLicenses",
    "deniedPackages",
    "onError",
)
#: YAML that is hostile as YAML: aliases, tags, merges, duplicates, deep nesting, documents.
HOSTILE_YAML = (
    "a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\nd: &d [*c, *c]\ne: [*d, *d, *d, *d]\n",
    "x: &x\n  y: *x\n",
    "!!python/object/apply:os.system ['true']\n",
    "apiVersion: gate/v1\napiVersion: gate/v2\n",
    "<<: {apiVersion: gate/v1}\nkind: Policy\n",
    "[" * 500 + "]" * 500,
    "a:\n" + "".join("  " * i + "- \n" for i in range(300)),
    "--- {}\n--- {}\n",
    "? [a, b]\n: c\n",
    "{1: 2, null: 3, [x]: 4}\n",
    "spec: !!binary aGVsbG8=\n",
    "spec: !!set {a, b}\n",
    "spec: !!timestamp 2024-13-45\n",
    "spec: !custom {}\n",
    "\ufeffapiVersion: gate/v1\n",
    "key: 'unterminated\n",
    "\t- tab indented\n",
    "%YAML 9.9\n---\na: 1\n",
)


def _seed(path: Path) -> Seed:
    data = path.read_bytes()
    document = yaml.safe_load(data)
    return Seed(path, data, document, json_paths(document))


SEEDS = tuple(
    _seed(path) for path in sorted(POLICIES.glob("*.yaml")) if not path.name.endswith(".tests.yaml")
)


def _check(text: bytes | str) -> None:
    # Named inside the real policies directory so relative key files resolve as in use.
    result = gate_outcome(lambda: load_policy_text(text, POLICIES / "fuzz.yaml"))
    if isinstance(result, GateError):
        assert isinstance(result, PolicyError), f"{type(result).__name__}: {result}"
    else:
        assert isinstance(result, Policy)


def _dump(document: Any) -> str:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


def test_the_repository_policies_load() -> None:
    assert SEEDS, f"no policies in {POLICIES}"
    for seed in SEEDS:
        assert isinstance(load_policy_text(seed.data, seed.path), Policy)


@settings(max_examples=examples(0.4))
@given(data=st.data())
def test_structurally_mutated_policies_load_or_fail_with_one_line_each(
    data: st.DataObject,
) -> None:
    seed = data.draw(st.sampled_from(SEEDS))
    _check(_dump(data.draw(mutated_seed(seed))))


@settings(max_examples=examples(0.25))
@given(data=st.data())
def test_policies_mutated_as_text_load_or_fail_with_one_line_each(data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from(SEEDS))
    mutation = data.draw(st.sampled_from((mutated_bytes, mutated_lines)))
    _check(data.draw(mutation(seed.data)))


@settings(max_examples=examples(0.2))
@given(data=st.data())
def test_policies_shaped_like_real_ones_load_or_fail_with_one_line_each(
    data: st.DataObject,
) -> None:
    seed = data.draw(st.sampled_from(SEEDS))
    _check(_dump(data.draw(scrambled_json(seed.document))))


def _policy_like() -> st.SearchStrategy[Any]:
    leaves = st.one_of(
        json_values,
        st.dates(),
        st.sampled_from(("deny", "allow", "warn", "enforce", "audit", "**", "CRITICAL", "7d")),
    )
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=3),
            st.dictionaries(st.sampled_from(KNOWN_KEYS), children, max_size=5),
        ),
        max_leaves=25,
    )


@settings(max_examples=examples(0.25))
@given(spec=_policy_like())
def test_generated_policies_load_or_fail_with_one_line_each(spec: Any) -> None:
    _check(
        _dump({"apiVersion": "gate/v1", "kind": "Policy", "metadata": {"name": "f"}, "spec": spec})
    )


@settings(max_examples=examples(0.25))
@given(
    text=st.one_of(
        st.sampled_from(HOSTILE_YAML),
        st.text(alphabet=st.sampled_from(list(":-[]{}&*!|>'\"#%@`,? \n\tab0")), max_size=200),
        st.sampled_from(NASTY_STRINGS),
    )
)
def test_hostile_yaml_fails_with_one_line_each(text: str) -> None:
    _check(text.encode("utf-8", "surrogatepass"))


def test_dates_and_times_survive_a_dump() -> None:
    # The generator emits dates; the dumped form must stay a YAML date for the loader.
    assert yaml.safe_load(_dump({"d": datetime.date(2027, 1, 31)})) == {
        "d": datetime.date(2027, 1, 31)
    }


@pytest.mark.parametrize("text", HOSTILE_YAML)
def test_each_hostile_yaml_sample(text: str) -> None:
    _check(text)
