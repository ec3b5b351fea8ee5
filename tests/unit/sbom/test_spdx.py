"""SPDX reader: packages, licenses, subject, fix-ups of real-world quirks, malformed input."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from gate.errors import InputError
from gate.oci.digest import Digest
from gate.sbom import spdx
from gate.sbom.component import Component, Sbom
from gate.sbom.cyclonedx import UNPARSED_SUBJECT_DIGESTS
from gate.sbom.spdx import parse_spdx_json, parse_spdx_tag_value
from gate.sbom.validation import schema_validation
from gate.scanners.detect import detect_format


@pytest.fixture(autouse=True)
def _schema_validation() -> Iterator[None]:
    """These tests look at the libraries' schema verdicts, which gate evidence show turns on."""
    with schema_validation():
        yield


HEX = "6042500cf4b44023ea1894effe7890666b0c5c7871ed83a97c36c76ae560bb9b"
CREATED = "2024-01-04T15:25:30Z"


def package(spdx_id: str, name: str, **fields: Any) -> dict[str, Any]:
    return {"SPDXID": spdx_id, "name": name, "downloadLocation": "NOASSERTION", **fields}


def purl_ref(locator: str, category: str = "PACKAGE-MANAGER") -> dict[str, str]:
    return {"referenceCategory": category, "referenceType": "purl", "referenceLocator": locator}


def describes(target: str) -> dict[str, str]:
    return {
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": target,
    }


def document(*packages: dict[str, Any], **top: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": "sbom",
        "documentNamespace": "https://example.com/sbom-1",
        "creationInfo": {"created": CREATED, "creators": ["Tool: test"]},
        "packages": list(packages),
    }
    doc.update(top)
    return doc


def load(doc: object) -> Sbom:
    return parse_spdx_json(doc, "sbom.spdx.json")


def error_of(doc: object) -> str:
    with pytest.raises(InputError) as excinfo:
        load(doc)
    return str(excinfo.value)


def test_packages_are_read_with_their_fields() -> None:
    sbom = load(
        document(
            package(
                "SPDXRef-lodash",
                "lodash",
                versionInfo="4.17.21",
                licenseConcluded="MIT",
                licenseDeclared="MIT",
                primaryPackagePurpose="LIBRARY",
                externalRefs=[
                    {
                        "referenceCategory": "SECURITY",
                        "referenceType": "cpe23Type",
                        "referenceLocator": "cpe:2.3:a:lodash:lodash:4.17.21:*:*:*:*:*:*:*",
                    },
                    purl_ref("pkg:npm/lodash@4.17.21"),
                    purl_ref("pkg:npm/lodash-es@4.17.21"),
                ],
            )
        )
    )
    assert sbom.format == "spdx"
    assert sbom.spec_version == "2.3"
    assert sbom.source == "sbom.spdx.json"
    assert sbom.created_at == datetime(2024, 1, 4, 15, 25, 30, tzinfo=UTC)
    assert sbom.components == (
        Component(
            name="lodash",
            version="4.17.21",
            purl="pkg:npm/lodash@4.17.21",  # the first purl reference
            licenses=("MIT",),
            type="library",
            bom_ref="SPDXRef-lodash",
        ),
    )
    assert sbom.metadata["encoding"] == "json"


def test_package_manager_is_also_accepted_with_an_underscore() -> None:
    (component,) = load(
        document(
            package("SPDXRef-a", "a", externalRefs=[purl_ref("pkg:pypi/a@1", "PACKAGE_MANAGER")])
        )
    ).components
    assert component.purl == "pkg:pypi/a@1"


