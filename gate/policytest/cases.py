"""Policy test files: the model of a case and the loader that validates a whole file.

A test file (``example.tests.yaml`` next to ``example.yaml``) names the policy
it tests and lists cases: an image reference and digest, the evidence the
gate would hold for it (signature outcomes per trust authority, scan reports,
SBOMs and VEX documents as files or inline) and the expected decision.

Loading reports every problem of the file together, one line each, as the
policy loader does (``tests.yaml:12:9: cases[1].digest: not a valid digest``):
the YAML is read with positions, checked against
``gate/data/policytest.schema.json``, then given meaning against the policy
(authority names, evidence files that must parse). Signature outcomes become
``AuthorityResult``s built here, so a test never contacts a registry.
"""

from __future__ import annotations

import enum
import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

import yaml
from jsonschema import Draft202012Validator

from gate.errors import GateError, PolicyError, PolicyValidationError
from gate.files import read_input_file
from gate.oci.digest import Digest
from gate.oci.platform import Platform
from gate.oci.reference import ImageReference
from gate.policy.diagnostics import Diagnostics
from gate.policy.loader import load_policy
from gate.policy.model import Policy
from gate.policy.schema import describe_value, validator_issues
from gate.policy.verdict import Decision, Outcome
from gate.policy.yamlpos import FieldPath, load_located
from gate.sbom.component import Component, Sbom
from gate.sbom.load import load_sbom
from gate.scanners.finding import CvssScore, Finding, FixState, ScanReport, Severity
from gate.scanners.load import load_scan_report
from gate.signatures.evidence import AuthorityResult, VerifiedSignature
from gate.signatures.trust import TrustAuthority
from gate.vex.load import load_vex
from gate.vex.model import VexDocument

SCHEMA_RESOURCE = ("gate", "data/policytest.schema.json")
#: What ``gate policy test DIR`` collects; a file named on the command line is read as it is.
TEST_FILE_SUFFIXES = (".tests.yaml", ".tests.yml")
MAX_TEST_FILE_BYTES = 1024 * 1024
#: Evidence files are synthetic and small; the same cap as ``gate check`` all the same.
MAX_EVIDENCE_BYTES = 128 * 1024 * 1024
_NAMESPACE_RE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_SEVERITY_NAMES = {s.name: s for s in Severity}

_T = TypeVar("_T")


class SignatureState(enum.StrEnum):
    """What verifying one trust authority found, as a test case states it."""

    PRESENT = "present"  # a signature by the authority's first key or identity verified
    ABSENT = "absent"  # no signature at all
    INVALID = "invalid"  # a signature was found and did not verify
    ERROR = "error"  # verification could not run (registry down): fails closed


@dataclass(frozen=True)
class Expectation:
    """What a case expects; only what was given is compared.

    ``rule`` is compared only when ``compare_rule`` is set (the key was
    written); ``None`` then means "no rule matched, defaultAction decided".
    """

    decision: Decision
    rule: str | None = None
    compare_rule: bool = False
    checks: Mapping[str, Outcome] = field(default_factory=lambda: MappingProxyType({}))
    reason: str | None = None


@dataclass(frozen=True)
class InlineScan:
    """Findings written in the case: one scan report for the image digest.

    ``created_at`` None means "made at the case's evaluation time".
    """

    source: str
    findings: tuple[Finding, ...]
    created_at: datetime | None = None


@dataclass(frozen=True)
class PolicyTestCase:
    """One case: the image, the evidence the gate would hold for it, and the expectation.

    ``signatures`` holds a result for every trust authority of the policy the
    case was loaded against (authorities the case does not mention are
    absent). ``now`` is the case's own instant, if it fixes one.
    """

    name: str
    line: int
    reference: ImageReference
    digest: Digest
    expect: Expectation
    namespace: str | None = None
    platform: Platform | None = None
    platform_digest: Digest | None = None
    now: datetime | None = None
    signatures: Mapping[str, AuthorityResult] = field(default_factory=lambda: MappingProxyType({}))
    inline_scan: InlineScan | None = None
    inline_sbom: Sbom | None = None
    scans: tuple[ScanReport, ...] = ()
    sboms: tuple[Sbom, ...] = ()
    vex: tuple[VexDocument, ...] = ()
    description: str | None = None


