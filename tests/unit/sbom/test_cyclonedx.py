"""CycloneDX SBOM reader: nesting, licenses, subject digests, timestamps, malformed input, XML."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from gate.errors import InputError
from gate.oci.digest import Digest
from gate.sbom.component import Component, Sbom
from gate.sbom.load import load_sbom
from gate.sbom.validation import schema_validation


@pytest.fixture(autouse=True)
def _schema_validation() -> Iterator[None]:
    """These tests look at the libraries' schema verdicts, which gate evidence show turns on."""
    with schema_validation():
        yield


HEX = "6042500cf4b44023ea1894effe7890666b0c5c7871ed83a97c36c76ae560bb9b"


def bom(*components: object, **top: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "components": list(components),
    }
    doc.update(top)
    return doc


def lib(name: str, **fields: Any) -> dict[str, Any]:
    return {"type": "library", "name": name, **fields}


def load(document: object) -> Sbom:
    return load_sbom(json.dumps(document).encode(), "sbom.json")


def error_of(document: object) -> str:
    with pytest.raises(InputError) as excinfo:
        load(document)
    return str(excinfo.value)


def test_components_are_read_with_their_fields() -> None:
    sbom = load(
        bom(
            lib(
                "lodash",
                version="4.17.21",
                purl="pkg:npm/lodash@4.17.21",
                **{"bom-ref": "pkg:npm/lodash@4.17.21"},
                licenses=[{"license": {"id": "MIT"}}],
            )
        )
    )
    assert sbom.format == "cyclonedx"
    assert sbom.spec_version == "1.6"
    assert sbom.source == "sbom.json"
    assert sbom.components == (
        Component(
            name="lodash",
            version="4.17.21",
            purl="pkg:npm/lodash@4.17.21",
            licenses=("MIT",),
            type="library",
            bom_ref="pkg:npm/lodash@4.17.21",
        ),
    )
    assert sbom.metadata["encoding"] == "json"


def test_nested_components_are_walked_depth_first_in_document_order() -> None:
    doc = bom(
        lib("a", components=[lib("a1", components=[lib("a1x")]), lib("a2")]),
        lib("b"),
        metadata={"component": {"type": "application", "name": "app", "components": [lib("sub")]}},
    )
    sbom = load(doc)
    # The subject itself is not a component; what it contains is.
    assert [c.name for c in sbom.components] == ["sub", "a", "a1", "a1x", "a2", "b"]
    assert sbom.subject_name == "app"


def _nested_bom(depth: int) -> bytes:
    """A BOM whose one component nests ``depth`` levels deep, written without json.dumps."""
    opening = '{"type": "library", "name": "c", "components": [' * depth
    closing = "]}" * depth
    inner = '{"type": "library", "name": "leaf"}'
    return (
        '{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": ['
        + opening
        + inner
        + closing
        + "]}"
    ).encode()


def test_nested_components_are_walked_without_recursion() -> None:
    assert len(load_sbom(_nested_bom(250), "deep.json").components) == 251


@pytest.mark.parametrize("data", [_nested_bom(5000)])
def test_absurd_nesting_is_an_input_error_not_a_crash(data: bytes) -> None:
    with pytest.raises(InputError, match="nested too deeply"):
        load_sbom(data, "deep.json")


def test_absurd_xml_nesting_is_an_input_error_not_a_crash() -> None:
    depth = 5000
    data = (
        '<bom xmlns="http://cyclonedx.org/schema/bom/1.5"><components>'
        + '<component type="library"><name>c</name><components>' * depth
        + "</components></component>" * depth
        + "</components></bom>"
    ).encode()
    with pytest.raises(InputError, match="nested too deeply"):
        load_sbom(data, "deep.xml")


def test_identical_components_are_not_merged() -> None:
    sbom = load(bom(lib("a", version="1"), lib("a", version="1")))
    assert len(sbom.components) == 2


