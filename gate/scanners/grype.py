"""Grype JSON reports (every schema from grype 0.7 to today) into findings.

One finding per ``matches[]`` entry: the matched ``vulnerability`` in the
``artifact`` (package) at its primary location, which is the finding's target.
``relatedVulnerabilities`` (the CVE behind a GHSA, the NVD record of a distro
CVE) become aliases and contribute their CVSS ratings, EPSS scores and KEV
listings. Matches grype itself moved to ``ignoredMatches`` (ignore rules, VEX)
are counted in ``metadata["suppressed"]``, not returned.

Severity is grype's own rating of the matched record (the distro's rating
for a distro namespace, so a Debian "Negligible" beats NVD's "High", as in
grype's table). When that rating is missing or ``Unknown`` (grype writes no
severity for some NVD-only matches), the highest rating of a related record
is used, else the highest CVSS base score: reading "no rating" as "lowest
rating" would let such a finding through every severity limit.

Schema drift handled here: grype 0.7 writes ``cvssV2``/``cvssV3`` objects,
``links`` and ``fixedInVersion`` (no ``fix``), and ``matchDetails`` as an
object; newer reports add ``namespace``, ``cvss[]`` with a ``source``,
``fix.state`` (possibly ``""``), ``fix.available[].date``, ``epss[]``,
``knownExploited[]`` and ``risk``. Only the fields read are type-checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import Any, NoReturn

from gate.errors import InputError
from gate.oci.digest import Digest
from gate.sbom.cyclonedx import UNPARSED_SUBJECT_DIGESTS
from gate.scanners._fields import (
    fail,
    join,
    opt_dict,
    opt_list,
    opt_number,
    opt_str,
    parse_timestamp,
    req_str,
    wrong_type,
)
from gate.scanners.finding import CvssScore, Finding, FixState, ScanReport, Severity, build_finding
from gate.scanners.merge import merge_duplicate_findings

FORMAT = "grype"

#: Grype ``fix.state`` -> fix state. ``""`` (no state recorded) is decided by
#: whether fixed versions are listed.
FIX_STATES: Mapping[str, FixState] = MappingProxyType(
    {
        "fixed": FixState.FIXED,
        "not-fixed": FixState.NOT_FIXED,
        "wont-fix": FixState.WONT_FIX,
        "unknown": FixState.UNKNOWN,
    }
)

#: The version grype writes when it was built without one (test snapshots).
VERSION_NOT_PROVIDED = "[not provided]"

# Grype writes title-case words; an exact-match table saves a strip/lower per
# match, with ``Severity.parse`` as the fallback for anything else.
_SEVERITIES: dict[str, Severity] = {
    "Unknown": Severity.UNKNOWN,
    "Negligible": Severity.LOW,
    "Low": Severity.LOW,
    "Medium": Severity.MEDIUM,
    "High": Severity.HIGH,
    "Critical": Severity.CRITICAL,
}
#: Types an optional field may have (absent and null read alike).
_STRING_OR_NULL = frozenset({str, type(None)})
_LIST_OR_NULL = frozenset({list, type(None)})
#: Scores a boolean compares equal to (``true == 1``, ``false == 0``).
_ZERO_ONE = frozenset({0.0, 1.0})

#: Words that knowingly mean "no rating" (not worth an "unrecognised" note).
_NO_RATING = frozenset({"unknown", "none", ""})


def parse_grype_report(document: Any, source: str) -> ScanReport:
    """Turn a parsed Grype JSON document into a ``ScanReport``.

    ``source`` names the file in errors. Every "no findings" shape (``matches``
    absent, ``null``, ``[]`` or ``{}``, or the whole document ``null``) gives
    an empty report; anything malformed an ``InputError`` naming the JSON path.
    """
    if document is None:
        return ScanReport(source=source, format=FORMAT, findings=(), scanner="grype")
    if type(document) is not dict:
        wrong_type(source, "", "a Grype report object", document)
    metadata: dict[str, str] = {}

    descriptor = opt_dict(document, "descriptor", source, "")
    scanner_version = opt_str(descriptor, "version", source, "descriptor")
    if scanner_version == VERSION_NOT_PROVIDED or not scanner_version:
        scanner_version = None
    created_at = _created_at(descriptor, source, metadata)
    _database(descriptor, source, metadata)
    _distro(document, source, metadata)
    artifact_name, digests = _scanned_source(document, source, metadata)

    matches = _array_or_empty(document, "matches", source)
    ignored = _array_or_empty(document, "ignoredMatches", source)
    for index, entry in enumerate(ignored):
        if type(entry) is not dict:
            wrong_type(source, f"ignoredMatches[{index}]", "an object", entry)
    metadata["suppressed"] = str(len(ignored))

    reader = _MatchReader(source)
    for index, match in enumerate(matches):
        reader.read(match, f"matches[{index}]")
    findings, merged = merge_duplicate_findings(reader.findings)
    if merged:
        metadata["duplicates_merged"] = str(merged)
    if reader.unknown_severities:
        metadata["unrecognised_severities"] = ",".join(sorted(reader.unknown_severities))
    if reader.unknown_fix_states:
        metadata["unrecognised_fix_states"] = ",".join(sorted(reader.unknown_fix_states))
    if reader.rated_elsewhere:
        metadata["severity_from_related_or_cvss"] = str(reader.rated_elsewhere)
    return ScanReport(
        source=source,
        format=FORMAT,
        findings=findings,
        artifact_name=artifact_name,
        artifact_digests=digests,
        created_at=created_at,
        scanner="grype",
        scanner_version=scanner_version,
        metadata=MappingProxyType(metadata),
    )


def _array_or_empty(doc: dict[str, Any], key: str, source: str) -> list[Any]:
    """``doc[key]`` as a list; absent, ``null`` and an empty object ``{}`` read as empty."""
    value = doc.get(key)
    if type(value) is list:
        return value
    if value is not None and value != {}:
        wrong_type(source, key, "an array", value)
    return []


# --- report-level fields ---------------------------------------------------------------------


def _created_at(
    descriptor: dict[str, Any], source: str, metadata: dict[str, str]
) -> datetime | None:
    text = opt_str(descriptor, "timestamp", source, "descriptor")
    if not text:
        # Test snapshots write "" and grype before 0.32 wrote no timestamp.
        return None
    created = parse_timestamp(text)
    if created is None:
        metadata["created_at_unparsed"] = text
    return created


def _database(descriptor: dict[str, Any], source: str, metadata: dict[str, str]) -> None:
    """The vulnerability database's build time, which says how current the matches are."""
    db = opt_dict(descriptor, "db", source, "descriptor")
    # DB schema v6 nests it under ``status``; v3-v5 have ``built`` at the top.
    status = opt_dict(db, "status", source, "descriptor.db")
    built = opt_str(status, "built", source, "descriptor.db.status") or opt_str(
        db, "built", source, "descriptor.db"
    )
    if built:
        metadata["db_built"] = built
    schema = db.get("schemaVersion", status.get("schemaVersion"))
    if type(schema) is int or (type(schema) is str and schema):
        metadata["db_schema_version"] = str(schema)


