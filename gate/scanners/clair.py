"""Clair reports into findings: the v4 VulnerabilityReport and the Clair v2-era outputs.

**v4** (claircore, ``clairctl``, clair-action, the matcher API): one finding
per ``package_vulnerabilities`` pair, the package resolved through
``packages`` and the advisory through ``vulnerabilities``. The report names
the image only by ``manifest_hash``, which becomes the artifact digest.

Clair has no CVE field. The finding's id is the advisory's own name (the
first word of ``name``: ``CVE-2022-23219``, ``RHSA-2021:4464``,
``pyup.io-40268``); CVE aliases come from the rest of the name, from
``links`` and from the parenthesised ``(CVE-...)`` list of a Red Hat
"Security Fix(es)" description. A CVE merely *mentioned* in a description is
not an alias: Debian and NVD texts say "a different issue than CVE-X" or "an
incomplete fix for CVE-X" (12 of the 212 Debian advisories in the fixtures),
and an alias that is not one would let a VEX statement or ignore rule about
CVE-X silence this finding.

Severity: ``normalized_severity``; when that is ``Unknown``, the vendor's
raw ``severity`` word; when that says nothing either, the highest
``baseSeverity`` of the ``clair.cvss`` enrichment (NVD CVSS v3), as every
Debian advisory in the fixtures needs. ``fixed_in_version`` ``0:0`` (Debian)
and ``""`` mean no fixed version. The ``clair.epss`` and ``clair.kev``
enrichments fill ``epss`` and ``kev``; Clair attaches them through every CVE
it finds in the advisory text, so they err on the side of reporting.

**Legacy** (Clair v2 servers): ``clair-scanner`` output, ``klar`` output
and the Clair v1 API layer document, which share the capitalised or
lower-case vulnerability fields ``Name``, ``Severity``, ``FixedBy``,
``NamespaceName`` (the target), and optionally NVD CVSS v2 metadata.

Copies of one vulnerability in one package version at one target (the same
RHSA matched through two Red Hat repositories) are merged into one finding,
their aliases, ratings and fixed versions united; ``metadata`` counts them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, NoReturn
from urllib.parse import parse_qsl

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
from gate.scanners.merge import merge_duplicate_findings, merge_findings

FORMAT_V4 = "clair-v4"
FORMAT_CLAIR_SCANNER = "clair-scanner"
FORMAT_KLAR = "klar"
FORMAT_CLAIR_V1 = "clair-v1"
SCANNER = "clair"

#: ``fixed_in_version`` values that mean "no fixed version" (Debian's ``0:0``).
NO_FIX_SENTINELS = frozenset({"", "0:0"})

#: Source name of the CVSS ratings the ``clair.cvss`` enricher copies from NVD.
CVSS_ENRICHMENT_SOURCE = "nvd"
#: ``severity_source`` of a severity taken from the CVSS enrichment.
CVSS_SEVERITY_SOURCE = "clair.cvss"

_CVSS_ENRICHER = "enricher=clair.cvss"
_EPSS_ENRICHER = "enricher=clair.epss"
_KEV_ENRICHER = "enricher=clair.kev"

# Clair's enrichers accept any case and "_" between the parts; aliases are
# written the canonical way.
_CVE = re.compile(r"cve[-_]\d{4}[-_]\d{4,}", re.IGNORECASE)
# "(CVE-2018-15688)" or "(CVE-2020-1, CVE-2020-2)": the fix list of a Red Hat advisory.
_PARENTHESISED_CVES = re.compile(
    r"\(\s*(cve[-_]\d{4}[-_]\d{4,}(?:\s*,\s*cve[-_]\d{4}[-_]\d{4,})*)\s*\)", re.IGNORECASE
)
# "pyup.io-48152 (PVE-2021-41775)": another identifier the name gives in parentheses.
_PARENTHESISED_ID = re.compile(r"\(([A-Za-z][A-Za-z0-9.]*-[0-9][A-Za-z0-9.:-]*)\)")
#: Keys of the query-string form some claircore updaters write into ``fixed_in_version``.
_RANGE_KEYS = frozenset({"fixed", "introduced", "lastAffected", "last_affected", "limit"})

#: Clair's normalised vocabulary (exact words), with ``Severity.parse`` as the fallback.
_NORMALIZED: Mapping[str, Severity] = MappingProxyType(
    {
        "Unknown": Severity.UNKNOWN,
        "Negligible": Severity.LOW,
        "Low": Severity.LOW,
        "Medium": Severity.MEDIUM,
        "High": Severity.HIGH,
        "Critical": Severity.CRITICAL,
        "Defcon1": Severity.CRITICAL,
    }
)
_KNOWN_WORDS = frozenset(
    {"unknown", "none", "negligible", "low", "medium", "moderate", "high", "important"}
    | {"critical", "defcon1"}
)

_NUMBER = (int, float)


# --- shared helpers ---------------------------------------------------------------------------


def _canonical_cve(text: str) -> str:
    return text.upper().replace("_", "-")


def cve_aliases(vuln_id: str, *texts: str, description: str = "") -> tuple[str, ...]:
    """The CVE ids of an advisory other than ``vuln_id``, in first-seen order.

    Every CVE in ``texts`` (name, links) counts; from ``description`` only a
    parenthesised list does, as explained in the module docstring.
    """
    found: dict[str, None] = {}
    for text in texts:
        if text:
            for match in _CVE.findall(text):
                found[_canonical_cve(match)] = None
    if description and "(" in description:
        for group in _PARENTHESISED_CVES.findall(description):
            for match in _CVE.findall(group):
                found[_canonical_cve(match)] = None
    found.pop(_canonical_cve(vuln_id), None)
    return tuple(found)


def clair_fixed_versions(text: str | None) -> tuple[str, ...]:
    """``fixed_in_version`` / ``FixedBy`` as fixed versions; the no-fix sentinels give ``()``.

    Some claircore updaters (OSV) write a query string such as
    ``fixed=1.2.3&introduced=0``; only its ``fixed`` values are versions.
    """
    if text is None:
        return ()
    text = text.strip()
    if text in NO_FIX_SENTINELS:
        return ()
    if "=" in text:
        pairs = parse_qsl(text, keep_blank_values=True)
        if pairs and all(key in _RANGE_KEYS for key, _ in pairs):
            return tuple(value for key, value in pairs if key == "fixed" and value)
    return (text,)


def _fix_state(fixed_versions: tuple[str, ...]) -> FixState:
    # Clair lists only affected packages: no fixed version means "affected, no fix yet".
    return FixState.FIXED if fixed_versions else FixState.NOT_FIXED


class _SeverityWords:
    """Maps severity words and remembers the ones no vocabulary knows."""

    def __init__(self) -> None:
        self.unknown: set[str] = set()

    def parse(self, word: str | None) -> Severity:
        if not word:
            return Severity.UNKNOWN
        found = _NORMALIZED.get(word)
        if found is not None:
            return found
        if word.strip().lower() not in _KNOWN_WORDS:
            self.unknown.add(word)
        return Severity.parse(word)


def _metadata(values: dict[str, str], words: _SeverityWords, duplicates: int) -> Mapping[str, str]:
    if duplicates:
        values["duplicates_merged"] = str(duplicates)
    if words.unknown:
        values["unrecognised_severities"] = ",".join(sorted(words.unknown))
    return MappingProxyType(values)


# --- Clair v4 ---------------------------------------------------------------------------------


def parse_clair_v4_report(document: object, source: str) -> ScanReport:
    """Turn a parsed Clair v4 VulnerabilityReport into a ``ScanReport``.

    ``package_vulnerabilities`` absent, ``null`` or ``{}`` is a report without
    findings. A pair naming a package or vulnerability the report does not
    contain is an ``InputError``: what it refers to cannot be told.
    """
    if type(document) is not dict:
        wrong_type(source, "", "a Clair VulnerabilityReport object", document)
    hash_text = req_str(document, "manifest_hash", source, "")
    try:
        digest = Digest.parse(hash_text)
    except InputError as exc:
        fail(source, "manifest_hash", exc.reason)
    packages = opt_dict(document, "packages", source, "")
    pairs = opt_dict(document, "package_vulnerabilities", source, "")
    reader = _V4Reader(
        source,
        opt_dict(document, "vulnerabilities", source, ""),
        _Enrichments.read(document, source),
    )

    # The hot loop: one finding per (package, vulnerability) pair. Paths for
    # error messages are only built once something is found to be wrong.
    # Copies of one advisory in one package version at one target (the same
    # RHSA matched through two repositories) are grouped before any Finding
    # is built; only copies that differ are merged field by field.
    groups: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
    pair_count = duplicates = 0
    cache = reader.cache
    advisory_of = reader.advisory
    for package_id, vuln_ids in pairs.items():
        if type(vuln_ids) is not list:
            if vuln_ids is None:
                continue
            wrong_type(source, _pairs_path(package_id), "an array of vulnerability ids", vuln_ids)
        if not vuln_ids:
            continue
        package = packages.get(package_id)
        name = version = None
        if type(package) is dict:
            name = package.get("name")
            version = package.get("version")
            if version is None:
                version = ""
        if not (type(name) is str and name and type(version) is str):
            _bad_package(package, package_id, source)
        for vuln_id in vuln_ids:
            if type(vuln_id) is not str:
                _bad_vuln_id(vuln_ids, package_id, source)
            advisory = cache.get(vuln_id)
            if advisory is None:
                advisory = advisory_of(vuln_id, package_id, vuln_ids.index(vuln_id))
            pair_count += 1
            # Finding.key: (target, purl or package name, version, id); Clair has no purls.
            key = (advisory["target"] or "", name, version, advisory["id"])
            copies = groups.get(key)
            if copies is None:
                groups[key] = [advisory]
            elif all(advisory != seen for seen in copies):
                copies.append(advisory)
            else:
                duplicates += 1

    findings = []
    for (_, name, version, _), copies in groups.items():
        first = _finding(copies[0], name, version)
        for other in copies[1:]:
            first = merge_findings(first, _finding(other, name, version))
            duplicates += 1
        findings.append(first)
    metadata: dict[str, str] = {"pairs": str(pair_count)}
    if reader.enrichments.other:
        metadata["other_enrichments"] = ",".join(sorted(reader.enrichments.other))
    return ScanReport(
        source=source,
        format=FORMAT_V4,
        findings=tuple(findings),
        artifact_digests=frozenset({digest}),
        scanner=SCANNER,
        metadata=_metadata(metadata, reader.words, duplicates),
    )


def _finding(advisory: dict[str, Any], name: str, version: str) -> Finding:
    """The finding of one advisory in one package version."""
    return Finding(package_name=name, package_version=version, **advisory)


def _pairs_path(package_id: str) -> str:
    return key_path("package_vulnerabilities", package_id)


def _bad_package(package: object, package_id: str, source: str) -> NoReturn:
    """Raise the error for a pair whose package is missing or malformed."""
    if package is None:
        fail(source, _pairs_path(package_id), f"names package {package_id!r}, which is not listed")
    path = key_path("packages", package_id)
    if type(package) is not dict:
        wrong_type(source, path, "a package object", package)
    req_str(package, "name", source, path)
    opt_str(package, "version", source, path)
    fail(source, path, "malformed package")  # not reached: one of the checks above failed


def _bad_vuln_id(vuln_ids: list[Any], package_id: str, source: str) -> NoReturn:
    for index, vuln_id in enumerate(vuln_ids):
        if type(vuln_id) is not str:
            path = f"{_pairs_path(package_id)}[{index}]"
            wrong_type(source, path, "a vulnerability id string", vuln_id)
    fail(source, _pairs_path(package_id), "malformed vulnerability ids")  # not reached


class _Enrichments:
    """The ``clair.cvss``, ``clair.epss`` and ``clair.kev`` enrichments, by vulnerability id.

    Enrichers are recognised by the ``enricher=`` part of their key, never
    the whole key: the schema URL in it changes between claircore releases.
    """

    def __init__(self) -> None:
        self.cvss: dict[str, tuple[tuple[CvssScore, ...], Severity, str | None]] = {}
        self.epss: dict[str, float] = {}
        self.kev: set[str] = set()
        self.other: set[str] = set()
        self.ratings: dict[tuple[Any, Any, Any], CvssScore] = {}

    @classmethod
    def read(cls, document: dict[str, Any], source: str) -> _Enrichments:
        """Check and index every enrichment of the report."""
        found = cls()
        for kind, blocks in opt_dict(document, "enrichments", source, "").items():
            if blocks is None:
                continue
            if type(blocks) is not list:
                wrong_type(source, key_path("enrichments", kind), "an array", blocks)
            if _CVSS_ENRICHER in kind:
                label, read = "cvss", found._cvss
            elif _EPSS_ENRICHER in kind:
                label, read = "epss", found._epss
            elif _KEV_ENRICHER in kind:
                label, read = "kev", found._kev
            else:
                found.other.add(_enricher_name(kind))
                continue
            for b_index, block in enumerate(blocks):
                if type(block) is not dict:
                    if block is None:
                        continue
                    path = f"{key_path('enrichments', kind)}[{b_index}]"
                    wrong_type(source, path, "an object keyed by vulnerability id", block)
                for vuln_id, entries in block.items():
                    if type(entries) is not list:
                        if entries is None:
                            continue
                        wrong_type(source, _entry_path(kind, b_index, vuln_id), "an array", entries)
                    for e_index, entry in enumerate(entries):
                        if type(entry) is not dict or not read(vuln_id, entry):
                            path = _entry_path(kind, b_index, vuln_id, e_index)
                            _bad_entry(label, entry, source, path)
        return found

    def _cvss(self, vuln_id: str, entry: dict[str, Any]) -> bool:
        """Index one NVD CVSS object; False when it is malformed."""
        get = entry.get
        score, vector, version, word = (
            get("baseScore"),
            get("vectorString"),
            get("version"),
            get("baseSeverity"),
        )
        if not (
            (score is None or (type(score) in _NUMBER and 0 <= score <= 10))
            and type(vector) in _STRING_OR_NULL
            and type(version) in _STRING_OR_NULL
            and type(word) in _STRING_OR_NULL
        ):
            return False
        if score is None and vector is None:
            return True
        rating_key = (version, score, vector)
        rating = self.ratings.get(rating_key)
        if rating is None:
            rating = CvssScore(
                CVSS_ENRICHMENT_SOURCE,
                _cvss_version(version or "", vector),
                None if score is None else float(score),
                vector,
            )
            self.ratings[rating_key] = rating
        severity = Severity.parse(word) if word else Severity.from_cvss(rating.score)
        ratings, best, best_word = self.cvss.get(vuln_id, _NO_CVSS)
        if rating not in ratings:
            ratings += (rating,)
        if severity > best:
            best, best_word = severity, word or (None if score is None else str(score))
        self.cvss[vuln_id] = (ratings, best, best_word)
        return True

    def _epss(self, vuln_id: str, entry: dict[str, Any]) -> bool:
        """Keep the highest EPSS probability per vulnerability; False when malformed."""
        value = entry.get("epss")
        if value is None:
            return True
        if type(value) not in _NUMBER or not 0 <= value <= 1:
            return False
        self.epss[vuln_id] = max(float(value), self.epss.get(vuln_id, 0.0))
        return True

    def _kev(self, vuln_id: str, entry: dict[str, Any]) -> bool:
        """A KEV entry marks the vulnerability as known exploited; False when malformed."""
        if type(entry.get("cve")) not in _STRING_OR_NULL:
            return False
        self.kev.add(vuln_id)
        return True


_NO_CVSS: tuple[tuple[CvssScore, ...], Severity, str | None] = ((), Severity.UNKNOWN, None)
_STRING_OR_NULL = frozenset({str, type(None)})


def _entry_path(kind: str, block: int, vuln_id: str, entry: int | None = None) -> str:
    path = key_path(f"{key_path('enrichments', kind)}[{block}]", vuln_id)
    return path if entry is None else f"{path}[{entry}]"


def _bad_entry(label: str, entry: object, source: str, path: str) -> NoReturn:
    """Raise the error for one malformed ``label`` (cvss, epss, kev) enrichment entry."""
    if type(entry) is not dict:
        wrong_type(source, path, "an object", entry)
    key, what, high = (
        ("epss", "EPSS probability", 1) if label == "epss" else ("baseScore", "CVSS score", 10)
    )
    value = entry.get(key)
    if label != "kev" and value is not None:
        if type(value) not in _NUMBER:
            wrong_type(source, join(path, key), "a number", value)
        if not 0 <= value <= high:
            fail(source, join(path, key), f"{what} {value} is not within 0-{high}")
    for name in ("vectorString", "version", "baseSeverity") if label == "cvss" else ("cve",):
        opt_str(entry, name, source, path)
    fail(source, path, "malformed enrichment entry")  # not reached


def _enricher_name(kind: str) -> str:
    """``clair.rhcc`` out of ``message/...; enricher=clair.rhcc schema=...``, for metadata."""
    words = kind.split("enricher=", 1)[-1].split()
    return words[0] if words else "(unnamed)"


def _cvss_version(version: str, vector: str | None) -> str:
    """``"3.1"`` / ``"3.0"`` -> ``"3.x"`` (the gate's version names), ``"2.0"``, ``"4.0"``."""
    text = version or (vector or "")
    if text.startswith(("3", "CVSS:3")):
        return "3.x"
    if text.startswith(("4", "CVSS:4")):
        return "4.0"
    if text.startswith("2") or (not version and vector is not None and "AV:" in vector):
        return "2.0"
    return version or "3.x"


#: The string fields of a v4 vulnerability the reader uses.
_V4_STRING_FIELDS = (
    "name",
    "links",
    "description",
    "updater",
    "severity",
    "normalized_severity",
    "issued",
    "fixed_in_version",
)
_V4_OBJECT_FIELDS = ("package", "distribution", "repository")
_OBJECT_OR_NULL = frozenset({dict, type(None)})


class _V4Reader:
    """Reads each advisory once, however many packages it affects."""

    def __init__(
        self, source: str, vulnerabilities: dict[str, Any], enrichments: _Enrichments
    ) -> None:
        self.source = source
        self.vulnerabilities = vulnerabilities
        self.enrichments = enrichments
        self.words = _SeverityWords()
        self.cache: dict[str, dict[str, Any]] = {}
        self.texts: dict[tuple[str | None, ...], _AdvisoryText] = {}

    def advisory(self, vuln_id: str, package_id: str, index: int) -> dict[str, Any]:
        """The finding fields (all but the package) of vulnerability ``vuln_id``."""
        vuln = self.vulnerabilities.get(vuln_id)
        if type(vuln) is not dict:
            if vuln is None:
                path = f"{_pairs_path(package_id)}[{index}]"
                fail(self.source, path, f"names vulnerability {vuln_id!r}, which is not listed")
            path = key_path("vulnerabilities", vuln_id)
            wrong_type(self.source, path, "a vulnerability object", vuln)
        fields = self._read(vuln, vuln_id)
        self.cache[vuln_id] = fields
        return fields

    def _read(self, vuln: dict[str, Any], vuln_id: str) -> dict[str, Any]:
        get = vuln.get
        # In _V4_STRING_FIELDS order.
        texts = (
            get("name"),
            get("links"),
            get("description"),
            get("updater"),
            get("severity"),
            get("normalized_severity"),
            get("issued"),
            get("fixed_in_version"),
        )
        dist, repo = get("distribution"), get("repository")
        strings, objects = _STRING_OR_NULL, _OBJECT_OR_NULL
        if not (
            all(type(value) in strings for value in texts)
            and type(dist) in objects
            and type(repo) in objects
            and type(get("package")) in objects
        ):
            path = key_path("vulnerabilities", vuln_id)
            for key in _V4_STRING_FIELDS:
                opt_str(vuln, key, self.source, path)
            for key in _V4_OBJECT_FIELDS:
                opt_dict(vuln, key, self.source, path)
        # Distributions list one advisory once per binary package (90 distinct
        # texts for 212 vulnerabilities in the Debian fixture, 137 for 297 in
        # the RHEL one): what follows from the text alone is worked out once.
        # A nameless advisory may be named after its own id: keep those apart.
        text_key = texts if texts[0] else (*texts, vuln_id)
        text = self.texts.get(text_key)
        if text is None:
            text = _AdvisoryText.read(texts, vuln_id=vuln_id, words=self.words)
            self.texts[text_key] = text

        severity, severity_source, raw_severity = text.severity
        ratings, cvss_severity, cvss_word = self.enrichments.cvss.get(vuln_id, _NO_CVSS)
        if severity is Severity.UNKNOWN and cvss_severity is not Severity.UNKNOWN:
            severity, severity_source, raw_severity = cvss_severity, CVSS_SEVERITY_SOURCE, cvss_word
        return {
            "id": text.advisory_id,
            "severity": severity,
            "aliases": text.aliases,
            "target": _v4_context(dist, repo),
            "cvss": ratings,
            "fixed_versions": text.fixed_versions,
            "fix_state": FixState.FIXED if text.fixed_versions else FixState.NOT_FIXED,
            "severity_source": severity_source,
            "raw_severity": raw_severity,
            "title": text.title,
            "primary_url": text.primary_url,
            "epss": self.enrichments.epss.get(vuln_id),
            "kev": vuln_id in self.enrichments.kev,
            "published": text.published,
        }


@dataclass(frozen=True, slots=True)
class _AdvisoryText:
    """What a v4 vulnerability's own text says: id, aliases, vendor severity, fix, dates."""

    advisory_id: str
    aliases: tuple[str, ...]
    severity: tuple[Severity, str | None, str | None]
    fixed_versions: tuple[str, ...]
    title: str | None
    primary_url: str | None
    published: datetime | None

    @classmethod
    def read(cls, texts: tuple[Any, ...], *, vuln_id: str, words: _SeverityWords) -> _AdvisoryText:
        """Interpret the type-checked text fields (in ``_V4_STRING_FIELDS`` order)."""
        name, links, description, updater, raw, normalized, issued, fixed_text = texts
        name = (name or "").strip()
        links = links or ""
        advisory_id = _advisory_id(name)
        if not advisory_id:
            # A nameless advisory keeps its CVE (or Clair's own id) so limits still see it.
            found = _CVE.search(links)
            advisory_id = _canonical_cve(found.group()) if found else f"clair:{vuln_id}"
        severity = words.parse(normalized)
        if severity is Severity.UNKNOWN and raw:
            severity = words.parse(raw)
        return cls(
            advisory_id,
            _v4_aliases(advisory_id, name, links, description or ""),
            (severity, updater or None, raw or normalized or None),
            clair_fixed_versions(fixed_text),
            name if name and name != advisory_id else None,
            links.split(None, 1)[0] if links.strip() else None,
            parse_timestamp(issued) if issued else None,
        )


def _v4_aliases(advisory_id: str, name: str, links: str, description: str) -> tuple[str, ...]:
    """CVE aliases, plus another id the name gives in parentheses (``(PVE-2021-41775)``)."""
    aliases = cve_aliases(advisory_id, name, links, description=description)
    if "(" in name:
        other = _PARENTHESISED_ID.search(name)
        if other and other.group(1) not in aliases and other.group(1) != advisory_id:
            aliases += (other.group(1),)
    return aliases


def _advisory_id(name: str) -> str:
    """The advisory id: the first word of the name (``RHSA-2021:4464: dnf ...``)."""
    first = name.split(None, 1)[0] if name else ""
    return first.rstrip(":,;")


def _v4_context(dist: dict[str, Any] | None, repo: dict[str, Any] | None) -> str | None:
    """Where the advisory applies: its distribution, else its repository (``pypi``)."""
    if dist:
        pretty = dist.get("pretty_name")
        if type(pretty) is str and pretty:
            return pretty
        named = " ".join(
            v for v in (dist.get("name"), dist.get("version")) if type(v) is str and v
        ).strip()
        if named:
            return named
    if repo:
        repo_name = repo.get("name")
        if type(repo_name) is str and repo_name:
            return repo_name
    return None


# --- Clair v2 era: clair-scanner, klar, Clair v1 API --------------------------------------------


def parse_clair_legacy_report(document: object, source: str) -> ScanReport:
    """Turn a clair-scanner report, a klar report or a Clair v1 API layer into a ``ScanReport``.

    The shape decides: ``unapproved`` (clair-scanner), ``LayerCount`` and a
    ``Vulnerabilities`` map (klar), ``Layer`` (Clair v1 API). Empty lists,
    ``null`` and absent keys are reports without findings.
    """
    if type(document) is not dict:
        wrong_type(source, "", "a Clair report object", document)
    if "unapproved" in document or "image" in document:
        return _clair_scanner(document, source)
    if "LayerCount" in document or "Vulnerabilities" in document:
        return _klar(document, source)
    if "Layer" not in document:
        fail(
            source,
            "",
            "not a clair-scanner, klar or Clair v1 API report"
            " (expected unapproved/vulnerabilities, LayerCount/Vulnerabilities or Layer)",
        )
    return _clair_v1(document, source)


class _LegacyReader:
    """Builds findings from the v2-era vulnerability objects, whatever their key spelling."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.words = _SeverityWords()
        self.findings: list[Finding] = []

    def add(
        self,
        vuln: object,
        path: str,
        keys: _LegacyKeys,
        *,
        package: str | None = None,
        version: str | None = None,
        fallback_severity: str | None = None,
    ) -> None:
        source = self.source
        if type(vuln) is not dict:
            wrong_type(source, path, "a vulnerability object", vuln)
        vuln_id = req_str(vuln, keys.name, source, path)
        if package is None:
            package = req_str(vuln, keys.package, source, path)
            version = opt_str(vuln, keys.version, source, path) or ""
        raw = opt_str(vuln, "Severity" if keys.capitalised else "severity", source, path)
        severity = self.words.parse(raw)
        if fallback_severity is not None:
            # klar groups by severity; the higher of the group and the item's own word counts.
            group = self.words.parse(fallback_severity)
            if group > severity or raw is None:
                severity, raw = group, fallback_severity
        link = opt_str(vuln, keys.link, source, path) or ""
        description = opt_str(vuln, keys.description, source, path) or ""
        fixed_versions = clair_fixed_versions(opt_str(vuln, keys.fixed, source, path))
        target = opt_str(vuln, keys.namespace, source, path) or None
        cvss = _nvd_metadata(vuln, source, path) if keys.capitalised else ()
        self.findings.append(
            Finding(
                id=vuln_id,
                package_name=package,
                package_version=version or "",
                severity=severity,
                aliases=cve_aliases(vuln_id, vuln_id, link, description=description),
                target=target,
                cvss=cvss,
                fixed_versions=fixed_versions,
                fix_state=_fix_state(fixed_versions),
                raw_severity=raw,
                primary_url=link.split(None, 1)[0] if link.strip() else None,
            )
        )

    def report(
        self,
        fmt: str,
        metadata: dict[str, str],
        *,
        artifact_name: str | None = None,
    ) -> ScanReport:
        merged, duplicates = merge_duplicate_findings(self.findings)
        return ScanReport(
            source=self.source,
            format=fmt,
            findings=merged,
            artifact_name=artifact_name,
            scanner=SCANNER,
            metadata=_metadata(metadata, self.words, duplicates),
        )


class _LegacyKeys:
    """Field names of one legacy dialect."""

    def __init__(self, *, capitalised: bool) -> None:
        self.capitalised = capitalised
        if capitalised:
            self.name, self.package, self.version = "Name", "FeatureName", "FeatureVersion"
            self.link, self.description, self.fixed = "Link", "Description", "FixedBy"
            self.namespace = "NamespaceName"
        else:
            self.name, self.package, self.version = "vulnerability", "featurename", "featureversion"
            self.link, self.description, self.fixed = "link", "description", "fixedby"
            self.namespace = "namespace"


_SCANNER_KEYS = _LegacyKeys(capitalised=False)
_CAPITALISED_KEYS = _LegacyKeys(capitalised=True)


def _nvd_metadata(vuln: dict[str, Any], source: str, path: str) -> tuple[CvssScore, ...]:
    """``Metadata.NVD.CVSSv2.{Score,Vectors}`` of the Clair v1 API, when present."""
    meta = opt_dict(vuln, "Metadata", source, path)
    nvd = opt_dict(meta, "NVD", source, join(path, "Metadata"))
    cvss_path = join(path, "Metadata.NVD")
    v2 = opt_dict(nvd, "CVSSv2", source, cvss_path)
    if not v2:
        return ()
    score = v2.get("Score")
    if score is not None and (type(score) not in _NUMBER or not 0 <= score <= 10):
        wrong_type(source, f"{cvss_path}.CVSSv2.Score", "a CVSS score from 0 to 10", score)
    vector = opt_str(v2, "Vectors", source, f"{cvss_path}.CVSSv2")
    if score is None and vector is None:
        return ()
    return (CvssScore("nvd", "2.0", None if score is None else float(score), vector),)


def _clair_scanner(document: dict[str, Any], source: str) -> ScanReport:
    reader = _LegacyReader(source)
    for index, vuln in enumerate(opt_list(document, "vulnerabilities", source, "")):
        reader.add(vuln, f"vulnerabilities[{index}]", _SCANNER_KEYS)
    unapproved = opt_list(document, "unapproved", source, "")
    for index, entry in enumerate(unapproved):
        if type(entry) is not str:
            wrong_type(source, f"unapproved[{index}]", "a vulnerability id string", entry)
    image = opt_str(document, "image", source, "") or None
    # clair-scanner's own whitelist verdict is kept for the record; the gate's policy decides.
    metadata = {"producer": FORMAT_CLAIR_SCANNER, "unapproved": str(len(unapproved))}
    return reader.report(FORMAT_CLAIR_SCANNER, metadata, artifact_name=image)


def _klar(document: dict[str, Any], source: str) -> ScanReport:
    reader = _LegacyReader(source)
    groups = opt_dict(document, "Vulnerabilities", source, "")
    for group, vulns in groups.items():
        gpath = key_path("Vulnerabilities", group)
        if vulns is None:
            continue
        if type(vulns) is not list:
            wrong_type(source, gpath, "an array", vulns)
        for index, vuln in enumerate(vulns):
            reader.add(vuln, f"{gpath}[{index}]", _CAPITALISED_KEYS, fallback_severity=group)
    metadata = {"producer": FORMAT_KLAR}
    layers = document.get("LayerCount")
    if layers is not None:
        if type(layers) is not int:
            wrong_type(source, "LayerCount", "an integer", layers)
        metadata["layer_count"] = str(layers)
    # klar names neither the image nor its digest: the report binds to nothing by itself.
    return reader.report(FORMAT_KLAR, metadata)


def _clair_v1(document: dict[str, Any], source: str) -> ScanReport:
    reader = _LegacyReader(source)
    layer = document.get("Layer")
    if type(layer) is not dict:
        wrong_type(source, "Layer", "a layer object", layer)
    for f_index, feature in enumerate(opt_list(layer, "Features", source, "Layer")):
        fpath = f"Layer.Features[{f_index}]"
        if type(feature) is not dict:
            wrong_type(source, fpath, "a feature object", feature)
        package = req_str(feature, "Name", source, fpath)
        version = opt_str(feature, "Version", source, fpath) or ""
        for v_index, vuln in enumerate(opt_list(feature, "Vulnerabilities", source, fpath)):
            reader.add(
                vuln,
                f"{fpath}.Vulnerabilities[{v_index}]",
                _CAPITALISED_KEYS,
                package=package,
                version=version,
            )
    metadata = {"producer": FORMAT_CLAIR_V1}
    layer_name = opt_str(layer, "Name", source, "Layer")
    if layer_name:
        # A Clair v1 layer name is the layer's own id, not the image's manifest digest.
        metadata["layer"] = layer_name
    return reader.report(FORMAT_CLAIR_V1, metadata)