@pytest.mark.parametrize(
    ("licenses", "expected"),
    [
        ([{"license": {"id": "Apache-2.0"}}, {"license": {"id": "MIT"}}], ("Apache-2.0", "MIT")),
        ([{"license": {"name": "GPL-2.0"}}], ("GPL-2.0",)),
        ([{"license": {"id": "MIT", "name": "The MIT License"}}], ("MIT",)),
        ([{"expression": "(MIT OR AGPL-3.0-only)"}], ("(MIT OR AGPL-3.0-only)",)),
        ([{"license": {"name": "Custom", "url": "https://x"}}], ("Custom",)),
        ([], ()),
        (None, ()),
    ],
)
def test_licenses_keep_ids_names_and_expressions_as_written(
    licenses: object, expected: tuple[str, ...]
) -> None:
    (component,) = load(bom(lib("x", licenses=licenses))).components
    assert component.licenses == expected


def test_created_at_comes_from_metadata_timestamp() -> None:
    sbom = load(bom(metadata={"timestamp": "2024-01-04T15:25:30+00:00"}))
    assert sbom.created_at == datetime(2024, 1, 4, 15, 25, 30, tzinfo=UTC)


def test_a_missing_timestamp_stays_unknown_never_now() -> None:
    assert load(bom()).created_at is None


def test_a_placeholder_timestamp_is_unknown_and_noted() -> None:
    sbom = load(bom(metadata={"timestamp": "timestamp:redacted"}))
    assert sbom.created_at is None
    assert sbom.metadata["created_at_unparsed"] == "timestamp:redacted"


def test_trivy_subject_digest_from_the_oci_purl_and_repo_digest_property() -> None:
    subject = {
        "type": "container",
        "name": "ubuntu:latest",
        "purl": f"pkg:oci/ubuntu@sha256%3A{HEX}?arch=amd64"
        "&repository_url=index.docker.io%2Flibrary%2Fubuntu",
        "properties": [
            {"name": "aquasecurity:trivy:ImageID", "value": "sha256:" + "1" * 64},
            {"name": "aquasecurity:trivy:RepoDigest", "value": "ubuntu@sha256:" + "2" * 64},
        ],
    }
    sbom = load(bom(metadata={"component": subject}))
    assert sbom.subject_name == "ubuntu:latest"
    # ImageID is the config digest and must not be there.
    assert sbom.subject_digests == frozenset({Digest("sha256", HEX), Digest("sha256", "2" * 64)})


def test_syft_subject_digest_from_a_container_version() -> None:
    subject = {"type": "container", "name": "user-input", "version": f"sha256:{HEX}"}
    assert load(bom(metadata={"component": subject})).subject_digests == {Digest("sha256", HEX)}


@pytest.mark.parametrize(
    "subject",
    [
        {"type": "container", "name": "x", "version": "sha256:redacted"},
        {"type": "application", "name": "x", "version": f"sha256:{HEX}"},
        {"type": "container", "name": "x", "purl": "pkg:oci/x@latest"},
    ],
)
def test_no_digest_is_invented_for_the_subject(subject: dict[str, Any]) -> None:
    assert load(bom(metadata={"component": subject})).subject_digests == frozenset()


