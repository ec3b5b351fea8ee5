"""Wiring of one check: reference -> digest -> evidence -> policy -> image verdict.

This is the only place that knows the order of the steps; the CLI and the
admission webhook both call it. Each image is resolved once, and everything
after that is verified against that digest (no second lookup of the tag).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from gate.attestations.evidence import AttestationResult, AttestationVerifier, merge_results
from gate.attestations.reader import AttestationReader
from gate.binding import Binding, bind
from gate.clock import Clock, system_clock
from gate.errors import GateError
from gate.evidence_sources.source import ScanSource, policy_sources, query_sources
from gate.exception_source import ExceptionSource, admissible
from gate.oci.client import Platform, RegistryClient
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.oci.source import ResolvedImage
from gate.policy.evaluate import apply_mode, evaluate, on_error_reason
from gate.policy.evidence import ImageEvidence
from gate.policy.exception_match import expired_exception_ids
from gate.policy.exceptions import CompiledException
from gate.policy.model import Policy, Rule
from gate.policy.select import (
    attestation_authorities,
    required_authorities,
    rule_before_resolution,
    select_rule,
)
from gate.policy.verdict import CheckResult, Decision, ImageVerdict, Outcome, Verdict
from gate.sbom.component import Sbom
from gate.scanners.finding import ScanReport
from gate.signatures.cosign import CosignVerifier
from gate.signatures.evidence import AuthorityResult, SignatureVerifier
from gate.signatures.lazy import LazyVerifier
from gate.signatures.notary.server import NotaryServers
from gate.signatures.notary.verifier import NotaryVerifier
from gate.signatures.trust import TrustAuthority
from gate.vex.model import VexDocument


def default_verifiers(registry: RegistryClient, clock: Clock) -> dict[str, SignatureVerifier]:
    """One verifier per signature kind, over ``registry`` (and its TLS and timeout settings)."""
    options = registry.options
    servers = NotaryServers(
        cert_dirs=registry.cert_dirs,
        timeout=options.timeout,
        deadline=options.deadline,
        user_agent=options.user_agent,
    )

    def keyless() -> SignatureVerifier:
        from gate.signatures.keyless.verifier import KeylessVerifier  # noqa: PLC0415 - see lazy.py

        return KeylessVerifier(registry, clock=clock)

    def notation() -> SignatureVerifier:
        from gate.signatures.notation.verifier import NotationVerifier  # noqa: PLC0415

        return NotationVerifier(registry, clock=clock)

    return {
        "cosign": CosignVerifier(registry),
        "notaryV1": NotaryVerifier(servers, clock=clock),
        "keyless": LazyVerifier(keyless),
        "notation": LazyVerifier(notation),
    }


#: Pins a reference to a digest (default: ``RegistryClient.resolve``). The webhook
#: passes one that answers a digest it has already fetched from its cache.
ImageResolver = Callable[[ImageReference, Platform | None], ResolvedImage]

#: Scans and SBOMs stored for an image's digests (the webhook reads the verdict
#: store's evidence); raises ``GateError`` when the evidence cannot be read.
EvidenceProvider = Callable[[ImageReference, Sequence[Digest]], Binding]


@dataclass(frozen=True)
class CheckOptions:
    """What the caller says about the images besides their references."""

    namespace: str | None = None
    platform: Platform | None = None


def _merge(results: Sequence[AuthorityResult]) -> AuthorityResult:
    """One result per authority out of several kinds or digests."""
    errors = [r.error for r in results if r.error]
    return AuthorityResult(
        authority=results[0].authority,
        signatures=tuple(s for r in results for s in r.signatures),
        rejections=tuple(x for r in results for x in r.rejections),
        notes=tuple(x for r in results for x in r.notes),
        error="; ".join(errors) if errors else None,
    )


def _needs_evidence(rule: Rule) -> bool:
    """True when the rule's checks read scan reports or SBOMs."""
    return rule.action is None and any(
        section is not None for section in (rule.vulnerabilities, rule.scan, rule.sbom)
    )


def _needs_scan(rule: Rule) -> bool:
    """True when the rule's checks read scan reports that evidence sources can supply.

    A rule that only accepts attested scans (``fromAttestation``) would not
    count a source's report, so no source is asked for it.
    """
    if rule.action is not None or (rule.vulnerabilities is None and rule.scan is None):
        return False
    return rule.scan is None or not rule.scan.from_attestation


def _undecided(verdict: ImageVerdict) -> list[str]:
    return [
        f"{verdict.reference}: {check.check}: {check.reason}"
        for check in verdict.checks
        if check.outcome is Outcome.ERROR
    ]


