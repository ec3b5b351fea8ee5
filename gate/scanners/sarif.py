"""SARIF 2.1.0 vulnerability reports (Trivy, grype, other tools) into findings.

SARIF is a format for static-analysis results, so a vulnerability scan has
to be read back out of what each tool chose to put where:

* Trivy: one rule per vulnerability id, shared by every package it affects;
  package, installed and fixed version only in the result's ``message.text``
  (``Package: x\\nInstalled Version: y\\n...``); ``security-severity`` and
  ``cvssv3_baseScore``/``cvssv3_vector`` on the rule; the image in
  ``run.properties`` (``imageName``, ``repoDigests``, ``imageID``). Rules
  named ``Misconfiguration``, ``Secret`` or ``License`` are not
  vulnerabilities and are only counted.
* grype: one rule per vulnerability x package name (``CVE-...-<name>``),
  package and version in the message (``A low vulnerability in rpm package:
  x, version y was found ...``; before grype 0.74 ``The path p reports x at
  version y``), fixed versions and severity in the rule's ``help.text``.
* any other tool: the rule id is the vulnerability id; package fields are
  looked for in result and rule ``properties``, then in the message.

SARIF keeps one severity word and one score (``security-severity``, a CVSS
base score) that can disagree (grype: "low" next to 8.2): the higher of the
two is the finding's severity. It carries no fix state, so a listed fixed
version means FIXED and anything else UNKNOWN; it loses purls (except
grype's ``purls`` rule property). Ingest SARIF only when nothing richer is
available.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote

from gate.errors import InputError
from gate.oci.digest import Digest
from gate.sbom.cyclonedx import UNPARSED_SUBJECT_DIGESTS
from gate.scanners._fields import (
    fail,
    join,
    json_type,
    key_path,
    opt_dict,
    opt_list,
    opt_str,
    parse_timestamp,
    wrong_type,
)
from gate.scanners.finding import CvssScore, Finding, FixState, ScanReport, Severity
from gate.scanners.merge import merge_duplicate_findings

FORMAT = "sarif"
SARIF_VERSION = "2.1.0"
#: The driver version grype writes when it was built without one.
GRYPE_VERSION_NOT_PROVIDED = "0.0.0-dev"

#: Package name given to a vulnerability result that names no package at all:
#: the finding is kept (severity limits still see it) and counted.
UNKNOWN_PACKAGE = "(unknown package)"

#: Trivy rule names (its result classes) that are not package vulnerabilities.
_TRIVY_NON_VULNERABILITY_RULES = {
    "Misconfiguration": "misconfiguration",
    "Secret": "secret",
    "License": "license",
}
#: The first tag Trivy (and tools copying it) put on such rules.
_NON_VULNERABILITY_TAGS = frozenset({"misconfiguration", "secret", "license"})

#: SARIF ``kind`` values that report no problem; absent means "fail".
_NOT_A_PROBLEM = frozenset({"pass", "notApplicable", "informational"})

#: ``level`` -> severity, used only when a result carries neither a severity
#: word nor a ``security-severity`` score. ``error`` is what SARIF writers
#: give high and critical findings alike: the higher of the two is assumed.
_LEVELS = {"error": Severity.HIGH, "warning": Severity.MEDIUM, "note": Severity.LOW}

#: CVSS properties Trivy writes on a rule: (score key, vector key, version).
_CVSS_PROPERTIES = (
    ("cvssv3_baseScore", "cvssv3_vector", "3.x"),
    ("cvssv2_score", "cvssv2_vector", "2.0"),
    ("cvssv40_baseScore", "cvssv40_vector", "4.0"),
)

#: Property names other tools use for the package fields (compared case-insensitively).
_NAME_KEYS = ("package", "packagename", "package_name", "pkgname", "package-name")
_VERSION_KEYS = (
    "installedversion",
    "installed_version",
    "packageversion",
    "package_version",
    "version",
)
_FIXED_KEYS = ("fixedversion", "fixed_version", "fixversion", "fix_version")

#: Vulnerability ids worth recognising in a rule id of an unknown tool:
#: CVE/GO/PYSEC/RUSTSEC/ALAS-style ``PREFIX-YEAR-NUMBER`` and GHSA ids.
_VULNERABILITY_ID = re.compile(
    r"(?:[A-Z][A-Z0-9]*-\d{4}-\d+|GHSA(?:-[23456789cfghjmpqrvwx]{4}){3})", re.IGNORECASE
)

# grype >= 0.74: "A low vulnerability in rpm package: x, version 1.2 was found in image i at: p"
_GRYPE_MESSAGE = re.compile(
    r"A (?P<severity>\S+) vulnerability in (?P<type>.*?) package: (?P<name>.+), "
    r"version (?P<version>.*?) was found(?: (?P<where>.*))?\Z",
    re.DOTALL,
)
# grype 0.36-0.73: "The path p reports x at version 1.2 which is a vulnerable (deb) package ..."
_GRYPE_OLD_MESSAGE = re.compile(
    r"The path (?P<path>.*?) reports (?P<name>\S+) at version (?P<version>\S*)"
    r"\s*(?:which .*?\((?P<type>[^)]*)\) package installed.*)?\Z",
    re.DOTALL,
)
_GRYPE_IMAGE = re.compile(r"in image (?P<image>.*?) at: ", re.DOTALL)


def parse_sarif_report(document: Any, source: str) -> ScanReport:
    """Turn a parsed SARIF 2.1.0 document into a ``ScanReport``.

    Every "no findings" shape (``runs`` or ``results`` absent, ``null``,
    ``[]`` or ``{}``, the document ``null``) gives an empty report; results
    that are not package vulnerabilities (Trivy misconfigurations, secrets,
    licenses; ``kind: pass``) are counted in ``metadata``, never returned.
    """
    if document is None:
        return ScanReport(source=source, format=FORMAT, findings=())
    if type(document) is not dict:
        wrong_type(source, "", "a SARIF log object", document)
    version = document.get("version")
    if version != SARIF_VERSION:
        shown = version if type(version) is str else json_type(version)
        fail(source, "version", f"SARIF version {shown!r} is not supported (only 2.1.0)")

    reader = _RunReader(source)
    for index, run in enumerate(_array_or_empty(document, "runs", source, "")):
        reader.read(run, f"runs[{index}]")
    return reader.report()


def _array_or_empty(obj: dict[str, Any], key: str, source: str, path: str) -> list[Any]:
    """``obj[key]`` as a list; absent, ``null`` and an empty object ``{}`` read as empty."""
    value = obj.get(key)
    if type(value) is list:
        return value
    if value is not None and value != {}:
        wrong_type(source, join(path, key), "an array", value)
    return []


@dataclass
class _Run:
    """What one run says about its tool and the scanned artifact."""

    path: str
    tool: str | None
    dialect: str  # "trivy", "grype" or "generic"
    information_uri: str | None
    rules: list[dict[str, Any]]
    rules_by_id: dict[str, int]
    artifact_names: list[str] = field(default_factory=list)


class _RunReader:
    """Reads the runs of one SARIF log into findings, counting everything it skips."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.findings: list[Finding] = []
        self.tools: list[str] = []
        self.versions: list[str] = []
        self.artifact_names: list[str] = []
        self.digest_texts: list[str] = []
        self.created_at: datetime | None = None
        self.metadata: dict[str, str] = {}
        self.skipped: dict[str, int] = {}
        self.suppressed = 0
        self.without_package = 0
        self.without_results = 0
        self.unknown_words: set[str] = set()

    def read(self, run: object, path: str) -> None:
        """Read one ``runs[]`` entry at ``path``."""
        source = self.source
        if type(run) is not dict:
            wrong_type(source, path, "an object", run)
        driver = opt_dict(opt_dict(run, "tool", source, path), "driver", source, f"{path}.tool")
        dpath = f"{path}.tool.driver"
        tool = opt_str(driver, "name", source, dpath) or None
        dialect = tool.lower() if tool and tool.lower() in ("trivy", "grype") else "generic"
        version = opt_str(driver, "version", source, dpath) or opt_str(
            driver, "semanticVersion", source, dpath
        )
        if tool and tool not in self.tools:
            self.tools.append(tool)
        if dialect == "grype" and version == GRYPE_VERSION_NOT_PROVIDED:
            # What grype writes when it was built without a version (snapshots).
            version = None
        if version and version not in self.versions:
            self.versions.append(version)
        rules = opt_list(driver, "rules", source, dpath)
        by_id: dict[str, int] = {}
        for index, rule in enumerate(rules):
            rpath = f"{dpath}.rules[{index}]"
            if type(rule) is not dict:
                wrong_type(source, rpath, "an object", rule)
            rule_id = opt_str(rule, "id", source, rpath)
            if rule_id:
                by_id.setdefault(rule_id, index)
        info = _Run(
            path=path,
            tool=tool,
            dialect=dialect,
            information_uri=opt_str(driver, "informationUri", source, dpath),
            rules=rules,
            rules_by_id=by_id,
        )
        self._run_properties(run, path)
        self._invocations(run, path)
        if run.get("results") is None:
            # SARIF: absent results mean "not computed", [] means "nothing found".
            self.without_results += 1
        for index, result in enumerate(_array_or_empty(run, "results", source, path)):
            self._result(result, f"{path}.results[{index}]", info)
        for name in info.artifact_names:
            if name not in self.artifact_names:
                self.artifact_names.append(name)

    def report(self) -> ScanReport:
        """The report of every run read so far."""
        findings, merged = merge_duplicate_findings(self.findings)
        metadata = self.metadata
        metadata["suppressed"] = str(self.suppressed)
        if merged:
            metadata["duplicates_merged"] = str(merged)
        if self.skipped:
            metadata["skipped_results"] = ",".join(
                f"{k}={v}" for k, v in sorted(self.skipped.items())
            )
        if self.without_package:
            metadata["findings_without_package"] = str(self.without_package)
        if self.without_results:
            metadata["runs_without_results"] = str(self.without_results)
        if self.unknown_words:
            metadata["unrecognised_severities"] = ",".join(sorted(self.unknown_words))
        if len(self.artifact_names) > 1:
            metadata["artifact_names"] = ", ".join(self.artifact_names)
        digests = self._digests()
        scanner = None
        if self.tools:
            names = [t.lower() if t.lower() in ("trivy", "grype") else t for t in self.tools]
            scanner = ", ".join(names)
        return ScanReport(
            source=self.source,
            format=FORMAT,
            findings=findings,
            artifact_name=self.artifact_names[0] if len(self.artifact_names) == 1 else None,
            artifact_digests=digests,
            created_at=self.created_at,
            scanner=scanner,
            scanner_version=self.versions[0] if len(self.versions) == 1 else None,
            metadata=MappingProxyType(metadata),
        )

    # --- run level ---------------------------------------------------------------------------

    def _run_properties(self, run: dict[str, Any], path: str) -> None:
        """Trivy's ``run.properties``: ``imageName``, ``repoDigests``, ``imageID``."""
        source = self.source
        props = opt_dict(run, "properties", source, path)
        ppath = f"{path}.properties"
        name = opt_str(props, "imageName", source, ppath)
        if name and name not in self.artifact_names:
            self.artifact_names.append(name)
        image_id = opt_str(props, "imageID", source, ppath)
        if image_id:
            # The config digest, not a manifest digest: never bound to.
            self.metadata["image_id"] = image_id
        for index, entry in enumerate(opt_list(props, "repoDigests", source, ppath)):
            if type(entry) is not str:
                wrong_type(source, f"{ppath}.repoDigests[{index}]", "a string", entry)
            if entry:
                self.digest_texts.append(entry.rpartition("@")[2])

    def _invocations(self, run: dict[str, Any], path: str) -> None:
        source = self.source
        for index, invocation in enumerate(opt_list(run, "invocations", source, path)):
            ipath = f"{path}.invocations[{index}]"
            if type(invocation) is not dict:
                wrong_type(source, ipath, "an object", invocation)
            text = opt_str(invocation, "endTimeUtc", source, ipath) or opt_str(
                invocation, "startTimeUtc", source, ipath
            )
            if not text or self.created_at is not None:
                continue
            self.created_at = parse_timestamp(text)
            if self.created_at is None:
                self.metadata["created_at_unparsed"] = text

    def _digests(self) -> frozenset[Digest]:
        digests: set[Digest] = set()
        unparsed: list[str] = []
        for text in self.digest_texts:
            try:
                digests.add(Digest.parse(text))
            except InputError:
                unparsed.append(text)
        if unparsed:
            self.metadata["unparsed_digests"] = ", ".join(unparsed)
            if not digests:
                self.metadata[UNPARSED_SUBJECT_DIGESTS] = ", ".join(unparsed)
        return frozenset(digests)

    # --- results -----------------------------------------------------------------------------

    def _result(self, result: object, path: str, run: _Run) -> None:
        source = self.source
        if type(result) is not dict:
            wrong_type(source, path, "an object", result)
        kind = opt_str(result, "kind", source, path)
        if kind in _NOT_A_PROBLEM:
            self._skip(f"kind-{kind}")
            return
        if _is_suppressed(result, source, path):
            self.suppressed += 1
            return
        if opt_str(result, "baselineState", source, path) == "absent":
            # A result of an earlier run that this run no longer found.
            self._skip("baseline-absent")
            return
        rule_id, rule, rule_path = self._rule(result, path, run)
        rule_props = opt_dict(rule, "properties", source, rule_path)
        props = opt_dict(result, "properties", source, path)
        tags = _tags(rule_props, source, rule_path) + _tags(props, source, path)

        category = _non_vulnerability(run.dialect, rule, tags, source, rule_path)
        if category is not None:
            self._skip(category)
            return

        message = _text(result, "message", source, path) or ""
        help_text = _text(rule, "help", source, rule_path)
        lines, vuln_line = _key_values(message)
        help_lines, help_vuln = _key_values(help_text or "")
        sentence = _GRYPE_MESSAGE.match(message) or _GRYPE_OLD_MESSAGE.match(message)
        if run.dialect == "grype" and sentence is not None:
            image = _GRYPE_IMAGE.search(sentence.groupdict().get("where") or "")
            if image is not None:
                self._grype_image(image.group("image"), run)

        name = (
            _property(props, _NAME_KEYS, source, path)
            or _property(rule_props, _NAME_KEYS, source, rule_path)
            or lines.get("package")
            or (sentence.group("name") if sentence else None)
            or help_lines.get("package")
        )
        version = (
            _property(props, _VERSION_KEYS, source, path)
            or lines.get("installed version")
            or (sentence.group("version") if sentence else None)
            or lines.get("version")
            or help_lines.get("version")
            or ""
        )
        purl = _purl(props, rule_props, version, source, (path, rule_path))
        if not name and purl:
            name = _purl_name(purl)

        vuln_id = _vulnerability_id(rule_id, vuln_line, help_vuln, name, run.dialect)
        if not name:
            if not (
                "vulnerability" in (t.lower() for t in tags) or _VULNERABILITY_ID.match(vuln_id)
            ):
                self._skip("not-a-vulnerability")
                return
            self.without_package += 1
            name = UNKNOWN_PACKAGE

        word = (
            lines.get("severity")
            or (sentence.groupdict().get("severity") if sentence else None)
            or _severity_tag(tags)
            or help_lines.get("severity")
        )
        score = _security_severity(props, source, path)
        if score is None:
            score = _security_severity(rule_props, source, rule_path)
        level = opt_str(result, "level", source, path) or opt_str(
            opt_dict(rule, "defaultConfiguration", source, rule_path),
            "level",
            source,
            join(rule_path, "defaultConfiguration"),
        )
        severity, severity_source = self._severity(word, score, level)

        if run.dialect == "grype":
            # Only the rule's help has it; the message does not.
            fixed_text = help_lines.get("fix version")
        else:
            fixed_text = _property(props, _FIXED_KEYS, source, path) or _first_line(
                lines, help_lines, "fixed version"
            )
        fixed_versions = _split_versions(fixed_text, run.dialect)
        self.findings.append(
            Finding(
                id=vuln_id,
                package_name=name,
                package_version=version,
                severity=severity,
                package_type=(sentence.groupdict().get("type") if sentence else None)
                or help_lines.get("type")
                or None,
                purl=purl,
                target=_target(result, source, path),
                cvss=_cvss(rule_props, source, rule_path) + _cvss(props, source, path),
                fixed_versions=fixed_versions,
                fix_state=FixState.FIXED if fixed_versions else FixState.UNKNOWN,
                severity_source=severity_source,
                raw_severity=word,
                title=_text(rule, "shortDescription", source, rule_path) or None,
                primary_url=_help_uri(rule, run, source, rule_path),
            )
        )

    def _skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def _rule(
        self, result: dict[str, Any], path: str, run: _Run
    ) -> tuple[str, dict[str, Any], str]:
        """The result's rule id, its rule (``{}`` when the driver does not list it) and path."""
        source = self.source
        reference = opt_dict(result, "rule", source, path)
        rule_id = opt_str(result, "ruleId", source, path) or opt_str(
            reference, "id", source, join(path, "rule")
        )
        index: Any = result.get("ruleIndex", reference.get("index"))
        if index is not None and index != -1:
            if type(index) is not int or not 0 <= index < len(run.rules):
                fail(
                    source,
                    join(path, "ruleIndex"),
                    f"{index!r} is not the index of one of the {len(run.rules)} rules"
                    f" in {run.path}.tool.driver.rules",
                )
            listed = opt_str(run.rules[index], "id", source, _rule_path(run, index))
            if rule_id and listed and rule_id != listed:
                fail(
                    source,
                    join(path, "ruleId"),
                    f"{rule_id!r} names a different rule than ruleIndex {index} ({listed!r})",
                )
            rule_id = rule_id or listed
        elif rule_id:
            index = run.rules_by_id.get(rule_id)
        if not rule_id:
            fail(source, join(path, "ruleId"), "the result names no rule (no ruleId or rule.id)")
        if index is None or index == -1:
            return rule_id, {}, f"{run.path}.tool.driver.rules"
        return rule_id, run.rules[index], _rule_path(run, index)

    def _grype_image(self, image: str, run: _Run) -> None:
        if image and image not in run.artifact_names:
            run.artifact_names.append(image)
            if "@" in image:
                self.digest_texts.append(image.rpartition("@")[2])

    def _severity(
        self, word: str | None, score: float | None, level: str | None
    ) -> tuple[Severity, str | None]:
        """The higher of the severity word and the ``security-severity`` score."""
        from_word = Severity.UNKNOWN
        if word:
            from_word = Severity.parse(word)
            if from_word is Severity.UNKNOWN and word.strip().lower() not in ("unknown", "none"):
                self.unknown_words.add(word)
        from_score = Severity.from_cvss(score)
        if from_score > from_word:
            return from_score, "security-severity"
        if from_word is not Severity.UNKNOWN:
            return from_word, "message"
        from_level = _LEVELS.get(level or "", Severity.UNKNOWN)
        if from_level is not Severity.UNKNOWN:
            return from_level, "level"
        return Severity.UNKNOWN, None


