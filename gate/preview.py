"""Impact preview of a policy change: what the stored history would have been under it.

Every distinct image (digest, reference, namespace, workload) with a verdict
in a time window is evaluated again, from its stored evidence, under the old
and the new policy, with the same ``evaluate()`` the gate decides with; the
images whose decision differs are the impact of the change.

No registry is read. Scans, SBOMs and VEX come from the verdict store (an
``EvidenceProvider``, as at admission). Signature results come from a
``SignatureLookup`` when one is given (the webhook's verification cache) and
otherwise from the outcome recorded in the image's newest stored verdict (its
``signatures`` check lists the trusted signers per authority). Which of the
two was used is reported per image. A recorded signer counts for an authority
of the evaluated policy only when that authority still trusts that signer's
key or identity; an authority with no result at all fails closed, exactly as
in a check whose verification could not run. Attestations and evidence
sources (Harbor, Clair) would need the network: a rule that reads them is
evaluated without them, which the per-image notes say.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from gate.attestations.evidence import AttestationResult
from gate.binding import Binding
from gate.check import EvidenceProvider
from gate.errors import GateError, InputError
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.oci.source import ResolvedImage
from gate.policy.duration import parse_duration
from gate.policy.evaluate import evaluate
from gate.policy.evidence import ImageEvidence
from gate.policy.model import Policy
from gate.policy.select import attestation_authorities, required_authorities, select_rule
from gate.policy.verdict import CheckResult, Decision, ImageVerdict, Outcome
from gate.signatures.evidence import AuthorityResult, VerifiedSignature
from gate.signatures.trust import TrustAuthority
from gate.store.model import StoredVerdict, VerdictQuery, VerdictStore

__all__ = [
    "SIGNATURES_CACHE",
    "SIGNATURES_NONE",
    "SIGNATURES_RECORDED",
    "ImageEvaluation",
    "PolicyPreview",
    "PreviewImage",
    "SignatureLookup",
    "evaluate_stored_image",
    "iter_verdicts",
    "parse_since",
    "preview_policy_change",
    "preview_to_dict",
    "recent_images",
    "recorded_signature",
    "render_preview_text",
    "was_admitted",
    "window",
]

#: Where an image's signature results came from (per image, in the output).
SIGNATURES_CACHE = "cache"
SIGNATURES_RECORDED = "recorded"
SIGNATURES_NONE = "not needed"

#: Verdicts read per store page while collecting the window's images.
_PAGE = 1000
#: A preview over more distinct images than this is refused rather than run for minutes.
MAX_IMAGES = 100_000

_ADMITTED = frozenset({Decision.ALLOW.value, Decision.WARN.value})
_RFC3339_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9:.]+([Zz]|[+-][0-9]{2}:[0-9]{2})")


class SignatureLookup(Protocol):
    """Signature results known without reading a registry (the webhook's verification cache)."""

    def __call__(self, image: ResolvedImage, authority: TrustAuthority) -> AuthorityResult | None:
        """The cached result of ``authority`` for ``image``'s digest, or None."""
        ...


@dataclass(frozen=True)
class PreviewImage:
    """One distinct image of the history: what was deployed where, as a verdict recorded it."""

    digest: str
    reference: str
    namespace: str | None = None
    workload_kind: str | None = None
    workload_name: str | None = None

    @property
    def workload(self) -> str | None:
        """``Kind/name`` of the workload (None for a CI verdict)."""
        if self.workload_name is None:
            return None
        return f"{self.workload_kind or '?'}/{self.workload_name}"

    def sort_key(self) -> tuple[str, ...]:
        """Images in a stable order: namespace, workload, reference, digest."""
        return (
            self.namespace or "",
            self.workload_kind or "",
            self.workload_name or "",
            self.reference,
            self.digest,
        )

    @classmethod
    def of(cls, verdict: StoredVerdict) -> PreviewImage:
        """The image a stored verdict (with a digest) was about."""
        assert verdict.digest is not None  # noqa: S101 - callers skip verdicts without one
        return cls(
            digest=verdict.digest,
            reference=verdict.reference,
            namespace=verdict.namespace,
            workload_kind=verdict.workload_kind,
            workload_name=verdict.workload_name,
        )


@dataclass(frozen=True)
class ImageEvaluation:
    """One image evaluated under the old and the new policy, and what the evaluation read."""

    image: PreviewImage
    recorded: StoredVerdict  # the image's newest verdict in the window
    old: ImageVerdict
    new: ImageVerdict
    signatures: str  # SIGNATURES_CACHE, SIGNATURES_RECORDED, both joined by "+", or NONE

    @property
    def changed(self) -> bool:
        """True when the two policies decide this image differently."""
        return self.old.decision is not self.new.decision


@dataclass(frozen=True)
class PolicyPreview:
    """The impact of replacing ``old`` by ``new`` on the images of ``[since, until)``."""

    old_policy: str
    old_digest: str
    new_policy: str
    new_digest: str
    since: datetime
    until: datetime
    evaluations: tuple[ImageEvaluation, ...]
    #: Verdicts of the window without a digest (resolution failed): nothing to re-evaluate.
    skipped: int = 0
    notes: tuple[str, ...] = field(default=())

    @property
    def changes(self) -> tuple[ImageEvaluation, ...]:
        """The images whose decision the change would alter, sorted by image."""
        return tuple(e for e in self.evaluations if e.changed)

    def transitions(self) -> dict[str, int]:
        """How many images go from one decision to another (``"allow -> deny": 3``)."""
        counts = Counter(f"{e.old.decision.value} -> {e.new.decision.value}" for e in self.changes)
        return dict(sorted(counts.items()))

    def namespaces(self) -> dict[str, int]:
        """Changed images per namespace (``-`` for verdicts without one)."""
        return dict(sorted(Counter(e.image.namespace or "-" for e in self.changes).items()))

    def workloads(self) -> dict[str, int]:
        """Changed images per ``namespace/Kind/name`` workload."""
        counts = Counter(
            f"{e.image.namespace or '-'}/{e.image.workload}"
            for e in self.changes
            if e.image.workload is not None
        )
        return dict(sorted(counts.items()))


def parse_since(text: str, now: datetime) -> datetime:
    """The start of a window: a duration back from ``now`` (``7d``, ``12h``) or an RFC 3339 time.

    Raises ``InputError`` naming ``since`` for anything else (a time must carry its offset).
    """
    text = text.strip()
    if _RFC3339_RE.fullmatch(text):
        try:
            instant = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
        except ValueError as exc:
            raise InputError(f"not a valid time: {exc}", field="since") from None
        return instant.astimezone(UTC)
    try:
        return now - parse_duration(text)
    except ValueError as exc:
        raise InputError(
            f"{exc}; or an RFC 3339 time such as 2026-01-31T00:00:00Z", field="since"
        ) from None


def iter_verdicts(store: VerdictStore, query: VerdictQuery) -> Iterator[StoredVerdict]:
    """Every verdict matching ``query``, newest first, page by page."""
    cursor: str | None = None
    while True:
        page = store.query(query, limit=_PAGE, cursor=cursor)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def recent_images(
    store: VerdictStore,
    since: datetime,
    until: datetime,
    *,
    include: Callable[[StoredVerdict], bool] | None = None,
    max_images: int = MAX_IMAGES,
) -> tuple[dict[PreviewImage, StoredVerdict], int]:
    """Each distinct image with a verdict in ``[since, until)`` and its newest verdict there.

    ``include`` filters the verdicts read (e.g. admissions only); verdicts
    without a digest are counted, not returned. Raises ``InputError`` past
    ``max_images`` distinct images and ``BackendError`` when the store fails.
    """
    latest: dict[PreviewImage, StoredVerdict] = {}
    skipped = 0
    for verdict in iter_verdicts(store, VerdictQuery(since=since, until=until)):
        if include is not None and not include(verdict):
            continue
        if verdict.digest is None:
            skipped += 1
            continue
        image = PreviewImage.of(verdict)
        if image not in latest:  # newest first: the first one seen is the latest
            if len(latest) >= max_images:
                raise InputError(
                    f"more than {max_images} distinct images in the window; choose a shorter one",
                    field="since",
                )
            latest[image] = verdict
    return latest, skipped


def _recorded_authorities(verdict: StoredVerdict) -> Mapping[str, Any] | None:
    for check in verdict.checks:
        if check.check == "signatures":
            authorities = check.details.get("authorities")
            if isinstance(authorities, Mapping):
                return authorities
    return None


def recorded_signature(
    verdict: StoredVerdict, authority: TrustAuthority, digest: Digest
) -> AuthorityResult | None:
    """``authority``'s result as ``verdict`` recorded it, or None when it was not recorded.

    Only signers that ``authority`` still trusts count (a key replaced under
    the same authority name must not inherit the old key's signatures); a
    recorded verification error is kept, so the image stays undecided.
    """
    authorities = _recorded_authorities(verdict)
    if authorities is None:
        return None
    entry = authorities.get(authority.name)
    if not isinstance(entry, Mapping):
        return None
    trusted = authority.possible_signers
    signatures: list[VerifiedSignature] = []
    notes: list[str] = [f"signature outcome recorded by verdict {verdict.id} at {verdict.time}"]
    for item in entry.get("signatures") or ():
        if not isinstance(item, Mapping) or not isinstance(item.get("signer"), str):
            continue
        signer = str(item["signer"])
        if signer not in trusted:
            notes.append(f"recorded signer {signer} is not trusted by authority {authority.name}")
            continue
        signatures.append(
            VerifiedSignature(
                authority=authority.name,
                kind=str(item.get("kind") or ""),
                signer=signer,
                signer_label=str(item.get("label") or signer),
                digest=digest,
            )
        )
    rejections = tuple(str(r) for r in entry.get("rejections") or () if isinstance(r, str))
    error = entry.get("error")
    return AuthorityResult(
        authority=authority.name,
        signatures=tuple(signatures),
        rejections=rejections,
        error=str(error) if error is not None and not signatures else None,
        notes=tuple(notes),
    )


def _no_result(authority: TrustAuthority) -> AuthorityResult:
    return AuthorityResult(
        authority.name,
        error=(
            f"no signature result for authority '{authority.name}' in the verification cache "
            "or the recorded verdict (the preview reads no registry)"
        ),
    )


def _image_evidence(
    policy: Policy,
    image: PreviewImage,
    recorded: StoredVerdict,
    binding: Binding,
    *,
    lookup: SignatureLookup | None,
    used: set[str],
) -> ImageEvidence:
    reference = ImageReference.parse(image.reference)
    digest = Digest.parse(image.digest)
    rule = select_rule(policy, reference, image.namespace, digest=digest)
    signatures: dict[str, AuthorityResult] = {}
    attestations: dict[str, AttestationResult] = {}
    notes = list(binding.notes)
    if rule is not None:
        resolved = ResolvedImage(
            reference=reference if reference.digest is not None else reference.with_digest(digest),
            digest=digest,
            media_type="",
            manifest=b"",
        )
        for authority in required_authorities(rule):
            result = lookup(resolved, authority) if lookup is not None else None
            if result is not None:
                used.add(SIGNATURES_CACHE)
            else:
                result = recorded_signature(recorded, authority, digest)
                if result is not None:
                    used.add(SIGNATURES_RECORDED)
            signatures[authority.name] = result if result is not None else _no_result(authority)
        for authority in attestation_authorities(rule):
            attestations[authority.name] = AttestationResult(
                authority.name, error="attestations are not read by the preview (no registry)"
            )
        if rule.action is None and policy.evidence_sources and not binding.scans:
            notes.append("evidence sources (Harbor, Clair) are not asked by the preview")
    return ImageEvidence(
        reference=reference,
        digest=digest,
        namespace=image.namespace,
        signatures=signatures,
        scans=binding.scans,
        sboms=binding.sboms,
        notes=tuple(notes),
        vex=(*policy.vex, *binding.vex),
        attestations=attestations,
    )


def evaluate_stored_image(
    policy: Policy,
    image: PreviewImage,
    recorded: StoredVerdict,
    binding: Binding,
    now: datetime,
    *,
    lookup: SignatureLookup | None = None,
) -> tuple[ImageVerdict, str]:
    """``policy``'s verdict for a recorded image from stored evidence, and the signature source.

    ``binding`` is the image's stored evidence (``EvidenceProvider``). Used by
    the preview and by the webhook's re-checks, so both decide as ``evaluate``.
    """
    used: set[str] = set()
    evidence = _image_evidence(policy, image, recorded, binding, lookup=lookup, used=used)
    verdict = evaluate(policy, evidence, now)
    if evidence.notes:
        verdict = ImageVerdict(
            reference=verdict.reference,
            digest=verdict.digest,
            decision=verdict.decision,
            rule=verdict.rule,
            reason=verdict.reason,
            checks=verdict.checks,
            mode=verdict.mode,
            namespace=verdict.namespace,
            notes=(*verdict.notes, *evidence.notes),
        )
    source = "+".join(sorted(used)) if used else SIGNATURES_NONE
    return verdict, source


def _undecidable(image: PreviewImage, policy: Policy, exc: GateError) -> ImageVerdict:
    reason = f"could not decide, denied: {exc}"
    return ImageVerdict(
        reference=image.reference,
        digest=image.digest,
        decision=Decision.DENY,
        rule=None,
        reason=reason,
        checks=(CheckResult("evidence", Outcome.ERROR, str(exc)),),
        mode=policy.mode.value,
        namespace=image.namespace,
    )


def preview_policy_change(
    store: VerdictStore,
    old: Policy,
    new: Policy,
    *,
    since: datetime,
    until: datetime,
    evidence: EvidenceProvider,
    now: datetime,
    lookup: SignatureLookup | None = None,
    max_images: int = MAX_IMAGES,
) -> PolicyPreview:
    """Evaluate every distinct image with a verdict in ``[since, until)`` under ``old`` and ``new``.

    ``evidence`` reads the stored scans, SBOMs and VEX of a digest; ``lookup``
    answers signature results from a cache (else the recorded ones are
    used); ``now`` is the instant both policies are evaluated at. An image
    whose evidence cannot be read is denied as undecided under both (the
    same answer, so not a change). Raises ``BackendError`` when the store fails.
    """
    images, skipped = recent_images(store, since, until, max_images=max_images)
    bindings: dict[str, Binding | GateError] = {}
    evaluations: list[ImageEvaluation] = []
    for image in sorted(images, key=PreviewImage.sort_key):
        recorded = images[image]
        try:
            reference = ImageReference.parse(image.reference)
            digest = Digest.parse(image.digest)
        except InputError as exc:
            bad = _undecidable(image, old, exc)
            evaluations.append(ImageEvaluation(image, recorded, bad, bad, SIGNATURES_NONE))
            continue
        binding = bindings.get(image.digest)
        if binding is None:
            try:
                binding = evidence(reference, [digest])
            except GateError as exc:
                binding = exc
            bindings[image.digest] = binding
        if isinstance(binding, GateError):
            old_verdict = _undecidable(image, old, binding)
            new_verdict = _undecidable(image, new, binding)
            evaluations.append(
                ImageEvaluation(image, recorded, old_verdict, new_verdict, SIGNATURES_NONE)
            )
            continue
        old_verdict, old_source = evaluate_stored_image(
            old, image, recorded, binding, now, lookup=lookup
        )
        new_verdict, new_source = evaluate_stored_image(
            new, image, recorded, binding, now, lookup=lookup
        )
        sources = {s for s in (old_source, new_source) if s != SIGNATURES_NONE}
        parts = {p for s in sources for p in s.split("+")}
        source = "+".join(sorted(parts)) if parts else SIGNATURES_NONE
        evaluations.append(ImageEvaluation(image, recorded, old_verdict, new_verdict, source))
    return PolicyPreview(
        old_policy=old.name,
        old_digest=str(old.digest),
        new_policy=new.name,
        new_digest=str(new.digest),
        since=since,
        until=until,
        evaluations=tuple(evaluations),
        skipped=skipped,
    )


def was_admitted(decision: str) -> bool:
    """True for a decision that lets the workload run (allow, warn)."""
    return decision in _ADMITTED


# -- output -------------------------------------------------------------------------------


def _side(verdict: ImageVerdict) -> dict[str, Any]:
    return {"decision": verdict.decision.value, "rule": verdict.rule, "reason": verdict.reason}


def _image_dict(evaluation: ImageEvaluation) -> dict[str, Any]:
    image = evaluation.image
    return {
        "reference": image.reference,
        "digest": image.digest,
        "namespace": image.namespace,
        "workloadKind": image.workload_kind,
        "workloadName": image.workload_name,
        "recordedDecision": evaluation.recorded.decision,
        "recordedAt": evaluation.recorded.time.isoformat(),
        "signatures": evaluation.signatures,
        "old": _side(evaluation.old),
        "new": _side(evaluation.new),
        "changed": evaluation.changed,
    }


def preview_to_dict(preview: PolicyPreview, *, all_images: bool = False) -> dict[str, Any]:
    """The preview as JSON: the changes in full, counts, and every image when ``all_images``."""
    signature_sources = Counter(e.signatures for e in preview.evaluations)
    document: dict[str, Any] = {
        "old": {"policy": preview.old_policy, "digest": preview.old_digest},
        "new": {"policy": preview.new_policy, "digest": preview.new_digest},
        "since": preview.since.isoformat(),
        "until": preview.until.isoformat(),
        "counts": {
            "images": len(preview.evaluations),
            "changed": len(preview.changes),
            "unchanged": len(preview.evaluations) - len(preview.changes),
            "skippedWithoutDigest": preview.skipped,
            "transitions": preview.transitions(),
            "namespaces": preview.namespaces(),
            "workloads": preview.workloads(),
            "signatureSources": dict(sorted(signature_sources.items())),
        },
        "changes": [_image_dict(e) for e in preview.changes],
    }
    if all_images:
        document["images"] = [_image_dict(e) for e in preview.evaluations]
    return document


def _where(image: PreviewImage) -> str:
    parts = [f"namespace {image.namespace}" if image.namespace else "no namespace"]
    if image.workload is not None:
        parts.append(image.workload)
    return ", ".join(parts)


def render_preview_text(preview: PolicyPreview) -> str:
    """A human report: one block per changed image (old -> new, with reasons), then counts."""
    lines = [
        f"policy {preview.old_policy} ({preview.old_digest[:19]}) -> "
        f"{preview.new_policy} ({preview.new_digest[:19]})",
        f"window {preview.since.isoformat()} .. {preview.until.isoformat()}: "
        f"{len(preview.evaluations)} images, {len(preview.changes)} would change decision",
    ]
    for evaluation in preview.changes:
        image, old, new = evaluation.image, evaluation.old, evaluation.new
        lines += [
            "",
            f"{old.decision.value} -> {new.decision.value}  {image.reference}@{image.digest[:19]}",
            f"  where: {_where(image)}; signatures: {evaluation.signatures}",
            f"  old: rule {old.rule or '-'}: {old.reason}",
            f"  new: rule {new.rule or '-'}: {new.reason}",
        ]
    if preview.changes:
        lines += ["", "by decision: " + _counts(preview.transitions())]
        lines.append("by namespace: " + _counts(preview.namespaces()))
        workloads = preview.workloads()
        if workloads:
            lines.append("by workload: " + _counts(workloads))
    sources = Counter(e.signatures for e in preview.evaluations)
    lines.append("signature results used: " + _counts(dict(sorted(sources.items()))))
    if preview.skipped:
        lines.append(f"{preview.skipped} verdicts without a digest were not re-evaluated")
    return "\n".join(lines) + "\n"


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{key}: {value}" for key, value in counts.items()) or "none"


def window(since: datetime | None, now: datetime, default: timedelta) -> tuple[datetime, datetime]:
    """``[since or now - default, now]`` as the half-open window the store is asked for."""
    start = since if since is not None else now - default
    # ``until`` is exclusive in the store: a verdict stamped exactly ``now`` is included.
    return start, now + timedelta(microseconds=1)
