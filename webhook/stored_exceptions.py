"""The webhook's view of stored exceptions: read from the store at most every few seconds.

Admission must not query the database per request, so the active set (and
the exceptions expired within ``EXPIRED_WINDOW``, which verdicts report as
expired) is cached for ``ttl`` seconds (5 by default). When the store
cannot be read, the last set read is used while it is younger than
``ttl * STALE_FACTOR`` (one minute by default: a short database outage
does not deny every image with findings under exception); after that the
read fails and the check fails closed (deny) for every rule with
vulnerability limits. A create or revoke through this replica's API
drops the cache at once; other replicas see it within ``ttl``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from gate.clock import Clock
from gate.errors import BackendError, GateError
from gate.policy.exceptions import CompiledException
from gate.store.exceptions import ExceptionStore

__all__ = ["DEFAULT_EXCEPTIONS_TTL", "EXPIRED_WINDOW", "STALE_FACTOR", "StoredExceptions"]

DEFAULT_EXCEPTIONS_TTL = 5.0
#: The last good set stands in for an unreadable store this many TTLs long.
STALE_FACTOR = 12
#: Expired exceptions are still loaded (to be reported as expired) for this long.
EXPIRED_WINDOW = timedelta(days=30)
_LOG = logging.getLogger(__name__)


class StoredExceptions:
    """``gate.exception_source.ExceptionSource`` over an ``ExceptionStore``, cached."""

    def __init__(
        self,
        store: ExceptionStore,
        *,
        clock: Clock,
        ttl: float = DEFAULT_EXCEPTIONS_TTL,
        stale_factor: int = STALE_FACTOR,
    ) -> None:
        """Serve ``store``'s exceptions; ``clock`` (a ``gate.clock.Clock``) is "now" for loading."""
        self._store = store
        self._clock = clock
        self._ttl = ttl
        self._stale = ttl * stale_factor
        self._lock = threading.Lock()
        self._loaded: tuple[CompiledException, ...] | None = None
        self._loaded_at = 0.0  # time.monotonic of the last good read
        self._noticed: set[str] = set()

    def invalidate(self) -> None:
        """Drop the cached set: the next check reads the store."""
        with self._lock:
            self._loaded_at = -float("inf") if self._loaded is None else self._loaded_at - self._ttl

    def current(self) -> tuple[CompiledException, ...]:
        """The cached set, read again when older than the TTL; ``BackendError`` when stale."""
        with self._lock:
            age = time.monotonic() - self._loaded_at
            if self._loaded is not None and age < self._ttl:
                return self._loaded
            now = self._clock()
            try:
                records = self._store.list_exceptions(
                    revoked=False, expires_after=now - EXPIRED_WINDOW, limit=10000
                )
            except GateError as exc:
                if self._loaded is not None and age < self._stale:
                    _LOG.warning(
                        "stored exceptions unreadable, using the set read %.0f s ago: %s", age, exc
                    )
                    return self._loaded
                raise BackendError(f"could not read stored exceptions: {exc}") from None
            compiled: list[CompiledException] = []
            for record in records:
                try:
                    compiled.append(record.compile())
                except ValueError as exc:  # validated when made; a hand-edited row is skipped
                    _LOG.warning("stored exception %s not usable: %s", record.id, exc)
            self._loaded = tuple(compiled)
            self._loaded_at = time.monotonic()
            self._noticed.update(r.id for r in records if r.expired_noticed_at is not None)
            return self._loaded

    def noticed_expired(self, exception_ids: Sequence[str], now: datetime) -> None:
        """Audit "expired" once per exception (the store makes it once across replicas)."""
        for exception_id in exception_ids:
            with self._lock:
                if exception_id in self._noticed:
                    continue
                self._noticed.add(exception_id)
            try:
                self._store.notice_exception_expired(exception_id, at=now)
            except GateError as exc:
                with self._lock:
                    self._noticed.discard(exception_id)  # try again with a later verdict
                _LOG.warning("could not audit the expiry of exception %s: %s", exception_id, exc)