class Gate:
    """Checks images against one loaded policy using one registry client."""

    def __init__(
        self,
        policy: Policy,
        registry: RegistryClient,
        *,
        scans: Sequence[ScanReport] = (),
        sboms: Sequence[Sbom] = (),
        vex: Sequence[VexDocument] = (),
        clock: Clock = system_clock,
        verifiers: Mapping[str, SignatureVerifier] | None = None,
        resolver: ImageResolver | None = None,
        evidence: EvidenceProvider | None = None,
        sources: Sequence[ScanSource] | None = None,
        attestations: AttestationVerifier | None = None,
        exceptions: ExceptionSource | None = None,
    ) -> None:
        self._policy = policy
        # Stored exceptions, read only for rules with vulnerability limits.
        self._exceptions = exceptions
        self._registry = registry
        self._resolver: ImageResolver = resolver or registry.resolve
        self._evidence = evidence
        self._scans = tuple(scans)
        self._sboms = tuple(sboms)
        self._vex = (*policy.vex, *vex)
        self._clock = clock
        self._verifiers: Mapping[str, SignatureVerifier] = verifiers or default_verifiers(
            registry, clock
        )
        # Read only for rules that name attestations (fromAttestation, attestations).
        self._attestations: AttestationVerifier = attestations or AttestationReader(
            registry, clock=clock
        )
        # Default: the policy's evidenceSources, over the registry's TLS and timeouts.
        self._sources = tuple(
            policy_sources(policy.evidence_sources, registry, clock) if sources is None else sources
        )

    def _verify(self, image: ResolvedImage, authority: TrustAuthority) -> AuthorityResult:
        """Every kind of the authority's trust material against the image digest.

        With ``--platform``, a signature on the chosen platform's own manifest
        also covers that platform (cosign signs each manifest of an index with
        ``--recursive``); it is tried only when the index itself is not signed.
        """
        results: list[AuthorityResult] = []
        for kind in authority.kinds:
            verifier = self._verifiers.get(kind)
            if verifier is None:
                results.append(
                    AuthorityResult(
                        authority.name, error=f"{kind} signatures cannot be checked here"
                    )
                )
                continue
            result = verifier.verify(image, authority)
            if not result.satisfied and image.platform_digest is not None:
                platform = verifier.verify(replace(image, digest=image.platform_digest), authority)
                if platform.satisfied:
                    result = replace(_merge([result, platform]), error=None)
                else:
                    result = _merge([result, platform])
            results.append(result)
        if not results:
            return AuthorityResult(
                authority.name, error=f"authority '{authority.name}' has no trust material"
            )
        return _merge(results)

    def _read_attestations(
        self, image: ResolvedImage, authority: TrustAuthority
    ) -> AttestationResult:
        """The attestations of the image digest, and of the ``--platform`` manifest if any.

        cosign attests the digest it is given, so an index and each of its
        platform manifests may carry attestations of their own (SBOMs are
        usually per platform): for a chosen platform both count.
        """
        result = self._attestations.read(image, authority)
        if image.platform_digest is None:
            return result
        platform = self._attestations.read(replace(image, digest=image.platform_digest), authority)
        return merge_results([result, platform])

    @property
    def policy(self) -> Policy:
        """The policy this gate enforces."""
        return self._policy

    def _could_not_decide(
        self,
        text: str,
        digest: str | None,
        step: str,
        exc: GateError,
        options: CheckOptions,
        *,
        rule: Rule | None = None,
    ) -> tuple[ImageVerdict, GateError]:
        if rule is not None and rule.on_error is not Decision.DENY:
            mode = rule.mode or self._policy.mode
            decision, reason = apply_mode(
                mode, rule.on_error, on_error_reason(rule, f"{step}: {exc}")
            )
            excused = ImageVerdict(
                reference=text,
                digest=digest,
                decision=decision,
                rule=rule.name,
                reason=reason,
                checks=(CheckResult(step, Outcome.ERROR, str(exc)),),
                mode=mode.value,
                namespace=options.namespace,
            )
            return excused, exc
        verdict = ImageVerdict(
            reference=text,
            digest=digest,
            decision=Decision.DENY,
            rule=None,
            reason=f"could not decide, denied: {exc}",
            checks=(CheckResult(step, Outcome.ERROR, str(exc)),),
            mode=self._policy.mode,
            namespace=options.namespace,
        )
        return verdict, exc

    def check_image(
        self, text: str, options: CheckOptions, now: datetime
    ) -> tuple[ImageVerdict, GateError | None]:
        """Verdict for one image at ``now``; on a resolution failure a deny plus the error."""
        try:
            reference = ImageReference.parse(text)
        except GateError as exc:
            return self._could_not_decide(text, None, "resolve", exc, options)
        try:
            resolved = self._resolver(reference, options.platform)
        except GateError as exc:
            # No digest, so no rule yet: onError applies only when the rule is
            # certain without one (see rule_before_resolution).
            early = rule_before_resolution(self._policy, reference, options.namespace)
            return self._could_not_decide(text, None, "resolve", exc, options, rule=early)
        # The reference as written: a tag next to a digest was never verified, so
        # matching must be able to tell ``app:v1`` from ``app:v1@sha256:..``.
        rule = select_rule(self._policy, reference, options.namespace, digest=resolved.digest)
        signatures: dict[str, AuthorityResult] = {}
        attestations: dict[str, AttestationResult] = {}
        if rule is not None:
            for authority in required_authorities(rule):
                signatures[authority.name] = self._verify(resolved, authority)
            for authority in attestation_authorities(rule):
                attestations[authority.name] = self._read_attestations(resolved, authority)
        digests = [resolved.digest]
        if resolved.platform_digest is not None:
            digests.append(resolved.platform_digest)
        binding = bind(reference, digests, self._scans, self._sboms)
        if self._evidence is not None and rule is not None and _needs_evidence(rule):
            try:
                stored = self._evidence(reference, digests)
            except GateError as exc:
                return self._could_not_decide(
                    text, str(resolved.digest), "evidence", exc, options, rule=rule
                )
            binding = Binding(
                scans=binding.scans + stored.scans,
                sboms=binding.sboms + stored.sboms,
                notes=binding.notes + stored.notes,
                vex=stored.vex,
            )
        if self._sources and rule is not None and _needs_scan(rule) and not binding.scans:
            # Only when nothing given or stored is bound: the first source with a report wins.
            try:
                found = query_sources(self._sources, reference, digests)
            except GateError as exc:
                return self._could_not_decide(
                    text, str(resolved.digest), "scan", exc, options, rule=rule
                )
            binding = replace(binding, scans=found.scans, notes=binding.notes + found.notes)
        exceptions: tuple[CompiledException, ...] = ()
        if self._exceptions is not None and rule is not None and rule.vulnerabilities is not None:
            try:
                exceptions = admissible(
                    self._exceptions.current(), self._policy.exceptions_max_days
                )
            except GateError as exc:
                return self._could_not_decide(
                    text, str(resolved.digest), "exceptions", exc, options, rule=rule
                )
        evidence = ImageEvidence(
            reference=reference,
            digest=resolved.digest,
            namespace=options.namespace,
            platform_digest=resolved.platform_digest,
            signatures=signatures,
            scans=binding.scans,
            sboms=binding.sboms,
            notes=binding.notes,
            vex=(*self._vex, *binding.vex),
            attestations=attestations,
            exceptions=exceptions,
        )
        verdict = evaluate(self._policy, evidence, now)
        if exceptions and self._exceptions is not None:
            expired = expired_exception_ids(verdict)
            if expired:
                self._exceptions.noticed_expired(expired, now)
        return verdict, None

    def _excused(self, verdict: ImageVerdict) -> bool:
        """True when what could not be decided was decided by its rule's ``onError``."""
        rule = next((r for r in self._policy.rules if r.name == verdict.rule), None)
        return (
            rule is not None
            and rule.on_error is not Decision.DENY
            and verdict.decision is not Decision.DENY
        )

    def check(self, images: Sequence[str], options: CheckOptions) -> Verdict:
        """Check every image at one instant; the run's decision is the worst image decision.

        Anything that could not be decided denies its image and is listed in
        ``Verdict.errors``, which makes the run undecided whatever the mode,
        unless the image's rule says ``onError: allow`` (or ``warn``): then
        that rule decided it, explicitly, and the cause is in its reason.
        """
        now = self._clock()
        verdicts: list[ImageVerdict] = []
        errors: list[str] = []
        for text in images:
            verdict, error = self.check_image(text, options, now)
            verdicts.append(verdict)
            if self._excused(verdict):
                continue  # the rule's onError decided it, explicitly
            errors.extend([str(error)] if error is not None else _undecided(verdict))
        return Verdict.of(self._policy.name, tuple(verdicts), now.isoformat(), tuple(errors))
