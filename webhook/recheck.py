"""Re-checks: running images re-evaluated when new evidence arrives and on a schedule.

An image counts as running when it was admitted (allow or warn) within
``GATE_RECHECK_WINDOW`` (default 24 h). It is re-evaluated with the policy in
force from its stored evidence (the newest scan, SBOM and VEX pushed for the
digest) and the signature results of the verification cache, or, failing
that, those recorded in its newest verdict (``gate.preview``): a re-check
reads no registry, so a registry outage cannot turn into a wave of alerts.
Each re-evaluation is recorded as a verdict with source ``recheck``. An image
whose newest verdict admitted it and which is now denied increments
``gate_recheck_failures_total`` and is alerted (``webhook.alerts``); one
already denied by an earlier re-check is not alerted again.

Triggers:

- ``POST /api/v1/evidence`` queues the digest; the background thread
  re-checks the images running with it. Only the replica that received the
  evidence does this, so replicas never duplicate that work.
- Every ``GATE_RECHECK_INTERVAL`` seconds (default 3600, 0 = off) all running
  images are re-checked. Replicas (and gunicorn workers) coordinate through a
  lease: a PostgreSQL session advisory lock, or an exclusive ``flock`` on a
  file next to a SQLite database; whoever holds it first checks whether a
  scheduled run was recorded within the last interval (by any replica) and
  skips the run if so.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from gate.binding import Binding
from gate.check import EvidenceProvider
from gate.clock import Clock, system_clock
from gate.errors import GateError
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.policy.verdict import Decision, ImageVerdict, Outcome
from gate.preview import (
    PreviewImage,
    SignatureLookup,
    evaluate_stored_image,
    iter_verdicts,
    was_admitted,
)
from gate.store.model import (
    CheckRecord,
    NewVerdict,
    StoredVerdict,
    VerdictQuery,
    VerdictSource,
    VerdictStore,
)
from webhook.alerts import AlertSender, RecheckAlert
from webhook.metrics import Metrics
from webhook.policy_holder import PolicyHolder

log = logging.getLogger(__name__)

#: The ``user`` of recorded re-check verdicts, by trigger (the schedule's marks a run).
USER_EVIDENCE = "gate-recheck:evidence"
USER_SCHEDULE = "gate-recheck:schedule"
#: Any constant unique to this use: the advisory lock of scheduled re-checks.
_PG_RECHECK_LOCK = 0x67617466


class Lease(Protocol):
    """Mutual exclusion of scheduled re-checks across replicas and worker processes."""

    def hold(self) -> contextlib.AbstractContextManager[bool]:
        """A context whose value says whether this process holds the lease inside it."""
        ...


class LocalLease:
    """A lease within this process only (an in-memory store has no other replica)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def hold(self) -> Iterator[bool]:
        """Held when no other thread of this process holds it."""
        got = self._lock.acquire(blocking=False)
        try:
            yield got
        finally:
            if got:
                self._lock.release()


class FileLease:
    """An exclusive ``flock`` on a file: the gunicorn workers sharing one SQLite file."""

    def __init__(self, path: Path) -> None:
        self._path = path

    @contextlib.contextmanager
    def hold(self) -> Iterator[bool]:
        """Held when no other process holds the lock on the file (never waits)."""
        try:
            handle = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            log.error("re-check lease %s cannot be opened: %s", self._path, exc.strerror)
            yield False
            return
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        finally:
            os.close(handle)


