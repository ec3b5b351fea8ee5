"""Trivy JSON reports (SchemaVersion 2 and the legacy pre-v0.20 array) into findings.

Only results of vulnerability-carrying classes (``os-pkgs``, ``lang-pkgs``,
legacy results without a class) produce findings; secret, misconfiguration
and license results are skipped. Findings Trivy itself suppressed through VEX
or ignore files (``ExperimentalModifiedFindings``) are not active: they are
counted in ``metadata["suppressed"]`` but not returned.

This runs once per report on every CI job and admission request, so the
per-vulnerability path avoids regexes, copies and repeated lookups: the
budget is "no slower than the ``json.loads`` that produced the document"
(``benchmarks/bench_trivy_load.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
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
    wrong_type,
)
from gate.scanners.finding import CvssScore, Finding, FixState, ScanReport, Severity, build_finding

#: Result classes known to carry no vulnerabilities (secrets, misconfigurations,
#: licenses). Vulnerabilities come from ``os-pkgs``, ``lang-pkgs`` and legacy
#: results without a class; a result of any other, unknown class that lists
#: vulnerabilities is still read, since dropping findings would fail open.
NON_VULNERABILITY_CLASSES = frozenset({"config", "secret", "license", "license-file", "custom"})

#: Trivy ``Status`` -> fix state. ``fix_deferred`` and ``end_of_life`` mean no fix
#: will come for this release, which is what WONT_FIX stands for.
STATUS_FIX_STATES: Mapping[str, FixState] = MappingProxyType(
    {
        "fixed": FixState.FIXED,
        "affected": FixState.NOT_FIXED,
        "will_not_fix": FixState.WONT_FIX,
        "fix_deferred": FixState.WONT_FIX,
        "end_of_life": FixState.WONT_FIX,
        "under_investigation": FixState.UNKNOWN,
        "not_affected": FixState.NOT_AFFECTED,
        "unknown": FixState.UNKNOWN,
    }
)

# Trivy writes severities in upper case; an exact-match table avoids a
# strip/lower per finding, with ``Severity.parse`` as the fallback.
_SEVERITIES: dict[str, Severity] = {s.name: s for s in Severity}

FORMAT = "trivy"
#: Id given to a vulnerability the report lists without a VulnerabilityID.
MISSING_ID = "(no VulnerabilityID)"

#: Types an optional field may have (absent and null read alike).
_NUMBER_OR_NULL = frozenset({int, float, type(None)})
_STRING_OR_NULL = frozenset({str, type(None)})
_OBJECT_OR_NULL = frozenset({dict, type(None)})
#: Scores a boolean compares equal to (``true == 1``, ``false == 0``).
_ZERO_ONE = frozenset({0, 1})

#: Score key, vector key and version of each CVSS version Trivy writes.
_CVSS_VERSIONS = (
    ("V3Score", "V3Vector", "3.x"),
    ("V2Score", "V2Vector", "2.0"),
    ("V40Score", "V40Vector", "4.0"),
)


def parse_trivy_report(document: object, source: str) -> ScanReport:
    """Turn a parsed Trivy JSON document into a ``ScanReport``.

    Accepts SchemaVersion 2 objects, the legacy top-level array, and the
    legacy bare ``null`` (nothing scanned). ``source`` names the file in errors.
    """
    metadata: dict[str, str] = {}
    if document is None or type(document) is list:
        metadata["schema_version"] = "legacy"
        findings = _read_results(document or [], "", source, metadata)
        return ScanReport(
            source=source,
            format=FORMAT,
            findings=findings,
            scanner="trivy",
            metadata=MappingProxyType(metadata),
        )
    if type(document) is not dict:
        wrong_type(source, "", "a Trivy report object or array", document)
    return _parse_schema_2(document, source, metadata)


def _parse_schema_2(doc: dict[str, Any], source: str, metadata: dict[str, str]) -> ScanReport:
    version = doc.get("SchemaVersion")
    if version != 2 or type(version) is not int:
        fail(source, "SchemaVersion", f"Trivy SchemaVersion {version!r} is not supported (only 2)")
    metadata["schema_version"] = "2"
    artifact_name = opt_str(doc, "ArtifactName", source, "")
    artifact_type = opt_str(doc, "ArtifactType", source, "")
    if artifact_type:
        metadata["artifact_type"] = artifact_type
    trivy = opt_dict(doc, "Trivy", source, "")
    scanner_version = opt_str(trivy, "Version", source, "Trivy")
    meta = opt_dict(doc, "Metadata", source, "")
    image_id = opt_str(meta, "ImageID", source, "Metadata")
    if image_id:
        # The image ID is the digest of the image *config*, not of the manifest
        # that is pulled and signed, so it never goes into artifact_digests.
        metadata["image_id"] = image_id
    digests = _repo_digests(meta, source)
    created_at = _created_at(doc, source, metadata)

    results = doc.get("Results")
    if results is not None and type(results) is not list:
        wrong_type(source, "Results", "an array", results)
    findings = _read_results(results or [], "Results", source, metadata)
    return ScanReport(
        source=source,
        format=FORMAT,
        findings=findings,
        artifact_name=artifact_name,
        artifact_digests=digests,
        created_at=created_at,
        scanner="trivy",
        scanner_version=scanner_version,
        metadata=MappingProxyType(metadata),
    )


def _created_at(doc: dict[str, Any], source: str, metadata: dict[str, str]) -> datetime | None:
    text = opt_str(doc, "CreatedAt", source, "")
    if not text:
        return None
    created = parse_timestamp(text)
    if created is None:
        metadata["created_at_unparsed"] = text
    return created


def _repo_digests(meta: dict[str, Any], source: str) -> frozenset[Digest]:
    """``Metadata.RepoDigests`` (``name@sha256:...``) as manifest digests."""
    digests = set()
    for index, entry in enumerate(opt_list(meta, "RepoDigests", source, "Metadata")):
        path = f"Metadata.RepoDigests[{index}]"
        if type(entry) is not str:
            wrong_type(source, path, "a string", entry)
        if not entry:
            # Trivy writes [""] for images that were never pulled from a registry.
            continue
        _, at, text = entry.rpartition("@")
        if not at:
            fail(source, path, f"expected name@digest, got {entry!r}")
        try:
            digests.add(Digest.parse(text))
        except InputError as exc:
            fail(source, path, exc.reason)
    return frozenset(digests)


def _read_results(
    results: list[Any], prefix: str, source: str, metadata: dict[str, str]
) -> tuple[Finding, ...]:
    """The active findings of ``results``; counts what was skipped into ``metadata``."""
    reader = _VulnerabilityReader(source)
    suppressed = 0
    skipped: dict[str, int] = {}
    for r_index, result in enumerate(results):
        rpath = f"{prefix}[{r_index}]"
        if type(result) is not dict:
            wrong_type(source, rpath, "an object", result)
        cls = opt_str(result, "Class", source, rpath)
        if cls in NON_VULNERABILITY_CLASSES:
            skipped[cls] = skipped.get(cls, 0) + 1
            continue
        suppressed += len(_suppressed(result, source, rpath))
        vulns = result.get("Vulnerabilities")
        if vulns is None:
            continue
        if type(vulns) is not list:
            wrong_type(source, join(rpath, "Vulnerabilities"), "an array", vulns)
        reader.read(
            vulns,
            f"{rpath}.Vulnerabilities",
            opt_str(result, "Target", source, rpath),
            opt_str(result, "Type", source, rpath),
        )

    metadata["suppressed"] = str(suppressed)
    if skipped:
        metadata["skipped_results"] = ",".join(f"{k}={v}" for k, v in sorted(skipped.items()))
    if reader.missing_ids:
        metadata["findings_without_id"] = str(reader.missing_ids)
    if reader.unknown_severities:
        metadata["unrecognised_severities"] = ",".join(sorted(reader.unknown_severities))
    if reader.unknown_statuses:
        metadata["unrecognised_statuses"] = ",".join(sorted(reader.unknown_statuses))
    return tuple(reader.findings)


def _suppressed(result: dict[str, Any], source: str, rpath: str) -> list[Any]:
    """The result's VEX/ignore-suppressed findings; each must at least be an object."""
    modified = opt_list(result, "ExperimentalModifiedFindings", source, rpath)
    for index, entry in enumerate(modified):
        if type(entry) is not dict:
            wrong_type(source, f"{rpath}.ExperimentalModifiedFindings[{index}]", "an object", entry)
    return modified