# --- helpers ---------------------------------------------------------------------------------


def _is_suppressed(result: dict[str, Any], source: str, path: str) -> bool:
    """True when a suppression is in force (status ``accepted``, or no status given)."""
    for index, entry in enumerate(opt_list(result, "suppressions", source, path)):
        spath = f"{path}.suppressions[{index}]"
        if type(entry) is not dict:
            wrong_type(source, spath, "an object", entry)
        if opt_str(entry, "status", source, spath) in (None, "accepted"):
            return True
    return False


def _tags(props: dict[str, Any], source: str, path: str) -> list[str]:
    tags = opt_list(props, "tags", source, join(path, "properties"))
    for index, tag in enumerate(tags):
        if type(tag) is not str:
            wrong_type(source, f"{path}.properties.tags[{index}]", "a string", tag)
    return tags


def _text(obj: dict[str, Any], key: str, source: str, path: str) -> str | None:
    """``obj[key].text`` of a SARIF message object."""
    return opt_str(opt_dict(obj, key, source, path), "text", source, join(path, key))


def _rule_path(run: _Run, index: int) -> str:
    return f"{run.path}.tool.driver.rules[{index}]"


def _non_vulnerability(
    dialect: str, rule: dict[str, Any], tags: list[str], source: str, rule_path: str
) -> str | None:
    """The kind of a result that is not a package vulnerability (misconfiguration, ...)."""
    if dialect == "trivy":
        name = opt_str(rule, "name", source, rule_path)
        if name in _TRIVY_NON_VULNERABILITY_RULES:
            return _TRIVY_NON_VULNERABILITY_RULES[name]
    if tags and tags[0].lower() in _NON_VULNERABILITY_TAGS:
        return tags[0].lower()
    return None


