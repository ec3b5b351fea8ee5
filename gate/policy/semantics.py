"""The semantic pass: from schema-shaped data to a ``Policy``, reporting what makes no sense.

The schema checks shapes; this pass checks meaning: authorities that rules
name must exist, key files must hold public keys, globs, dates, durations,
purls and license ids must parse, combinators must be satisfiable. It runs
even when the schema found errors, skipping values of the wrong shape (the
schema already reported them), so one run lists every problem of the file.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any

from gate.errors import InputError
from gate.oci.digest import Digest
from gate.policy.diagnostics import Diagnostics
from gate.policy.duration import parse_duration
from gate.policy.glob import GlobError, ImageGlob, NamespaceGlob
from gate.policy.licenses import is_license_id
from gate.policy.model import (
    Combinator,
    Match,
    Mode,
    Policy,
    Rule,
    SbomPolicy,
    ScanPolicy,
    SignatureRequirement,
    VulnerabilityException,
    VulnerabilityPolicy,
)
from gate.policy.purl import PackageUrl, PurlError
from gate.policy.schema import describe_value
from gate.policy.verdict import Decision
from gate.policy.yamlpos import FieldPath
from gate.scanners.finding import Severity
from gate.signatures.keys import PublicKey, load_public_key
from gate.signatures.trust import TrustAuthority

MAX_KEY_FILE_BYTES = 64 * 1024
_PEM_PREFIX = "-----BEGIN"
_CHECK_SECTIONS = ("signatures", "vulnerabilities", "sbom")
_SEVERITY_NAMES = ", ".join(s.name for s in Severity)

_SPEC: FieldPath = ("spec",)


def build_policy(
    data: Any, *, diagnostics: Diagnostics, base_dir: Path, source: Path, digest: Digest
) -> Policy | None:
    """Build the ``Policy`` from ``data``; report every semantic error to ``diagnostics``.

    Returns None when anything was reported (by this pass or before it):
    a policy is either entirely valid or not built at all.
    """
    builder = _Builder(diagnostics, base_dir)
    policy = builder.policy(data, source=source, digest=digest)
    return None if diagnostics.errors else policy


class _Builder:
    def __init__(self, diagnostics: Diagnostics, base_dir: Path) -> None:
        self.diag = diagnostics
        self.base_dir = base_dir
        self.trust: dict[str, TrustAuthority] = {}

    def error(self, path: FieldPath, reason: str, *, at_key: bool = False) -> None:
        self.diag.error(path, reason, at_key=at_key)

    # -- top level -------------------------------------------------------------------

    def policy(self, data: Any, *, source: Path, digest: Digest) -> Policy | None:
        if not isinstance(data, dict):
            self.error((), f"a policy is a mapping, got {describe_value(data)}")
            return None
        metadata = data.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        spec = data.get("spec")
        if not isinstance(spec, dict):
            spec = {}
        mode = _mode(spec.get("mode")) or Mode.ENFORCE
        default_action = _decision(spec.get("defaultAction")) or Decision.DENY
        trust = spec.get("trust")
        if isinstance(trust, dict):
            for authority_name, authority in trust.items():
                self.authority(authority_name, authority)
        rules: list[Rule] = []
        raw_rules = spec.get("rules")
        if isinstance(raw_rules, list):
            first_index: dict[str, int] = {}
            for index, raw_rule in enumerate(raw_rules):
                path = (*_SPEC, "rules", index)
                rule = self.rule(raw_rule, path)
                rule_name = raw_rule.get("name") if isinstance(raw_rule, dict) else None
                if isinstance(rule_name, str):
                    if rule_name in first_index:
                        first = first_index[rule_name]
                        self.error(
                            (*path, "name"),
                            f'duplicate rule name "{rule_name}" (also rules[{first}])',
                        )
                    else:
                        first_index[rule_name] = index
                if rule is not None:
                    rules.append(rule)
        if not isinstance(name, str):
            return None
        return Policy(
            name=name,
            mode=mode,
            default_action=default_action,
            trust=MappingProxyType(dict(self.trust)),
            rules=tuple(rules),
            source=source,
            digest=digest,
        )

    # -- trust -----------------------------------------------------------------------

    def authority(self, name: str, raw: Any) -> None:
        path = (*_SPEC, "trust", name)
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            return
        keys: list[PublicKey] = []
        listed = 0
        cosign = raw.get("cosign")
        if isinstance(cosign, dict):
            entries = cosign.get("publicKeys")
            if isinstance(entries, list):
                for index, entry in enumerate(entries):
                    if not isinstance(entry, str):
                        continue
                    listed += 1
                    key = self.public_key(
                        entry, (*path, "cosign", "publicKeys", index), name, index
                    )
                    if key is not None and key not in keys:
                        keys.append(key)
        if listed == 0:
            self.error(
                path,
                f'trust authority "{name}" has no trust material; give cosign.publicKeys',
                at_key=True,
            )
        self.trust[name] = TrustAuthority(name=name, cosign_keys=tuple(keys))

    def public_key(
        self, entry: str, path: FieldPath, authority: str, index: int
    ) -> PublicKey | None:
        if entry.lstrip().startswith(_PEM_PREFIX):
            label = f"{authority} key {index + 1} (inline)"
            pem = entry.encode("utf-8")
        else:
            label = entry
            key_path = Path(entry)
            if not key_path.is_absolute():
                key_path = self.base_dir / key_path
            try:
                if not key_path.is_file():
                    what = "is not a file" if key_path.exists() else "not found"
                    self.error(path, f"key file {entry} {what} (looked at {key_path})")
                    return None
                with key_path.open("rb") as handle:
                    pem = handle.read(MAX_KEY_FILE_BYTES + 1)
            except OSError as exc:
                self.error(path, f"cannot read key file {entry}: {exc.strerror or exc}")
                return None
            if len(pem) > MAX_KEY_FILE_BYTES:
                self.error(path, f"key file {entry} is larger than {MAX_KEY_FILE_BYTES} bytes")
                return None
        try:
            return load_public_key(pem, label=label)
        except InputError as exc:
            self.error(path, f"{label}: {exc.reason}")
            return None

    # -- rules -----------------------------------------------------------------------

    def rule(self, raw: Any, path: FieldPath) -> Rule | None:
        if not isinstance(raw, dict):
            return None
        ok = True
        match = self.match(raw.get("match"), (*path, "match"))
        checks = [section for section in _CHECK_SECTIONS if section in raw]
        if "action" in raw and checks:
            self.error(
                (*path, "action"),
                "a rule has either action or checks, not both; remove action or "
                + ", ".join(checks),
                at_key=True,
            )
            ok = False
        elif "action" not in raw and not checks:
            self.error(
                path,
                "rule has neither action nor checks; add action (allow, warn, deny) or "
                "signatures, vulnerabilities or sbom",
            )
            ok = False
        signatures = None
        if "signatures" in raw:
            signatures = self.signatures(raw["signatures"], (*path, "signatures"))
        vulnerabilities = scan = None
        if "vulnerabilities" in raw:
            built = self.vulnerabilities(raw["vulnerabilities"], (*path, "vulnerabilities"))
            if built is not None:
                vulnerabilities, scan = built
        sbom = None
        if "sbom" in raw:
            sbom = self.sbom(raw["sbom"], (*path, "sbom"))
        name = raw.get("name")
        if not ok or match is None or not isinstance(name, str):
            return None
        return Rule(
            name=name,
            match=match,
            action=_decision(raw.get("action")),
            mode=_mode(raw.get("mode")),
            signatures=signatures,
            vulnerabilities=vulnerabilities,
            scan=scan,
            sbom=sbom,
        )

    def match(self, raw: Any, path: FieldPath) -> Match | None:
        if not isinstance(raw, dict):
            return None
        images = self.image_globs(raw.get("images"), (*path, "images"))
        namespaces: list[NamespaceGlob] = []
        raw_namespaces = raw.get("namespaces")
        if isinstance(raw_namespaces, list):
            for index, pattern in enumerate(raw_namespaces):
                if not isinstance(pattern, str) or not pattern:
                    continue
                try:
                    namespaces.append(NamespaceGlob.compile(pattern))
                except GlobError as exc:
                    self.error((*path, "namespaces", index), str(exc))
        has_images = isinstance(raw.get("images"), list) and bool(raw["images"])
        has_namespaces = isinstance(raw_namespaces, list) and bool(raw_namespaces)
        if not has_images and not has_namespaces:
            self.error(path, "match selects nothing; give images, namespaces or both")
            return None
        return Match(images=images, namespaces=tuple(namespaces))

    def image_globs(self, raw: Any, path: FieldPath) -> tuple[ImageGlob, ...]:
        globs: list[ImageGlob] = []
        if isinstance(raw, list):
            for index, pattern in enumerate(raw):
                if not isinstance(pattern, str) or not pattern:
                    continue
                try:
                    globs.append(ImageGlob.compile(pattern))
                except GlobError as exc:
                    self.error((*path, index), str(exc))
        return tuple(globs)

    # -- signatures ------------------------------------------------------------------

    def signatures(self, raw: Any, path: FieldPath) -> SignatureRequirement | None:
        if not isinstance(raw, dict) or len(raw) != 1:
            return None
        ((key, value),) = raw.items()
        if key in ("anyOf", "allOf"):
            combinator = Combinator.ANY_OF if key == "anyOf" else Combinator.ALL_OF
            authorities = self.authority_list(value, (*path, key), key)
            if authorities is None:
                return None
            count = 1 if combinator is Combinator.ANY_OF else len(authorities)
            return SignatureRequirement(combinator, authorities, count)
        if key == "threshold" and isinstance(value, dict):
            tpath = (*path, "threshold")
            authorities = self.authority_list(value.get("of"), (*tpath, "of"), "threshold.of")
            raw_count = value.get("count")
            if not isinstance(raw_count, int) or isinstance(raw_count, bool):
                return None
            count = raw_count
            if count < 1:
                self.error((*tpath, "count"), f"threshold count must be at least 1, got {count}")
                return None
            if authorities is None:
                return None
            # threshold counts distinct trusted keys, so one authority holding
            # several keys can satisfy a count above the number of authorities.
            keys = {key.fingerprint for a in authorities for key in a.cosign_keys}
            if count > len(keys):
                self.error(
                    (*tpath, "count"),
                    f"threshold count {count} can never be met: the authorities listed in of "
                    f"hold {len(keys)} distinct {'key' if len(keys) == 1 else 'keys'}",
                )
                return None
            return SignatureRequirement(Combinator.THRESHOLD, authorities, count)
        return None

    def authority_list(
        self, raw: Any, path: FieldPath, what: str
    ) -> tuple[TrustAuthority, ...] | None:
        if not isinstance(raw, list):
            return None
        if not raw:
            self.error(path, f"{what} is empty; list at least one trust authority")
            return None
        authorities: list[TrustAuthority] = []
        seen: set[str] = set()
        ok = True
        for index, name in enumerate(raw):
            if not isinstance(name, str):
                ok = False
                continue
            if name in seen:
                self.error((*path, index), f'trust authority "{name}" is listed twice')
                ok = False
                continue
            seen.add(name)
            authority = self.trust.get(name)
            if authority is None:
                self.error((*path, index), f'unknown trust authority "{name}"')
                ok = False
                continue
            authorities.append(authority)
        return tuple(authorities) if ok else None

    # -- vulnerabilities and scan ----------------------------------------------------

    def vulnerabilities(
        self, raw: Any, path: FieldPath
    ) -> tuple[VulnerabilityPolicy, ScanPolicy] | None:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            return None
        ok = True
        severity: Severity | None = None
        raw_severity = raw.get("denySeverity")
        if isinstance(raw_severity, str):
            severity = _SEVERITIES.get(raw_severity.strip().upper())
            if severity is None:
                self.error((*path, "denySeverity"), f"must be one of {_SEVERITY_NAMES}")
                ok = False
        max_cvss = raw.get("maxCvss")
        if isinstance(max_cvss, bool) or not isinstance(max_cvss, int | float):
            max_cvss = None
        elif math.isnan(max_cvss):
            self.error((*path, "maxCvss"), "must be a number from 0 to 10")
            ok = False
        deny_ids = frozenset(
            i.strip().casefold() for i in _strings(raw.get("denyIds")) if i.strip()
        )
        exceptions: list[VulnerabilityException] = []
        raw_exceptions = raw.get("exceptions")
        if isinstance(raw_exceptions, list):
            for index, raw_exception in enumerate(raw_exceptions):
                exception = self.exception(raw_exception, (*path, "exceptions", index))
                if exception is None:
                    ok = False
                else:
                    exceptions.append(exception)
        max_age = None
        max_age_text = raw.get("maxScanAge")
        if isinstance(max_age_text, str):
            try:
                max_age = parse_duration(max_age_text)
            except ValueError as exc:
                self.error((*path, "maxScanAge"), str(exc))
                ok = False
        else:
            max_age_text = None
        if not ok:
            return None
        policy = VulnerabilityPolicy(
            deny_severity=severity,
            fixable_only=raw.get("fixableOnly") is True,
            max_cvss=float(max_cvss) if max_cvss is not None else None,
            deny_ids=deny_ids,
            exceptions=tuple(exceptions),
        )
        scan = ScanPolicy(
            require=raw.get("requireScan") is not False,
            max_age=max_age,
            max_age_text=max_age_text,
        )
        return policy, scan

    def exception(self, raw: Any, path: FieldPath) -> VulnerabilityException | None:
        if not isinstance(raw, dict):
            return None
        expires: date | None = None
        raw_expires = raw.get("expires")
        ok = True
        if isinstance(raw_expires, str):
            try:
                expires = date.fromisoformat(raw_expires)
            except ValueError as exc:
                self.error((*path, "expires"), f'not a valid date "{raw_expires}": {exc}')
                ok = False
        raw_images = raw.get("images")
        images = self.image_globs(raw_images, (*path, "images"))
        if isinstance(raw_images, list) and len(images) != len(raw_images):
            ok = False
        vuln_id = raw.get("id")
        reason = raw.get("reason")
        if not ok or not isinstance(vuln_id, str) or not isinstance(reason, str):
            return None
        return VulnerabilityException(
            id=vuln_id.strip(), reason=reason, images=images, expires=expires
        )

    # -- sbom ------------------------------------------------------------------------

    def sbom(self, raw: Any, path: FieldPath) -> SbomPolicy | None:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            return None
        ok = True
        licenses: list[str] = []
        raw_licenses = raw.get("deniedLicenses")
        if isinstance(raw_licenses, list):
            for index, entry in enumerate(raw_licenses):
                if not isinstance(entry, str) or not entry:
                    continue
                if not is_license_id(entry):
                    self.error(
                        (*path, "deniedLicenses", index),
                        f'not a license id: "{entry}" (give one SPDX id such as AGPL-3.0-only, '
                        "not an expression)",
                    )
                    ok = False
                else:
                    licenses.append(entry)
        packages: list[PackageUrl] = []
        raw_packages = raw.get("deniedPackages")
        if isinstance(raw_packages, list):
            for index, entry in enumerate(raw_packages):
                if not isinstance(entry, str) or not entry:
                    continue
                try:
                    packages.append(PackageUrl.parse(entry))
                except PurlError as exc:
                    self.error(
                        (*path, "deniedPackages", index), f'not a package URL "{entry}": {exc}'
                    )
                    ok = False
        if not ok:
            return None
        return SbomPolicy(
            require=raw.get("require") is not False,
            denied_licenses=tuple(licenses),
            denied_packages=tuple(packages),
        )


_SEVERITIES = {s.name: s for s in Severity}


def _mode(value: Any) -> Mode | None:
    return Mode(value) if isinstance(value, str) and value in _MODES else None


def _decision(value: Any) -> Decision | None:
    return Decision(value) if isinstance(value, str) and value in _DECISIONS else None


_MODES = frozenset(m.value for m in Mode)
_DECISIONS = frozenset(d.value for d in Decision)


def _strings(raw: Any) -> list[str]:
    return [s for s in raw if isinstance(s, str)] if isinstance(raw, list) else []
