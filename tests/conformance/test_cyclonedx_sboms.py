"""Every real CycloneDX file in ``shared/fixtures/real/cyclonedx/`` loads as an SBOM.

Component counts are checked against an independent recursive count of the
raw document, and, for every file ``cyclonedx-python-lib`` accepts, against the
library as an oracle (name, version and licenses of every component). Files
with a ``vulnerabilities`` section also load as scan reports.
"""

from __future__ import annotations

import json
import warnings
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree

import pytest
from cyclonedx.model.bom import Bom

from gate.errors import InputError
from gate.oci.digest import Digest
from gate.sbom.component import Sbom
from gate.sbom.load import load_sbom
from gate.sbom.validation import schema_validation
from gate.scanners.finding import FixState, ScanReport, Severity
from gate.scanners.load import load_scan_report
from tests.support.realdata import real_fixtures, real_fixtures_path


@pytest.fixture(autouse=True)
def _schema_validation() -> Iterator[None]:
    """These tests look at the libraries' schema verdicts, which gate evidence show turns on."""
    with schema_validation():
        yield


pytestmark = pytest.mark.conformance

#: Files cyclonedx-python-lib refuses: the syft snapshots carry the placeholder
#: serialNumber "urn:uuid:redacted", which the gate never reads.
LIBRARY_REFUSES = {"syft-image-1.7.json", "syft-image-1.7.xml"}


def _names() -> list[str]:
    root = real_fixtures_path() / "cyclonedx"
    if not root.is_dir():
        return ["<fixtures missing>"]
    return sorted(p.name for p in root.iterdir() if p.suffix in (".json", ".xml"))


def _data(name: str) -> bytes:
    return real_fixtures("cyclonedx", name).read_bytes()


def _sbom(name: str) -> Sbom:
    return load_sbom(_data(name), f"cyclonedx/{name}")


def _scan(name: str) -> ScanReport:
    return load_scan_report(_data(name), f"cyclonedx/{name}")


def _count_json(components: list[dict[str, Any]] | None) -> int:
    return sum(1 + _count_json(c.get("components")) for c in components or [])


def _independent_count(name: str) -> int:
    """Components, nested ones included, plus whatever the subject itself contains."""
    data = _data(name)
    if name.endswith(".xml"):
        root = ElementTree.fromstring(data)  # noqa: S314  # trusted test fixture
        ns = root.tag.split("}")[0] + "}"
        count = 0
        for holder in (
            root.find(f"{ns}components"),
            root.find(f"{ns}metadata/{ns}component/{ns}components"),
        ):
            if holder is not None:
                count += sum(1 for _ in holder.iter(f"{ns}component"))
        return count
    raw = json.loads(data)
    subject = (raw.get("metadata") or {}).get("component") or {}
    return _count_json(raw.get("components")) + _count_json(subject.get("components"))


@pytest.mark.parametrize("name", _names())
def test_every_cyclonedx_file_loads_as_an_sbom_with_every_component(name: str) -> None:
    sbom = _sbom(name)
    assert len(sbom.components) == _independent_count(name)
    assert sbom.format == "cyclonedx"
    assert sbom.spec_version is not None
    assert sbom.metadata["encoding"] == name.rsplit(".", 1)[1]
    assert all(c.name for c in sbom.components)


