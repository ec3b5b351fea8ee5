"""OpenVEX 0.0.1 / 0.2.0 documents into statements: both shapes, inheritance and every error."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from gate.errors import InputError
from gate.oci.digest import Digest
from gate.purl import PackageUrl
from gate.vex.model import VexDocument, VexStatus
from gate.vex.openvex import parse_openvex

DIGEST = "sha256:" + "ab" * 32


def document(*statements: object, **top: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://example.com/vex/1",
        "author": "Example",
        "timestamp": "2024-01-01T00:00:00Z",
        "version": 1,
        "statements": list(statements),
    }
    doc.update(top)
    return doc


def statement(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "vulnerability": {"name": "CVE-2024-0001"},
        "products": [{"@id": "pkg:apk/alpine/zlib@1.2.13-r0"}],
        "status": "not_affected",
        "justification": "component_not_present",
    }
    base.update(fields)
    return base


def parse(doc: object) -> VexDocument:
    return parse_openvex(doc, "vex.json")


def error(doc: object) -> str:
    with pytest.raises(InputError) as caught:
        parse(doc)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_0_2_0_statement_is_read_with_its_purl_normalised() -> None:
    doc = parse(document(statement()))
    assert doc.format == "openvex"
    assert doc.spec_version == "0.2.0"
    assert doc.document_id == "https://example.com/vex/1"
    assert doc.author == "Example"
    (stmt,) = doc.statements
    assert stmt.vulnerability == "CVE-2024-0001"
    assert stmt.status is VexStatus.NOT_AFFECTED
    assert stmt.justification == "component_not_present"
    assert stmt.location == "statements[0]"
    assert stmt.where == "vex.json: statements[0]"
    (product,) = stmt.products
    assert product.purls == (PackageUrl.parse("pkg:apk/alpine/zlib@1.2.13-r0"),)
    assert not product.names_image
    assert stmt.subcomponents == ()


def test_the_0_0_1_string_forms_and_a_string_version() -> None:
    doc = parse(
        document(
            {
                "vulnerability": "CVE-2023-12345",
                "products": ["pkg:apk/wolfi/git@2.39.0-r1?arch=x86_64"],
                "subcomponents": ["pkg:apk/wolfi/libcurl@8.0"],
                "status": "fixed",
            },
            **{"@context": "https://openvex.dev/ns/v0.0.1", "version": "1"},
        )
    )
    (stmt,) = doc.statements
    assert doc.spec_version == "0.0.1"
    assert stmt.vulnerability == "CVE-2023-12345"
    assert stmt.aliases == ()
    assert [p.id for p in stmt.products] == ["pkg:apk/wolfi/git@2.39.0-r1?arch=x86_64"]
    assert [s.id for s in stmt.subcomponents] == ["pkg:apk/wolfi/libcurl@8.0"]


def test_name_id_and_aliases_all_identify_the_vulnerability() -> None:
    stmt = parse(
        document(
            statement(
                vulnerability={
                    "@id": "https://pkg.go.dev/vuln/GO-2024-2575",
                    "name": "GO-2024-2575",
                    "aliases": ["CVE-2024-26147", "GHSA-r53h-jv2g-vpx6", "GO-2024-2575"],
                }
            )
        )
    ).statements[0]
    assert stmt.vulnerability == "GO-2024-2575"
    assert stmt.aliases == (
        "https://pkg.go.dev/vuln/GO-2024-2575",
        "CVE-2024-26147",
        "GHSA-r53h-jv2g-vpx6",
    )
    assert "ghsa-r53h-jv2g-vpx6" in stmt.ids


def test_an_id_alone_names_the_vulnerability() -> None:
    stmt = parse(document(statement(vulnerability={"@id": "CVE-2022-23628"}))).statements[0]
    assert stmt.vulnerability == "CVE-2022-23628"


def test_statements_inherit_the_document_time_and_last_updated_wins() -> None:
    doc = parse(
        document(
            statement(),
            statement(timestamp="2024-02-01T00:00:00+01:00"),
            statement(timestamp="2024-02-01T00:00:00Z", last_updated="2024-03-01T00:00:00Z"),
        )
    )
    first, second, third = doc.statements
    assert doc.timestamp == datetime(2024, 1, 1, tzinfo=UTC)
    assert first.timestamp == doc.timestamp
    assert second.timestamp == datetime(2024, 2, 1, tzinfo=timezone(timedelta(hours=1)))
    assert third.timestamp == datetime(2024, 3, 1, tzinfo=UTC)


def test_a_document_without_any_time_gives_undated_statements() -> None:
    doc = document(statement())
    del doc["timestamp"]
    assert parse(doc).statements[0].timestamp is None


@pytest.mark.parametrize("statements", [[], None, "absent"])
def test_no_statements_in_any_shape_is_an_empty_document(statements: object) -> None:
    doc = document()
    if statements == "absent":
        del doc["statements"]
    else:
        doc["statements"] = statements
    assert parse(doc).statements == ()


def test_products_with_different_subcomponents_become_separate_statements() -> None:
    doc = parse(
        document(
            statement(
                products=[
                    {"@id": "pkg:oci/a@" + DIGEST, "subcomponents": [{"@id": "pkg:deb/debian/x"}]},
                    {"@id": "pkg:oci/b@" + DIGEST, "subcomponents": [{"@id": "pkg:deb/debian/y"}]},
                    {"@id": "pkg:oci/c@" + DIGEST, "subcomponents": [{"@id": "pkg:deb/debian/x"}]},
                ]
            )
        )
    )
    first, second = doc.statements
    assert [p.id.split("@")[0] for p in first.products] == ["pkg:oci/a", "pkg:oci/c"]
    assert [s.id for s in first.subcomponents] == ["pkg:deb/debian/x"]
    assert [p.id.split("@")[0] for p in second.products] == ["pkg:oci/b"]
    assert [s.id for s in second.subcomponents] == ["pkg:deb/debian/y"]
    assert first.location == second.location == "statements[0]"


def test_an_oci_product_carries_its_percent_encoded_digest() -> None:
    product = (
        parse(document(statement(products=[{"@id": "pkg:oci/alpine@sha256%3A" + "ab" * 32}])))
        .statements[0]
        .products[0]
    )
    assert product.names_image
    assert product.digests == frozenset({Digest.parse(DIGEST)})


def test_identifiers_hashes_and_image_references_are_read() -> None:
    products = (
        parse(
            document(
                statement(
                    products=[
                        {
                            "@id": "https://example.com/product/1",
                            "identifiers": {"purl": "pkg:npm/left-pad@1.0.0", "cpe23": "cpe:2.3:a"},
                            "hashes": {"sha-256": "AB" * 32, "md5": "00" * 16},
                        },
                        {"hashes": {"sha-512": "cd" * 64}},
                        "ghcr.io/org/app:1.0",
                        "ghcr.io/org/app",
                        "my-product",
                        "sha256:" + "ef" * 32,
                    ]
                )
            )
        )
        .statements[0]
        .products
    )
    first, hashed, tagged, untagged, opaque, bare = products
    assert first.purls == (PackageUrl.parse("pkg:npm/left-pad@1.0.0"),)
    assert first.cpes == ("cpe:2.3:a",)
    assert first.digests == frozenset({Digest.parse(DIGEST)})
    assert hashed.digests == frozenset({Digest.parse("sha512:" + "cd" * 64)})
    assert tagged.image is not None
    assert (tagged.image.name, tagged.image.tag) == ("ghcr.io/org/app", "1.0")
    assert untagged.image is not None
    assert untagged.image.tag is None
    assert opaque.image is None
    assert not opaque.names_image
    assert bare.digests == frozenset({Digest.parse("sha256:" + "ef" * 32)})


def test_justification_free_text_and_statement_notes_are_kept() -> None:
    stmt = parse(
        document(
            statement(
                status="affected",
                justification=None,
                action_statement="Upgrade to 2.0",
                status_notes="seen in prod",
            ),
            statement(justification=None, impact_statement="not reachable"),
        )
    ).statements
    assert stmt[0].action_statement == "Upgrade to 2.0"
    assert stmt[0].status_notes == "seen in prod"
    assert stmt[1].impact_statement == "not reachable"
    assert stmt[1].justification is None


def test_a_statement_without_products_is_kept_and_noted() -> None:
    doc = parse(document(statement(products=[])))
    assert doc.statements[0].products == ()
    assert doc.notes == ("statements[0] names no product: it is never applied",)


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ([], "vex.json: expected an OpenVEX object, got array"),
        (
            document(**{"@context": "https://openvex.dev/ns/v9.9.9"}),
            "vex.json: @context: OpenVEX context 'https://openvex.dev/ns/v9.9.9' is not supported",
        ),
        (document(version="one"), "vex.json: version: expected a document version number"),
        (document(timestamp="yesterday"), "vex.json: timestamp: not an RFC 3339 timestamp"),
        (
            document(timestamp="2024-01-01T00:00:00"),
            "vex.json: timestamp: timestamp '2024-01-01T00:00:00' has no UTC offset",
        ),
        (document(statements={}), "vex.json: statements: expected an array, got object"),
        (document(5), "vex.json: statements[0]: expected an object, got number"),
        (
            document(statement(vulnerability=None)),
            "statements[0].vulnerability: required field is missing",
        ),
        (
            document(statement(vulnerability="")),
            "statements[0].vulnerability: must not be empty",
        ),
        (
            document(statement(vulnerability=["CVE-1"])),
            "statements[0].vulnerability: expected a string or an object, got array",
        ),
        (
            document(statement(vulnerability={"aliases": ["CVE-1"]})),
            "statements[0].vulnerability: the vulnerability has neither a name nor an @id",
        ),
        (
            document(statement(vulnerability={"name": "CVE-1", "aliases": [1]})),
            "statements[0].vulnerability.aliases[0]: expected a string, got number",
        ),
        (document(statement(status=None)), "statements[0].status: required field is missing"),
        (document(statement(status=3)), "statements[0].status: expected a string, got number"),
        (
            document(statement(status="vulnerable")),
            "statements[0].status: unknown status 'vulnerable'",
        ),
        (
            document(statement(justification=None)),
            "statements[0]: a not_affected statement needs a justification or an impact_statement",
        ),
        (
            document(statement(timestamp="2024-13-01T00:00:00Z")),
            "statements[0].timestamp: not an RFC 3339 timestamp",
        ),
        (
            document(statement(products=[7])),
            "statements[0].products[0]: expected a string or an object, got number",
        ),
        (
            document(statement(products=[{"identifiers": {}}])),
            "statements[0].products[0]: the component has no @id, identifiers or hashes",
        ),
        (
            document(statement(products=["pkg:nothing"])),
            "statements[0].products[0]: invalid package URL 'pkg:nothing'",
        ),
        (
            document(statement(products=["pkg:oci/alpine@latest"])),
            "statements[0].products[0]: invalid digest 'latest'",
        ),
        (
            document(statement(products=[{"@id": "x", "hashes": {"sha-256": "zz"}}])),
            'statements[0].products[0].hashes.sha-256: invalid digest "sha256:zz"'.replace(
                '"', "'"
            ),
        ),
        (
            document(statement(products=[{"@id": "x", "subcomponents": [{}]}])),
            "statements[0].products[0].subcomponents[0]: the component has no @id",
        ),
        (
            document(statement(subcomponents=[""])),
            "statements[0].subcomponents[0]: must not be empty",
        ),
    ],
)
def test_malformed_documents_are_one_line_input_errors(doc: object, expected: str) -> None:
    assert expected in error(doc)


def test_the_unversioned_context_is_accepted() -> None:
    doc = parse(document(statement(), **{"@context": "https://openvex.dev/ns"}))
    assert doc.spec_version == "unversioned"
    assert len(doc.statements) == 1


def test_a_hostile_key_cannot_break_the_error_line() -> None:
    message = error(
        document(statement(products=[{"@id": "x", "hashes": {"sha-256\nfake: path": 5}}]))
    )
    assert "\n" not in message
    assert json.dumps("sha-256\nfake: path") in message
