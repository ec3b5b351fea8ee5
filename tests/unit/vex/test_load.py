"""``load_vex``: VEX documents are recognised by content; everything else is refused by name."""

from __future__ import annotations

import json

import pytest

from gate.errors import InputError
from gate.vex.load import load_vex


def _bytes(document: object) -> bytes:
    return json.dumps(document).encode()


OPENVEX = {
    "@context": "https://openvex.dev/ns/v0.2.0",
    "timestamp": "2024-01-01T00:00:00Z",
    "statements": [
        {
            "vulnerability": {"name": "CVE-2024-0001"},
            "products": [{"@id": "pkg:apk/alpine/zlib@1.3"}],
            "status": "fixed",
        }
    ],
}

CDX_VEX = {
    "bomFormat": "CycloneDX",
    "specVersion": "1.4",
    "version": 1,
    "vulnerabilities": [
        {
            "id": "CVE-2024-0001",
            "analysis": {"state": "resolved"},
            "affects": [{"ref": "pkg:apk/alpine/zlib@1.3"}],
        }
    ],
}


def test_openvex_loads() -> None:
    doc = load_vex(_bytes(OPENVEX), "a.openvex.json")
    assert doc.format == "openvex"
    assert doc.source == "a.openvex.json"
    assert [s.vulnerability for s in doc.statements] == ["CVE-2024-0001"]


def test_cyclonedx_vex_loads_in_json_and_xml() -> None:
    doc = load_vex(_bytes(CDX_VEX), "a.cdx.json")
    assert doc.format == "cyclonedx"
    assert len(doc.statements) == 1
    xml = b"""<bom xmlns="http://cyclonedx.org/schema/bom/1.4" version="1">
      <vulnerabilities><vulnerability><id>CVE-1</id>
        <analysis><state>resolved</state></analysis>
        <affects><target><ref>pkg:apk/alpine/zlib@1.3</ref></target></affects>
      </vulnerability></vulnerabilities></bom>"""
    assert [s.vulnerability for s in load_vex(xml, "a.cdx.xml").statements] == ["CVE-1"]


def test_an_empty_vex_only_cyclonedx_document_is_empty() -> None:
    doc = load_vex(
        _bytes({"bomFormat": "CycloneDX", "specVersion": "1.5", "vulnerabilities": []}), "e.json"
    )
    assert doc.statements == ()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            _bytes({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": []}),
            "sbom.json: recognised as CycloneDX JSON without any vulnerability analysis: "
            "an SBOM or a scanner report, not a VEX document",
        ),
        (
            b'<bom xmlns="http://cyclonedx.org/schema/bom/1.4"><components/></bom>',
            "sbom.json: recognised as CycloneDX XML without any vulnerability analysis",
        ),
        (
            _bytes({"SchemaVersion": 2, "Results": []}),
            "sbom.json: recognised as Trivy JSON, which is a scanner report, not a VEX document",
        ),
        (
            _bytes({"spdxVersion": "SPDX-2.3"}),
            "sbom.json: recognised as SPDX JSON, which is an SBOM, not a VEX document",
        ),
        (b"", "sbom.json: the file is empty"),
        (b"{", "sbom.json: not valid JSON or XML"),
        (_bytes({"x": 1}), "sbom.json: JSON object with keys {x} is not a recognised"),
    ],
)
def test_anything_else_is_refused_saying_what_it_is(data: bytes, expected: str) -> None:
    with pytest.raises(InputError) as caught:
        load_vex(data, "sbom.json")
    assert str(caught.value).startswith(expected)


def test_a_deeply_nested_document_is_an_input_error() -> None:
    aliases = b"[" * 100_000 + b'"x"' + b"]" * 100_000
    data = (
        b'{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [{"vulnerability": '
        b'{"name": "CVE-1", "aliases": ' + aliases + b'}, "status": "fixed"}]}'
    )
    with pytest.raises(InputError):
        load_vex(data, "deep.json")