class PostgresLease:
    """A PostgreSQL session advisory lock, held on one connection for the run."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine

    @contextlib.contextmanager
    def hold(self) -> Iterator[bool]:
        """Held when ``pg_try_advisory_lock`` succeeds; a database error means not held."""
        from sqlalchemy import text  # noqa: PLC0415 - SQLAlchemy only with a SQL store

        try:
            connection = self._engine.connect()
        except Exception as exc:
            log.error("re-check lease: cannot connect: %s", type(exc).__name__)
            yield False
            return
        try:
            try:
                got = bool(
                    connection.execute(
                        text("SELECT pg_try_advisory_lock(:key)"), {"key": _PG_RECHECK_LOCK}
                    ).scalar()
                )
                connection.commit()
            except Exception as exc:
                log.error("re-check lease: lock failed: %s", type(exc).__name__)
                got = False
            try:
                yield got
            finally:
                if got:
                    with contextlib.suppress(Exception):
                        connection.execute(
                            text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_RECHECK_LOCK}
                        )
                        connection.commit()
        finally:
            connection.close()


def lease_for(store: VerdictStore) -> Lease:
    """The lease that fits ``store``: advisory lock, ``flock`` next to the file, or local."""
    engine = getattr(store, "engine", None)
    if engine is None:
        return LocalLease()
    if engine.dialect.name == "postgresql":
        return PostgresLease(engine)
    database = engine.url.database
    if database in (None, "", ":memory:"):
        return LocalLease()
    return FileLease(Path(f"{database}.recheck.lock"))


@dataclass(frozen=True)
class RecheckOutcome:
    """One re-checked image: its previous verdict, the new one, and whether it was alerted."""

    image: PreviewImage
    previous: StoredVerdict
    verdict: ImageVerdict
    alerted: bool


class Rechecker:
    """Re-evaluates running images with the policy in force; one background thread."""

    def __init__(
        self,
        holder: PolicyHolder,
        store: VerdictStore,
        metrics: Metrics,
        alerts: AlertSender,
        *,
        evidence: EvidenceProvider,
        lookup: SignatureLookup | None = None,
        interval: float = 3600.0,
        window: float = 86400.0,
        clock: Clock = system_clock,
        lease: Lease | None = None,
        submit: Callable[[Sequence[NewVerdict]], None] | None = None,
    ) -> None:
        self._holder = holder
        self._store = store
        self._metrics = metrics
        self._alerts = alerts
        self._evidence = evidence
        self._lookup = lookup
        self._interval = interval
        self._window = timedelta(seconds=window)
        self._clock = clock
        self._lease = lease or lease_for(store)
        # Where verdicts go when the store refuses them (the recorder's queue and spool).
        self._submit = submit
        self._digests: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._cond = threading.Condition()
        self._busy = False
        self._closing = False
        self._thread: threading.Thread | None = None
        self._next_run = time.monotonic() + interval if interval > 0 else None

    # -- triggers -------------------------------------------------------------------------

    def evidence_arrived(self, digest: str) -> None:
        """Queue a re-check of the images running with ``digest``; returns at once."""
        with self._cond:
            if self._closing:
                return
            self._digests[digest] = None
            self._ensure_thread()
            self._cond.notify_all()

    def start(self) -> None:
        """Start the schedule (a no-op with interval 0 and nothing queued)."""
        with self._cond:
            if self._interval > 0:
                self._ensure_thread()

    def flush(self, timeout: float) -> bool:
        """Wait until every queued digest was re-checked; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._digests or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Finish queued re-checks (waiting at most ``timeout``) and stop the thread."""
        self.flush(timeout)
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _ensure_thread(self) -> None:
        # Started on first use: a thread made before gunicorn forks does not run in the worker.
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="gate-recheck", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closing and not self._digests and not self._schedule_due():
                    wait = None
                    if self._next_run is not None:
                        wait = max(self._next_run - time.monotonic(), 0.0)
                    self._cond.wait(wait)
                if self._closing:
                    return
                digest = None
                if self._digests:
                    digest, _ = self._digests.popitem(last=False)
                self._busy = True
            try:
                if digest is not None:
                    self.recheck_digest(digest)
                else:
                    self.run_schedule()
            except Exception:  # the thread must outlive any failure; the next run may work
                self._metrics.recheck_errors.inc()
                log.exception("re-check failed")
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _schedule_due(self) -> bool:
        return self._next_run is not None and time.monotonic() >= self._next_run

    # -- the work -------------------------------------------------------------------------

    def recheck_digest(self, digest: str) -> tuple[RecheckOutcome, ...]:
        """Re-check every image running with ``digest`` now (the evidence trigger)."""
        return self._recheck(VerdictQuery(digest=digest), USER_EVIDENCE, "evidence")

    def run_schedule(self) -> tuple[RecheckOutcome, ...]:
        """One scheduled run, unless another replica holds the lease or ran within the interval."""
        with self._cond:
            if self._interval > 0:
                self._next_run = time.monotonic() + self._interval
        with self._lease.hold() as held:
            if not held:
                log.info("scheduled re-check skipped: another replica is running it")
                return ()
            if self._ran_recently():
                log.info("scheduled re-check skipped: one ran within the last interval")
                return ()
            return self._recheck(VerdictQuery(), USER_SCHEDULE, "schedule")

    def _ran_recently(self) -> bool:
        if self._interval <= 0:
            return False
        since = self._clock() - timedelta(seconds=self._interval * 0.9)
        query = VerdictQuery(source=VerdictSource.RECHECK, since=since)
        return any(v.user == USER_SCHEDULE for v in iter_verdicts(self._store, query))

    def _running(self, query: VerdictQuery) -> dict[PreviewImage, StoredVerdict]:
        """Images admitted within the window, each with its newest admission or re-check."""
        now = self._clock()
        query = VerdictQuery(digest=query.digest, since=now - self._window)
        latest: dict[PreviewImage, StoredVerdict] = {}
        admitted: set[PreviewImage] = set()
        for verdict in iter_verdicts(self._store, query):
            if verdict.digest is None or verdict.source is VerdictSource.CI:
                continue
            image = PreviewImage.of(verdict)
            latest.setdefault(image, verdict)
            if verdict.source is VerdictSource.ADMISSION and was_admitted(verdict.decision):
                admitted.add(image)
        return {image: latest[image] for image in latest if image in admitted}

    def _recheck(self, query: VerdictQuery, user: str, trigger: str) -> tuple[RecheckOutcome, ...]:
        images = self._running(query)
        if not images:
            return ()
        policy = self._holder.policy
        now = self._clock()
        bindings: dict[str, Binding | None] = {}
        outcomes: list[RecheckOutcome] = []
        records: list[NewVerdict] = []
        alerts: list[RecheckAlert] = []
        for image in sorted(images, key=PreviewImage.sort_key):
            previous = images[image]
            binding = bindings.get(image.digest)
            if image.digest not in bindings:
                binding = self._binding(image)
                bindings[image.digest] = binding
            if binding is None:
                continue  # logged and counted; the next trigger tries again
            verdict, _source = evaluate_stored_image(
                policy, image, previous, binding, now, lookup=self._lookup
            )
            self._metrics.recheck(verdict.decision.value).inc()
            alerted = was_admitted(previous.decision) and verdict.decision is Decision.DENY
            outcomes.append(RecheckOutcome(image, previous, verdict, alerted))
            records.append(
                self._record(
                    image,
                    verdict=verdict,
                    policy_name=policy.name,
                    policy_digest=str(policy.digest),
                    user=user,
                    now=now,
                )
            )
            if alerted:
                self._metrics.recheck_failures.inc()
                log.warning(
                    "re-check: running image %s@%s in %s is now denied: %s",
                    image.reference,
                    image.digest,
                    image.namespace or "-",
                    verdict.reason,
                )
                alerts.append(
                    RecheckAlert(
                        image=image.reference,
                        digest=image.digest,
                        namespace=image.namespace,
                        workload_kind=image.workload_kind,
                        workload_name=image.workload_name,
                        old_decision=previous.decision,
                        new_decision=verdict.decision.value,
                        old_reason=previous.reason,
                        new_reason=verdict.reason,
                        rule=verdict.rule,
                        policy=policy.name,
                        trigger=trigger,
                        time=now.isoformat(),
                    )
                )
        self._write(records)
        self._alerts.send(alerts)
        return tuple(outcomes)

    def _binding(self, image: PreviewImage) -> Binding | None:
        try:
            return self._evidence(
                ImageReference.parse(image.reference), [Digest.parse(image.digest)]
            )
        except GateError as exc:
            self._metrics.recheck_errors.inc()
            log.error(
                "re-check of %s@%s: evidence unreadable: %s", image.reference, image.digest, exc
            )
            return None

    def _write(self, records: list[NewVerdict]) -> None:
        if not records:
            return
        try:
            self._store.record(records)
        except GateError as exc:
            self._metrics.recheck_errors.inc()
            if self._submit is None:
                log.error("re-check: %d verdicts not recorded: %s", len(records), exc)
                return
            log.warning("re-check: store refused %d verdicts, queued: %s", len(records), exc)
            self._submit(records)

    @staticmethod
    def _record(
        image: PreviewImage,
        *,
        verdict: ImageVerdict,
        policy_name: str,
        policy_digest: str,
        user: str,
        now: datetime,
    ) -> NewVerdict:
        return NewVerdict(
            time=now,
            source=VerdictSource.RECHECK,
            reference=image.reference,
            digest=image.digest,
            decision=verdict.decision.value,
            mode=verdict.mode,
            policy_name=policy_name,
            policy_digest=policy_digest,
            rule=verdict.rule,
            reason=verdict.reason,
            checks=tuple(
                CheckRecord(c.check, c.outcome.value, c.reason, c.details) for c in verdict.checks
            ),
            namespace=image.namespace,
            workload_kind=image.workload_kind,
            workload_name=image.workload_name,
            user=user,
            decided=not any(c.outcome is Outcome.ERROR for c in verdict.checks),
        )
