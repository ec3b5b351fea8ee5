"""What was fetched from a registry for one image digest, kept for a while and fetched once.

Signature, keyless and attestation verifiers read the same kind of thing per
digest (a signature manifest, a referrers listing and the blobs they name)
and check it against every authority a policy names. Each keeps one of
these: least recently used entries go beyond ``size``, entries expire after
``ttl`` seconds, a failed or empty fetch after ``failure_ttl`` (so a
signature pushed a moment later counts soon), and concurrent checks of one
digest wait for a single fetch while checks of other digests go on.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

_T = TypeVar("_T")


@dataclass
class _Entry(Generic[_T]):
    expires: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    value: _T | None = None


class FetchCache(Generic[_T]):
    """A bounded, expiring, single-flight cache of fetch results by key."""

    def __init__(self, *, size: int, ttl: float, failure_ttl: float) -> None:
        """Keep at most ``size`` entries, for ``ttl`` seconds (``failure_ttl`` when failed)."""
        self._size = size
        self._ttl = ttl
        self._failure_ttl = failure_ttl
        self._entries: OrderedDict[Hashable, _Entry[_T]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, fetch: Callable[[], _T], failed: Callable[[_T], bool]) -> _T:
        """The cached value of ``key``, or ``fetch()``'s (kept shorter when ``failed`` says so)."""
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or now > entry.expires:
                entry = _Entry(expires=now + self._ttl)
                self._entries[key] = entry
                while len(self._entries) > self._size:
                    self._entries.popitem(last=False)
            else:
                self._entries.move_to_end(key)
        with entry.lock:
            if entry.value is None:
                value = fetch()
                entry.value = value
                if failed(value):
                    entry.expires = min(entry.expires, time.monotonic() + self._failure_ttl)
                return value
            return entry.value

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._entries.clear()
