"""Recording admission verdicts without letting the store slow down or change a decision.

Verdicts go into a bounded in-memory queue and a background thread writes
them in batches. When the store fails, batches go to a spool on local disk
(``webhook.spool``) and the store is tried again with a growing pause, with
the oldest spooled batch; once it takes one, the spool is drained. So an
outage of any length, or a restart during one, loses nothing while the spool
has room. Without a spool the batch goes back to the front of the queue and is
retried; when the queue is full the oldest verdicts are dropped and counted.
The admission answer never waits for the database.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Sequence

from gate.store.model import NewVerdict, VerdictStore
from webhook.metrics import Metrics
from webhook.spool import VerdictSpool

log = logging.getLogger(__name__)

_BATCH = 500
#: How long the writer lets verdicts gather before a write: under load one
#: transaction then carries many verdicts instead of one each.
_LINGER = 0.2
_FIRST_RETRY_DELAY = 0.25
_MAX_RETRY_DELAY = 10.0


class VerdictRecorder:
    """A bounded queue in front of ``VerdictStore.record``, drained by one thread."""

    def __init__(
        self,
        store: VerdictStore,
        metrics: Metrics,
        *,
        capacity: int,
        first_retry_delay: float = _FIRST_RETRY_DELAY,
        linger: float = _LINGER,
        spool: VerdictSpool | None = None,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._capacity = capacity
        self._first_delay = first_retry_delay
        self._linger = linger
        self._spool = spool
        self._flushing = 0
        self._queue: collections.deque[NewVerdict] = collections.deque()
        self._in_flight = 0
        self._closing = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        # Writer state (the writer thread's own, read under the lock by flush/pending).
        self._degraded = False  # the store failed: batches go to the spool
        self._spooled = spool.size()[0] if spool is not None else 0
        self._delay = first_retry_delay
        self._next_try = 0.0
        self._spool_turn = False
        self.last_error: str | None = None
        if spool is not None and self._spooled:
            self._start()

    @property
    def pending(self) -> int:
        """Verdicts queued, being written, or spooled on disk by this recorder."""
        with self._cond:
            return len(self._queue) + self._in_flight + self._spooled

    @property
    def spooled(self) -> int:
        """Verdicts waiting in the disk spool."""
        with self._cond:
            return self._spooled

    def submit(self, verdicts: Sequence[NewVerdict]) -> None:
        """Queue ``verdicts`` for recording; returns at once."""
        if not verdicts:
            return
        with self._cond:
            if self._closing:
                log.error("verdict recorder closed: %d verdicts not recorded", len(verdicts))
                self._metrics.store_dropped.inc(len(verdicts))
                return
            self._queue.extend(verdicts)
            self._trim()
            self._start()
            self._metrics.store_queue.set(len(self._queue) + self._in_flight)
            self._cond.notify_all()

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued or spooled so far is recorded; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._flushing += 1
            self._cond.notify_all()
            try:
                while self._queue or self._in_flight or self._spooled:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._cond.wait(remaining)
            finally:
                self._flushing -= 1
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued (waiting at most ``timeout``) and stop the writer thread.

        What the store did not take by then stays in the spool, for the next start.
        """
        self.flush(timeout)
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
        with self._cond:
            left = list(self._queue)
            self._queue.clear()
        if left and self._spool is not None and self._put_in_spool(left):
            left = []
        if left:
            log.error("verdict recorder stopped with %d verdicts not recorded", len(left))
        elif self._spooled:
            log.warning(
                "verdict recorder stopped with %d verdicts spooled in %s",
                self._spooled,
                self._spool.directory if self._spool is not None else "-",
            )

    def _trim(self) -> None:
        overflow = len(self._queue) + self._in_flight - self._capacity
        if overflow > 0:
            for _ in range(min(overflow, len(self._queue))):
                self._queue.popleft()
            self._metrics.store_dropped.inc(overflow)
            log.error(
                "verdict queue full (%d): dropped %d oldest verdicts", self._capacity, overflow
            )

    def _start(self) -> None:
        # Started on first use, so an app made before gunicorn forks has no thread yet.
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._run, name="gate-verdict-recorder", daemon=True
            )
            self._thread.start()

    # -- the writer thread ------------------------------------------------------------

    def _failed(self, exc: Exception, count: int) -> None:
        # Any failure, typed or not, must leave the thread alive and the verdicts kept.
        self.last_error = str(exc) or type(exc).__name__
        self._metrics.store_errors.inc()
        log.error("recording %d verdicts failed (will retry): %s", count, exc)
        self._degraded = True
        self._next_try = time.monotonic() + self._delay
        self._delay = min(self._delay * 2, _MAX_RETRY_DELAY)

    def _recorded(self) -> None:
        self.last_error = None
        self._degraded = False
        self._delay = self._first_delay

    def _put_in_spool(self, batch: list[NewVerdict]) -> bool:
        assert self._spool is not None  # noqa: S101 -- only called with a spool
        try:
            kept = self._spool.put(batch)
        except OSError as exc:
            log.error("cannot spool %d verdicts: %s", len(batch), exc)
            kept = False
        with self._cond:
            if kept:
                self._spooled += len(batch)
            else:
                log.error("verdict spool full: dropped %d verdicts", len(batch))
                self._metrics.store_dropped.inc(len(batch))
            self._metrics.store_spooled.set(self._spooled)
        return kept

    def _wait_for_work(self) -> list[NewVerdict] | None:
        """The next batch from the queue, [] when it is time to drain the spool, None to stop."""
        with self._cond:
            while True:
                spool_due = self._spooled > 0 and (
                    not self._degraded or time.monotonic() >= self._next_try
                )
                # Spooled batches take turns with fresh ones, or a steady load would
                # keep them (and, while degraded, the retry of the store) waiting forever.
                if spool_due and (not self._queue or self._spool_turn):
                    self._spool_turn = False
                    return []
                if self._queue:
                    self._spool_turn = True
                    break
                if self._closing:
                    return None
                timeout = None
                if self._spooled > 0:
                    timeout = max(self._next_try - time.monotonic(), 0.0)
                self._cond.wait(timeout)
            if self._linger > 0 and not (self._closing or self._flushing or self._degraded):
                self._cond.wait_for(
                    lambda: self._closing or self._flushing > 0 or len(self._queue) >= _BATCH,
                    self._linger,
                )
            batch = [self._queue.popleft() for _ in range(min(_BATCH, len(self._queue)))]
            self._in_flight = len(batch)
            return batch

    def _settle(self, requeue: list[NewVerdict] | None = None) -> None:
        with self._cond:
            self._in_flight = 0
            if requeue:
                self._queue.extendleft(reversed(requeue))
                self._trim()
            self._metrics.store_queue.set(len(self._queue))
            self._metrics.store_spooled.set(self._spooled)
            self._cond.notify_all()

    def _drain_spool(self) -> None:
        assert self._spool is not None  # noqa: S101 -- only with spooled verdicts
        segment = self._spool.take()
        if segment is None:  # taken by another worker, or set aside as unreadable
            with self._cond:
                self._spooled = self._spool.size()[0]
            self._settle()
            return
        try:
            self._store.record(segment.verdicts)
        except Exception as exc:
            self._spool.release(segment)
            self._failed(exc, len(segment.verdicts))
        else:
            self._spool.done(segment)
            self._recorded()
            with self._cond:
                self._spooled = max(self._spooled - len(segment.verdicts), 0)
        self._settle()

    def _run(self) -> None:
        if self._spool is not None:
            self._spool.reclaim()
        while True:
            batch = self._wait_for_work()
            if batch is None:
                return
            if not batch:
                self._drain_spool()
                continue
            if self._degraded and self._spool is not None:
                self._put_in_spool(batch)
                self._settle()
                continue
            try:
                self._store.record(batch)
            except Exception as exc:
                self._failed(exc, len(batch))
                if self._spool is not None and self._put_in_spool(batch):
                    self._settle()
                    continue
                self._settle(requeue=batch)
                with self._cond:
                    if self._closing:
                        return
                    self._cond.wait(max(self._next_try - time.monotonic(), 0.0))
            else:
                self._recorded()
                self._settle()