@dataclass(frozen=True)
class PolicyTestSuite:
    """A loaded test file: the policy its cases run against, and the cases in file order.

    ``policy_path`` is the policy file used (the file's own ``policy``, or
    the ``--policy`` override); ``now`` the file-wide instant, if it fixes one.
    """

    source: Path
    policy: Policy
    policy_path: Path
    cases: tuple[PolicyTestCase, ...]
    name: str | None = None
    now: datetime | None = None


#: Loads a policy file (``load_policy``, or a cache around it).
PolicyLoader = Callable[[Path], Policy]


def schema_text() -> str:
    """The test file JSON Schema as shipped in the package."""
    package, name = SCHEMA_RESOURCE
    return resources.files(package).joinpath(name).read_text(encoding="utf-8")


@functools.cache
def _validator() -> Draft202012Validator:
    # Compiled once per process; the schema has only local "#/$defs" references.
    schema = json.loads(schema_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def parse_instant(text: str) -> datetime:
    """``YYYY-MM-DD`` (midnight UTC) or an ISO 8601 timestamp with a zone, as UTC.

    A timestamp without a zone is refused (``ValueError``): which instant it
    means would depend on the machine running the tests.
    """
    value = text.strip()
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(0), tzinfo=UTC)
        instant = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise ValueError(
            f"not a date or timestamp: {text!r} (write 2026-06-01 or 2026-06-01T12:00:00Z)"
        ) from None
    if instant.tzinfo is None:
        raise ValueError(
            f"timestamp {text!r} has no time zone: add Z (UTC) or an offset such as +02:00"
        )
    return instant.astimezone(UTC)


def is_test_file(path: Path) -> bool:
    """True for the file names ``gate policy test DIR`` collects (``*.tests.yaml``)."""
    return path.name.endswith(TEST_FILE_SUFFIXES)


def load_test_file(
    path: Path, *, policy: Path | None = None, load: PolicyLoader = load_policy
) -> PolicyTestSuite:
    """Read, validate and build the test file at ``path``.

    The cases run against the policy the file names (relative to it), or
    against ``policy`` when given. Raises ``PolicyError`` when the file cannot
    be read or parsed at all, ``PolicyValidationError`` listing every problem
    otherwise, and whatever ``load`` raises for a broken policy.
    """
    file = str(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_TEST_FILE_BYTES + 1)
    except FileNotFoundError as exc:
        raise PolicyError("test file not found", file=file) from exc
    except IsADirectoryError as exc:
        raise PolicyError("test file is a directory", file=file) from exc
    except OSError as exc:
        raise PolicyError(f"cannot read test file: {exc.strerror or exc}", file=file) from exc
    return load_test_text(data, path, policy=policy, load=load)


def load_test_text(
    text: str | bytes,
    path: Path | str = "policy.tests.yaml",
    *,
    policy: Path | None = None,
    load: PolicyLoader = load_policy,
) -> PolicyTestSuite:
    """Validate and build a test file from ``text``, as if read from ``path``.

    ``path`` names the file in messages; relative policy and evidence paths
    start at its directory.
    """
    data = text.encode("utf-8") if isinstance(text, str) else text
    path = Path(path)
    file = str(path)
    if len(data) > MAX_TEST_FILE_BYTES:
        raise PolicyError(
            f"test file is larger than {MAX_TEST_FILE_BYTES} bytes (1 MiB)", file=file
        )
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError(f"test file is not UTF-8 (byte {exc.start})", file=file) from exc
    try:
        document = load_located(decoded, file=file)
    except PolicyError as exc:
        raise _reworded(exc) from exc
    except yaml.YAMLError as exc:
        # The reader refuses some characters (NUL...) before any parsing starts.
        raise PolicyError(f"invalid YAML: {exc}".replace("\n", " "), file=file) from exc
    diagnostics = Diagnostics(file, document.positions)
    for problem in document.problems:
        diagnostics.error_at(
            problem.path, problem.mark, problem.reason, shown_path=problem.shown_path
        )
    for issue in validator_issues(_validator(), document.data):
        diagnostics.error(
            issue.path, issue.reason, at_key=issue.at_key, shown_path=issue.shown_path
        )
    builder = _Builder(path, diagnostics, load)
    suite = builder.suite(document.data, policy)
    # A broken policy is reported together with the test file's own problems.
    errors = (*builder.policy_errors, *diagnostics.errors)
    if errors:
        raise PolicyValidationError(errors)
    if suite is None:  # pragma: no cover - the builder reports whenever it returns None
        raise PolicyError("test file could not be built", file=file)
    return suite