@pytest.mark.parametrize(
    ("concluded", "declared", "expected"),
    [
        ("MIT", "Apache-2.0", ("MIT", "Apache-2.0")),
        ("NOASSERTION", "MIT", ("MIT",)),
        ("NONE", "NOASSERTION", ()),
        (None, None, ()),
        ("(MIT OR Apache-2.0)", "MIT OR Apache-2.0", ("MIT OR Apache-2.0",)),
        ("GPL-3.0-or-later AND LicenseRef-x", None, ("GPL-3.0-or-later AND LicenseRef-x",)),
        # The library's rendering: ids case-folded to their SPDX form, the
        # deprecated GPL-2.0 made explicit.
        ("mit", "GPL-2.0", ("MIT", "GPL-2.0-only")),
        ("GPLv3+", None, ("GPLv3+",)),  # not an SPDX id, kept as written
    ],
)
def test_concluded_then_declared_licenses(
    concluded: str | None, declared: str | None, expected: tuple[str, ...]
) -> None:
    fields = {
        k: v for k, v in (("licenseConcluded", concluded), ("licenseDeclared", declared)) if v
    }
    (component,) = load(document(package("SPDXRef-a", "a", **fields))).components
    assert component.licenses == expected


def test_the_described_package_is_the_subject_and_stays_a_component() -> None:
    doc = document(
        package("SPDXRef-app", "app", versionInfo="1.0", licenseDeclared="GPL-3.0-only"),
        package("SPDXRef-lib", "lib"),
        relationships=[describes("SPDXRef-app")],
    )
    sbom = load(doc)
    assert sbom.subject_name == "app"
    # The subject's own license must reach a license policy.
    assert [(c.name, c.licenses) for c in sbom.components] == [
        ("app", ("GPL-3.0-only",)),
        ("lib", ()),
    ]


def test_described_by_and_document_describes_also_name_the_subject() -> None:
    described_by = document(
        package("SPDXRef-app", "app"),
        relationships=[
            {
                "spdxElementId": "SPDXRef-app",
                "relationshipType": "DESCRIBED_BY",
                "relatedSpdxElement": "SPDXRef-DOCUMENT",
            }
        ],
    )
    assert load(described_by).subject_name == "app"
    legacy = document(package("SPDXRef-app", "app"), documentDescribes=["SPDXRef-app"])
    assert load(legacy).subject_name == "app"


def test_several_described_packages_name_no_subject() -> None:
    doc = document(
        package("SPDXRef-a", "a"),
        package("SPDXRef-b", "b"),
        relationships=[describes("SPDXRef-a"), describes("SPDXRef-b")],
    )
    sbom = load(doc)
    assert sbom.subject_name is None
    assert sbom.metadata["described_packages"] == "2"
    assert len(sbom.components) == 2


def test_a_described_file_or_external_element_is_no_subject() -> None:
    doc = document(
        package("SPDXRef-a", "a"),
        relationships=[describes("DocumentRef-other:SPDXRef-x")],
        externalDocumentRefs=[
            {
                "externalDocumentId": "DocumentRef-other",
                "spdxDocument": "https://example.com/other",
                "checksum": {"algorithm": "SHA1", "checksumValue": "a" * 40},
            }
        ],
    )
    assert load(doc).subject_name is None


def image(**fields: Any) -> dict[str, Any]:
    return package("SPDXRef-image", "registry.example/app:1.0", **fields)


def test_subject_digest_from_an_oci_purl() -> None:
    doc = document(
        image(externalRefs=[purl_ref(f"pkg:oci/app@sha256%3A{HEX}?arch=amd64")]),
        relationships=[describes("SPDXRef-image")],
    )
    assert load(doc).subject_digests == {Digest("sha256", HEX)}


def test_subject_digest_from_trivys_repo_digest_but_never_the_image_id() -> None:
    doc = document(
        image(
            attributionTexts=[
                f"ImageID: sha256:{'1' * 64}",
                f"RepoDigest: registry.example/app@sha256:{HEX}",
            ]
        ),
        relationships=[describes("SPDXRef-image")],
    )
    assert load(doc).subject_digests == {Digest("sha256", HEX)}


def test_subject_digest_from_a_container_version() -> None:
    doc = document(
        image(versionInfo=f"sha256:{HEX}", primaryPackagePurpose="CONTAINER"),
        relationships=[describes("SPDXRef-image")],
    )
    assert load(doc).subject_digests == {Digest("sha256", HEX)}


