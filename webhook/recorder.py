"""Recording admission verdicts without letting the store slow down or change a decision.

Verdicts go into a bounded in-memory queue and a background thread writes
them in batches. When the store fails, the batch goes back to the front of
the queue and is retried with a growing pause; nothing is lost while the
queue has room, and when it is full the oldest verdicts are dropped and
counted. The admission answer never waits for the database.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Sequence

from gate.store.model import NewVerdict, VerdictStore
from webhook.metrics import Metrics

log = logging.getLogger(__name__)

_BATCH = 500
#: How long the writer lets verdicts gather before a write: under load one
#: transaction then carries many verdicts instead of one each.
_LINGER = 0.2
_FIRST_RETRY_DELAY = 0.25
_MAX_RETRY_DELAY = 10.0


class VerdictRecorder:
    """A bounded retry queue in front of ``VerdictStore.record``, drained by one thread."""

    def __init__(
        self,
        store: VerdictStore,
        metrics: Metrics,
        *,
        capacity: int,
        first_retry_delay: float = _FIRST_RETRY_DELAY,
        linger: float = _LINGER,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._capacity = capacity
        self._first_delay = first_retry_delay
        self._linger = linger
        self._flushing = 0
        self._queue: collections.deque[NewVerdict] = collections.deque()
        self._in_flight = 0
        self._closing = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None

    @property
    def pending(self) -> int:
        """Verdicts queued or being written."""
        with self._cond:
            return len(self._queue) + self._in_flight

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
        """Wait until everything queued so far is recorded; False when ``timeout`` ran out."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._flushing += 1
            self._cond.notify_all()
            try:
                while self._queue or self._in_flight:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._cond.wait(remaining)
            finally:
                self._flushing -= 1
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued (waiting at most ``timeout``) and stop the writer thread."""
        self.flush(timeout)
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
        left = self.pending
        if left:
            log.error("verdict recorder stopped with %d verdicts not recorded", left)

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

    def _run(self) -> None:
        delay = self._first_delay
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return
                if self._linger > 0 and not (self._closing or self._flushing):
                    self._cond.wait_for(
                        lambda: self._closing or self._flushing > 0 or len(self._queue) >= _BATCH,
                        self._linger,
                    )
                batch = [self._queue.popleft() for _ in range(min(_BATCH, len(self._queue)))]
                self._in_flight = len(batch)
            try:
                self._store.record(batch)
            except Exception as exc:
                # Any failure, typed or not, must leave the thread alive and the batch queued.
                self.last_error = str(exc) or type(exc).__name__
                self._metrics.store_errors.inc()
                log.error("recording %d verdicts failed (will retry): %s", len(batch), exc)
                with self._cond:
                    self._in_flight = 0
                    self._queue.extendleft(reversed(batch))
                    self._trim()
                    self._metrics.store_queue.set(len(self._queue))
                    self._cond.notify_all()
                    if self._closing:
                        return
                    self._cond.wait(delay)
                delay = min(delay * 2, _MAX_RETRY_DELAY)
            else:
                self.last_error = None
                delay = self._first_delay
                with self._cond:
                    self._in_flight = 0
                    self._metrics.store_queue.set(len(self._queue))
                    self._cond.notify_all()