def _key_values(text: str) -> tuple[dict[str, str], str | None]:
    """``Key: value`` lines of a message (keys lower-cased) and its ``Vulnerability <id>`` line."""
    found: dict[str, str] = {}
    vulnerability = None
    for line in text.splitlines():
        key, colon, value = line.partition(":")
        if colon and 0 < len(key) <= 40 and not key.startswith(" "):
            found.setdefault(key.strip().lower(), value.strip())
        elif vulnerability is None and line.startswith("Vulnerability "):
            vulnerability = line[len("Vulnerability ") :].strip() or None
    return found, vulnerability


def _property(props: dict[str, Any], keys: tuple[str, ...], source: str, path: str) -> str | None:
    """The first of ``keys`` (any case) that ``props`` holds as a non-empty string."""
    if not props:
        return None
    for name, value in props.items():
        if name.lower() in keys and value is not None:
            if type(value) is not str:
                wrong_type(source, key_path(join(path, "properties"), name), "a string", value)
            if value:
                return value
    return None


def _purl(
    props: dict[str, Any],
    rule_props: dict[str, Any],
    version: str,
    source: str,
    paths: tuple[str, str],
) -> str | None:
    """A purl from ``purl`` / ``purls`` properties, if it is for the installed version.

    grype puts ``purls`` on the rule, which it shares between every version
    of the package with that vulnerability: a purl of another version is
    not this finding's.
    """
    for where, obj in zip(paths, (props, rule_props), strict=True):
        single = opt_str(obj, "purl", source, join(where, "properties"))
        candidates = [single] if single else []
        for index, entry in enumerate(opt_list(obj, "purls", source, join(where, "properties"))):
            if type(entry) is not str:
                wrong_type(source, f"{where}.properties.purls[{index}]", "a string", entry)
            candidates.append(entry)
        for purl in candidates:
            if not purl.startswith("pkg:"):
                continue
            purl_version = unquote(purl.partition("@")[2].partition("?")[0].partition("#")[0])
            if not version or purl_version == version:
                return purl
    return None


