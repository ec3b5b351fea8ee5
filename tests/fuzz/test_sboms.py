"""SBOMs (``gate.sbom.load``): real CycloneDX and SPDX documents mutated, and generated ones.

CycloneDX JSON and XML, SPDX JSON and tag-value, from the shared fixtures;
any bytes give an ``Sbom`` or a one-line ``GateError``.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gate.errors import GateError
from gate.sbom.component import Component, Sbom
from gate.sbom.load import load_sbom
from tests.fuzz.support import (
    NASTY_STRINGS,
    Seed,
    document_mutations,
    examples,
    gate_outcome,
    json_values,
    real_corpus,
    scrambled_json,
    serialised,
)

#: Members of CycloneDX and SPDX documents the readers look at.
KNOWN_KEYS = (
    "components",
    "metadata",
    "component",
    "bom-ref",
    "purl",
    "name",
    "version",
    "type",
    "licenses",
    "license",
    "expression",
    "hashes",
    "dependencies",
    "packages",
    "SPDXID",
    "versionInfo",
    "externalRefs",
    "referenceType",
    "referenceLocator",
    "licenseConcluded",
    "licenseDeclared",
    "relationships",
    "relationshipType",
    "spdxElementId",
    "relatedSpdxElement",
    "documentDescribes",
    "creationInfo",
    "created",
    "checksums",
)
MARKERS: tuple[dict[str, Any], ...] = (
    {"bomFormat": "CycloneDX", "specVersion": "1.5"},
    {"bomFormat": "CycloneDX", "specVersion": "1.2"},
    {"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT"},
    {"spdxVersion": "SPDX-2.2"},
)
TAG_VALUE_TAGS = (
    "SPDXVersion",
    "DataLicense",
    "SPDXID",
    "DocumentName",
    "DocumentNamespace",
    "Creator",
    "Created",
    "PackageName",
    "PackageVersion",
    "PackageDownloadLocation",
    "FilesAnalyzed",
    "PackageLicenseConcluded",
    "PackageLicenseDeclared",
    "ExternalRef",
    "Relationship",
    "FileName",
    "PackageChecksum",
)


@pytest.fixture(scope="module")
def seeds() -> tuple[Seed, ...]:
    """Every real SBOM of at most 64 KiB: CycloneDX JSON/XML, SPDX JSON/tag-value."""
    return real_corpus("cyclonedx", suffixes=(".json", ".xml")) + real_corpus(
        "spdx", suffixes=(".json", ".spdx")
    )


def _check(data: bytes) -> None:
    result = gate_outcome(lambda: load_sbom(data, "fuzz-sbom.json"))
    if not isinstance(result, GateError):
        assert isinstance(result, Sbom)
        assert all(isinstance(component, Component) for component in result.components)


@settings(max_examples=examples(0.75))
@given(data=st.data())
def test_mutated_real_sboms_load_or_fail_with_one_line(
    seeds: tuple[Seed, ...], data: st.DataObject
) -> None:
    _check(data.draw(document_mutations(seeds)))


@settings(max_examples=examples(0.25))
@given(data=st.data())
def test_sboms_shaped_like_real_ones_load_or_fail_with_one_line(
    seeds: tuple[Seed, ...], data: st.DataObject
) -> None:
    seed = data.draw(st.sampled_from([s for s in seeds if s.document is not None]))
    _check(data.draw(serialised(data.draw(scrambled_json(seed.document)))))


@settings(max_examples=examples(0.25))
@given(
    markers=st.sampled_from(MARKERS),
    body=st.dictionaries(st.sampled_from(KNOWN_KEYS), json_values, max_size=6),
    data=st.data(),
)
def test_generated_sboms_load_or_fail_with_one_line(
    markers: dict[str, Any], body: dict[str, Any], data: st.DataObject
) -> None:
    _check(data.draw(serialised({**body, **markers})))


@settings(max_examples=examples(0.3))
@given(
    lines=st.lists(
        st.tuples(
            st.sampled_from(TAG_VALUE_TAGS),
            st.one_of(st.text(max_size=30), st.sampled_from(NASTY_STRINGS)),
        ),
        max_size=12,
    )
)
def test_generated_spdx_tag_value_loads_or_fails_with_one_line(
    lines: list[tuple[str, str]],
) -> None:
    text = "SPDXVersion: SPDX-2.3\n" + "".join(f"{tag}: {value}\n" for tag, value in lines)
    _check(text.encode("utf-8", "surrogatepass"))