def test_a_digest_that_is_not_valid_binds_nothing_and_is_noted() -> None:
    doc = document(
        image(versionInfo="sha256:redacted", primaryPackagePurpose="CONTAINER"),
        relationships=[describes("SPDXRef-image")],
    )
    sbom = load(doc)
    assert sbom.subject_digests == frozenset()
    assert sbom.metadata[UNPARSED_SUBJECT_DIGESTS] == "sha256:redacted"


def test_no_digest_for_a_library_version() -> None:
    doc = document(
        image(versionInfo=f"sha256:{HEX}", primaryPackagePurpose="LIBRARY"),
        relationships=[describes("SPDXRef-image")],
    )
    assert load(doc).subject_digests == frozenset()


# --- real-world quirks the library refuses, rewritten and noted ------------------------------


def test_created_with_fractional_seconds_keeps_them() -> None:
    sbom = load(
        document(
            creationInfo={"created": "2022-09-13T13:27:55.874784Z", "creators": ["Tool: test"]}
        )
    )
    assert sbom.created_at == datetime(2022, 9, 13, 13, 27, 55, 874784, tzinfo=UTC)
    assert "created_at_unparsed" not in sbom.metadata


def test_created_with_an_offset_is_read_as_that_instant() -> None:
    sbom = load(
        document(creationInfo={"created": "2024-01-04T17:25:30+02:00", "creators": ["Tool: test"]})
    )
    assert sbom.created_at == datetime(2024, 1, 4, 15, 25, 30, tzinfo=UTC)


def test_a_created_value_that_is_no_time_is_unknown_never_now() -> None:
    sbom = load(document(creationInfo={"created": "redacted", "creators": ["Tool: test"]}))
    assert sbom.created_at is None
    assert sbom.metadata["created_at_unparsed"] == "redacted"


def test_an_unreadable_license_list_version_is_dropped_and_noted() -> None:
    creation = {"created": CREATED, "creators": ["Tool: test"], "licenseListVersion": "redacted"}
    sbom = load(document(creationInfo=creation))
    assert sbom.metadata["license_list_version_unparsed"] == "redacted"


def test_a_missing_download_location_reads_as_noassertion() -> None:
    bare = {"SPDXID": "SPDXRef-a", "name": "a"}
    sbom = load(document(bare, package("SPDXRef-b", "b")))
    assert [c.name for c in sbom.components] == ["a", "b"]
    assert sbom.metadata["download_location_missing"] == "1"


def test_the_callers_document_is_not_changed() -> None:
    doc = document(
        {"SPDXID": "SPDXRef-a", "name": "a"},
        creationInfo={"created": "redacted", "creators": ["Tool: test"], "licenseListVersion": "x"},
    )
    before = copy.deepcopy(doc)
    load(doc)
    assert doc == before


def test_packages_may_be_absent() -> None:
    doc = document()
    del doc["packages"]
    assert load(doc).components == ()


def test_duplicate_packages_are_kept() -> None:
    sbom = load(document(package("SPDXRef-a", "b"), package("SPDXRef-b", "b")))
    assert len(sbom.components) == 2


# --- validation: recorded, not enforced --------------------------------------------------------


def test_a_valid_document_is_recorded_as_valid() -> None:
    sbom = load(document(package("SPDXRef-a", "a")))
    assert sbom.metadata["validation"] == "valid"
    assert sbom.metadata["validation_detail"].startswith("spdx-tools ")


def test_a_readable_but_invalid_document_loads_and_says_why() -> None:
    sbom = load(document(package("SPDXRef-a", "a"), documentNamespace="not a uri"))
    assert sbom.metadata["validation"] == "invalid"
    assert "document_namespace" in sbom.metadata["validation_detail"]
    assert "\n" not in sbom.metadata["validation_detail"]