def test_components_may_be_absent() -> None:
    doc = bom()
    del doc["components"]
    assert load(doc).components == ()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            bom(lib("a"), {"type": "library"}),
            "sbom.json: components[1].name: required field is missing",
        ),
        (
            bom(lib("a", components=[{"type": "library", "name": 5}])),
            "sbom.json: components[0].components[0].name: expected a string, got number",
        ),
        (bom(lib("")), "sbom.json: components[0].name: must not be empty"),
        (bom("lodash"), "sbom.json: components[0]: expected an object, got string"),
        (bom(components="x"), "sbom.json: components: expected an array, got string"),
        (
            bom(lib("a", version=1.2)),
            "sbom.json: components[0].version: expected a string, got number",
        ),
        (
            bom(lib("a", purl={"type": "npm"})),
            "sbom.json: components[0].purl: expected a string, got object",
        ),
        (
            bom(lib("a", licenses="MIT")),
            "sbom.json: components[0].licenses: expected an array, got string",
        ),
        (
            bom(lib("a", licenses=[{"foo": 1}])),
            "sbom.json: components[0].licenses[0]:"
            " license entry has neither 'license' nor 'expression'",
        ),
        (
            bom(lib("a", licenses=[{"license": {"url": "https://x"}}])),
            "sbom.json: components[0].licenses[0].license: license has neither 'id' nor 'name'",
        ),
        (
            bom(lib("a", licenses=[{"license": "MIT"}])),
            "sbom.json: components[0].licenses[0].license: expected an object, got string",
        ),
        (
            bom(lib("a", components={})),
            "sbom.json: components[0].components: expected an array, got object",
        ),
        (
            bom(lib("a", properties=[{"value": "x"}])),
            "sbom.json: components[0].properties[0].name: required field is missing",
        ),
        (
            bom(lib("a", **{"bom-ref": "r"}), lib("b", **{"bom-ref": "r"})),
            "sbom.json: components[1].bom-ref: duplicate bom-ref 'r' (first at components[0])",
        ),
        (
            bom(specVersion="2.0"),
            "sbom.json: specVersion: CycloneDX '2.0' is not supported (only 1.x)",
        ),
        (bom(specVersion=1.5), "sbom.json: specVersion: expected a string, got number"),
        ({"bomFormat": "CycloneDX"}, "sbom.json: specVersion: required field is missing"),
        (bom(metadata=[]), "sbom.json: metadata: expected an object, got array"),
        (
            bom(metadata={"timestamp": 1700000000}),
            "sbom.json: metadata.timestamp: expected a string, got number",
        ),
        (
            bom(metadata={"component": "app"}),
            "sbom.json: metadata.component: expected an object, got string",
        ),
        (
            bom(metadata={"tools": "trivy"}),
            "sbom.json: metadata.tools: expected an array or object, got string",
        ),
    ],
)
def test_malformed_sboms_are_one_exact_line(document: object, message: str) -> None:
    assert error_of(document) == message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b'{"SchemaVersion": 2, "Results": []}',
            "sbom.json: recognised as Trivy JSON, which is a scanner report, not an SBOM",
        ),
        (
            b'{"spdxVersion": "SPDX-2.3"}',
            "sbom.json: creationInfo: required field is missing",
        ),
        (
            b"SPDXVersion: SPDX-2.2\n",
            "sbom.json: not a readable SPDX tag-value document: CreationInfo: required spdx_id,"
            " name, document_namespace, creators, and created missing",
        ),
        (
            b'{"@context": "https://openvex.dev/ns/v0.2.0"}',
            "sbom.json: recognised as OpenVEX, which is a VEX document, not an SBOM",
        ),
    ],
)
def test_documents_that_are_not_cyclonedx_sboms_say_what_they_are(
    data: bytes, message: str
) -> None:
    with pytest.raises(InputError) as excinfo:
        load_sbom(data, "sbom.json")
    assert str(excinfo.value) == message


XML = (
    b"""<?xml version="1.0" encoding="UTF-8"?>
<bom xmlns="http://cyclonedx.org/schema/bom/1.4" version="1"
     serialNumber="urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79">
  <metadata>
    <timestamp>2022-07-22T09:45:22+01:00</timestamp>
    <tools><tool><vendor>anchore</vendor><name>grype</name><version>0.41.0</version></tool></tools>
    <component type="container" bom-ref="img"><name>alpine:3.19</name><version>sha256:"""
    + HEX.encode()
    + b"""</version></component>
  </metadata>
  <components>
    <component type="library" bom-ref="pkg:composer/a/b@1.0">
      <group>a</group>
      <name><![CDATA[b]]></name>
      <version>1.0</version>
      <licenses>
        <license><id>MIT</id></license><expression>MIT OR GPL-2.0-only</expression>
      </licenses>
      <purl>pkg:composer/a/b@1.0</purl>
      <properties><property name="syft:package:type">php-composer</property></properties>
      <components>
        <component type="library"><name>nested</name><version>2</version></component>
      </components>
    </component>
  </components>
</bom>
"""
)