def _library_bom(name: str) -> Any:
    """The document as cyclonedx-python-lib reads it (raises where the library refuses)."""
    data = _data(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecation notices about 1.x fields
        if name.endswith(".json"):
            # from_json/from_xml are attached by py-serializable at runtime.
            return Bom.from_json(json.loads(data))  # type: ignore[attr-defined]
        root = ElementTree.fromstring(data)  # noqa: S314  # trusted test fixture
        return Bom.from_xml(root)  # type: ignore[attr-defined]


def _library_components(name: str) -> Counter[tuple[str, str | None, tuple[str, ...]]]:
    bom = _library_bom(name)
    found: Counter[tuple[str, str | None, tuple[str, ...]]] = Counter()
    stack = list(bom.components)
    if bom.metadata.component is not None:
        stack += list(bom.metadata.component.components)
    while stack:
        component = stack.pop()
        # A license is a LicenseExpression (value) or a DisjunctiveLicense (id or name).
        licenses = tuple(
            sorted(
                str(getattr(lic, "value", None) or getattr(lic, "id", None) or lic.name)
                for lic in component.licenses
            )
        )
        found[(component.name, component.version, licenses)] += 1
        stack.extend(component.components)
    return found


@pytest.mark.parametrize("name", [n for n in _names() if n not in LIBRARY_REFUSES])
def test_components_agree_with_cyclonedx_python_lib(name: str) -> None:
    ours = Counter((c.name, c.version, tuple(sorted(c.licenses))) for c in _sbom(name).components)
    assert ours == _library_components(name)


@pytest.mark.parametrize("name", sorted(LIBRARY_REFUSES))
def test_the_library_refuses_files_the_gate_reads_on_purpose(name: str) -> None:
    with pytest.raises(Exception, match="UUID string supplied does not parse"):
        _library_bom(name)
    assert len(_sbom(name).components) == 3


def _expected_findings(name: str) -> int | None:
    """Vulnerability x affects, or None when the document has no vulnerabilities section."""
    data = _data(name)
    if name.endswith(".xml"):
        root = ElementTree.fromstring(data)  # noqa: S314  # trusted test fixture
        ns = root.tag.split("}")[0] + "}"
        section = root.find(f"{ns}vulnerabilities")
        if section is None:
            return None
        return sum(1 for _ in section.iter(f"{ns}target"))
    raw = json.loads(data)
    if "vulnerabilities" not in raw:
        return None
    return sum(len(v.get("affects") or []) for v in raw["vulnerabilities"] or [])


@pytest.mark.parametrize("name", _names())
def test_files_with_vulnerabilities_load_as_scan_reports(name: str) -> None:
    expected = _expected_findings(name)
    if expected is None:
        with pytest.raises(InputError, match="no vulnerabilities section"):
            _scan(name)
        return
    scan = _scan(name)
    assert len(scan.findings) == expected
    assert scan.format == "cyclonedx"
    assert all(f.id and f.package_name for f in scan.findings)


def test_trivy_image_sbom_subject_and_findings() -> None:
    sbom = _sbom("trivy-0.48.1-1.5-with-vulns.json")
    assert len(sbom.components) == 102
    assert sbom.subject_name == "ubuntu:latest"
    # From the pkg:oci purl (sha256%3A...) and the RepoDigest property; never the ImageID.
    assert sbom.subject_digests == frozenset(
        {Digest("sha256", "6042500cf4b44023ea1894effe7890666b0c5c7871ed83a97c36c76ae560bb9b")}
    )
    assert sbom.created_at == datetime(2024, 1, 4, 15, 25, 30, tzinfo=UTC)

    scan = _scan("trivy-0.48.1-1.5-with-vulns.json")
    assert (scan.scanner, scan.scanner_version) == ("trivy", "0.48.1")
    assert scan.artifact_digests == sbom.subject_digests
    libstdcxx = [f for f in scan.findings if f.package_name == "libstdc++6"]
    assert [f.purl for f in libstdcxx] == [
        "pkg:deb/ubuntu/libstdc%2B%2B6@12.3.0-1ubuntu1~22.04?arch=amd64&distro=ubuntu-22.04"
    ]
    coreutils = next(f for f in scan.findings if f.id == "CVE-2016-2781")
    # Trivy's choice: the data source's own rating (ubuntu: low) over redhat's 8.6 "medium".
    assert (coreutils.severity, coreutils.severity_source) == (Severity.LOW, "ubuntu")
    assert coreutils.package_type == "ubuntu"
    # The Debian TEMP id points at a bom-ref missing from this image's BOM.
    temp = next(f for f in scan.findings if f.id == "TEMP-0290435-0B57B5")
    assert temp.package_name == "pkg:deb/debian/tar@1.30%2Bdfsg-6?arch=amd64&distro=debian-10.12"
    assert temp.package_version == "1.30+dfsg-6"
    assert scan.metadata["dangling_refs"] == "1"


def test_trivy_cyclonedx_agrees_with_trivy_json_for_the_same_scan() -> None:
    cdx = _scan("trivy-pom-with-vulns-1.6.json")
    trivy_json = load_scan_report(real_fixtures("trivy", "pom.json").read_bytes(), "trivy/pom.json")
    as_json = {f.id: (f.severity, f.severity_source, f.fixed_versions) for f in trivy_json.findings}
    as_cdx = {f.id: (f.severity, f.severity_source, f.fixed_versions) for f in cdx.findings}
    assert as_cdx == as_json
    assert all(f.fix_state is FixState.FIXED for f in cdx.findings)


def test_grype_cyclonedx_with_epss_and_kev_ratings() -> None:
    scan = _scan("grype-presenter-image.json")
    by_id = {f.id: f for f in scan.findings}
    assert by_id["CVE-1999-0001"].severity is Severity.LOW  # grype's label, despite a score of 8.2
    assert [c.score for c in by_id["CVE-1999-0001"].cvss] == [8.2]  # EPSS 0.03 is not CVSS
    assert by_id["CVE-1999-0002"].package_name == "package-2"
    assert by_id["CVE-1999-0002"].package_type == "deb"
    sbom = _sbom("grype-presenter-image.json")
    assert sbom.subject_digests == frozenset(
        {Digest("sha256", "ca738abb87a8d58f112d3400ebb079b61ceae7dc290beb34bda735be4b1941d5")}
    )


def test_rating_without_severity_and_a_dangling_ref() -> None:
    scan = _scan("no-severity-1.4.json")
    (finding,) = scan.findings
    assert (finding.id, finding.package_name, finding.package_version) == (
        "CVE-2021-44228",
        "gerbwetbqt",
        "",
    )
    assert (finding.severity, finding.severity_source) == (
        Severity.CRITICAL,
        "NVD",
    )  # from score 10.0
    assert _sbom("no-severity-1.4.json").components == ()


def test_grype_json_and_xml_give_the_same_findings() -> None:
    as_json = _scan("grype-0.41-log4j-1.4.json")
    as_xml = _scan("grype-log4j-1.4.xml")
    assert [(f.id, f.package_name, f.severity) for f in as_json.findings] == [
        (f.id, f.package_name, f.severity) for f in as_xml.findings
    ]
    log4shell = next(f for f in as_json.findings if f.id == "CVE-2021-44228")
    assert log4shell.severity is Severity.CRITICAL
    assert log4shell.purl == "pkg:maven/org.apache.logging.log4j/log4j-core@2.13.2"


def test_large_nested_npm_sbom_without_a_timestamp() -> None:
    sbom = _sbom("juice-shop-npm-nested-1.4.json")
    assert len(sbom.components) == 1115
    assert sbom.subject_name == "juice-shop"
    assert sbom.created_at is None  # the document has none; never "now"
    babel = [c for c in sbom.components if c.purl and "#" in c.purl]
    assert babel  # purls with a subpath are kept as written


def test_license_forms() -> None:
    dropwizard = _sbom("dropwizard-1.3.15-1.2.json")
    licenses = Counter(lic for c in dropwizard.components for lic in c.licenses)
    assert licenses["(CDDL-1.0 OR GPL-2.0-with-classpath-exception)"] == 1
    assert licenses["Apache-2.0"] > 0
    assert dropwizard.spec_version == "1.2"
    laravel = _sbom("laravel-7.12.0-1.4.xml")
    assert len(laravel.components) == 62
    assert laravel.subject_name == "cyclonedx-php-composer-demo"
    assert all(c.licenses for c in laravel.components if c.purl)


def test_redacted_syft_snapshots_load_with_unknown_time_and_no_digest() -> None:
    for name in ("syft-image-1.7.json", "syft-image-1.7.xml"):
        sbom = _sbom(name)
        assert sbom.spec_version == "1.7"
        assert sbom.created_at is None
        assert "redacted" in sbom.metadata["created_at_unparsed"]
        assert sbom.subject_digests == frozenset()  # "sha256:redacted" is not a digest
        assert [c.name for c in sbom.components] == ["package-1", "package-2", "debian"]


#: cyclonedx-python-lib's schema verdict on each real file. Only the syft
#: snapshots fail, on the placeholder ``serialNumber`` their test harness
#: writes (and, in XML, the ``timestamp:redacted`` time); both are read, and
#: the reason is recorded.
SCHEMA_INVALID = {
    "syft-image-1.7.json": "serialNumber: 'urn:uuid:redacted' does not match",
    "syft-image-1.7.xml": "/bom: Element 'bom', attribute 'serialNumber'",
}


@pytest.mark.parametrize("name", _names())
def test_every_file_is_validated_by_cyclonedx_python_lib(name: str) -> None:
    sbom = _sbom(name)
    encoding = "XML" if name.endswith(".xml") else "JSON"
    detail = sbom.metadata["validation_detail"]
    assert f"CycloneDX {sbom.spec_version} {encoding} schema" in detail
    if name in SCHEMA_INVALID:
        assert sbom.metadata["validation"] == "invalid"
        assert SCHEMA_INVALID[name] in detail
    else:
        assert sbom.metadata["validation"] == "valid", detail
    expected = _expected_findings(name)
    if expected is not None:
        assert _scan(name).metadata["validation"] == sbom.metadata["validation"]