def _distro(document: dict[str, Any], source: str, metadata: dict[str, str]) -> None:
    distro = opt_dict(document, "distro", source, "")
    name = opt_str(distro, "name", source, "distro")
    version = opt_str(distro, "version", source, "distro")
    if name:
        metadata["distro"] = f"{name} {version}" if version else name


def _scanned_source(
    document: dict[str, Any], source: str, metadata: dict[str, str]
) -> tuple[str | None, frozenset[Digest]]:
    """(artifact name, manifest digests) from ``source``: an image, or a path/purl/... string."""
    scanned = opt_dict(document, "source", source, "")
    kind = opt_str(scanned, "type", source, "source")
    if kind:
        metadata["source_type"] = kind
    target = scanned.get("target")
    if target is None:
        return None, frozenset()
    if type(target) is str:
        # "unknown" is what grype writes when it was not told what it scanned.
        return (None if kind == "unknown" or not target else target), frozenset()
    if type(target) is not dict:
        wrong_type(source, "source.target", "an object or a string", target)
    user_input = opt_str(target, "userInput", source, "source.target") or None
    image_id = opt_str(target, "imageID", source, "source.target")
    if image_id:
        # The image ID is the digest of the image *config*, not of a manifest
        # anyone pulls or signs: metadata only, never an artifact digest.
        metadata["image_id"] = image_id
    return user_input, _image_digests(target, user_input, source, metadata)


