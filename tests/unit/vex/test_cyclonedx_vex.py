"""CycloneDX VEX (JSON and XML) into statements: state mapping, refs, versions, times, errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import defusedxml.ElementTree as SafeElementTree  # type: ignore[import-untyped]  # ships no stubs
import pytest

from gate.errors import InputError
from gate.oci.digest import Digest
from gate.purl import PackageUrl
from gate.vex.cyclonedx_vex import (
    STATE_STATUSES,
    is_cyclonedx_vex,
    parse_cyclonedx_vex,
    parse_cyclonedx_xml_vex,
)
from gate.vex.model import VexDocument, VexStatus

SERIAL = "3e671687-395b-41f5-a30f-a58921a69b79"
OTHER_SERIAL = "2c385cf7-e1ee-46e9-a51c-13de1ecb380a"
DIGEST = "sha256:" + "12" * 32


def bom(*vulnerabilities: object, **top: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{SERIAL}",
        "version": 1,
        "metadata": {
            "timestamp": "2024-01-01T00:00:00Z",
            "component": {
                "bom-ref": "app",
                "type": "container",
                "name": "app",
                "purl": f"pkg:oci/app@{DIGEST.replace(':', '%3A')}",
            },
        },
        "components": [
            {"bom-ref": "c1", "type": "library", "name": "zlib", "purl": "pkg:apk/alpine/zlib@1.3"}
        ],
        "vulnerabilities": list(vulnerabilities),
    }
    doc.update(top)
    return doc


def vuln(state: str | None = "not_affected", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "CVE-2024-0001",
        "analysis": {"state": state, "justification": "code_not_reachable", "detail": "why"},
        "affects": [{"ref": "c1"}],
    }
    base.update(fields)
    return base


def parse(doc: object) -> VexDocument:
    return parse_cyclonedx_vex(doc, "vex.cdx.json")


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("not_affected", VexStatus.NOT_AFFECTED),
        ("false_positive", VexStatus.NOT_AFFECTED),
        ("resolved", VexStatus.FIXED),
        ("resolved_with_pedigree", VexStatus.FIXED),
        ("exploitable", VexStatus.AFFECTED),
        ("in_triage", VexStatus.UNDER_INVESTIGATION),
    ],
)
def test_every_analysis_state_maps_to_its_status(state: str, status: VexStatus) -> None:
    (stmt,) = parse(bom(vuln(state))).statements
    assert stmt.status is status
    assert stmt.raw_status == (None if state == status.value else state)
    assert STATE_STATUSES[state] is status


def test_detail_is_the_impact_of_not_affected_and_the_action_of_exploitable() -> None:
    not_affected, exploitable = parse(
        bom(
            vuln("not_affected", references=[{"id": "GHSA-1"}, {"id": "CVE-2024-0001"}]),
            vuln(
                "exploitable",
                analysis={"state": "exploitable", "detail": "upgrade", "response": ["update"]},
            ),
        )
    ).statements
    assert not_affected.justification == "code_not_reachable"
    assert not_affected.impact_statement == "why"
    assert not_affected.action_statement is None
    assert not_affected.aliases == ("GHSA-1",)
    assert exploitable.action_statement == "upgrade"
    assert exploitable.impact_statement is None
    assert exploitable.responses == ("update",)


def test_a_local_ref_takes_the_components_purl() -> None:
    (product,) = parse(bom(vuln())).statements[0].products
    assert product.id == "c1"
    assert product.bom_ref == "c1"
    assert product.bom_link is None
    assert product.purls == (PackageUrl.parse("pkg:apk/alpine/zlib@1.3"),)


def test_a_ref_to_the_subject_and_no_affects_both_name_the_image() -> None:
    by_ref, implicit = parse(bom(vuln(affects=[{"ref": "app"}]), vuln(affects=None))).statements
    for stmt in (by_ref, implicit):
        (product,) = stmt.products
        assert product.names_image
        assert product.digests == frozenset({Digest.parse(DIGEST)})


def test_without_affects_and_without_subject_nothing_is_named_and_that_is_noted() -> None:
    doc = bom(vuln(affects=[]))
    del doc["metadata"]["component"]
    parsed = parse(doc)
    assert parsed.statements[0].products == ()
    assert "names no affected component" in parsed.notes[0]


def test_a_bom_link_into_this_document_resolves_locally() -> None:
    (product,) = (
        parse(bom(vuln(affects=[{"ref": f"urn:cdx:{SERIAL}/1#c1"}]))).statements[0].products
    )
    assert product.bom_link is None
    assert product.purls == (PackageUrl.parse("pkg:apk/alpine/zlib@1.3"),)


def test_a_bom_link_into_another_bom_is_kept_and_a_purl_fragment_is_read() -> None:
    link, purl_link = parse(
        bom(
            vuln(affects=[{"ref": f"urn:cdx:{OTHER_SERIAL}/2#acme-product-1"}]),
            vuln(affects=[{"ref": f"urn:cdx:{OTHER_SERIAL}/1#pkg:npm/%40babel/core@7.0.0"}]),
        )
    ).statements
    (product,) = link.products
    assert (product.bom_ref, product.bom_link) == ("acme-product-1", f"urn:cdx:{OTHER_SERIAL}/2")
    assert product.purls == ()
    (package,) = purl_link.products
    assert package.purls == (PackageUrl.parse("pkg:npm/%40babel/core@7.0.0"),)


def test_versions_and_ranges_scope_the_reference() -> None:
    (product,) = (
        parse(
            bom(
                vuln(
                    affects=[
                        {
                            "ref": "c1",
                            "versions": [
                                {"version": "1.3", "status": "affected"},
                                {"range": "vers:generic/>=2.9|<=4.1", "status": "affected"},
                            ],
                        }
                    ]
                )
            )
        )
        .statements[0]
        .products
    )
    assert product.versions == ("1.3",)
    assert product.version_ranges == ("vers:generic/>=2.9|<=4.1",)
    assert product.version_scoped


def test_the_analysis_time_wins_over_the_document_time() -> None:
    first, second, third = parse(
        bom(
            vuln(),
            vuln(analysis={"state": "resolved", "firstIssued": "2024-02-01T00:00:00Z"}),
            vuln(
                analysis={
                    "state": "resolved",
                    "firstIssued": "2024-02-01T00:00:00Z",
                    "lastUpdated": "2024-03-01T00:00:00Z",
                }
            ),
        )
    ).statements
    assert first.timestamp == datetime(2024, 1, 1, tzinfo=UTC)
    assert second.timestamp == datetime(2024, 2, 1, tzinfo=UTC)
    assert third.timestamp == datetime(2024, 3, 1, tzinfo=UTC)


def test_vulnerabilities_without_an_analysis_state_are_skipped_and_counted() -> None:
    doc = parse(bom(vuln(), vuln(analysis=None), vuln(analysis={"justification": "x"})))
    assert len(doc.statements) == 1
    assert doc.notes == (
        "2 vulnerabilities have no analysis state: they state nothing and were skipped",
    )


def test_what_counts_as_vex() -> None:
    assert is_cyclonedx_vex(bom(vuln()))
    assert is_cyclonedx_vex({"bomFormat": "CycloneDX", "vulnerabilities": []})
    assert not is_cyclonedx_vex(bom())  # an SBOM with an empty vulnerabilities list
    assert not is_cyclonedx_vex(bom(vuln(analysis=None)))  # a scan report
    assert not is_cyclonedx_vex({"bomFormat": "CycloneDX"})
    assert not is_cyclonedx_vex([])


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (bom(vuln("exploited")), "vulnerabilities[0].analysis.state: unknown analysis state"),
        (bom(vuln(id=None)), "vulnerabilities[0].id: required field is missing"),
        (bom(vuln(analysis=[])), "vulnerabilities[0].analysis: expected an object, got array"),
        (bom(5), "vulnerabilities[0]: expected an object, got number"),
        (bom(vuln(affects=[{}])), "vulnerabilities[0].affects[0].ref: required field is missing"),
        (
            bom(vuln(affects=[{"ref": "urn:cdx:abc#x"}])),
            "vulnerabilities[0].affects[0].ref: malformed BOM-Link 'urn:cdx:abc#x'",
        ),
        (
            bom(vuln(affects=[{"ref": "pkg:"}])),
            "vulnerabilities[0].affects[0].ref: invalid package URL 'pkg:'",
        ),
        (
            bom(vuln(affects=[{"ref": "c1", "versions": [{"status": "affected"}]}])),
            "vulnerabilities[0].affects[0].versions[0]: a version entry needs a version or a range",
        ),
        (
            bom(vuln(analysis={"state": "resolved", "response": [1]})),
            "vulnerabilities[0].analysis.response[0]: expected a string, got number",
        ),
        (
            bom(vuln(analysis={"state": "resolved", "lastUpdated": "soon"})),
            "vulnerabilities[0].analysis.lastUpdated: not an RFC 3339 timestamp",
        ),
        (
            bom(vuln(), metadata={"timestamp": "not a time"}),
            "metadata.timestamp: not an RFC 3339 timestamp",
        ),
        (bom(vuln(), specVersion="2.0"), "specVersion: CycloneDX '2.0' is not supported"),
    ],
)
def test_malformed_documents_are_one_line_input_errors(doc: object, expected: str) -> None:
    with pytest.raises(InputError) as caught:
        parse(doc)
    assert expected in str(caught.value)
    assert str(caught.value).startswith("vex.cdx.json: ")
    assert "\n" not in str(caught.value)


XML = f"""<?xml version="1.0" encoding="UTF-8"?>
<bom xmlns="http://cyclonedx.org/schema/bom/1.5" serialNumber="urn:uuid:{SERIAL}" version="1">
  <metadata>
    <timestamp>2024-01-01T00:00:00Z</timestamp>
    <component type="application" bom-ref="product-ABC"><name>ABC</name></component>
  </metadata>
  <vulnerabilities>
    <vulnerability bom-ref="v1">
      <id>CVE-2021-44228</id>
      <references><reference><id>GHSA-jfh8-c2jp-5v3q</id></reference></references>
      <analysis>
        <state>not_affected</state>
        <justification>code_not_present</justification>
        <responses><response>will_not_fix</response><response>update</response></responses>
        <detail>Class removed before shipping.</detail>
        <lastUpdated>2024-02-02T00:00:00Z</lastUpdated>
      </analysis>
      <affects>
        <target>
          <ref>product-ABC</ref>
          <versions><version><version>4.2</version><status>affected</status></version></versions>
        </target>
      </affects>
    </vulnerability>
    <vulnerability><id>CVE-2020-0001</id></vulnerability>
  </vulnerabilities>
</bom>
"""


def test_an_xml_vex_document_reads_like_its_json_form() -> None:
    root = SafeElementTree.fromstring(XML.encode())
    doc = parse_cyclonedx_xml_vex(root, "vex.cdx.xml")
    (stmt,) = doc.statements
    assert stmt.vulnerability == "CVE-2021-44228"
    assert stmt.aliases == ("GHSA-jfh8-c2jp-5v3q",)
    assert stmt.status is VexStatus.NOT_AFFECTED
    assert stmt.justification == "code_not_present"
    assert stmt.impact_statement == "Class removed before shipping."
    assert stmt.responses == ("will_not_fix", "update")
    assert stmt.timestamp == datetime(2024, 2, 2, tzinfo=UTC)
    (product,) = stmt.products
    assert (product.bom_ref, product.versions) == ("product-ABC", ("4.2",))
    assert doc.notes == (
        "1 vulnerabilities have no analysis state: they state nothing and were skipped",
    )