def test_xml_reads_the_same_fields_as_json() -> None:
    sbom = load_sbom(XML, "bom.xml")
    assert sbom.spec_version == "1.4"
    assert sbom.metadata["encoding"] == "xml"
    assert sbom.subject_name == "alpine:3.19"
    assert sbom.subject_digests == {Digest("sha256", HEX)}
    assert sbom.created_at is not None
    assert sbom.created_at.utcoffset() is not None
    assert sbom.components == (
        Component(
            name="b",
            version="1.0",
            purl="pkg:composer/a/b@1.0",
            licenses=("MIT", "MIT OR GPL-2.0-only"),
            type="library",
            bom_ref="pkg:composer/a/b@1.0",
        ),
        Component(name="nested", version="2", type="library"),
    )


def test_xml_errors_name_the_logical_path() -> None:
    data = (
        b'<bom xmlns="http://cyclonedx.org/schema/bom/1.5"><components>'
        b'<component type="library"><version>1</version></component>'
        b"</components></bom>"
    )
    with pytest.raises(InputError) as excinfo:
        load_sbom(data, "bom.xml")
    assert str(excinfo.value) == "bom.xml: components[0].name: required field is missing"


def _paths(value: object, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*path, index))
    return found


FULL_BOM = bom(
    lib(
        "a",
        version="1",
        purl="pkg:npm/a@1",
        licenses=[{"license": {"id": "MIT"}}, {"expression": "MIT OR X"}],
        properties=[{"name": "aquasecurity:trivy:PkgType", "value": "npm"}],
        components=[lib("b", **{"bom-ref": "b"})],
        **{"bom-ref": "a"},
    ),
    serialNumber="urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
    metadata={
        "timestamp": "2024-01-01T00:00:00Z",
        "tools": {"components": [{"type": "application", "name": "trivy", "version": "0.50"}]},
        "component": {
            "type": "container",
            "name": "img",
            "purl": f"pkg:oci/img@sha256%3A{HEX}",
            "properties": [{"name": "aquasecurity:trivy:RepoDigest", "value": f"img@sha256:{HEX}"}],
        },
    },
)


@pytest.mark.parametrize("replacement", [None, 0, 2.5, True, "x", "", [], [1], {}, {"a": 1}])
def test_any_value_of_the_wrong_type_is_an_input_error_never_a_crash(replacement: object) -> None:
    for path in _paths(FULL_BOM):
        doc = copy.deepcopy(FULL_BOM)
        if path:
            target: Any = doc
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = replacement
        else:
            doc = replacement  # type: ignore[assignment]  # the whole document replaced
        message = _error_or_none(json.dumps(doc).encode())
        assert message is None or (message.startswith("sbom.json: ") and "\n" not in message)


def _error_or_none(data: bytes) -> str | None:
    try:
        load_sbom(data, "sbom.json")
    except InputError as exc:
        return str(exc)
    return None


# --- schema validation through cyclonedx-python-lib: recorded, never enforced ----------------


def test_a_valid_document_is_recorded_as_valid_against_its_schema() -> None:
    sbom = load(bom(lib("a", version="1", purl="pkg:npm/a@1")))
    assert sbom.metadata["validation"] == "valid"
    assert sbom.metadata["validation_detail"].startswith("cyclonedx-python-lib ")
    assert sbom.metadata["validation_detail"].endswith("CycloneDX 1.6 JSON schema")


def test_a_schema_violation_is_recorded_with_its_place_and_the_sbom_still_loads() -> None:
    sbom = load(bom(lib("a"), {"type": "libary", "name": "b"}))
    assert [c.name for c in sbom.components] == ["a", "b"]
    assert sbom.metadata["validation"] == "invalid"
    assert (
        "CycloneDX 1.6 JSON schema: components[1].type: 'libary' is not one of"
        in (sbom.metadata["validation_detail"])
    )
    assert "\n" not in sbom.metadata["validation_detail"]