def test_large_documents_are_parsed_but_not_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spdx, "VALIDATION_LIMIT", 1)
    sbom = load(document(package("SPDXRef-a", "a"), package("SPDXRef-b", "b")))
    assert sbom.metadata["validation"] == "not validated"
    assert "quadratic" in sbom.metadata["validation_detail"]


# --- malformed documents ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "sbom.spdx.json: expected an SPDX object, got array"),
        ({"spdxVersion": 2.3}, "sbom.spdx.json: spdxVersion: expected a string, got number"),
        (
            document(spdxVersion="SPDX-2.1"),
            "sbom.spdx.json: spdxVersion: SPDX version 'SPDX-2.1' is not supported"
            " (only SPDX-2.2, SPDX-2.3)",
        ),
        (
            document(creationInfo=None),
            "sbom.spdx.json: creationInfo: required field is missing",
        ),
        (
            document(creationInfo={"created": 1700000000}),
            "sbom.spdx.json: creationInfo.created: expected a string, got number",
        ),
        (document(packages={}), "sbom.spdx.json: packages: expected an array, got object"),
        (
            document(packages=["lodash"]),
            "sbom.spdx.json: packages[0]: expected an object, got string",
        ),
        (
            document({"SPDXID": "SPDXRef-a"}),
            "sbom.spdx.json: packages[0].name: required field is missing",
        ),
        (
            document({"name": "a"}),
            "sbom.spdx.json: packages[0].SPDXID: required field is missing",
        ),
        (
            document(package("SPDXRef-a", "a", versionInfo=1)),
            "sbom.spdx.json: packages[0].versionInfo: expected a string, got number",
        ),
        (
            document(package("SPDXRef-a", "a", licenseConcluded=["MIT"])),
            "sbom.spdx.json: packages[0].licenseConcluded: expected a string, got array",
        ),
        (
            document(package("SPDXRef-a", "a", externalRefs=[{"referenceType": "purl"}])),
            "sbom.spdx.json: packages[0].externalRefs[0].referenceCategory:"
            " required field is missing",
        ),
        (
            document(package("SPDXRef-a", "a", attributionTexts=[1])),
            "sbom.spdx.json: packages[0].attributionTexts[0]: expected a string, got number",
        ),
        (
            document(package("SPDXRef-a", "a"), package("SPDXRef-a", "b")),
            "sbom.spdx.json: packages[1].SPDXID: duplicate SPDXID 'SPDXRef-a'"
            " (first at packages[0])",
        ),
        (
            document(relationships=[{"spdxElementId": "SPDXRef-DOCUMENT"}]),
            "sbom.spdx.json: relationships[0].relationshipType: required field is missing",
        ),
        (
            document(documentDescribes=[1]),
            "sbom.spdx.json: documentDescribes[0]: expected a string, got number",
        ),
    ],
)
def test_malformed_documents_are_one_exact_line(doc: object, message: str) -> None:
    assert error_of(doc) == message


@pytest.mark.parametrize(
    ("doc", "quoted"),
    [
        (
            document(package("SPDXRef-a", "a", licenseConcluded="MIT AND")),
            "LicenseExpression",
        ),
        (
            document(
                relationships=[
                    {
                        "spdxElementId": "SPDXRef-DOCUMENT",
                        "relationshipType": "IS_FRIENDS_WITH",
                        "relatedSpdxElement": "SPDXRef-a",
                    }
                ]
            ),
            "IS_FRIENDS_WITH",
        ),
        (
            document(package("SPDXRef-a", "a", externalRefs=[purl_ref("x", "PACKAGE-SHOP")])),
            "PACKAGE-SHOP",
        ),
        (document(creationInfo={"creators": ["Tool: test"]}), "CreationInfo.created is missing"),
        (
            document(package("SPDXRef-a", "a", filesAnalyzed="perhaps")),
            "Package.files_analyzed: 'perhaps' is not a valid value",
        ),
    ],
)
def test_what_the_library_refuses_is_one_line_quoting_it(doc: object, quoted: str) -> None:
    message = error_of(doc)
    assert message.startswith("sbom.spdx.json: not a readable SPDX JSON document: ")
    assert quoted in message
    assert "\n" not in message