class _VulnerabilityReader:
    """Turns the ``Vulnerabilities`` arrays of a report into findings.

    ``read`` is the hot loop: every lookup it needs is bound to a local, the
    happy path is one combined type test per group of fields, and only when
    that test fails does ``_explain`` work out which field is wrong and where.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.findings: list[Finding] = []
        self.unknown_severities: set[str] = set()
        self.unknown_statuses: set[str] = set()
        self.missing_ids = 0
        self.cvss = _CvssReader()

    def read(self, vulns: list[Any], vpath: str, target: str | None, pkg_type: str | None) -> None:
        """Append one finding per entry of ``vulns`` (the array at ``vpath``)."""
        source = self.source
        append = self.findings.append
        severities = _SEVERITIES
        statuses = STATUS_FIX_STATES
        read_cvss = self.cvss.read
        fixed_state, not_fixed_state = FixState.FIXED, FixState.NOT_FIXED
        string_or_null, object_or_null = _STRING_OR_NULL, _OBJECT_OR_NULL
        for index, vuln in enumerate(vulns):
            if type(vuln) is not dict:
                wrong_type(source, f"{vpath}[{index}]", "an object", vuln)
            get = vuln.get
            vuln_id = get("VulnerabilityID")
            if vuln_id is None or vuln_id == "":
                # Old Trivy versions wrote advisories without an id (Go omitempty
                # dropped the empty field). Keep the finding, so severity limits
                # still see it, under a placeholder the report can show.
                vuln_id = MISSING_ID
                self.missing_ids += 1
            name = get("PkgName")
            # Trivy omits empty strings (Go omitempty): a missing version reads as "".
            version = get("InstalledVersion", "")
            raw_severity = get("Severity")
            fixed_text = get("FixedVersion")
            status = get("Status")
            severity_source = get("SeveritySource")
            title = get("Title")
            primary_url = get("PrimaryURL")
            identifier = get("PkgIdentifier")
            if not (
                vuln_id
                and name
                and type(vuln_id) is str
                and type(name) is str
                and type(version) is str
                and type(raw_severity) in string_or_null
                and type(fixed_text) in string_or_null
                and type(status) in string_or_null
                and type(severity_source) in string_or_null
                and type(title) in string_or_null
                and type(primary_url) in string_or_null
                and type(identifier) in object_or_null
            ):
                _explain(vuln, source, f"{vpath}[{index}]")

            purl = None
            if identifier is not None:
                purl = identifier.get("PURL")
                if purl is not None and type(purl) is not str:
                    _explain(vuln, source, f"{vpath}[{index}]")

            if raw_severity is None:
                severity = Severity.UNKNOWN
            else:
                found = severities.get(raw_severity)
                if found is None:
                    found = Severity.parse(raw_severity)
                    if found is Severity.UNKNOWN and raw_severity.strip():
                        self.unknown_severities.add(raw_severity)
                severity = found

            # Several fixed branches are joined with ", " ("11.0.14, 10.1.49, 9.0.112").
            fixed_versions = tuple(p for p in fixed_text.split(", ") if p) if fixed_text else ()
            if status is None:
                # Reports from before Trivy had Status: a fixed version is the only signal.
                fix_state = fixed_state if fixed_versions else not_fixed_state
            else:
                state = statuses.get(status)
                if state is None:
                    self.unknown_statuses.add(status)
                    state = FixState.UNKNOWN
                fix_state = state

            aliases: tuple[str, ...] = ()
            vendor_ids = get("VendorIDs")
            if vendor_ids is not None:
                if type(vendor_ids) is not list or any(type(a) is not str for a in vendor_ids):
                    _explain(vuln, source, f"{vpath}[{index}]")
                aliases = tuple(vendor_ids)

            cvss: tuple[CvssScore, ...] = ()
            cvss_map = get("CVSS")
            if cvss_map is not None:
                scores = read_cvss(vuln_id, cvss_map) if type(cvss_map) is dict else None
                if scores is None:
                    _explain(vuln, source, f"{vpath}[{index}]")
                cvss = scores

            values: dict[str, Any] = {
                "id": vuln_id,
                "package_name": name,
                "package_version": version,
                "severity": severity,
                "aliases": aliases,
                "package_type": pkg_type,
                "purl": purl,
                "target": target,
                "cvss": cvss,
                "fixed_versions": fixed_versions,
                "fix_state": fix_state,
                "severity_source": severity_source,
                "raw_severity": raw_severity,
                "title": title,
                "primary_url": primary_url,
                "epss": None,
                "kev": False,
                "fix_published": None,
                "published": None,
            }
            append(build_finding(values))


#: The optional fields of a vulnerability and the JSON type each must have.
_OPTIONAL_FIELDS: tuple[tuple[str, type, str], ...] = (
    ("InstalledVersion", str, "a string"),
    ("Severity", str, "a string"),
    ("FixedVersion", str, "a string"),
    ("Status", str, "a string"),
    ("SeveritySource", str, "a string"),
    ("Title", str, "a string"),
    ("PrimaryURL", str, "a string"),
    ("PkgIdentifier", dict, "an object"),
    ("CVSS", dict, "an object"),
)


def _explain(vuln: dict[str, Any], source: str, path: str) -> NoReturn:
    """Raise the error for the first malformed field of one vulnerability object.

    Only called once the fast combined test in ``_VulnerabilityReader.read``
    has found something wrong, so it re-checks each field in a fixed order.
    """
    value = vuln.get("VulnerabilityID")
    if value is not None and type(value) is not str:
        wrong_type(source, f"{path}.VulnerabilityID", "a string", value)
    for key in ("PkgName",):
        value = vuln.get(key)
        if value is None:
            fail(source, f"{path}.{key}", "required field is missing")
        if type(value) is not str:
            wrong_type(source, f"{path}.{key}", "a string", value)
        if not value:
            fail(source, f"{path}.{key}", "must not be empty")
    if "InstalledVersion" in vuln and type(vuln["InstalledVersion"]) is not str:
        wrong_type(source, f"{path}.InstalledVersion", "a string", vuln["InstalledVersion"])
    for key, kind, expected in _OPTIONAL_FIELDS:
        value = vuln.get(key)
        if value is not None and type(value) is not kind:
            wrong_type(source, f"{path}.{key}", expected, value)
    purl = (vuln.get("PkgIdentifier") or {}).get("PURL")
    if purl is not None and type(purl) is not str:
        wrong_type(source, f"{path}.PkgIdentifier.PURL", "a string", purl)
    for cvss_source, entry in (vuln.get("CVSS") or {}).items():
        cpath = key_path(f"{path}.CVSS", cvss_source)
        if type(entry) is not dict:
            wrong_type(source, cpath, "an object", entry)
        for score_key, vector_key, _ in _CVSS_VERSIONS:
            score, vector = entry.get(score_key), entry.get(vector_key)
            if score is not None and not _is_cvss_score(score):
                if type(score) is int or type(score) is float:
                    fail(source, f"{cpath}.{score_key}", f"CVSS score {score} is not within 0-10")
                wrong_type(source, f"{cpath}.{score_key}", "a number", score)
            if vector is not None and type(vector) is not str:
                wrong_type(source, f"{cpath}.{vector_key}", "a string", vector)
    vendor_ids = vuln.get("VendorIDs")
    if vendor_ids is not None and (
        type(vendor_ids) is not list or any(type(a) is not str for a in vendor_ids)
    ):
        wrong_type(source, f"{path}.VendorIDs", "an array of strings", vendor_ids)
    fail(source, path, "malformed vulnerability")  # not reached: the caller saw a bad field


_RatingKey = tuple[str, str, Any, Any]


class _CvssReader:
    """``CVSS.<source>.{V3,V2,V40}{Score,Vector}`` -> one ``CvssScore`` per source and version.

    Trivy copies the CVSS map from its database per vulnerability id, so an
    id repeats the same map on every package it affects, and the same ratings
    recur across ids (711 findings, 448 ids, 2047 ratings of which 222
    distinct, in the large golden). Two caches exploit that without ever
    skipping a type check:

    * ``by_rating``: (source, version, score, vector) -> rating, looked up
      only *after* the score and vector passed their type checks;
    * ``by_id``: a map equal to the last one seen for the id reuses its
      ratings. Equality alone would let ``true`` pass for a score of 1 (and
      ``false`` for 0), so maps holding a score of 0 or 1 are not remembered.
    """

    def __init__(self) -> None:
        self.by_rating: dict[_RatingKey, CvssScore] = {}
        self.by_id: dict[str, tuple[dict[str, Any], tuple[CvssScore, ...]]] = {}

    def read(self, vuln_id: str, cvss_map: dict[str, Any]) -> tuple[CvssScore, ...] | None:
        """The ratings of one vulnerability, or None when something in the map is malformed."""
        cached = self.by_id.get(vuln_id)
        if cached is not None and cached[0] == cvss_map:
            return cached[1]
        scores: list[CvssScore] = []
        rememberable = True
        by_rating = self.by_rating
        number_or_null, string_or_null, zero_one = _NUMBER_OR_NULL, _STRING_OR_NULL, _ZERO_ONE
        for cvss_source, entry in cvss_map.items():
            if type(entry) is not dict:
                return None
            get = entry.get
            for score_key, vector_key, version in _CVSS_VERSIONS:
                score, vector = get(score_key), get(vector_key)
                if score is None and vector is None:
                    continue
                if type(score) not in number_or_null or type(vector) not in string_or_null:
                    return None
                key = (cvss_source, version, score, vector)
                rating = by_rating.get(key)
                if rating is None:
                    if score is not None and not _is_cvss_score(score):
                        return None
                    rating = CvssScore(
                        cvss_source, version, None if score is None else float(score), vector
                    )
                    by_rating[key] = rating
                if score in zero_one:
                    rememberable = False
                scores.append(rating)
        result = tuple(scores)
        if rememberable:
            self.by_id[vuln_id] = (cvss_map, result)
        return result


def _is_cvss_score(value: object) -> bool:
    """A JSON number (not a boolean) from 0 to 10; NaN fails the range test."""
    return (type(value) is int or type(value) is float) and 0 <= value <= 10
