"""Harbor scanner-adapter vulnerability reports into findings.

Two shapes reach the gate: Harbor's own API answer
(``GET .../artifacts/{digest}/additions/vulnerabilities``), an object keyed
by the report's MIME type, and the bare ``HarborVulnerabilityReport`` that
scanner adapters and harborapi produce. Both MIME types are read:
``application/vnd.security.vulnerability.report; version=1.1`` and the
older ``application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0``.

Harbor answers ``{}`` for an artifact it has not scanned (or not with a
report type the client asked for): that is no report at all, so it is an
``InputError``, never an empty list of findings.

The report-level ``severity`` is a summary that can disagree with the items
(the real Trivy v0.44 report says Critical, its items stop at High): it is
kept in ``metadata["reported_severity"]`` and never used. CVSS ratings come
from ``vendor_attributes.CVSS`` (Trivy's per-source map, copied through by
the adapter), from ``preferred_cvss`` when it adds a rating, and from the
v1.0 spec's ``cve3_score``/``cve2_score`` fields. Harbor reports carry no
purl, no package type and no publication date.

Binding: the report's ``artifact.digest`` and every item's
``artifact_digests`` (which Harbor core adds, one per scanned manifest) are
the artifact digests. ``artifact.repository`` lacks the registry host, so it
is kept in metadata and never used as an image name to bind by.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NoReturn

from gate.errors import InputError
from gate.oci.digest import Digest
from gate.scanners._fields import (
    fail,
    join,
    key_path,
    opt_dict,
    opt_list,
    opt_str,
    parse_timestamp,
    req_str,
    wrong_type,
)
from gate.scanners.finding import CvssScore, Finding, FixState, ScanReport, Severity
from gate.scanners.merge import merge_duplicate_findings

FORMAT = "harbor"

#: The report MIME types Harbor keys its answer by, newest first.
HARBOR_REPORT_MIME_TYPES = (
    "application/vnd.security.vulnerability.report; version=1.1",
    "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0",
)

#: Harbor's severity vocabulary; ``None`` is only meant for "no vulnerabilities".
_SEVERITIES: Mapping[str, Severity] = MappingProxyType(
    {
        "None": Severity.UNKNOWN,
        "Unknown": Severity.UNKNOWN,
        "Negligible": Severity.LOW,
        "Low": Severity.LOW,
        "Medium": Severity.MEDIUM,
        "High": Severity.HIGH,
        "Critical": Severity.CRITICAL,
    }
)
_KNOWN_WORDS = frozenset(
    {"none", "unknown", "negligible", "low", "medium", "moderate", "high", "important"}
    | {"critical", "defcon1", "info"}
)

#: Source name given to a ``preferred_cvss`` rating no vendor rating repeats.
PREFERRED_CVSS_SOURCE = "preferred"
#: Source name of the v1.0 spec's item-level ``cve3_score``/``cve2_score``.
ITEM_CVSS_SOURCE = "harbor"

#: ``vendor_attributes.CVSS.<source>`` keys: score, vector and the gate's version name.
_VENDOR_CVSS_KEYS = (
    ("V3Score", "V3Vector", "3.x"),
    ("V2Score", "V2Vector", "2.0"),
    ("V40Score", "V40Vector", "4.0"),
)

_NUMBER = (int, float)


def parse_harbor_report(document: object, source: str) -> ScanReport:
    """Turn a parsed Harbor report, wrapped by MIME type or bare, into a ``ScanReport``.

    ``vulnerabilities`` absent, ``null`` or ``[]`` is a report without
    findings; ``{}`` (Harbor has no report for the artifact) is an error.
    """
    if type(document) is not dict:
        wrong_type(source, "", "a Harbor vulnerability report object", document)
    report, path, mime_type = _unwrap(document, source)
    metadata: dict[str, str] = {}
    if mime_type is not None:
        metadata["mime_type"] = mime_type

    scanner = opt_dict(report, "scanner", source, path)
    spath = join(path, "scanner")
    scanner_name = opt_str(scanner, "name", source, spath) or None
    scanner_version = opt_str(scanner, "version", source, spath) or None
    vendor = opt_str(scanner, "vendor", source, spath)
    if vendor:
        metadata["scanner_vendor"] = vendor

    created_at = None
    generated = opt_str(report, "generated_at", source, path)
    if generated:
        created_at = parse_timestamp(generated)
        if created_at is None:
            metadata["created_at_unparsed"] = generated

    digests: set[Digest] = set()
    artifact = opt_dict(report, "artifact", source, path)
    apath = join(path, "artifact")
    for key in ("repository", "tag", "mime_type"):
        value = opt_str(artifact, key, source, apath)
        if value:
            metadata[f"artifact_{key}"] = value
    artifact_digest = opt_str(artifact, "digest", source, apath)
    if artifact_digest:
        try:
            digests.add(Digest.parse(artifact_digest))
        except InputError as exc:
            fail(source, join(apath, "digest"), exc.reason)

    reported = opt_str(report, "severity", source, path)
    if reported is not None:
        metadata["reported_severity"] = reported

    reader = _ItemReader(source)
    vpath = join(path, "vulnerabilities")
    for index, item in enumerate(opt_list(report, "vulnerabilities", source, path)):
        reader.read(item, f"{vpath}[{index}]", digests)

    findings, duplicates = merge_duplicate_findings(reader.findings)
    if duplicates:
        metadata["duplicates_merged"] = str(duplicates)
    if reader.unparsed_digests:
        # Harbor core writes these; one that is not a digest binds nothing (the
        # report then binds to fewer images, never to more).
        metadata["unparsed_artifact_digests"] = ",".join(sorted(reader.unparsed_digests))
    if reader.unknown_severities:
        metadata["unrecognised_severities"] = ",".join(sorted(reader.unknown_severities))
    return ScanReport(
        source=source,
        format=FORMAT,
        findings=findings,
        artifact_digests=frozenset(digests),
        created_at=created_at,
        scanner=scanner_name.lower() if scanner_name else None,
        scanner_version=scanner_version,
        metadata=MappingProxyType(metadata),
    )


def _unwrap(document: dict[str, Any], source: str) -> tuple[dict[str, Any], str, str | None]:
    """The report object, the JSON path to it, and the MIME type it was keyed by (if any)."""
    if any(key in document for key in ("generated_at", "scanner", "vulnerabilities")):
        return document, "", None
    if not document:
        fail(
            source,
            "",
            "Harbor has no vulnerability report for this artifact (an empty object:"
            " not scanned yet, or not with a requested report MIME type)",
        )
    keys = list(document)
    if len(keys) != 1 or keys[0] not in HARBOR_REPORT_MIME_TYPES:
        shown = ", ".join(repr(k)[:80] for k in keys[:3])
        fail(
            source,
            "",
            f"expected one report keyed by {' or '.join(map(repr, HARBOR_REPORT_MIME_TYPES))},"
            f" got keys {shown}",
        )
    mime_type = keys[0]
    path = key_path("", mime_type)
    report = document[mime_type]
    if type(report) is not dict:
        wrong_type(source, path, "a Harbor vulnerability report object", report)
    return report, path, mime_type


class _ItemReader:
    """Turns ``vulnerabilities[]`` items into findings and collects what it could not map."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.findings: list[Finding] = []
        self.unknown_severities: set[str] = set()
        self.unparsed_digests: set[str] = set()

    def read(self, item: object, path: str, digests: set[Digest]) -> None:
        """Append the finding of one item; add its ``artifact_digests`` to ``digests``."""
        source = self.source
        if type(item) is not dict:
            wrong_type(source, path, "a vulnerability object", item)
        vuln_id = req_str(item, "id", source, path)
        package = req_str(item, "package", source, path)
        version = opt_str(item, "version", source, path) or ""
        fix_text = opt_str(item, "fix_version", source, path)
        raw_severity = opt_str(item, "severity", source, path)
        opt_str(item, "description", source, path)
        links = opt_list(item, "links", source, path)
        for index, link in enumerate(links):
            if type(link) is not str:
                wrong_type(source, f"{path}.links[{index}]", "a string", link)
        for index, cwe in enumerate(opt_list(item, "cwe_ids", source, path)):
            if type(cwe) is not str:
                wrong_type(source, f"{path}.cwe_ids[{index}]", "a string", cwe)
        layer = opt_dict(item, "layer", source, path)
        for key in ("digest", "diff_id"):
            opt_str(layer, key, source, join(path, "layer"))
        for index, text in enumerate(opt_list(item, "artifact_digests", source, path)):
            if type(text) is not str:
                wrong_type(source, f"{path}.artifact_digests[{index}]", "a digest string", text)
            try:
                digests.add(Digest.parse(text))
            except InputError:
                self.unparsed_digests.add(text)

        severity = Severity.UNKNOWN
        if raw_severity:
            found = _SEVERITIES.get(raw_severity)
            if found is None:
                if raw_severity.strip().lower() not in _KNOWN_WORDS:
                    self.unknown_severities.add(raw_severity)
                found = Severity.parse(raw_severity)
            severity = found

        # Trivy joins several fixed branches with ", "; the adapter copies the text through.
        fixed_versions = tuple(v for v in (fix_text or "").split(", ") if v.strip())
        self.findings.append(
            Finding(
                id=vuln_id,
                package_name=package,
                package_version=version,
                severity=severity,
                cvss=_ratings(item, source, path),
                fixed_versions=fixed_versions,
                fix_state=FixState.FIXED if fixed_versions else FixState.NOT_FIXED,
                raw_severity=raw_severity,
                primary_url=next((link for link in links if link), None),
            )
        )