#: purl types whose package names include the namespace, joined by "/".
_JOINED_WITH_SLASH = frozenset({"npm", "golang", "composer", "swift", "github"})


def _first_line(lines: dict[str, str], help_lines: dict[str, str], key: str) -> str | None:
    """``key`` from the result's message; from the rule's help only if the message lacks the line.

    A rule is shared by every package with the vulnerability, so its help
    describes one of them; an empty line in the message ("Fixed Version: ")
    is this package's answer and must not be filled in from another's.
    """
    if key in lines:
        return lines[key]
    return help_lines.get(key)


def _purl_name(purl: str) -> str | None:
    """The package name a purl stands for, as the ecosystem writes it (``@babel/core``)."""
    path = purl.partition("?")[0].partition("#")[0]
    # The version follows the last "@"; an npm scope's "@" is percent-encoded.
    path = path.rpartition("@")[0] if "@" in path else path
    kind, _, rest = path.removeprefix("pkg:").partition("/")
    namespace, _, name = rest.rpartition("/")
    name, namespace = unquote(name), unquote(namespace)
    if not name:
        return None
    if namespace and kind in _JOINED_WITH_SLASH:
        return f"{namespace}/{name}"
    if namespace and kind == "maven":
        return f"{namespace}:{name}"
    return name


