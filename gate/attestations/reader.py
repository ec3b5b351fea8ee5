"""Reading the attestations of an image from its registry, once per digest, for every authority.

``AttestationReader`` is the ``AttestationVerifier`` the gate uses: it
discovers the attestations of a digest (the cosign ``.att`` tag, then the
referrers), keeps what it fetched for ``cache_ttl`` seconds (only
``failure_ttl`` after nothing was found or the registry failed, so a fresh
attestation is seen quickly) and checks them against each trust authority
asked for. Signature checks are memoised per (attestation, trust material)
and predicates are read once per attestation, so several authorities, or
many admissions of one image, cost one fetch and one parse.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gate.attestations.candidate import Candidate
from gate.attestations.evidence import AttestationResult, Rejection, VerifiedAttestation
from gate.attestations.layout import attestation_tag, cosign_candidates
from gate.attestations.predicates import Interpreted, interpret, title
from gate.attestations.referrers import AttestationSource, referrer_candidates
from gate.attestations.verify import Checked, verify_candidate
from gate.clock import Clock, system_clock
from gate.errors import GateError
from gate.oci.fetch_cache import FetchCache
from gate.oci.reference import ImageReference
from gate.oci.source import ResolvedImage
from gate.signatures.trust import TrustAuthority

if TYPE_CHECKING:
    from gate.signatures.keyless.trusted_root import SigstoreTrustRoot


def _material(authority: TrustAuthority) -> tuple[str, ...]:
    """What a signature check depends on besides the attestation: the trust material itself."""
    keys = tuple(sorted(k.fingerprint for k in authority.cosign_keys))
    keyless = authority.keyless
    if keyless is None:
        return keys
    return (*keys, keyless.signer_id, keyless.root_label, str(keyless.require_tlog))


@dataclass
class _Found:
    """Everything discovered for one image digest, shared by every authority."""

    candidates: tuple[Candidate, ...] = ()
    notes: tuple[str, ...] = ()
    error: str | None = None
    checked: dict[tuple[int, tuple[str, ...]], Checked | str] = field(default_factory=dict)
    interpreted: dict[int, Interpreted] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class AttestationReader:
    """Finds, verifies and reads attestations over the registry interface (thread-safe).

    ``attestation_repository`` is where ``.att`` tags live when not next to
    the image (cosign's ``COSIGN_REPOSITORY``); referrers are always looked
    up in the image's repository. ``clock`` gives "now" for keyless
    attestations without a log entry (only when an authority allows that).
    """

    def __init__(
        self,
        source: AttestationSource,
        *,
        clock: Clock = system_clock,
        attestation_repository: ImageReference | None = None,
        cache_size: int = 256,
        cache_ttl: float = 60.0,
        failure_ttl: float = 5.0,
    ) -> None:
        self._source = source
        self._clock = clock
        self._attestation_repository = attestation_repository
        self._fetched: FetchCache[_Found] = FetchCache(
            size=cache_size, ttl=cache_ttl, failure_ttl=failure_ttl
        )

    def read(self, image: ResolvedImage, authority: TrustAuthority) -> AttestationResult:
        """The attestations of ``image.digest`` that count for ``authority``, and the rest."""
        name = authority.name
        if not authority.cosign_keys and authority.keyless is None:
            return AttestationResult(
                name,
                error=f"authority '{name}' has no cosign keys or keyless identity to verify "
                "attestations with",
            )
        root: SigstoreTrustRoot | None = None
        if authority.keyless is not None:
            from gate.signatures.keyless.trusted_root import load_trusted_root  # noqa: PLC0415

            try:
                root = load_trusted_root(authority.keyless.trusted_root)
            except GateError as exc:
                return AttestationResult(name, error=f"trusted root unusable: {exc}")
        found = self._discover(image)
        if found.error is not None:
            return AttestationResult(name, error=found.error, notes=found.notes)
        now = self._clock()
        material = _material(authority)
        verified: list[VerifiedAttestation] = []
        rejections: list[Rejection] = []
        notes: list[str] = list(found.notes)
        for index, candidate in enumerate(found.candidates):
            if candidate.problem is not None:
                rejections.append(Rejection(candidate.label, candidate.problem, candidate.hint))
                continue
            with found.lock:
                checked = found.checked.get((index, material))
            if checked is None:
                checked = verify_candidate(candidate, image.digest, authority, root=root, now=now)
                with found.lock:
                    found.checked[(index, material)] = checked
            if isinstance(checked, str):
                rejections.append(Rejection(candidate.label, checked, candidate.hint))
                continue
            statement = checked.statement
            interpreted = self._interpret(found, index, candidate, checked)
            if interpreted.problem is not None:
                rejections.append(
                    Rejection(
                        candidate.label,
                        f"signed by {checked.signer_label}, but {interpreted.problem}",
                        statement.predicate_type,
                    )
                )
                continue
            if interpreted.note is not None:
                notes.append(f"{candidate.label}: {interpreted.note}")
            verified.append(
                VerifiedAttestation(
                    source=candidate.label,
                    authority=name,
                    signer=checked.signer,
                    signer_label=checked.signer_label,
                    digest=image.digest,
                    statement=statement,
                    sbom=interpreted.sbom,
                    scan=interpreted.scan,
                    scanner=interpreted.scanner,
                )
            )
        return AttestationResult(
            name,
            attestations=tuple(verified),
            rejections=tuple(rejections),
            notes=tuple(notes),
            found=len(found.candidates),
        )

    def clear_cache(self) -> None:
        """Forget everything fetched and verified (e.g. after a policy reload)."""
        self._fetched.clear()

    @staticmethod
    def _interpret(
        found: _Found, index: int, candidate: Candidate, checked: Checked
    ) -> Interpreted:
        """The predicate of a verified candidate, read once whichever authority verified it.

        Every authority that verifies a candidate verifies the same payload
        bytes, so the statement (and what it says) is the same for all.
        """
        with found.lock:
            cached = found.interpreted.get(index)
        if cached is not None:
            return cached
        source = f"{title(checked.statement.predicate_type)} attestation, {candidate.label}"
        interpreted = interpret(checked.statement, source)
        with found.lock:
            found.interpreted.setdefault(index, interpreted)
        return interpreted

    def _discover(self, image: ResolvedImage) -> _Found:
        return self._fetched.get(
            (image.reference.name, image.digest),
            lambda: self._fetch(image),
            lambda found: found.error is not None or not found.candidates,
        )

    def _fetch(self, image: ResolvedImage) -> _Found:
        repository = ImageReference(
            registry=image.reference.registry, repository=image.reference.repository
        )
        layout_repository = self._attestation_repository or repository
        try:
            cosign, cosign_notes = cosign_candidates(self._source, layout_repository, image.digest)
            referred, referrer_notes = referrer_candidates(self._source, repository, image.digest)
        except GateError as exc:
            # A registry failure, or a listing it could not serve: undecidable, fail closed.
            return _Found(
                error=f"could not fetch the attestations of {image.digest} "
                f"({attestation_tag(image.digest)}, referrers): {exc}"
            )
        return _Found(candidates=(*cosign, *referred), notes=(*cosign_notes, *referrer_notes))