def _ratings(item: dict[str, Any], source: str, path: str) -> tuple[CvssScore, ...]:
    """Every CVSS rating of one item: vendor ones first, then what the others add."""
    ratings: list[CvssScore] = []
    vendor = opt_dict(item, "vendor_attributes", source, path)
    cvss_map = opt_dict(vendor, "CVSS", source, join(path, "vendor_attributes"))
    cpath = join(path, "vendor_attributes.CVSS")
    for cvss_source, entry in cvss_map.items():
        epath = key_path(cpath, cvss_source)
        if type(entry) is not dict:
            wrong_type(source, epath, "an object", entry)
        for score_key, vector_key, version in _VENDOR_CVSS_KEYS:
            score = _score(entry, score_key, source, epath)
            vector = opt_str(entry, vector_key, source, epath) or None
            if score is not None or vector is not None:
                ratings.append(CvssScore(cvss_source, version, score, vector))

    preferred = opt_dict(item, "preferred_cvss", source, path)
    ppath = join(path, "preferred_cvss")
    extra = [
        (PREFERRED_CVSS_SOURCE, "3.x", _score(preferred, "score_v3", source, ppath),
         opt_str(preferred, "vector_v3", source, ppath)),
        (PREFERRED_CVSS_SOURCE, "2.0", _score(preferred, "score_v2", source, ppath),
         opt_str(preferred, "vector_v2", source, ppath)),
        (ITEM_CVSS_SOURCE, "3.x", _score(item, "cve3_score", source, path),
         opt_str(item, "cvss3_vector", source, path)),
        (ITEM_CVSS_SOURCE, "2.0", _score(item, "cve2_score", source, path),
         opt_str(item, "cvss2_vector", source, path)),
    ]  # fmt: skip
    for name, version, score, vector in extra:
        if score is None and not vector:
            continue
        if any(_same_rating(r, version, score, vector or None) for r in ratings):
            continue
        ratings.append(CvssScore(name, version, score, vector or None))
    return tuple(ratings)


def _same_rating(rating: CvssScore, version: str, score: float | None, vector: str | None) -> bool:
    """True when ``rating`` already says this: same version and score, and vector if given."""
    if rating.version != version or rating.score != score:
        return False
    return vector is None or rating.vector == vector


def _score(obj: dict[str, Any], key: str, source: str, path: str) -> float | None:
    """A CVSS score from 0 to 10: a JSON number, or the numeric string the v1.0 spec shows."""
    value = obj.get(key)
    if value is None or value == "":
        return None
    if type(value) is str:
        try:
            number = float(value)
        except ValueError:
            _bad_score(source, join(path, key), value)
    elif type(value) in _NUMBER:
        number = float(value)
    else:
        _bad_score(source, join(path, key), value)
    if not 0 <= number <= 10:
        fail(source, join(path, key), f"CVSS score {value} is not within 0-10")
    return number


def _bad_score(source: str, path: str, value: object) -> NoReturn:
    if type(value) is str:
        fail(source, path, f"expected a CVSS score, got {value[:40]!r}")
    wrong_type(source, path, "a number", value)
