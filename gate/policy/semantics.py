"""The semantic pass: from schema-shaped data to a ``Policy``, reporting what makes no sense.

The schema checks shapes; this pass checks meaning: authorities that rules
name must exist, key files must hold public keys, globs, dates, durations,
purls and license ids must parse, combinators must be satisfiable. It runs
even when the schema found errors, skipping values of the wrong shape (the
schema already reported them), so one run lists every problem of the file.

Fail closed: whatever is present in the file either becomes part of the
``Policy`` or is reported. A section the pass cannot build, for a reason no
other check reported, becomes an error of its own (see ``_Builder.section``),
so a rule can never lose its ``signatures`` (say) and run without them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar
from urllib.parse import urlsplit

from cryptography import x509

from gate.errors import GateError, InputError
from gate.files import read_input_file
from gate.oci.digest import Digest
from gate.oci.transport import is_loopback
from gate.policy.diagnostics import Diagnostics
from gate.policy.duration import parse_duration
from gate.policy.exceptions import DEFAULT_MAX_DAYS
from gate.policy.glob import GlobError, ImageGlob, NamespaceGlob
from gate.policy.licenses import is_license_id
from gate.policy.model import (
    AttestationRequirement,
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
from gate.policy.risk_data import load_epss_scores, load_kev_catalog
from gate.policy.schema import (
    EMPTY_EXCEPTION_IMAGES,
    EMPTY_MATCH_IMAGES,
    EMPTY_MATCH_NAMESPACES,
    describe_value,
)
from gate.policy.sources import build_evidence_sources
from gate.policy.verdict import Decision
from gate.policy.yamlpos import FieldPath
from gate.purl import PackageUrl, PurlError
from gate.scanners.finding import Severity
from gate.signatures.keyless.authority import PUBLIC_GOOD, IdentityPattern, KeylessTrust
from gate.signatures.keys import PublicKey, load_public_key
from gate.signatures.notary.authority import DEFAULT_GUN, NotaryTrust, check_gun_template
from gate.signatures.notary.repository import PinnedRoot, load_pinned_root
from gate.signatures.notation.authority import (
    NotationTrust,
    TrustedCertificate,
    VerificationLevel,
)
from gate.signatures.trust import TrustAuthority
from gate.vex.load import load_vex
from gate.vex.model import VexDocument

MAX_KEY_FILE_BYTES = 64 * 1024
MAX_VEX_BYTES = 64 * 1024 * 1024
_PEM_PREFIX = "-----BEGIN"
_DELEGATION_RE = re.compile(r"targets/[^/\s]+(/[^/\s]+)*")
_NOTARY_FIELDS = frozenset({"server", "rootKeys", "delegations", "caFile", "gun", "offlineGrace"})
_KEYLESS_FIELDS = frozenset(
    {"issuer", "issuerRegExp", "subject", "subjectRegExp", "trustedRoot", "requireTlog"}
)
_NOTATION_FIELDS = frozenset(
    {"trustStore", "signingAuthorities", "trustedIdentities", "verificationLevel", "tsaRoots"}
)
#: A predicate type is a URI: a scheme, a colon, and something after it.
_ABSOLUTE_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")
_CHECK_SECTIONS = ("signatures", "vulnerabilities", "sbom", "attestations")
_SEVERITY_NAMES = ", ".join(s.name for s in Severity)

_SPEC: FieldPath = ("spec",)
_NOT_BUILT = (
    "could not be interpreted, so it is rejected rather than ignored (gate found no more "
    "specific problem: please report this policy)"
)

_T = TypeVar("_T")


def build_policy(
    data: Any, *, diagnostics: Diagnostics, base_dir: Path, source: Path, digest: Digest
) -> Policy | None:
    """Build the ``Policy`` from ``data``; report every semantic error to ``diagnostics``.

    Returns None when anything was reported (by this pass or before it):
    a policy is either entirely valid or not built at all.
    """
    builder = _Builder(diagnostics, base_dir)
    policy = builder.policy(data, source=source, digest=digest)
    if policy is None and not diagnostics.errors:
        diagnostics.error((), "the policy " + _NOT_BUILT)
    return None if diagnostics.errors else policy


class _Builder:
    def __init__(self, diagnostics: Diagnostics, base_dir: Path) -> None:
        self.diag = diagnostics
        self.base_dir = base_dir
        self.trust: dict[str, TrustAuthority] = {}

    def error(self, path: FieldPath, reason: str, *, at_key: bool = False) -> None:
        self.diag.error(path, reason, at_key=at_key)

    def unless_reported(self, path: FieldPath, reason: str) -> None:
        """Report ``reason`` at ``path`` unless something at or below it was reported already.

        The guard behind every "built nothing" return: a present value that
        yields no model object must leave an error behind, never a silent gap.
        """
        if not self.diag.has_error_under(path):
            self.error(path, reason)

    def section(
        self, raw: dict[str, Any], path: FieldPath, key: str, build: Callable[[Any, FieldPath], _T]
    ) -> _T | None:
        """Build ``raw[key]`` with ``build``; a present section that builds to None is an error."""
        if key not in raw:
            return None
        section_path = (*path, key)
        built = build(raw[key], section_path)
        if built is None:
            self.unless_reported(section_path, f"{key} section {_NOT_BUILT}")
        return built

    def strings(self, raw: Any, path: FieldPath, what: str) -> list[tuple[int, str]]:
        """The non-empty strings of the list ``raw``, with their indexes; reports anything else."""
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.error(path, f"expected a list of {what}, got {describe_value(raw)}")
            return []
        entries: list[tuple[int, str]] = []
        for index, entry in enumerate(raw):
            if not isinstance(entry, str):
                self.error((*path, index), f"expected a string, got {describe_value(entry)}")
            elif not entry.strip():
                self.error((*path, index), "must not be empty")
            else:
                entries.append((index, entry))
        return entries

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
        elif trust is not None:
            self.error((*_SPEC, "trust"), f"expected a mapping, got {describe_value(trust)}")
        rules: list[Rule] = []
        raw_rules = spec.get("rules")
        if raw_rules is not None and not isinstance(raw_rules, list):
            self.error((*_SPEC, "rules"), f"expected a list, got {describe_value(raw_rules)}")
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
                if rule is None:
                    # A rule that silently vanished would hand its images to
                    # a later, possibly more permissive rule.
                    self.unless_reported(path, f"rule {_NOT_BUILT}")
                else:
                    rules.append(rule)
        vex: list[VexDocument] = []
        for index, entry in self.strings(spec.get("vex"), (*_SPEC, "vex"), "VEX files"):
            document = self.vex_document(entry, (*_SPEC, "vex", index))
            if document is not None:
                vex.append(document)
        sources_path = (*_SPEC, "evidenceSources")
        sources = build_evidence_sources(
            spec.get("evidenceSources"), sources_path, self.diag, self.base_dir
        )
        exceptions_spec = spec.get("exceptions")
        max_days = DEFAULT_MAX_DAYS
        if isinstance(exceptions_spec, Mapping) and isinstance(exceptions_spec.get("maxDays"), int):
            max_days = exceptions_spec["maxDays"]  # range checked by the schema
        if not isinstance(name, str):
            return None  # the schema reported it; build_policy guards the rest
        return Policy(
            name=name,
            mode=mode,
            default_action=default_action,
            trust=MappingProxyType(dict(self.trust)),
            rules=tuple(rules),
            source=source,
            digest=digest,
            vex=tuple(vex),
            evidence_sources=sources,
            exceptions_max_days=max_days,
        )

    def vex_document(self, entry: str, path: FieldPath) -> VexDocument | None:
        file = Path(entry)
        if not file.is_absolute():
            file = self.base_dir / file
        try:
            return load_vex(read_input_file(file, "VEX file", limit=MAX_VEX_BYTES), entry)
        except InputError as exc:
            self.error(path, str(exc))
            return None

    # -- trust -----------------------------------------------------------------------

    def authority(self, name: str, raw: Any) -> None:
        path = (*_SPEC, "trust", name)
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            self.error(path, f"expected a mapping, got {describe_value(raw)}")
            return
        keys: list[PublicKey] = []
        listed = 0
        cosign = raw.get("cosign")
        if isinstance(cosign, dict):
            entries_path = (*path, "cosign", "publicKeys")
            for index, entry in self.strings(cosign.get("publicKeys"), entries_path, "keys"):
                listed += 1
                key = self.public_key(entry, (*entries_path, index), name, index)
                if key is not None and key not in keys:
                    keys.append(key)
        elif cosign is not None:
            self.error((*path, "cosign"), f"expected a mapping, got {describe_value(cosign)}")
        notary: NotaryTrust | None = None
        if "notaryV1" in raw:
            listed += 1
            notary = self.notary(raw["notaryV1"], (*path, "notaryV1"), name)
        keyless: KeylessTrust | None = None
        if "keyless" in raw:
            listed += 1
            keyless = self.keyless(raw["keyless"], (*path, "keyless"))
        notation: NotationTrust | None = None
        if "notation" in raw:
            listed += 1
            notation = self.notation(raw["notation"], (*path, "notation"))
        if listed == 0:
            self.error(
                path,
                f'trust authority "{name}" has no trust material; give cosign.publicKeys, '
                "keyless, notaryV1 or notation",
                at_key=True,
            )
        self.trust[name] = TrustAuthority(
            name=name,
            cosign_keys=tuple(keys),
            notary=notary,
            keyless=keyless,
            notation=notation,
        )

    def known_fields(self, raw: dict[str, Any], path: FieldPath, known: frozenset[str]) -> bool:
        """Report every key of ``raw`` that is not in ``known``; True when there is none."""
        unknown = [key for key in raw if key not in known]
        for key in unknown:
            self.error(
                (*path, key),
                f'unknown field "{key}" (expected one of {", ".join(sorted(known))})',
                at_key=True,
            )
        return not unknown

    def keyless(self, raw: Any, path: FieldPath) -> KeylessTrust | None:
        if not isinstance(raw, dict):
            self.error(path, f"expected a mapping, got {describe_value(raw)}")
            return None
        ok = True
        patterns: dict[str, IdentityPattern] = {}
        for field_name in ("subject", "issuer"):
            exact, pattern = raw.get(field_name), raw.get(f"{field_name}RegExp")
            if exact is not None and pattern is not None:
                self.error(
                    (*path, f"{field_name}RegExp"),
                    f"give {field_name} or {field_name}RegExp, not both",
                    at_key=True,
                )
                ok = False
            elif exact is None and pattern is None:
                self.error(
                    path,
                    f'missing "{field_name}" (or "{field_name}RegExp"): a keyless identity '
                    "names both who signed and who issued the certificate",
                )
                ok = False
            elif exact is not None:
                if not isinstance(exact, str) or not exact.strip():
                    self.error((*path, field_name), "expected a non-empty string")
                    ok = False
                else:
                    patterns[field_name] = IdentityPattern(exact)
            else:
                key = f"{field_name}RegExp"
                if not isinstance(pattern, str) or not pattern.strip():
                    self.error((*path, key), "expected a non-empty regular expression")
                    ok = False
                    continue
                try:
                    re.compile(pattern)
                except re.error as exc:
                    self.error((*path, key), f"not a regular expression: {exc}")
                    ok = False
                    continue
                patterns[field_name] = IdentityPattern(pattern, regexp=True)
        trusted_root: Path | None = None
        raw_root = raw.get("trustedRoot", PUBLIC_GOOD)
        if not isinstance(raw_root, str) or not raw_root.strip():
            self.error((*path, "trustedRoot"), "expected sigstore-public-good or a file path")
            ok = False
        elif raw_root != PUBLIC_GOOD:
            trusted_root = Path(raw_root)
            if not trusted_root.is_absolute():
                trusted_root = self.base_dir / trusted_root
        # Imported here: sigstore is heavy, and only policies with keyless trust need it.
        from gate.signatures.keyless.trusted_root import load_trusted_root  # noqa: PLC0415

        try:
            load_trusted_root(trusted_root)
        except GateError as exc:
            self.error((*path, "trustedRoot"), str(exc))
            ok = False
        require_tlog = raw.get("requireTlog", True)
        if not isinstance(require_tlog, bool):
            self.error(
                (*path, "requireTlog"),
                f"expected true or false, got {describe_value(require_tlog)}",
            )
            ok = False
        if not self.known_fields(raw, path, _KEYLESS_FIELDS):
            ok = False
        if not ok or "subject" not in patterns or "issuer" not in patterns:
            return None
        return KeylessTrust(
            subject=patterns["subject"],
            issuer=patterns["issuer"],
            trusted_root=trusted_root,
            require_tlog=bool(require_tlog),
        )

    def certificates(self, raw: Any, path: FieldPath, what: str) -> list[TrustedCertificate] | None:
        """The X.509 certificates of the PEM files listed in ``raw`` (None after an error)."""
        found: list[TrustedCertificate] = []
        ok = True
        for index, entry in self.strings(raw, path, what):
            pem = self.pem_entry(entry, (*path, index), f"{what} {index + 1} (inline)")
            if pem is None:
                ok = False
                continue
            label = (
                entry
                if not entry.lstrip().startswith(_PEM_PREFIX)
                else f"{what} {index + 1} (inline)"
            )
            try:
                certificates = x509.load_pem_x509_certificates(pem)
            except ValueError as exc:
                self.error((*path, index), f"{label}: not PEM certificates ({exc})")
                ok = False
                continue
            found.extend(TrustedCertificate(c, label) for c in certificates)
        return found if ok else None

    def notation(self, raw: Any, path: FieldPath) -> NotationTrust | None:
        if not isinstance(raw, dict):
            self.error(path, f"expected a mapping, got {describe_value(raw)}")
            return None
        ok = True
        store = self.certificates(raw.get("trustStore"), (*path, "trustStore"), "trust store")
        if "trustStore" not in raw:
            self.error(path, 'missing required field "trustStore"')
            ok = False
        elif store is not None and not store:
            self.error((*path, "trustStore"), "list at least one CA certificate file")
            ok = False
        tsa = self.certificates(raw.get("tsaRoots"), (*path, "tsaRoots"), "TSA root")
        authorities = self.certificates(
            raw.get("signingAuthorities"), (*path, "signingAuthorities"), "signing authority"
        )
        identities: list[str] = []
        ids_path = (*path, "trustedIdentities")
        if "trustedIdentities" not in raw:
            self.error(path, 'missing required field "trustedIdentities" (or ["*"])')
            ok = False
        for index, identity in self.strings(raw.get("trustedIdentities"), ids_path, "identities"):
            reason = _identity_problem(identity)
            if reason is not None:
                self.error((*ids_path, index), reason)
                ok = False
            else:
                identities.append(identity.strip())
        if "*" in identities and len(identities) > 1:
            self.error(ids_path, '"*" trusts every identity; list it alone')
            ok = False
        level_text = raw.get("verificationLevel", "strict")
        try:
            level = VerificationLevel(level_text)
        except ValueError:
            self.error(
                (*path, "verificationLevel"),
                f"expected strict, permissive or audit, got {describe_value(level_text)}",
            )
            ok = False
            level = VerificationLevel.STRICT
        if not self.known_fields(raw, path, _NOTATION_FIELDS):
            ok = False
        if not ok or store is None or tsa is None or authorities is None or not identities:
            return None
        return NotationTrust(
            trust_store=tuple(store),
            trusted_identities=tuple(identities),
            verification_level=level,
            tsa_roots=tuple(tsa),
            signing_authorities=tuple(authorities),
        )

    def notary(self, raw: Any, path: FieldPath, authority: str) -> NotaryTrust | None:
        if not isinstance(raw, dict):
            self.error(path, f"expected a mapping, got {describe_value(raw)}")
            return None
        ok = True
        server = raw.get("server")
        if not isinstance(server, str):
            if "server" in raw:
                self.error((*path, "server"), f"expected a URL, got {describe_value(server)}")
            else:
                self.error(path, 'missing required field "server"')
            ok = False
        else:
            reason = _notary_server_problem(server)
            if reason is not None:
                self.error((*path, "server"), reason)
                ok = False
        roots: list[PinnedRoot] = []
        roots_path = (*path, "rootKeys")
        if "rootKeys" not in raw:
            self.error(path, 'missing required field "rootKeys" (no trust on first use)')
            ok = False
        for index, entry in self.strings(raw.get("rootKeys"), roots_path, "root keys"):
            root = self.pinned_root(entry, (*roots_path, index), authority, index)
            if root is None:
                ok = False
            elif root not in roots:
                roots.append(root)
        if "rootKeys" in raw and not roots and ok:
            self.error(roots_path, "list at least one pinned root key")
            ok = False
        delegations: list[str] = []
        for index, role in self.strings(raw.get("delegations"), (*path, "delegations"), "roles"):
            if not _DELEGATION_RE.fullmatch(role):
                self.error(
                    (*path, "delegations", index),
                    f'"{role}" is not a delegation role; write targets/<name>, e.g. '
                    "targets/releases",
                )
                ok = False
            elif role not in delegations:
                delegations.append(role)
        ca_file: Path | None = None
        raw_ca = raw.get("caFile")
        if raw_ca is not None:
            if not isinstance(raw_ca, str) or not raw_ca.strip():
                self.error((*path, "caFile"), f"expected a file path, got {describe_value(raw_ca)}")
                ok = False
            else:
                ca_file = Path(raw_ca)
                if not ca_file.is_absolute():
                    ca_file = self.base_dir / ca_file
                if not ca_file.is_file():
                    what = "is not a file" if ca_file.exists() else "not found"
                    self.error((*path, "caFile"), f"CA file {raw_ca} {what} (looked at {ca_file})")
                    ok = False
        gun = raw.get("gun", DEFAULT_GUN)
        if not isinstance(gun, str) or not gun.strip():
            self.error((*path, "gun"), f"expected a template string, got {describe_value(gun)}")
            ok = False
        else:
            try:
                check_gun_template(gun)
            except ValueError as exc:
                self.error((*path, "gun"), str(exc))
                ok = False
        grace: timedelta | None = None
        raw_grace = raw.get("offlineGrace")
        if raw_grace is not None:
            try:
                if not isinstance(raw_grace, str):
                    raise ValueError(
                        f"expected a duration such as 1h, got {describe_value(raw_grace)}"
                    )
                grace = parse_duration(raw_grace)
            except ValueError as exc:
                self.error((*path, "offlineGrace"), str(exc))
                ok = False
        if not self.known_fields(raw, path, _NOTARY_FIELDS):
            ok = False
        if not ok or not isinstance(server, str) or not isinstance(gun, str):
            return None
        return NotaryTrust(
            server=server.rstrip("/"),
            root_keys=tuple(roots),
            delegations=tuple(delegations),
            ca_file=ca_file,
            gun_template=gun,
            offline_grace=grace,
        )

    def pinned_root(
        self, entry: str, path: FieldPath, authority: str, index: int
    ) -> PinnedRoot | None:
        pem = self.pem_entry(entry, path, f"{authority} root key {index + 1} (inline)")
        if pem is None:
            return None
        label = (
            entry
            if not entry.lstrip().startswith(_PEM_PREFIX)
            else f"{authority} root key {index + 1} (inline)"
        )
        try:
            return load_pinned_root(pem, label)
        except GateError as exc:
            self.error(path, f"{label}: {exc}")
            return None

    def pem_entry(self, entry: str, path: FieldPath, inline_label: str) -> bytes | None:
        """The PEM bytes of ``entry``: inline PEM text, or a file relative to the policy."""
        if entry.lstrip().startswith(_PEM_PREFIX):
            return entry.encode("utf-8")
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
        return pem

    def public_key(
        self, entry: str, path: FieldPath, authority: str, index: int
    ) -> PublicKey | None:
        inline = f"{authority} key {index + 1} (inline)"
        pem = self.pem_entry(entry, path, inline)
        if pem is None:
            return None
        label = inline if entry.lstrip().startswith(_PEM_PREFIX) else entry
        try:
            return load_public_key(pem, label=label)
        except InputError as exc:
            self.error(path, f"{label}: {exc.reason}")
            return None

    # -- rules -----------------------------------------------------------------------

    def rule(self, raw: Any, path: FieldPath) -> Rule | None:
        if not isinstance(raw, dict):
            self.error(path, f"expected a mapping, got {describe_value(raw)}")
            return None
        ok = True
        match = self.section(raw, path, "match", self.match)
        if "match" not in raw:
            self.error((*path, "match"), 'missing required field "match"')
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
        # Each present section either builds or leaves an error behind
        # (self.section); a rule is only built when all of them built.
        signatures = self.section(raw, path, "signatures", self.signatures)
        vulnerabilities = scan = None
        built = self.section(raw, path, "vulnerabilities", self.vulnerabilities)
        if built is not None:
            vulnerabilities, scan = built
        sbom = self.section(raw, path, "sbom", self.sbom)
        attestations = self.section(raw, path, "attestations", self.attestations)
        for key, value in (
            ("signatures", signatures),
            ("vulnerabilities", vulnerabilities),
            ("sbom", sbom),
            ("attestations", attestations),
        ):
            if key in raw and value is None:
                ok = False
        name = raw.get("name")
        if not isinstance(name, str):
            self.unless_reported((*path, "name"), "a rule needs a name")
        if not ok or match is None or not isinstance(name, str):
            return None
        return Rule(
            name=name,
            match=match,
            action=_decision(raw.get("action")),
            mode=_mode(raw.get("mode")),
            on_error=_decision(raw.get("onError")) or Decision.DENY,
            signatures=signatures,
            vulnerabilities=vulnerabilities,
            scan=scan,
            sbom=sbom,
            attestations=attestations,
        )

    def match(self, raw: Any, path: FieldPath) -> Match | None:
        if not isinstance(raw, dict):
            self.error(path, f"expected a mapping, got {describe_value(raw)}")
            return None
        images_path = (*path, "images")
        namespaces_path = (*path, "namespaces")
        raw_images = raw.get("images")
        raw_namespaces = raw.get("namespaces")
        images = self.image_globs(raw_images, images_path, EMPTY_MATCH_IMAGES)
        namespaces: list[NamespaceGlob] = []
        if raw_namespaces == []:
            # An empty list would leave the rule unconstrained by namespace.
            self.error(namespaces_path, EMPTY_MATCH_NAMESPACES)
        for index, pattern in self.strings(raw_namespaces, namespaces_path, "namespace globs"):
            try:
                namespaces.append(NamespaceGlob.compile(pattern))
            except GlobError as exc:
                self.error((*namespaces_path, index), str(exc))
        if raw_images is None and raw_namespaces is None:
            self.error(path, "match selects nothing; give images, namespaces or both")
            return None
        if self.diag.has_error_under(path):
            return None
        return Match(images=images, namespaces=tuple(namespaces))

    def image_globs(self, raw: Any, path: FieldPath, empty_reason: str) -> tuple[ImageGlob, ...]:
        """Compile the image globs of the list ``raw``; an empty list is an error."""
        if raw == []:
            self.error(path, empty_reason)
        globs: list[ImageGlob] = []
        for index, pattern in self.strings(raw, path, "image globs"):
            try:
                globs.append(ImageGlob.compile(pattern))
            except GlobError as exc:
                self.error((*path, index), str(exc))
        return tuple(globs)

    # -- signatures ------------------------------------------------------------------

    def signatures(self, raw: Any, path: FieldPath) -> SignatureRequirement | None:
        if not isinstance(raw, dict):
            self.error(path, f"expected a mapping, got {describe_value(raw)}")
            return None
        if len(raw) != 1:
            self.error(path, "give exactly one of anyOf, allOf, threshold")
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
            # JSON Schema calls 1.0 an integer, so the schema lets it through:
            # a whole-number float is that number, anything else an error.
            needed = _whole_number(raw_count)
            if needed is None:
                self.error(
                    (*tpath, "count"),
                    f"threshold count must be a whole number, got {describe_value(raw_count)}",
                )
                return None
            if needed < 1:
                self.error((*tpath, "count"), f"threshold count must be at least 1, got {needed}")
                return None
            if authorities is None:
                return None
            # threshold counts distinct trusted keys, so one authority holding
            # several keys can satisfy a count above the number of authorities.
            keys = {signer for a in authorities for signer in a.possible_signers}
            if needed > len(keys):
                self.error(
                    (*tpath, "count"),
                    f"threshold count {needed} can never be met: the authorities listed in of "
                    f"hold {len(keys)} distinct {'signer' if len(keys) == 1 else 'signers'}",
                )
                return None
            return SignatureRequirement(Combinator.THRESHOLD, authorities, needed)
        if key == "threshold":
            self.error((*path, key), f"expected a mapping, got {describe_value(value)}")
        else:
            self.error(
                (*path, key),
                f'unknown field "{key}" (expected one of allOf, anyOf, threshold)',
                at_key=True,
            )
        return None

    def authority_list(
        self, raw: Any, path: FieldPath, what: str
    ) -> tuple[TrustAuthority, ...] | None:
        if raw is None:
            self.error(path, f"{what} is missing; list at least one trust authority")
            return None
        if isinstance(raw, list) and not raw:
            self.error(path, f"{what} is empty; list at least one trust authority")
            return None
        authorities: list[TrustAuthority] = []
        seen: set[str] = set()
        ok = isinstance(raw, list)
        entries = self.strings(raw, path, "trust authority names")
        if isinstance(raw, list) and len(entries) != len(raw):
            ok = False
        for index, name in entries:
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
            self.error(path, f"expected a mapping, got {describe_value(raw)}")
            return None
        severity: Severity | None = None
        raw_severity = raw.get("denySeverity")
        if raw_severity is not None:
            severity = self.severity_name(raw_severity, (*path, "denySeverity"))
        max_cvss: float | None = None
        raw_cvss = raw.get("maxCvss")
        if raw_cvss is not None:
            if (
                isinstance(raw_cvss, bool)
                or not isinstance(raw_cvss, int | float)
                or not math.isfinite(raw_cvss)
                or not 0 <= raw_cvss <= 10
            ):
                self.error((*path, "maxCvss"), "must be a number from 0 to 10")
            else:
                max_cvss = float(raw_cvss)
        deny_ids: set[str] = set()
        for _, entry in self.strings(raw.get("denyIds"), (*path, "denyIds"), "vulnerability ids"):
            deny_ids.add(entry.strip().casefold())
        exceptions: list[VulnerabilityException] = []
        raw_exceptions = raw.get("exceptions")
        if isinstance(raw_exceptions, list):
            for index, raw_exception in enumerate(raw_exceptions):
                exception_path = (*path, "exceptions", index)
                exception = self.exception(raw_exception, exception_path)
                if exception is None:
                    self.unless_reported(exception_path, f"exception {_NOT_BUILT}")
                else:
                    exceptions.append(exception)
        elif raw_exceptions is not None:
            self.error(
                (*path, "exceptions"), f"expected a list, got {describe_value(raw_exceptions)}"
            )
        max_age = None
        max_age_text = raw.get("maxScanAge")
        if isinstance(max_age_text, str):
            try:
                max_age = parse_duration(max_age_text)
            except ValueError as exc:
                self.error((*path, "maxScanAge"), str(exc))
        elif max_age_text is not None:
            self.error(
                (*path, "maxScanAge"), f"expected a string, got {describe_value(max_age_text)}"
            )
            max_age_text = None
        fixable_only = self.boolean(raw, "fixableOnly", path, default=False)
        require_scan = self.boolean(raw, "requireScan", path, default=True)
        risk = self.risk(raw, path, fixable_only=fixable_only)
        attested = self.attesting_authorities(raw, path)
        if self.diag.has_error_under(path) or risk is None:
            return None
        policy = VulnerabilityPolicy(
            deny_severity=severity,
            fixable_only=fixable_only,
            max_cvss=max_cvss,
            deny_ids=frozenset(deny_ids),
            exceptions=tuple(exceptions),
            **risk,
        )
        scan = ScanPolicy(
            require=require_scan,
            max_age=max_age,
            max_age_text=max_age_text,
            from_attestation=attested,
        )
        return policy, scan

    def severity_name(self, raw: Any, path: FieldPath) -> Severity | None:
        """One of the five severity names (any case); reports anything else.

        Only the names of the scale: ``Severity.parse`` would also take scanner
        words ("moderate") and turn unknown ones into UNKNOWN.
        """
        name = raw.strip().upper() if isinstance(raw, str) else None
        severity = Severity.__members__.get(name) if name else None
        if severity is None:
            self.error(path, f"must be one of {_SEVERITY_NAMES}")
        return severity

    def risk_file(self, raw: dict[str, Any], key: str, path: FieldPath) -> Path | None:
        value = raw.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.error((*path, key), f"expected a file path, got {describe_value(value)}")
            return None
        file = Path(value)
        return file if file.is_absolute() else self.base_dir / file

    def risk(
        self, raw: dict[str, Any], path: FieldPath, *, fixable_only: bool
    ) -> dict[str, Any] | None:
        """The risk-based limits of a vulnerabilities section (graceDays, kev, minEpss...)."""
        risk: dict[str, Any] = {}
        ok = True
        if "unfixableSeverity" in raw:
            risk["unfixable_severity"] = self.severity_name(
                raw["unfixableSeverity"], (*path, "unfixableSeverity")
            )
            if not fixable_only:
                self.error(
                    (*path, "unfixableSeverity"),
                    "only means something with fixableOnly: true (without it denySeverity "
                    "already applies to unfixable findings)",
                )
                ok = False
        grace = raw.get("graceDays")
        if grace is not None:
            days: dict[Severity, int] = {}
            if not isinstance(grace, dict):
                self.error((*path, "graceDays"), f"expected a mapping, got {describe_value(grace)}")
                ok = False
            else:
                for name, value in grace.items():
                    severity = self.severity_name(name, (*path, "graceDays", name))
                    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                        self.error(
                            (*path, "graceDays", name), "expected a whole number of days (>= 0)"
                        )
                        ok = False
                    elif severity is not None:
                        days[severity] = value
            risk["grace_days"] = MappingProxyType(days)
        kev = raw.get("kev", "ignore")
        if kev not in ("deny", "ignore"):
            self.error((*path, "kev"), f"expected deny or ignore, got {describe_value(kev)}")
            ok = False
        risk["deny_kev"] = kev == "deny"
        catalog = self.risk_file(raw, "kevCatalog", path)
        if catalog is not None:
            if kev != "deny":
                self.error((*path, "kevCatalog"), "a KEV catalog needs kev: deny")
                ok = False
            try:
                risk["kev_ids"] = load_kev_catalog(catalog)
                risk["kev_source"] = raw["kevCatalog"]
            except InputError as exc:
                self.error((*path, "kevCatalog"), str(exc))
                ok = False
        min_epss = raw.get("minEpss")
        if min_epss is not None:
            if (
                isinstance(min_epss, bool)
                or not isinstance(min_epss, int | float)
                or not 0 <= min_epss <= 1
            ):
                self.error((*path, "minEpss"), "must be a probability from 0 to 1")
                ok = False
            else:
                risk["min_epss"] = float(min_epss)
        scores = self.risk_file(raw, "epssFile", path)
        if scores is not None:
            if min_epss is None:
                self.error((*path, "epssFile"), "EPSS scores need minEpss")
                ok = False
            try:
                risk["epss_scores"] = MappingProxyType(load_epss_scores(scores))
                risk["epss_source"] = raw["epssFile"]
            except InputError as exc:
                self.error((*path, "epssFile"), str(exc))
                ok = False
        return risk if ok else None

    def boolean(self, raw: dict[str, Any], key: str, path: FieldPath, *, default: bool) -> bool:
        """``raw[key]`` when it is true or false, ``default`` when absent; otherwise an error."""
        value = raw.get(key)
        if value is None and key not in raw:
            return default
        if not isinstance(value, bool):
            self.error((*path, key), f"expected true or false, got {describe_value(value)}")
            return default
        return value

    def exception(self, raw: Any, path: FieldPath) -> VulnerabilityException | None:
        if not isinstance(raw, dict):
            self.error(path, f"expected a mapping, got {describe_value(raw)}")
            return None
        expires: date | None = None
        raw_expires = raw.get("expires")
        if isinstance(raw_expires, str):
            try:
                expires = date.fromisoformat(raw_expires)
            except ValueError as exc:
                self.error((*path, "expires"), f'not a valid date "{raw_expires}": {exc}')
        elif raw_expires is not None:
            self.error((*path, "expires"), "not a date: write YYYY-MM-DD (e.g. 2027-01-31)")
        images = self.image_globs(raw.get("images"), (*path, "images"), EMPTY_EXCEPTION_IMAGES)
        vuln_id = raw.get("id")
        reason = raw.get("reason")
        for key, value in (("id", vuln_id), ("reason", reason)):
            if not isinstance(value, str) or not value.strip():
                self.unless_reported((*path, key), f"{key} must be a non-empty string")
        if self.diag.has_error_under(path):
            return None
        if not isinstance(vuln_id, str) or not isinstance(reason, str):  # pragma: no cover
            return None
        return VulnerabilityException(
            id=vuln_id.strip(), reason=reason, images=images, expires=expires
        )

    # -- sbom ------------------------------------------------------------------------

    def sbom(self, raw: Any, path: FieldPath) -> SbomPolicy | None:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            self.error(path, f"expected a mapping, got {describe_value(raw)}")
            return None
        licenses: list[str] = []
        licenses_path = (*path, "deniedLicenses")
        for index, entry in self.strings(raw.get("deniedLicenses"), licenses_path, "license ids"):
            if not is_license_id(entry):
                self.error(
                    (*licenses_path, index),
                    f'not a license id: "{entry}" (give one SPDX id such as AGPL-3.0-only, '
                    "not an expression)",
                )
            else:
                licenses.append(entry)
        packages: list[PackageUrl] = []
        packages_path = (*path, "deniedPackages")
        for index, entry in self.strings(raw.get("deniedPackages"), packages_path, "package URLs"):
            try:
                packages.append(PackageUrl.parse(entry))
            except PurlError as exc:
                self.error((*packages_path, index), f'not a package URL "{entry}": {exc}')
        require = self.boolean(raw, "require", path, default=True)
        attested = self.attesting_authorities(raw, path)
        if self.diag.has_error_under(path):
            return None
        return SbomPolicy(
            require=require,
            denied_licenses=tuple(licenses),
            denied_packages=tuple(packages),
            from_attestation=attested,
        )

    # -- attestations ----------------------------------------------------------------

    def attesting_authorities(
        self, raw: dict[str, Any], path: FieldPath, key: str = "fromAttestation"
    ) -> tuple[TrustAuthority, ...]:
        """The authorities of ``raw[key]`` (empty when absent); each must verify attestations.

        Attestations are DSSE envelopes signed by a key or a keyless identity,
        so an authority holding only Notary or Notation material could never
        verify one: a rule naming it could never pass, which is an error.
        """
        if key not in raw:
            return ()
        list_path = (*path, key)
        authorities = self.authority_list(raw[key], list_path, key)
        if authorities is None:
            return ()
        names = [name for _, name in self.strings(raw[key], list_path, "trust authority names")]
        for index, authority in enumerate(authorities):
            if not authority.cosign_keys and authority.keyless is None:
                self.error(
                    (*list_path, index),
                    f'trust authority "{names[index]}" has neither cosign keys nor a keyless '
                    "identity, so it cannot verify attestations",
                )
        return authorities

    def attestations(self, raw: Any, path: FieldPath) -> tuple[AttestationRequirement, ...] | None:
        if not isinstance(raw, list):
            self.error(path, f"expected a list, got {describe_value(raw)}")
            return None
        if not raw:
            self.error(path, "attestations is empty; list at least one required predicate type")
            return None
        requirements: list[AttestationRequirement] = []
        seen: dict[str, int] = {}
        for index, entry in enumerate(raw):
            entry_path = (*path, index)
            if not isinstance(entry, dict):
                self.error(entry_path, f"expected a mapping, got {describe_value(entry)}")
                continue
            predicate_type = entry.get("predicateType")
            type_path = (*entry_path, "predicateType")
            if not isinstance(predicate_type, str) or not predicate_type.strip():
                self.unless_reported(type_path, "predicateType must be a non-empty string")
                predicate_type = None
            elif not _ABSOLUTE_URI.fullmatch(predicate_type):
                self.error(
                    type_path,
                    f'predicateType "{predicate_type}" is not a URI (write the full type, '
                    "e.g. https://slsa.dev/provenance/v1)",
                )
                predicate_type = None
            elif predicate_type in seen:
                self.error(
                    type_path,
                    f'predicateType "{predicate_type}" is listed twice '
                    f"(also attestations[{seen[predicate_type]}])",
                )
                predicate_type = None
            else:
                seen[predicate_type] = index
            if "signedBy" not in entry:
                self.unless_reported((*entry_path, "signedBy"), 'missing required field "signedBy"')
                continue
            signed_by = self.attesting_authorities(entry, entry_path, "signedBy")
            if predicate_type is not None and signed_by:
                requirements.append(AttestationRequirement(predicate_type, signed_by))
        if self.diag.has_error_under(path):
            return None
        return tuple(requirements)


def _mode(value: Any) -> Mode | None:
    return Mode(value) if isinstance(value, str) and value in _MODES else None


def _decision(value: Any) -> Decision | None:
    return Decision(value) if isinstance(value, str) and value in _DECISIONS else None


_MODES = frozenset(m.value for m in Mode)
_DECISIONS = frozenset(d.value for d in Decision)


def _whole_number(value: Any) -> int | None:
    """``value`` as an int when it is a whole number (``2`` or ``2.0``), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def _notary_server_problem(url: str) -> str | None:
    """Why ``url`` cannot be a Notary server base URL, or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        return f'"{url}" is not an http(s) URL'
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return f'"{url}": give the server\'s base URL only (no path, query or fragment)'
    if parts.scheme == "http" and not is_loopback(parts.netloc):
        return f'"{url}": plain http is only allowed to a loopback address; use https'
    return None


def _identity_problem(identity: str) -> str | None:
    """Why ``identity`` cannot be a Notation trusted identity, or None."""
    text = identity.strip()
    if text == "*":
        return None
    prefix = "x509.subject:"
    if not text.startswith(prefix):
        return (
            f'"{identity}": write "x509.subject: <DN>" '
            '(e.g. x509.subject: C=US, O=Acme, CN=release) or "*"'
        )
    dn = text[len(prefix) :].strip()
    parts = [p.strip() for p in dn.split(",")]
    if not dn or any(
        "=" not in p or not p.split("=", 1)[0].strip() or not p.split("=", 1)[1].strip()
        for p in parts
    ):
        return (
            f'"{identity}": the distinguished name must be attribute=value pairs '
            "separated by commas"
        )
    return None