def _image_digests(
    target: dict[str, Any], user_input: str | None, source: str, metadata: dict[str, str]
) -> frozenset[Digest]:
    """``manifestDigest``, every ``repoDigests`` entry and a digest in ``userInput``.

    ``manifestDigest`` is the platform manifest grype read; ``repoDigests`` are
    the registry's digests (for a multi-platform image, the index). Both name
    the scanned image. Values that cannot be read (``sha256:test``,
    ``REDACTED`` in submitted samples) are noted; when nothing readable is
    left, ``metadata["unparsed_subject_digests"]`` says so, so that the report
    is not bound by its name instead.
    """
    candidates: list[tuple[str, str]] = []
    manifest = opt_str(target, "manifestDigest", source, "source.target")
    if manifest:
        candidates.append(("source.target.manifestDigest", manifest))
    for index, entry in enumerate(opt_list(target, "repoDigests", source, "source.target")):
        path = f"source.target.repoDigests[{index}]"
        if type(entry) is not str:
            wrong_type(source, path, "a string", entry)
        if entry:
            candidates.append((path, entry.rpartition("@")[2]))
    if user_input and "@" in user_input:
        candidates.append(("source.target.userInput", user_input.rpartition("@")[2]))
    digests: set[Digest] = set()
    unparsed: list[str] = []
    for _, text in candidates:
        try:
            digests.add(Digest.parse(text))
        except InputError:
            unparsed.append(text)
    if unparsed:
        metadata["unparsed_digests"] = ", ".join(unparsed)
        if not digests:
            metadata[UNPARSED_SUBJECT_DIGESTS] = ", ".join(unparsed)
    return frozenset(digests)


# --- matches ---------------------------------------------------------------------------------