def _reworded(exc: PolicyError) -> PolicyError:
    """The YAML reader speaks of policy files; these are test files."""
    reason = exc.reason
    if reason.startswith("empty policy file"):
        reason = "empty test file: expected a PolicyTest document"
    elif "a policy file holds exactly one" in reason:
        reason = "the file holds more than one YAML document; a test file holds exactly one"
    if reason == exc.reason:
        return exc
    return PolicyError(reason, file=exc.file, line=exc.line, column=exc.column, field=exc.field)


class _Builder:
    """The semantic pass over schema-checked data: builds cases, reports what makes no sense.

    Like the policy's semantic pass it runs even after schema errors, skipping
    values of the wrong shape (already reported), so one run lists every
    problem. A case it cannot build for a reason nobody reported becomes an
    error of its own: no case silently disappears from a run.
    """

    def __init__(self, path: Path, diagnostics: Diagnostics, load: PolicyLoader) -> None:
        self.path = path
        self.base_dir = path.parent
        self.diag = diagnostics
        self.load = load
        self._evidence_cache: dict[tuple[str, Path], Any] = {}
        #: What loading the policy raised, one error per line of its message.
        self.policy_errors: list[PolicyError] = []

    def error(self, path: FieldPath, reason: str, *, at_key: bool = False) -> None:
        self.diag.error(path, reason, at_key=at_key)

    def line_of(self, path: FieldPath) -> int:
        mark = self.diag.positions.of_value(path)
        return mark.line if mark is not None else 0

    def key_line(self, path: FieldPath) -> int:
        mark = self.diag.positions.of_key(path)
        return mark.line if mark is not None else 0

    def typed(self, raw: Any, kind: type[_T] | tuple[type, ...], path: FieldPath) -> _T | None:
        """``raw`` if it has the type ``kind``; otherwise None, reported unless already."""
        if raw is None:
            return None
        if isinstance(raw, kind) and not (isinstance(raw, bool) and bool not in _kinds(kind)):
            return raw  # type: ignore[return-value]  # checked by isinstance against kind
        if not self.diag.has_error_under(path):
            self.error(path, f"{describe_value(raw)} cannot be used here")
        return None

    # -- the file -------------------------------------------------------------------

    def suite(self, data: Any, override: Path | None) -> PolicyTestSuite | None:
        if not isinstance(data, dict):
            if not self.diag.has_error_under(()):
                self.error((), f"a test file is a mapping, got {describe_value(data)}")
            return None
        policy_path, policy = self.policy(data.get("policy"), override)
        now = self.instant(data.get("now"), ("now",))
        metadata = data.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        raw_cases = self.typed(data.get("cases"), list, ("cases",)) or []
        cases: list[PolicyTestCase] = []
        names: dict[str, int] = {}
        for index, raw in enumerate(raw_cases):
            path: FieldPath = ("cases", index)
            case_name = raw.get("name") if isinstance(raw, dict) else None
            if isinstance(case_name, str):
                if case_name in names:
                    self.error(
                        (*path, "name"),
                        f'duplicate case name "{case_name}" (also cases[{names[case_name]}])',
                    )
                else:
                    names[case_name] = index
            case = self.case(raw, path, policy)
            if case is None:
                if not self.diag.has_error_under(path):
                    self.error(path, "case could not be interpreted, so it is rejected")
                continue
            cases.append(case)
        if policy is None or policy_path is None:
            return None
        return PolicyTestSuite(
            source=self.path,
            policy=policy,
            policy_path=policy_path,
            cases=tuple(cases),
            name=name if isinstance(name, str) else None,
            now=now,
        )

    def policy(self, raw: Any, override: Path | None) -> tuple[Path | None, Policy | None]:
        """The policy the cases run against: the override, else the file's ``policy``."""
        if override is not None:
            # Errors of the override name its own file; they are no fault of this test file.
            return override, self.load_policy(override)
        written = self.typed(raw, str, ("policy",))
        if written is None:
            return None, None
        policy_path = Path(written)
        if not policy_path.is_absolute():
            policy_path = self.base_dir / policy_path
        if not policy_path.is_file():
            what = "is not a file" if policy_path.exists() else "not found"
            self.error(("policy",), f"policy file {written} {what} (looked at {policy_path})")
            return None, None
        return policy_path, self.load_policy(policy_path)

    def load_policy(self, path: Path) -> Policy | None:
        """The policy at ``path``; None (its errors kept) when it does not load."""
        try:
            return self.load(path)
        except PolicyValidationError as exc:
            self.policy_errors.extend(exc.errors)
        except PolicyError as exc:
            self.policy_errors.append(exc)
        except GateError as exc:
            self.policy_errors.append(PolicyError(str(exc), file=str(path)))
        return None

    def instant(self, raw: Any, path: FieldPath) -> datetime | None:
        text = self.typed(raw, str, path)
        if text is None:
            return None
        try:
            return parse_instant(text)
        except ValueError as exc:
            self.error(path, str(exc))
            return None

    # -- one case -------------------------------------------------------------------

    def case(self, raw: Any, path: FieldPath, policy: Policy | None) -> PolicyTestCase | None:
        if not isinstance(raw, dict):
            return None
        before = self.diag.has_error_under(path)
        name = self.typed(raw.get("name"), str, (*path, "name"))
        reference = self.reference(raw.get("image"), (*path, "image"))
        digest = self.digest(raw.get("digest"), (*path, "digest"), reference)
        namespace = self.namespace(raw.get("namespace"), (*path, "namespace"))
        platform, platform_digest = self.platform(raw.get("platform"), (*path, "platform"))
        now = self.instant(raw.get("now"), (*path, "now"))
        scanned_at = self.instant(raw.get("scannedAt"), (*path, "scannedAt"))
        signatures = self.signatures(
            raw.get("signatures"), (*path, "signatures"), policy, reference, digest
        )
        inline_scan = self.inline_scan(raw, path, scanned_at)
        inline_sbom = self.inline_sbom(raw.get("components"), (*path, "components"), digest)
        scans = self.files(raw.get("scans"), (*path, "scans"), "scan report", load_scan_report)
        sboms = self.files(raw.get("sboms"), (*path, "sboms"), "SBOM", load_sbom)
        vex = self.files(raw.get("vex"), (*path, "vex"), "VEX document", load_vex)
        expect = self.expectation(raw.get("expect"), (*path, "expect"))
        description = raw.get("description")
        if before or self.diag.has_error_under(path):
            return None
        if name is None or reference is None or digest is None or expect is None:
            return None
        return PolicyTestCase(
            name=name,
            line=self.line_of(path),
            reference=reference,
            digest=digest,
            expect=expect,
            namespace=namespace,
            platform=platform,
            platform_digest=platform_digest,
            now=now,
            signatures=MappingProxyType(signatures),
            inline_scan=inline_scan,
            inline_sbom=inline_sbom,
            scans=tuple(scans),
            sboms=tuple(sboms),
            vex=tuple(vex),
            description=description if isinstance(description, str) else None,
        )

    def reference(self, raw: Any, path: FieldPath) -> ImageReference | None:
        text = self.typed(raw, str, path)
        if text is None:
            return None
        try:
            return ImageReference.parse(text)
        except GateError as exc:
            self.error(path, str(exc))
            return None

    def digest(self, raw: Any, path: FieldPath, reference: ImageReference | None) -> Digest | None:
        text = self.typed(raw, str, path)
        if text is None:
            if raw is None and reference is not None and reference.digest is None:
                self.error(
                    path[:-1],
                    'missing "digest": the digest the image reference resolves to '
                    "(required unless the reference carries one)",
                )
            return reference.digest if reference is not None else None
        try:
            digest = Digest.parse(text)
        except GateError as exc:
            self.error(path, str(exc))
            return None
        if reference is not None and reference.digest is not None and reference.digest != digest:
            self.error(
                path,
                f"the image reference is pinned to {reference.digest}, not {digest}; "
                "give one digest",
            )
            return None
        return digest

    def namespace(self, raw: Any, path: FieldPath) -> str | None:
        text = self.typed(raw, str, path)
        if text is not None and not _NAMESPACE_RE.fullmatch(text):
            self.error(
                path,
                f"not a Kubernetes namespace: {text!r} (lowercase letters, digits and '-', "
                "at most 63 characters)",
            )
            return None
        return text

    def platform(self, raw: Any, path: FieldPath) -> tuple[Platform | None, Digest | None]:
        block = self.typed(raw, dict, path)
        if block is None:
            return None, None
        name = self.typed(block.get("name"), str, (*path, "name"))
        text = self.typed(block.get("digest"), str, (*path, "digest"))
        platform = digest = None
        if name is not None:
            try:
                platform = Platform.parse(name)
            except GateError as exc:
                self.error((*path, "name"), str(exc))
        if text is not None:
            try:
                digest = Digest.parse(text)
            except GateError as exc:
                self.error((*path, "digest"), str(exc))
        return platform, digest

    # -- signatures -------------------------------------------------------------------

    def signatures(
        self,
        raw: Any,
        path: FieldPath,
        policy: Policy | None,
        reference: ImageReference | None,
        digest: Digest | None,
    ) -> dict[str, AuthorityResult]:
        stated = self.typed(raw, dict, path) or {}
        results: dict[str, AuthorityResult] = {}
        if policy is None:
            return results  # nothing to check the names against; the policy's errors say why
        for name in policy.trust:
            if name not in stated:
                results[name] = AuthorityResult(name)
        for name, value in stated.items():
            where = (*path, name)
            authority = policy.trust.get(name)
            if authority is None:
                known = ", ".join(sorted(policy.trust)) or "none"
                self.error(
                    where,
                    f'unknown trust authority "{name}" in policy {policy.source} (it has: {known})',
                    at_key=True,
                )
                continue
            signers = self.stated_signers(value, where, authority)
            if signers is None or digest is None or reference is None:
                continue
            results[name] = _authority_result(authority, signers, reference, digest)
        return results

    def stated_signers(
        self, value: Any, path: FieldPath, authority: TrustAuthority
    ) -> int | SignatureState | None:
        """A state, or how many distinct signers of ``authority`` signed."""
        if isinstance(value, str):
            try:
                return SignatureState(value)
            except ValueError:
                return None  # the schema reported it
        if not isinstance(value, dict) or not isinstance(value.get("signers"), int):
            return None
        count = int(value["signers"])
        available = len(authority.possible_signers)
        if count > available:
            self.error(
                (*path, "signers"),
                f"authority {authority.name} has {available} distinct "
                f"signer{'s' if available != 1 else ''}, so {count} cannot have signed",
            )
            return None
        return count if count >= 1 else None

    # -- evidence -------------------------------------------------------------------

    def inline_scan(
        self, raw_case: dict[str, Any], path: FieldPath, scanned_at: datetime | None
    ) -> InlineScan | None:
        findings_path = (*path, "findings")
        raw = raw_case.get("findings")
        if "findings" not in raw_case:
            if "scannedAt" in raw_case:
                self.error(
                    (*path, "scannedAt"),
                    "scannedAt dates the inline findings report; give findings (an empty "
                    "list for a clean scan) or leave scannedAt out",
                    at_key=True,
                )
            return None
        entries = self.typed(raw, list, findings_path)
        if entries is None:
            return None
        findings: list[Finding] = []
        for index, entry in enumerate(entries):
            finding = self.finding(entry, (*findings_path, index))
            if finding is not None:
                findings.append(finding)
        source = f"{self.path}:{self.key_line(findings_path)}"
        return InlineScan(source=source, findings=tuple(findings), created_at=scanned_at)

    def finding(self, raw: Any, path: FieldPath) -> Finding | None:
        if not isinstance(raw, dict):
            return None
        identifier = self.typed(raw.get("id"), str, (*path, "id"))
        package = self.typed(raw.get("package"), str, (*path, "package"))
        version = self.typed(raw.get("version"), str, (*path, "version")) or ""
        severity = self.severity(raw.get("severity"), (*path, "severity"))
        aliases = self.string_list(raw.get("aliases"), (*path, "aliases"))
        fixed = self.string_list(raw.get("fixedVersions"), (*path, "fixedVersions"))
        cvss = self.typed(raw.get("cvss"), (int, float), (*path, "cvss"))
        epss = self.typed(raw.get("epss"), (int, float), (*path, "epss"))
        kev = self.typed(raw.get("kev"), bool, (*path, "kev"))
        purl = self.typed(raw.get("purl"), str, (*path, "purl"))
        published = self.instant(raw.get("fixPublished"), (*path, "fixPublished"))
        state_text = self.typed(raw.get("fixState"), str, (*path, "fixState"))
        if state_text is not None:
            try:
                fix_state = FixState(state_text)
            except ValueError:
                return None  # the schema reported it
        else:
            fix_state = FixState.FIXED if fixed else FixState.NOT_FIXED
        if identifier is None or package is None or severity is None:
            return None
        return Finding(
            id=identifier,
            package_name=package,
            package_version=version,
            severity=severity,
            aliases=tuple(aliases),
            purl=purl,
            cvss=(CvssScore("test", "3.1", float(cvss)),) if cvss is not None else (),
            fixed_versions=tuple(fixed),
            fix_state=fix_state,
            severity_source="test",
            raw_severity=str(raw.get("severity")),
            epss=float(epss) if epss is not None else None,
            kev=bool(kev),
            fix_published=published,
        )

    def severity(self, raw: Any, path: FieldPath) -> Severity | None:
        text = self.typed(raw, str, path)
        if text is None:
            return None
        severity = _SEVERITY_NAMES.get(text.strip().upper())
        if severity is None:
            self.error(path, "must be one of UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL (any case)")
        return severity

    def string_list(self, raw: Any, path: FieldPath) -> list[str]:
        entries = self.typed(raw, list, path) or []
        return [entry for entry in entries if isinstance(entry, str)]

    def inline_sbom(self, raw: Any, path: FieldPath, digest: Digest | None) -> Sbom | None:
        entries = self.typed(raw, list, path)
        if entries is None:
            return None
        components: list[Component] = []
        for index, entry in enumerate(entries):
            where = (*path, index)
            if not isinstance(entry, dict):
                continue
            name = self.typed(entry.get("name"), str, (*where, "name"))
            version = self.typed(entry.get("version"), str, (*where, "version"))
            purl = self.typed(entry.get("purl"), str, (*where, "purl"))
            licenses = self.string_list(entry.get("licenses"), (*where, "licenses"))
            if name is not None:
                components.append(
                    Component(name=name, version=version, purl=purl, licenses=tuple(licenses))
                )
        return Sbom(
            source=f"{self.path}:{self.key_line(path)}",
            format="inline",
            spec_version=None,
            components=tuple(components),
            subject_digests=frozenset({digest}) if digest is not None else frozenset(),
        )

    def files(
        self, raw: Any, path: FieldPath, what: str, parse: Callable[[bytes, str], _T]
    ) -> list[_T]:
        """Each file of the list, parsed once per run of this loader even when cases share it."""
        loaded: list[_T] = []
        for index, entry in enumerate(self.typed(raw, list, path) or []):
            if not isinstance(entry, str):
                continue
            file_path = Path(entry)
            if not file_path.is_absolute():
                file_path = self.base_dir / file_path
            key = (what, file_path)
            if key not in self._evidence_cache:
                try:
                    data = read_input_file(file_path, what, limit=MAX_EVIDENCE_BYTES)
                    self._evidence_cache[key] = parse(data, str(file_path))
                except GateError as exc:
                    self._evidence_cache[key] = exc
            value = self._evidence_cache[key]
            if isinstance(value, GateError):
                self.error((*path, index), str(value))
            else:
                loaded.append(value)
        return loaded

    # -- the expectation ------------------------------------------------------------

    def expectation(self, raw: Any, path: FieldPath) -> Expectation | None:
        block = self.typed(raw, dict, path)
        if block is None:
            return None
        try:
            decision = Decision(str(block.get("decision")))
        except ValueError:
            return None  # the schema reported it
        rule = block.get("rule")
        if rule is not None and not isinstance(rule, str):
            return None
        checks: dict[str, Outcome] = {}
        for name, outcome in (
            self.typed(block.get("checks"), dict, (*path, "checks")) or {}
        ).items():
            try:
                checks[name] = Outcome(outcome)
            except ValueError:
                return None
        reason = self.typed(block.get("reason"), str, (*path, "reason"))
        return Expectation(
            decision=decision,
            rule=rule,
            compare_rule="rule" in block,
            checks=MappingProxyType(checks),
            reason=reason,
        )


