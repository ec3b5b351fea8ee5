"""Every real SPDX SBOM in ``shared/fixtures/real/spdx/`` loads, with every package.

Counts and purls are checked against the simplest independent reading of the
raw document (``json.loads``, or the tag-value lines); spot checks pin the
quirks the reader rewrites for spdx-tools (fractional seconds, ``redacted``
placeholders, missing download locations) and the subject of each file.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from gate.oci.digest import Digest
from gate.sbom.component import Sbom
from gate.sbom.spdx import parse_spdx_json, parse_spdx_tag_value
from gate.sbom.validation import schema_validation
from gate.scanners.detect import detect_format
from tests.support.realdata import real_fixtures, real_fixtures_path


@pytest.fixture(autouse=True)
def _schema_validation() -> Iterator[None]:
    """These tests look at the libraries' schema verdicts, which gate evidence show turns on."""
    with schema_validation():
        yield


pytestmark = pytest.mark.conformance

SYFT_DIGEST = Digest("sha256", "2731251dc34951c0e50fcc643b4c5f74922dad1a5d98f302b504cf46cd5d9368")
TRIVY_IMAGE = "integration/testdata/fixtures/images/centos-7.tar.gz"

#: What each file describes (``SPDXRef-DOCUMENT DESCRIBES``, or ``documentDescribes``).
SUBJECTS = {
    "example6-bin-2.2.spdx": "hello-go-bin",
    "k8s-bom-2.3.json": "hello-server-src",  # documentDescribes also names a file
    "maven-enriched-2.3.json": "examplemaven",
    "sbom-with-security-2.3.json": "tools-java",
    "syft-image-2.3.json": "user-image-input",
    "syft-image-2.3.spdx": "user-image-input",
    "trivy-centos-7-2.2.json": TRIVY_IMAGE,
    "trivy-centos-7-2.2.spdx": TRIVY_IMAGE,
    "trivy-conda-2.3.json": "testdata/fixtures/repo/conda",
    "trivy-julia-2.3.json": "testdata/fixtures/repo/julia",
}


def _names() -> list[str]:
    root = real_fixtures_path() / "spdx"
    if not root.is_dir():
        return ["<fixtures missing>"]
    return sorted(p.name for p in root.iterdir() if p.suffix in (".json", ".spdx"))


def _text(name: str) -> str:
    return real_fixtures("spdx", name).read_text(encoding="utf-8")


def _sbom(name: str) -> Sbom:
    data = real_fixtures("spdx", name).read_bytes()
    detected = detect_format(data, f"spdx/{name}")
    adapter = {"spdx-json": parse_spdx_json, "spdx-tag-value": parse_spdx_tag_value}
    return adapter[detected.format](detected.document, f"spdx/{name}")


def _raw_packages(name: str) -> list[tuple[str, str | None]]:
    """(name, first purl) of every package, read from the raw document as plainly as possible."""
    text = _text(name)
    found: list[tuple[str, str | None]] = []
    if name.endswith(".json"):
        for package in json.loads(text).get("packages") or []:
            purls = [
                ref["referenceLocator"]
                for ref in package.get("externalRefs") or []
                if ref["referenceCategory"] in ("PACKAGE-MANAGER", "PACKAGE_MANAGER")
                and ref["referenceType"] == "purl"
            ]
            found.append((package["name"], purls[0] if purls else None))
        return found
    for line in text.splitlines():
        if line.startswith("PackageName:"):
            found.append((line.partition(":")[2].strip(), None))
        elif line.startswith("ExternalRef: PACKAGE-MANAGER purl ") and found[-1][1] is None:
            found[-1] = (found[-1][0], line.split()[-1])
    return found


@pytest.mark.parametrize("name", _names())
def test_every_spdx_file_loads_with_every_package(name: str) -> None:
    sbom = _sbom(name)
    raw = _raw_packages(name)
    assert len(sbom.components) == len(raw)
    assert Counter((c.name, c.purl) for c in sbom.components) == Counter(raw)
    assert sbom.format == "spdx"
    assert sbom.spec_version in ("2.2", "2.3")
    assert name.endswith(".json") == (sbom.metadata["encoding"] == "json")
    assert sbom.subject_name == SUBJECTS[name]
    assert sbom.metadata["validation"] in ("valid", "invalid")