class _MatchReader:
    """Turns ``matches[]`` entries into findings, noting what it could not map."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.findings: list[Finding] = []
        self.unknown_severities: set[str] = set()
        self.unknown_fix_states: set[str] = set()
        self.rated_elsewhere = 0
        # Ratings recur across matches (one CVE in many packages): share the objects.
        self.ratings: dict[tuple[str, str, float | None, str | None], CvssScore] = {}
        self.by_id: dict[str, tuple[tuple[Any, ...], tuple[CvssScore, ...]]] = {}

    def read(self, match: object, path: str) -> None:
        """Append the finding of one ``matches[]`` entry at ``path``.

        The hot loop of the adapter (1509 matches in a 3.8 MB report): the
        fields every match has are fetched with one lookup each and checked
        with one combined type test; only when that test fails does
        ``_explain`` work out which field is wrong and where.
        """
        source = self.source
        if type(match) is not dict:
            wrong_type(source, path, "an object", match)
        vuln: Any = match.get("vulnerability")
        artifact: Any = match.get("artifact")
        if type(vuln) is not dict or type(artifact) is not dict:
            _required_object(match, "vulnerability", source, path)
            _required_object(match, "artifact", source, path)
        vget, aget = vuln.get, artifact.get
        vuln_id = vget("id")
        name = aget("name")
        version = aget("version")
        purl = aget("purl")
        pkg_type = aget("type")
        namespace = vget("namespace")
        word = vget("severity")
        data_source = vget("dataSource")
        related = match.get("relatedVulnerabilities")
        string_or_null = _STRING_OR_NULL
        if not (
            vuln_id
            and name
            and type(vuln_id) is str
            and type(name) is str
            and type(version) in string_or_null
            and type(purl) in string_or_null
            and type(pkg_type) in string_or_null
            and type(namespace) in string_or_null
            and type(word) in string_or_null
            and type(data_source) in string_or_null
            and type(related) in _LIST_OR_NULL
        ):
            _explain(match, vuln, artifact, source, path)

        vpath = f"{path}.vulnerability"
        cvss = self._cached_cvss(vuln_id, vuln, vpath)
        epss = _max_epss(vuln, source, vpath) if "epss" in vuln else None
        kev = _known_exploited(vuln, source, vpath) if "knownExploited" in vuln else False
        aliases: tuple[str, ...] = ()
        records: list[tuple[dict[str, Any], str]] = []
        if related:
            aliases, records = _related(related, vuln_id, source, path)
            ratings = list(cvss)
            for record, rpath in records:
                for rating in self._cvss(record, rpath):
                    if rating not in ratings:
                        ratings.append(rating)
                score = _max_epss(record, source, rpath)
                if score is not None and (epss is None or score > epss):
                    epss = score
                kev = _known_exploited(record, source, rpath) or kev
            cvss = tuple(ratings)

        severity = _SEVERITIES.get(word) if word else None
        if severity is None or severity is Severity.UNKNOWN:
            severity, word, severity_source = self._severity(word, namespace, records, cvss)
        else:
            severity_source = namespace or None
        fixed_versions, fix_state, fix_published = self._fix(vuln, vpath)
        values = {
            "id": vuln_id,
            "package_name": name,
            "package_version": version or "",
            "severity": severity,
            "aliases": aliases,
            "package_type": pkg_type or None,
            "purl": purl or None,
            "target": _primary_location(artifact, source, f"{path}.artifact"),
            "cvss": cvss,
            "fixed_versions": fixed_versions,
            "fix_state": fix_state,
            "severity_source": severity_source,
            "raw_severity": word,
            "title": None,
            "primary_url": data_source or _first_url(vuln, source, vpath),
            "epss": epss,
            "kev": kev,
            "fix_published": fix_published,
            "published": None,
        }
        self.findings.append(build_finding(values))

    def _cached_cvss(self, vuln_id: str, vuln: dict[str, Any], vpath: str) -> tuple[CvssScore, ...]:
        """``_cvss`` of the matched record, reused when the same id repeats the same ratings.

        A vulnerability matched in many packages repeats its CVSS data in
        every match (1509 matches, 388 ids in the large report). Equality
        alone would let ``true`` pass for a score of 1 (``false`` for 0), so
        ratings holding such a score are never remembered.
        """
        raw = (vuln.get("cvss"), vuln.get("cvssV3"), vuln.get("cvssV2"), vuln.get("namespace"))
        cached = self.by_id.get(vuln_id)
        if cached is not None and cached[0] == raw:
            return cached[1]
        ratings = tuple(self._cvss(vuln, vpath))
        if all(r.score not in _ZERO_ONE for r in ratings):
            self.by_id[vuln_id] = (raw, ratings)
        return ratings

    def _severity(
        self,
        word: str | None,
        namespace: str | None,
        records: list[tuple[dict[str, Any], str]],
        cvss: tuple[CvssScore, ...],
    ) -> tuple[Severity, str | None, str | None]:
        """(severity, the word it came from, whose rating it is) when the match's own is not known.

        A word other than grype's exact ones is parsed like any scanner's;
        "Unknown" or no word falls back to the related records' highest
        rating, then to the highest CVSS base score.
        """
        namespace = namespace or None
        severity = self._word(word)
        if severity is not Severity.UNKNOWN:
            return severity, word, namespace
        best: tuple[Severity, str | None, str | None] = (Severity.UNKNOWN, word, namespace)
        for record, rpath in records:
            related_word = opt_str(record, "severity", self.source, rpath)
            level = self._word(related_word)
            if level > best[0]:
                origin = opt_str(record, "namespace", self.source, rpath) or None
                best = (level, related_word, origin)
        if best[0] is Severity.UNKNOWN:
            scores = [c for c in cvss if c.score is not None]
            if scores:
                top = max(scores, key=lambda c: c.score or 0.0)
                best = (Severity.from_cvss(top.score), word, top.source or namespace)
        if best[0] is not Severity.UNKNOWN:
            self.rated_elsewhere += 1
        return best

    def _word(self, word: str | None) -> Severity:
        if word is None:
            return Severity.UNKNOWN
        level = _SEVERITIES.get(word)
        if level is None:
            level = Severity.parse(word)
            if level is Severity.UNKNOWN and word.strip().lower() not in _NO_RATING:
                self.unknown_severities.add(word)
        return level

    def _cvss(self, record: dict[str, Any], path: str) -> list[CvssScore]:
        """The CVSS ratings of one vulnerability record, in both schemas."""
        source = self.source
        namespace = opt_str(record, "namespace", source, path) or ""
        found: list[CvssScore] = []
        for index, entry in enumerate(opt_list(record, "cvss", source, path)):
            cpath = f"{path}.cvss[{index}]"
            if type(entry) is not dict:
                wrong_type(source, cpath, "an object", entry)
            metrics = opt_dict(entry, "metrics", source, cpath)
            found.append(
                self._rating(
                    opt_str(entry, "source", source, cpath) or namespace,
                    _cvss_version(opt_str(entry, "version", source, cpath)),
                    _score(metrics, source, join(cpath, "metrics")),
                    opt_str(entry, "vector", source, cpath) or None,
                )
            )
        # grype before 0.13: one object per CVSS version, no source recorded.
        for key, version in (("cvssV3", "3.x"), ("cvssV2", "2.0")):
            entry = record.get(key)
            if entry is None:
                continue
            cpath = join(path, key)
            if type(entry) is not dict:
                wrong_type(source, cpath, "an object", entry)
            found.append(
                self._rating(
                    namespace,
                    version,
                    _score(entry, source, cpath),
                    opt_str(entry, "vector", source, cpath) or None,
                )
            )
        return found

    def _rating(
        self, origin: str, version: str, score: float | None, vector: str | None
    ) -> CvssScore:
        key = (origin, version, score, vector)
        rating = self.ratings.get(key)
        if rating is None:
            rating = self.ratings[key] = CvssScore(origin, version, score, vector)
        return rating

    def _fix(
        self, vuln: dict[str, Any], vpath: str
    ) -> tuple[tuple[str, ...], FixState, datetime | None]:
        """(fixed versions, fix state, when the fix became available) for one match."""
        source = self.source
        if "fix" not in vuln:
            # grype before 0.13: only ``fixedInVersion``; a listed match with
            # none has no fix (the same reading as Trivy reports without Status).
            fixed_in = opt_str(vuln, "fixedInVersion", source, vpath)
            if fixed_in:
                return (fixed_in,), FixState.FIXED, None
            return (), FixState.NOT_FIXED, None
        fix = opt_dict(vuln, "fix", source, vpath)
        fpath = join(vpath, "fix")
        versions: list[str] = []
        for index, text in enumerate(opt_list(fix, "versions", source, fpath)):
            if type(text) is not str:
                wrong_type(source, f"{fpath}.versions[{index}]", "a string", text)
            if text and text not in versions:
                versions.append(text)
        state_word = opt_str(fix, "state", source, fpath)
        if not state_word:
            state = FixState.FIXED if versions else FixState.UNKNOWN
        else:
            found = FIX_STATES.get(state_word)
            if found is None:
                self.unknown_fix_states.add(state_word)
                found = FixState.UNKNOWN
            state = found
        return tuple(versions), state, _fix_published(fix, source, fpath)


def _required_object(obj: dict[str, Any], key: str, source: str, path: str) -> dict[str, Any]:
    value = obj.get(key)
    if value is None:
        fail(source, join(path, key), "required field is missing")
    if type(value) is not dict:
        wrong_type(source, join(path, key), "an object", value)
    return value


def _cvss_version(text: str | None) -> str:
    """Grype's CVSS ``version`` ("3.1", "2.0", "4.0") on the gate's scale ("3.x", ...)."""
    if not text:
        return ""
    major = text.partition(".")[0]
    if major == "3":
        return "3.x"
    if major == "2":
        return "2.0"
    if major == "4":
        return "4.0"
    return text


def _score(obj: dict[str, Any], source: str, path: str) -> float | None:
    score = opt_number(obj, "baseScore", source, path)
    if score is not None and not 0.0 <= score <= 10.0:
        fail(source, join(path, "baseScore"), f"CVSS score {score} is not within 0-10")
    return score


def _max_epss(record: dict[str, Any], source: str, path: str) -> float | None:
    """The highest EPSS probability a record lists (one entry per CVE it covers)."""
    best: float | None = None
    for index, entry in enumerate(opt_list(record, "epss", source, path)):
        epath = f"{path}.epss[{index}]"
        if type(entry) is not dict:
            wrong_type(source, epath, "an object", entry)
        score = opt_number(entry, "epss", source, epath)
        if score is None:
            continue
        if not 0.0 <= score <= 1.0:
            fail(source, join(epath, "epss"), f"EPSS {score} is not a probability (0-1)")
        if best is None or score > best:
            best = score
    return best


def _known_exploited(record: dict[str, Any], source: str, path: str) -> bool:
    """True when the record lists a CISA KEV entry."""
    entries = opt_list(record, "knownExploited", source, path)
    for index, entry in enumerate(entries):
        if type(entry) is not dict:
            wrong_type(source, f"{path}.knownExploited[{index}]", "an object", entry)
    return bool(entries)


def _fix_published(fix: dict[str, Any], source: str, fpath: str) -> datetime | None:
    """The earliest ``fix.available[].date`` (``YYYY-MM-DD``), as midnight UTC.

    With several fixed branches each has its own date; the earliest is when
    *a* fix first existed, which is what "fix available for N days" measures.
    """
    earliest: datetime | None = None
    for index, entry in enumerate(opt_list(fix, "available", source, fpath)):
        apath = f"{fpath}.available[{index}]"
        if type(entry) is not dict:
            wrong_type(source, apath, "an object", entry)
        text = opt_str(entry, "date", source, apath)
        if not text:
            continue
        try:
            day = date.fromisoformat(text[:10]) if len(text) == 10 else None
        except ValueError:
            day = None
        if day is None or day.year <= 1:
            fail(source, join(apath, "date"), f"expected a date YYYY-MM-DD, got {text!r}")
        moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
        if earliest is None or moment < earliest:
            earliest = moment
    return earliest


def _primary_location(artifact: dict[str, Any], source: str, apath: str) -> str | None:
    """The path of the package's primary evidence (grype marks it), else its first location."""
    locations = artifact.get("locations")
    if type(locations) is not list:
        opt_list(artifact, "locations", source, apath)  # null is fine, anything else raises
        return None
    first: str | None = None
    for index, location in enumerate(locations):
        path = location.get("path") if type(location) is dict else None
        if type(path) is not str:
            if type(location) is not dict:
                wrong_type(source, f"{apath}.locations[{index}]", "an object", location)
            opt_str(location, "path", source, f"{apath}.locations[{index}]")
            continue
        if not path:
            continue
        annotations = location.get("annotations")
        if annotations and type(annotations) is dict and annotations.get("evidence") == "primary":
            return path
        if first is None:
            first = path
    return first