def _paths(value: object, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*path, index))
    return found


FULL_DOCUMENT = document(
    package(
        "SPDXRef-image",
        "app",
        versionInfo=f"sha256:{HEX}",
        primaryPackagePurpose="CONTAINER",
        licenseConcluded="MIT",
        attributionTexts=[f"RepoDigest: app@sha256:{HEX}"],
        externalRefs=[purl_ref(f"pkg:oci/app@sha256%3A{HEX}")],
        checksums=[{"algorithm": "SHA256", "checksumValue": HEX}],
    ),
    package("SPDXRef-lib", "lib", versionInfo="1", licenseDeclared="Apache-2.0"),
    relationships=[
        describes("SPDXRef-image"),
        {
            "spdxElementId": "SPDXRef-image",
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": "SPDXRef-lib",
        },
    ],
    documentDescribes=["SPDXRef-image"],
    creationInfo={"created": CREATED, "creators": ["Tool: test"], "licenseListVersion": "3.21"},
)


@pytest.mark.parametrize("replacement", [None, 0, 2.5, True, "x", "", [], [1], {}, {"a": 1}])
def test_any_value_of_the_wrong_type_is_an_input_error_never_a_crash(replacement: object) -> None:
    for path in _paths(FULL_DOCUMENT):
        doc = copy.deepcopy(FULL_DOCUMENT)
        if path:
            target: Any = doc
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = replacement
        else:
            doc = replacement  # type: ignore[assignment]  # the whole document replaced
        try:
            load(doc)
        except InputError as exc:
            message = str(exc)
            assert message.startswith("sbom.spdx.json: "), (path, message)
            assert "\n" not in message, (path, message)


# --- tag-value ---------------------------------------------------------------------------------

TAG_VALUE = f"""SPDXVersion: SPDX-2.3
DataLicense: CC0-1.0
SPDXID: SPDXRef-DOCUMENT
DocumentName: app
DocumentNamespace: https://example.com/app-1
Creator: Tool: test
Created: {CREATED}

##### Package: app

PackageName: app
SPDXID: SPDXRef-app
PackageVersion: sha256:{HEX}
PackageDownloadLocation: NOASSERTION
PrimaryPackagePurpose: CONTAINER
FilesAnalyzed: false
PackageLicenseConcluded: NOASSERTION
PackageComment: <text>A comment whose lines look like tags:
PackageName: not-a-package
Created: not-a-time
</text>

PackageName: openssl
SPDXID: SPDXRef-openssl
PackageVersion: 1.1.1q
PackageDownloadLocation: NOASSERTION
FilesAnalyzed: false
PackageLicenseConcluded: OpenSSL
PackageLicenseDeclared: (MIT OR Apache-2.0)
ExternalRef: PACKAGE-MANAGER purl pkg:conda/openssl@1.1.1q

Relationship: SPDXRef-DOCUMENT DESCRIBES SPDXRef-app
Relationship: SPDXRef-app CONTAINS SPDXRef-openssl
"""


def test_tag_value_reads_the_same_fields_as_json() -> None:
    sbom = parse_spdx_tag_value(TAG_VALUE, "sbom.spdx")
    assert sbom.spec_version == "2.3"
    assert sbom.metadata["encoding"] == "tag-value"
    assert sbom.metadata["validation"] == "valid"
    assert sbom.created_at == datetime(2024, 1, 4, 15, 25, 30, tzinfo=UTC)
    assert sbom.subject_name == "app"
    assert sbom.subject_digests == {Digest("sha256", HEX)}
    assert sbom.components == (
        Component(name="app", version=f"sha256:{HEX}", type="container", bom_ref="SPDXRef-app"),
        Component(
            name="openssl",
            version="1.1.1q",
            purl="pkg:conda/openssl@1.1.1q",
            licenses=("OpenSSL", "MIT OR Apache-2.0"),
            bom_ref="SPDXRef-openssl",
        ),
    )