def test_identical_components_are_kept_and_the_schema_verdict_says_so() -> None:
    sbom = load(bom(lib("a", version="1"), lib("a", version="1")))
    assert len(sbom.components) == 2
    assert sbom.metadata["validation"] == "invalid"
    assert "components: has non-unique elements" in sbom.metadata["validation_detail"]


def test_unique_items_follows_json_schema_equality() -> None:
    from gate.sbom.cyclonedx import _frozen  # noqa: PLC0415  # the private helper under test

    assert _frozen({"a": 1, "b": [1.0]}) == _frozen({"b": [1], "a": 1})
    assert _frozen([True]) != _frozen([1])
    assert _frozen([0]) != _frozen([False])
    assert _frozen([1, 2]) != _frozen([2, 1])
    assert _frozen({"a": [1]}) != _frozen({"a": ["1"]})


def test_format_keywords_are_not_checked() -> None:
    # Whether jsonschema checks "date-time" depends on optional packages; the
    # verdict must not. The reader itself treats the value as an unknown time.
    sbom = load(bom(metadata={"timestamp": "timestamp:redacted"}))
    assert sbom.metadata["validation"] == "valid"
    assert sbom.created_at is None


@pytest.mark.parametrize(("spec", "what"), [("1.1", "JSON schema"), ("1.9", "JSON schema")])
def test_versions_without_a_library_schema_are_read_but_not_validated(spec: str, what: str) -> None:
    sbom = load(bom(lib("a"), specVersion=spec))
    assert [c.name for c in sbom.components] == ["a"]
    assert sbom.metadata["validation"] == "not validated"
    assert f"has no CycloneDX {spec} {what}" in sbom.metadata["validation_detail"]


def test_nesting_too_deep_for_the_validator_is_read_but_not_validated() -> None:
    sbom = load_sbom(_nested_bom(250), "deep.json")
    assert len(sbom.components) == 251
    assert sbom.metadata["validation"] == "not validated"
    assert "nested too deeply" in sbom.metadata["validation_detail"]


VALID_XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<bom xmlns="http://cyclonedx.org/schema/bom/1.5" version="1"
     serialNumber="urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79">
  <components>
    <component type="library"><name>a</name><version>1</version></component>
  </components>
</bom>
"""


def test_xml_is_validated_against_the_xsd() -> None:
    sbom = load_sbom(VALID_XML, "bom.xml")
    assert sbom.metadata["validation"] == "valid"
    assert sbom.metadata["validation_detail"].endswith("CycloneDX 1.5 XML schema")


def test_an_xsd_violation_names_the_element_and_the_sbom_still_loads() -> None:
    data = VALID_XML.replace(b"urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79", b"redacted")
    sbom = load_sbom(data, "bom.xml")
    assert [c.name for c in sbom.components] == ["a"]
    assert sbom.metadata["validation"] == "invalid"
    detail = sbom.metadata["validation_detail"]
    assert "CycloneDX 1.5 XML schema: /bom: Element 'bom', attribute 'serialNumber'" in detail
    assert "{http" not in detail  # namespaces are left out of the message


def test_xml_with_a_dtd_never_reaches_the_validator() -> None:
    data = VALID_XML.replace(
        b"<bom ", b'<!DOCTYPE bom [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<bom ', 1
    )
    with pytest.raises(InputError, match="forbidden construct"):
        load_sbom(data, "bom.xml")


def test_scan_reports_carry_the_verdict_too() -> None:
    from gate.scanners.cyclonedx_vulns import parse_cyclonedx_vulnerabilities  # noqa: PLC0415

    doc = bom(
        lib("a", version="1", **{"bom-ref": "a"}),
        vulnerabilities=[{"id": "CVE-2024-1", "affects": [{"ref": "a"}]}],
    )
    report = parse_cyclonedx_vulnerabilities(doc, "scan.json")
    assert report.metadata["validation"] == "valid"