def _kinds(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


@dataclass(frozen=True)
class _Signer:
    id: str
    label: str
    kind: str


def _signers(authority: TrustAuthority, reference: ImageReference) -> list[_Signer]:
    """The distinct signers of ``authority`` in policy order, as its verifiers name them."""
    signers: list[_Signer] = []
    seen: set[str] = set()
    for key in authority.cosign_keys:
        if key.fingerprint not in seen:
            seen.add(key.fingerprint)
            signers.append(_Signer(key.fingerprint, key.label, "cosign"))
    if authority.notary is not None:
        notary = authority.notary
        label = f"Notary root {notary.root_keys[0].label} of {notary.gun(reference)}"
        signers.append(_Signer(notary.signer_id, label, "notaryV1"))
    if authority.keyless is not None:
        # The verifier labels a signature with the certificate's actual SAN, which a
        # test does not know; the identity the policy trusts stands in for it.
        keyless = authority.keyless.signer_id
        signers.append(_Signer(keyless, keyless, "keyless"))
    if authority.notation is not None:
        identities = ", ".join(authority.notation.trusted_identities)
        signers.append(_Signer(authority.notation.signer_id, identities, "notation"))
    return signers


def _authority_result(
    authority: TrustAuthority,
    stated: int | SignatureState,
    reference: ImageReference,
    digest: Digest,
) -> AuthorityResult:
    """The result a verifier would have returned for what the case states."""
    signers = _signers(authority, reference)
    name = authority.name
    if stated is SignatureState.ABSENT or not signers:
        return AuthorityResult(name)
    if stated is SignatureState.INVALID:
        first = signers[0]
        return AuthorityResult(
            name,
            rejections=(
                f"a {first.kind} signature for {reference.name}@{digest} did not verify with "
                f"{first.label} (the test case states an invalid signature)",
            ),
        )
    if stated is SignatureState.ERROR:
        return AuthorityResult(
            name, error="verification could not run (the test case states an error)"
        )
    count = 1 if stated is SignatureState.PRESENT else int(stated)
    return AuthorityResult(
        name,
        signatures=tuple(
            VerifiedSignature(
                authority=name,
                kind=signer.kind,
                signer=signer.id,
                signer_label=signer.label,
                digest=digest,
            )
            for signer in signers[:count]
        ),
    )