def _vulnerability_id(
    rule_id: str, vuln_line: str | None, help_vuln: str | None, name: str | None, dialect: str
) -> str:
    """The vulnerability id: a ``Vulnerability <id>`` line, else the rule id.

    grype's rule ids are ``<id>-<package name>``; the package name is cut off
    only when it is really there, never by guessing where an id ends.
    """
    if vuln_line:
        return vuln_line
    if help_vuln and (rule_id == help_vuln or rule_id.startswith(help_vuln + "-")):
        return help_vuln
    if (
        dialect == "grype"
        and name
        and rule_id.endswith("-" + name)
        and len(rule_id) > len(name) + 1
    ):
        return rule_id[: -len(name) - 1]
    return rule_id


def _severity_tag(tags: list[str]) -> str | None:
    """A severity word among the tags (Trivy: ``[vulnerability, security, MEDIUM]``)."""
    for tag in tags:
        if Severity.parse(tag) is not Severity.UNKNOWN or tag.lower() == "unknown":
            return tag
    return None


def _security_severity(props: dict[str, Any], source: str, path: str) -> float | None:
    """``security-severity`` (a CVSS-like 0-10 score written as text); 0 means no score."""
    value = props.get("security-severity")
    if value is None:
        return None
    where = f"{join(path, 'properties')}.security-severity"
    if type(value) is str:
        try:
            score = float(value.strip())
        except ValueError:
            fail(source, where, f"expected a score from 0 to 10, got {value!r}")
    elif type(value) is int or type(value) is float:
        score = float(value)
    else:
        wrong_type(source, where, "a score from 0 to 10", value)
    if not 0.0 <= score <= 10.0:
        fail(source, where, f"score {score} is not within 0-10")
    return score or None


