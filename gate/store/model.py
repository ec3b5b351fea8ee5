"""What the verdict store keeps and how it is asked: plain data, no database types.

``gate.store.sql.SqlVerdictStore`` implements ``VerdictStore`` on SQLAlchemy
(SQLite by default, PostgreSQL when several replicas share it). The webhook,
the API and the CLI depend only on this module.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable


class VerdictSource(enum.StrEnum):
    """Where a verdict was made."""

    ADMISSION = "admission"
    CI = "ci"
    #: Re-evaluated by the webhook after new evidence or on its schedule (``webhook.recheck``).
    RECHECK = "recheck"


@dataclass(frozen=True)
class CheckRecord:
    """One check of a stored verdict (as in ``gate.policy.verdict.CheckResult``)."""

    check: str
    outcome: str  # pass | fail | warn | skip | error
    reason: str
    details: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class NewVerdict:
    """One image verdict to record. ``time`` is when it was decided (timezone-aware)."""

    time: datetime
    source: VerdictSource
    reference: str
    digest: str | None
    decision: str  # allow | warn | deny
    mode: str  # enforce | warn | audit
    policy_name: str
    policy_digest: str  # "sha256:<hex>" of the policy file
    rule: str | None
    reason: str
    checks: tuple[CheckRecord, ...] = ()
    namespace: str | None = None
    workload_kind: str | None = None
    workload_name: str | None = None
    user: str | None = None  # AdmissionReview userInfo.username, or the CI token's name
    duration_ms: float | None = None
    decided: bool = True  # False when the verdict was a fail-closed deny (could not decide)


@dataclass(frozen=True)
class StoredVerdict(NewVerdict):
    """A recorded verdict with its id (a string, opaque to clients)."""

    id: str = ""


@dataclass(frozen=True)
class VerdictQuery:
    """Filters for listing verdicts; every field is optional and they combine with AND.

    ``image`` is a glob on the reference (``*`` any run without ``/``, ``**``
    any run); ``since`` inclusive, ``until`` exclusive.
    """

    image: str | None = None
    digest: str | None = None
    namespace: str | None = None
    decision: str | None = None
    source: VerdictSource | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class VerdictPage:
    """One page of verdicts, newest first, and the cursor of the next page (None at the end)."""

    items: tuple[StoredVerdict, ...]
    next_cursor: str | None


class StatsBucket(enum.StrEnum):
    """The width of one bucket of decision counts (UTC hours or UTC days)."""

    HOUR = "hour"
    DAY = "day"


@dataclass(frozen=True)
class DecisionCounts:
    """How many verdicts of each decision fell in the bucket starting at ``start`` (UTC)."""

    start: datetime
    allow: int = 0
    warn: int = 0
    deny: int = 0


@dataclass(frozen=True)
class TopEntry:
    """One row of a "most often" list: an image reference or a finding id, how many
    verdicts it appears in and the time of the newest of them."""

    key: str
    count: int
    last_seen: datetime


class EvidenceKind(enum.StrEnum):
    """What a stored evidence document is."""

    SCAN = "scan"
    SBOM = "sbom"
    VEX = "vex"


@dataclass(frozen=True)
class NewEvidence:
    """A scan report or SBOM pushed for an image digest (raw bytes, parsed again on use)."""

    digest: str  # "sha256:<hex>" of the image manifest it describes
    kind: EvidenceKind
    format: str  # as detected, e.g. "trivy", "cyclonedx-json"
    name: str  # file name it was pushed as
    data: bytes
    received_at: datetime
    created_at: datetime | None = None  # the document's own creation time, if it has one
    pushed_by: str | None = None


@dataclass(frozen=True)
class StoredEvidence(NewEvidence):
    """A stored evidence document with its id."""

    id: str = ""


class VerdictStore(Protocol):
    """The store's interface. Every method raises ``gate.errors.BackendError`` when the
    database cannot be reached, and ``gate.errors.InputError`` for a bad cursor."""

    def record(self, verdicts: Sequence[NewVerdict]) -> tuple[str, ...]:
        """Store ``verdicts`` in one transaction; return their ids in order."""
        ...

    def get(self, verdict_id: str) -> StoredVerdict | None:
        """One verdict by id, or None."""
        ...

    def query(
        self, query: VerdictQuery, *, limit: int = 100, cursor: str | None = None
    ) -> VerdictPage:
        """Verdicts matching ``query``, newest first, at most ``limit`` (1..1000)."""
        ...

    def put_evidence(self, evidence: NewEvidence) -> str:
        """Store one evidence document; return its id."""
        ...

    def latest_evidence(self, digest: str, kind: EvidenceKind) -> StoredEvidence | None:
        """The evidence of ``kind`` for ``digest`` with the newest ``created_at``
        (falling back to ``received_at``), or None."""
        ...

    def evidence_for(
        self, digest: str, kind: EvidenceKind, *, limit: int = 100
    ) -> tuple[StoredEvidence, ...]:
        """Every evidence document of ``kind`` for ``digest``, newest first (at most ``limit``)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


@runtime_checkable
class VerdictStats(Protocol):
    """Aggregates over recorded verdicts for the dashboard, computed by the database.

    Every window is ``since`` inclusive, ``until`` exclusive (timezone-aware);
    a naive time, a window that ends before it starts or a bad limit is an
    ``InputError``; an unreachable database a ``BackendError``.
    """

    def decision_counts(
        self,
        since: datetime,
        until: datetime,
        *,
        bucket: StatsBucket,
        namespace: str | None = None,
    ) -> tuple[DecisionCounts, ...]:
        """Verdicts per decision in every UTC ``bucket`` that meets the window, oldest
        first, empty buckets included (at most ``gate.store.stats.MAX_BUCKETS``)."""
        ...

    def top_images(
        self,
        since: datetime,
        until: datetime,
        *,
        decision: str = "deny",
        namespace: str | None = None,
        limit: int = 10,
    ) -> tuple[TopEntry, ...]:
        """The image references with the most verdicts of ``decision``, most first."""
        ...

    def top_findings(
        self,
        since: datetime,
        until: datetime,
        *,
        decision: str = "deny",
        namespace: str | None = None,
        limit: int = 10,
    ) -> tuple[TopEntry, ...]:
        """The finding ids that broke the vulnerability limits in the most verdicts of
        ``decision``, most first."""
        ...