def _first_url(vuln: dict[str, Any], source: str, vpath: str) -> str | None:
    """The first of ``urls`` (``links`` in grype before 0.13), for a record without dataSource."""
    for key in ("urls", "links"):
        for index, url in enumerate(opt_list(vuln, key, source, vpath)):
            if type(url) is not str:
                wrong_type(source, f"{vpath}.{key}[{index}]", "a string", url)
            if url:
                return url
    return None


def _related(
    related: list[Any], vuln_id: str, source: str, path: str
) -> tuple[tuple[str, ...], list[tuple[dict[str, Any], str]]]:
    """(aliases, the records with their paths) of ``relatedVulnerabilities``."""
    aliases: list[str] = []
    records: list[tuple[dict[str, Any], str]] = []
    for index, record in enumerate(related):
        rpath = f"{path}.relatedVulnerabilities[{index}]"
        if type(record) is not dict:
            wrong_type(source, rpath, "an object", record)
        alias = req_str(record, "id", source, rpath)
        if alias != vuln_id and alias not in aliases:
            aliases.append(alias)
        records.append((record, rpath))
    return tuple(aliases), records


def _explain(
    match: dict[str, Any],
    vuln: dict[str, Any],
    artifact: dict[str, Any],
    source: str,
    path: str,
) -> NoReturn:
    """Raise the error for the first malformed field the fast test in ``read`` tripped on."""
    vpath, apath = f"{path}.vulnerability", f"{path}.artifact"
    req_str(vuln, "id", source, vpath)
    req_str(artifact, "name", source, apath)
    for key in ("version", "purl", "type"):
        opt_str(artifact, key, source, apath)
    for key in ("namespace", "severity", "dataSource"):
        opt_str(vuln, key, source, vpath)
    opt_list(match, "relatedVulnerabilities", source, path)
    fail(source, path, "malformed match")  # not reached: the caller saw a bad field