def _cvss(props: dict[str, Any], source: str, path: str) -> tuple[CvssScore, ...]:
    """Trivy's ``cvssv3_baseScore``/``cvssv3_vector`` (and v2, v4.0) rule properties."""
    found: list[CvssScore] = []
    for score_key, vector_key, version in _CVSS_PROPERTIES:
        score, vector = props.get(score_key), props.get(vector_key)
        if score is None and vector is None:
            continue
        where = join(path, "properties")
        if score is not None and (type(score) not in (int, float) or not 0 <= score <= 10):
            if type(score) in (int, float):
                fail(source, f"{where}.{score_key}", f"CVSS score {score} is not within 0-10")
            wrong_type(source, f"{where}.{score_key}", "a number", score)
        if vector is not None and type(vector) is not str:
            wrong_type(source, f"{where}.{vector_key}", "a string", vector)
        # Trivy writes the rating of the vulnerability's severity source without naming it.
        found.append(
            CvssScore("", version, None if score is None else float(score), vector or None)
        )
    return tuple(found)


def _split_versions(text: str | None, dialect: str) -> tuple[str, ...]:
    """Fixed versions: Trivy joins branches with ``", "``, grype with ``","``."""
    if not text:
        return ()
    separator = "," if dialect == "grype" else ", "
    return tuple(v for v in (p.strip() for p in text.split(separator)) if v)


def _target(result: dict[str, Any], source: str, path: str) -> str | None:
    """The first location's artifact URI: the image, lock file or package path."""
    for index, location in enumerate(opt_list(result, "locations", source, path)):
        lpath = f"{path}.locations[{index}]"
        if type(location) is not dict:
            wrong_type(source, lpath, "an object", location)
        physical = opt_dict(location, "physicalLocation", source, lpath)
        artifact = opt_dict(physical, "artifactLocation", source, f"{lpath}.physicalLocation")
        uri = opt_str(artifact, "uri", source, f"{lpath}.physicalLocation.artifactLocation")
        if uri:
            return uri
    return None


def _help_uri(rule: dict[str, Any], run: _Run, source: str, path: str) -> str | None:
    uri = opt_str(rule, "helpUri", source, path)
    # grype falls back to its own home page, which says nothing about the finding.
    if not uri or uri == run.information_uri:
        return None
    return uri