def test_tag_value_is_recognised_and_handed_over_as_text() -> None:
    detected = detect_format(TAG_VALUE.encode(), "sbom.spdx")
    assert detected.format == "spdx-tag-value"
    assert parse_spdx_tag_value(detected.document, "sbom.spdx").subject_name == "app"


def test_tag_value_fix_ups() -> None:
    text = (
        TAG_VALUE.replace(f"Created: {CREATED}", "Created: 2024-01-04T15:25:30.123456Z")
        .replace("PackageDownloadLocation: NOASSERTION\n", "", 1)
        .replace("Creator: Tool: test", "Creator: Tool: test\nLicenseListVersion: redacted")
    )
    sbom = parse_spdx_tag_value(text, "sbom.spdx")
    assert sbom.created_at == datetime(2024, 1, 4, 15, 25, 30, 123456, tzinfo=UTC)
    assert sbom.metadata["download_location_missing"] == "1"
    assert sbom.metadata["license_list_version_unparsed"] == "redacted"
    assert [c.name for c in sbom.components] == ["app", "openssl"]


def test_tag_value_created_that_is_no_time_is_unknown() -> None:
    sbom = parse_spdx_tag_value(TAG_VALUE.replace(CREATED, "redacted", 1), "sbom.spdx")
    assert sbom.created_at is None
    assert sbom.metadata["created_at_unparsed"] == "redacted"


def test_packages_without_download_location_up_to_the_last_line() -> None:
    header = TAG_VALUE.split("\n\n", maxsplit=1)[0]
    text = f"{header}\nPackageName: first\nSPDXID: SPDXRef-first\n"
    text += "PackageName: last\nSPDXID: SPDXRef-last\n"
    text += "Relationship: SPDXRef-DOCUMENT DESCRIBES SPDXRef-first"
    sbom = parse_spdx_tag_value(text, "sbom.spdx")
    assert [c.name for c in sbom.components] == ["first", "last"]
    assert sbom.metadata["download_location_missing"] == "2"
    # A document ending in a bare PackageName line is refused by the library, not mangled.
    with pytest.raises(InputError, match="Package: required spdx_id missing"):
        parse_spdx_tag_value(f"{header}\nPackageName: last", "sbom.spdx")


def test_tag_value_licenses_use_the_shared_license_index(monkeypatch: pytest.MonkeyPatch) -> None:
    # spdx-tools 0.8.5 rebuilt the index for each license value (~0.1 s each).
    import spdx_tools.spdx.parser.tagvalue.parser as library_parser  # noqa: PLC0415

    def rebuilt() -> object:
        raise AssertionError("the license index must not be rebuilt per value")

    monkeypatch.setattr(library_parser, "get_spdx_licensing", rebuilt)
    assert parse_spdx_tag_value(TAG_VALUE, "sbom.spdx").components[1].licenses


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            TAG_VALUE.replace("SPDX-2.3", "SPDX-2.1"),
            "sbom.spdx: SPDXVersion: SPDX version 'SPDX-2.1' is not supported"
            " (only SPDX-2.2, SPDX-2.3)",
        ),
        (
            TAG_VALUE.replace("SPDXRef-openssl\n", "SPDXRef-app\n", 1),
            "sbom.spdx: duplicate SPDXID 'SPDXRef-app' (package 'openssl')",
        ),
    ],
)
def test_malformed_tag_value_is_one_exact_line(text: str, message: str) -> None:
    with pytest.raises(InputError) as excinfo:
        parse_spdx_tag_value(text, "sbom.spdx")
    assert str(excinfo.value) == message