def test_trivy_22_json_and_tag_value_need_the_fix_ups_and_agree() -> None:
    as_json = _sbom("trivy-centos-7-2.2.json")
    as_text = _sbom("trivy-centos-7-2.2.spdx")
    for sbom in (as_json, as_text):
        # No downloadLocation on any of the four packages: read as NOASSERTION.
        assert sbom.metadata["download_location_missing"] == "4"
        # The tar-file image names no digest (ImageID is the config digest).
        assert sbom.subject_digests == frozenset()
    # Fractional seconds, which spdx-tools refuses, are kept.
    assert as_json.created_at == datetime(2022, 9, 13, 13, 27, 55, 874784, tzinfo=UTC)
    assert as_text.created_at == datetime(2022, 9, 13, 13, 24, 58, 796907, tzinfo=UTC)
    bash = next(c for c in as_text.components if c.name == "bash")
    assert bash.licenses == ("GPLv3+",)  # not an SPDX id: kept as written
    assert bash.purl == "pkg:rpm/centos/bash@4.2.46-31.el7?arch=x86_64&distro=centos-7.6.1810"
    assert {(c.name, c.purl, c.licenses) for c in as_json.components} == {
        (c.name, c.purl, c.licenses) for c in as_text.components
    }


def test_redacted_syft_snapshots_load_with_unknown_time_and_their_digest() -> None:
    as_json = _sbom("syft-image-2.3.json")
    as_text = _sbom("syft-image-2.3.spdx")
    for sbom in (as_json, as_text):
        assert sbom.created_at is None  # "redacted": unknown, never now
        assert sbom.metadata["created_at_unparsed"] == "redacted"
        assert sbom.metadata["license_list_version_unparsed"] == "redacted"
        # The namespace "redacted" is not a URI: recorded, not refused.
        assert sbom.metadata["validation"] == "invalid"
        assert "document_namespace" in sbom.metadata["validation_detail"]
        # From the pkg:oci purl and the CONTAINER package's version.
        assert sbom.subject_digests == {SYFT_DIGEST}
    assert sorted(as_json.components, key=lambda c: c.name) == sorted(
        as_text.components, key=lambda c: c.name
    )
    package_1 = next(c for c in as_json.components if c.name == "package-1")
    assert package_1.licenses == ("MIT",)  # concluded NOASSERTION, declared MIT
    assert package_1.purl == "a-purl-1"  # not a purl: kept, the policy checks it by name


def test_license_expressions_and_license_refs() -> None:
    (binary,) = _sbom("example6-bin-2.2.spdx").components
    # The LicenseRef's name from hasExtractedLicensingInfos follows the expression.
    assert binary.licenses == (
        "GPL-3.0-or-later AND LicenseRef-Golang-BSD-plus-Patents",
        "Golang BSD-plus-PATENTS",
    )
    k8s = {c.name: c.licenses for c in _sbom("k8s-bom-2.3.json").components}
    assert k8s["pretty_env_logger"] == ("MIT OR Apache-2.0",)
    assert k8s["hyper"] == ("MIT",)  # declared NOASSERTION adds nothing
    maven = {c.name: c.licenses for c in _sbom("maven-enriched-2.3.json").components}
    assert maven["JUnit"] == ("CPL-1.0",)
    assert maven["Apache Log4j Core"] == ()  # both NOASSERTION


def test_duplicate_packages_and_purposes_are_kept() -> None:
    julia = _sbom("trivy-julia-2.3.json")
    assert [c.name for c in julia.components].count("B") == 2  # two different uuids
    assert {c.type for c in julia.components} == {"application", "library", "source"}


def test_the_security_example_reads_its_package_purls() -> None:
    sbom = _sbom("sbom-with-security-2.3.json")
    assert {c.name: c.purl for c in sbom.components} == {
        "tools-java": "pkg:github/spdx/tools-java@2235d5d7f7fe46ce1e0d54b7831c5681633b25cc",
        "xlsx": "pkg:maven/org.webjars.npm/xlsx@0.16.6",
    }
    assert sbom.created_at == datetime(2023, 5, 12, 18, 30, 22, tzinfo=UTC)
