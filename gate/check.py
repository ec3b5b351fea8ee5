"""Wiring of one check: reference -> digest -> evidence -> policy -> image verdict.

This is the only place that knows the order of the steps; the CLI and the
admission webhook both call it. Each image is resolved once, and everything
after that is verified against that digest (no second lookup of the tag).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from gate.binding import bind
from gate.clock import Clock, system_clock
from gate.errors import GateError
from gate.oci.client import Platform, RegistryClient
from gate.oci.reference import ImageReference
from gate.oci.source import ManifestSource, ResolvedImage
from gate.policy.evaluate import evaluate
from gate.policy.evidence import ImageEvidence
from gate.policy.model import Policy
from gate.policy.select import required_authorities, select_rule
from gate.policy.verdict import CheckResult, Decision, ImageVerdict, Outcome, Verdict
from gate.sbom.component import Sbom
from gate.scanners.finding import ScanReport
from gate.signatures.cosign import CosignVerifier
from gate.signatures.evidence import AuthorityResult, SignatureVerifier
from gate.signatures.trust import TrustAuthority

#: Signature kinds by name; each builds a verifier over the registry interface.
VERIFIER_KINDS: Mapping[str, type[CosignVerifier]] = {"cosign": CosignVerifier}


@dataclass(frozen=True)
class CheckOptions:
    """What the caller says about the images besides their references."""

    namespace: str | None = None
    platform: Platform | None = None


@dataclass(frozen=True)
class CheckOutcome:
    """A verdict plus the errors that made some of it undecidable (exit 2 in the CLI)."""

    verdict: Verdict
    errors: tuple[GateError, ...] = ()
    undecided: tuple[str, ...] = field(default=())

    @property
    def decided(self) -> bool:
        """False when any image or check could not be decided (fail closed)."""
        return not self.errors and not self.undecided


def _merge(results: Sequence[AuthorityResult]) -> AuthorityResult:
    """One result per authority out of several kinds or digests."""
    first = results[0]
    errors = [r.error for r in results if r.error]
    return AuthorityResult(
        authority=first.authority,
        signatures=tuple(s for r in results for s in r.signatures),
        rejections=tuple(x for r in results for x in r.rejections),
        notes=tuple(x for r in results for x in r.notes),
        error="; ".join(errors) if errors else None,
    )


class Gate:
    """Checks images against one loaded policy using one registry client."""

    def __init__(
        self,
        policy: Policy,
        registry: RegistryClient,
        *,
        scans: Sequence[ScanReport] = (),
        sboms: Sequence[Sbom] = (),
        clock: Clock = system_clock,
        verifiers: Mapping[str, SignatureVerifier] | None = None,
    ) -> None:
        self._policy = policy
        self._registry = registry
        self._scans = tuple(scans)
        self._sboms = tuple(sboms)
        self._clock = clock
        source: ManifestSource = registry
        self._verifiers: Mapping[str, SignatureVerifier] = verifiers or {
            kind: factory(source) for kind, factory in VERIFIER_KINDS.items()
        }

    def _verify(self, image: ResolvedImage, authority: TrustAuthority) -> AuthorityResult:
        results: list[AuthorityResult] = []
        for kind in authority.kinds:
            verifier = self._verifiers[kind]
            result = verifier.verify(image, authority)
            if not result.satisfied and image.platform_digest is not None:
                # A signature on the chosen platform's manifest also covers that platform.
                platform_image = replace(image, digest=image.platform_digest)
                result = _merge([result, verifier.verify(platform_image, authority)])
                if result.signatures:
                    result = replace(result, error=None)
            results.append(result)
        if not results:
            return AuthorityResult(
                authority.name, error=f"authority '{authority.name}' has no trust material"
            )
        return _merge(results)

    def check_image(
        self, text: str, options: CheckOptions, *, single_image: bool
    ) -> tuple[ImageVerdict, GateError | None]:
        """Verdict for one image; on a resolution failure a deny plus the error."""
        now = self._clock()
        try:
            reference = ImageReference.parse(text)
            resolved = self._registry.resolve(reference, options.platform)
        except GateError as exc:
            verdict = ImageVerdict(
                reference=text,
                digest=None,
                decision=Decision.DENY,
                rule=None,
                reason=f"could not decide, denied: {exc}",
                checks=(CheckResult("resolve", Outcome.ERROR, str(exc)),),
                mode=self._policy.mode,
                namespace=options.namespace,
            )
            return verdict, exc
        rule = select_rule(self._policy, resolved.reference, options.namespace)
        signatures: dict[str, AuthorityResult] = {}
        if rule is not None:
            for authority in required_authorities(rule):
                signatures[authority.name] = self._verify(resolved, authority)
        digests = [resolved.digest]
        if resolved.platform_digest is not None:
            digests.append(resolved.platform_digest)
        binding = bind(reference, digests, self._scans, self._sboms, single_image=single_image)
        evidence = ImageEvidence(
            reference=resolved.reference,
            digest=resolved.digest,
            namespace=options.namespace,
            platform_digest=resolved.platform_digest,
            signatures=signatures,
            scans=binding.scans,
            sboms=binding.sboms,
            notes=binding.notes,
        )
        return evaluate(self._policy, evidence, now), None

    def check(self, images: Sequence[str], options: CheckOptions) -> CheckOutcome:
        """Check every image; the run's decision is the worst image decision."""
        now = self._clock()
        verdicts: list[ImageVerdict] = []
        errors: list[GateError] = []
        undecided: list[str] = []
        for text in images:
            verdict, error = self.check_image(text, options, single_image=len(images) == 1)
            verdicts.append(verdict)
            if error is not None:
                errors.append(error)
            for check in verdict.checks:
                if check.outcome is Outcome.ERROR and error is None:
                    undecided.append(f"{verdict.reference}: {check.check}: {check.reason}")
        result = Verdict.of(self._policy.name, tuple(verdicts), now.isoformat())
        return CheckOutcome(verdict=result, errors=tuple(errors), undecided=tuple(undecided))