@pytest.mark.parametrize(
    ("cut", "message"),
    [
        (
            "\nRelationship: SPDXRef-DOCUMENT DESCRIBES",
            "the document describes nothing (no 'Relationship: SPDXRef-DOCUMENT DESCRIBES ...'"
            " line; truncated document?)",
        ),
        (
            "\nPackageName: openssl",
            "Relationship names 'SPDXRef-openssl', which the document does not define"
            " (truncated document?)",
        ),
    ],
)
def test_a_tag_value_document_cut_at_a_line_is_refused(cut: str, message: str) -> None:
    # Cut where a line starts, the rest still parses; what it lost shows in the relationships.
    start = TAG_VALUE.index(cut) + 1
    shortened = TAG_VALUE[:start]
    if "PackageName" in cut:  # the relationships survive, the package they name is gone
        shortened += TAG_VALUE[TAG_VALUE.index("Relationship:") :]
    with pytest.raises(InputError) as excinfo:
        parse_spdx_tag_value(shortened, "sbom.spdx")
    assert str(excinfo.value) == f"sbom.spdx: {message}"


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        (TAG_VALUE.replace("DESCRIBES", "LIKES"), "LIKES"),
        (TAG_VALUE.replace("PACKAGE-MANAGER purl", "PACKAGE-SHOP purl"), "PACKAGE-SHOP"),
        (TAG_VALUE.replace("(MIT OR Apache-2.0)", "(MIT OR"), "(MIT OR"),
        (TAG_VALUE.replace("FilesAnalyzed: false", "FilesAnalyzed: maybe", 1), "maybe"),
        ("SPDXVersion: SPDX-2.3\n", "CreationInfo"),
    ],
)
def test_what_the_library_refuses_in_tag_value_is_one_line(text: str, quoted: str) -> None:
    with pytest.raises(InputError) as excinfo:
        parse_spdx_tag_value(text, "sbom.spdx")
    message = str(excinfo.value)
    assert message.startswith("sbom.spdx: not a readable SPDX tag-value document: ")
    assert quoted in message
    assert "\n" not in message


def test_tag_value_must_be_text() -> None:
    with pytest.raises(InputError, match="not text"):
        parse_spdx_tag_value(b"SPDXVersion: SPDX-2.3", "sbom.spdx")  # type: ignore[arg-type]  # wrong on purpose


def test_json_and_tag_value_of_one_document_agree() -> None:
    doc = document(
        package(
            "SPDXRef-app",
            "app",
            versionInfo=f"sha256:{HEX}",
            primaryPackagePurpose="CONTAINER",
            licenseConcluded="NOASSERTION",
        ),
        package(
            "SPDXRef-openssl",
            "openssl",
            versionInfo="1.1.1q",
            licenseConcluded="OpenSSL",
            licenseDeclared="(MIT OR Apache-2.0)",
            externalRefs=[purl_ref("pkg:conda/openssl@1.1.1q")],
        ),
        relationships=[describes("SPDXRef-app")],
    )
    as_json = parse_spdx_json(json.loads(json.dumps(doc)), "a.json")
    as_text = parse_spdx_tag_value(TAG_VALUE, "a.spdx")
    assert as_json.components == as_text.components
    assert as_json.subject_digests == as_text.subject_digests


def test_a_named_license_ref_also_lists_its_name() -> None:
    # Trivy's SPDX: a Debian copyright's "AGPL-3" becomes LicenseRef-<hash> named "AGPL-3".
    sbom = load(
        document(
            package(
                "SPDXRef-tool",
                "copyleft-tool",
                licenseConcluded="LicenseRef-6d193447d786544b",
                licenseDeclared="LicenseRef-6d193447d786544b AND MIT",
            ),
            package("SPDXRef-other", "other", licenseDeclared="LicenseRef-unnamed"),
            hasExtractedLicensingInfos=[
                {
                    "licenseId": "LicenseRef-6d193447d786544b",
                    "extractedText": "see /usr/share/doc/copyleft-tool/copyright",
                    "name": "AGPL-3",
                },
                {"licenseId": "LicenseRef-unnamed", "extractedText": "text only"},
            ],
        )
    )
    tool, other = sbom.components
    assert tool.licenses == (
        "LicenseRef-6d193447d786544b",
        "LicenseRef-6d193447d786544b AND MIT",
        "AGPL-3",
    )
    assert other.licenses == ("LicenseRef-unnamed",)
