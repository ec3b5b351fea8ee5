"""The policy in force, and its reload when the file changes (a mounted ConfigMap update).

A watcher thread stats the file every few seconds; when anything about it
changed (inode, size, mtime: a ConfigMap update swaps a symlink) it loads
and validates the new file completely before swapping it in. A file that
does not validate leaves the last good policy in force; the error is logged,
counted (``gate_policy_reload_errors_total``) and shown by ``/readyz`` until
a good file replaces it. Requests read the current policy with one attribute
access and never wait for a reload.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from gate.clock import Clock, system_clock
from gate.errors import GateError
from gate.policy.loader import load_policy
from gate.policy.model import Policy
from webhook.metrics import Metrics

log = logging.getLogger(__name__)

_FileState = tuple[int, int, int, int, int] | None


def _file_state(path: Path) -> _FileState:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


@dataclass(frozen=True)
class PolicyStatus:
    """What ``/readyz`` shows about the policy."""

    name: str
    digest: str
    source: str
    loaded_at: datetime
    reload_error: str | None  # the last rejected file's errors, until a good one loads


class PolicyHolder:
    """Holds the current ``Policy``; ``check_now`` reloads it if the file changed."""

    def __init__(
        self, path: Path, metrics: Metrics, *, interval: float, clock: Clock = system_clock
    ) -> None:
        self._path = path
        self._metrics = metrics
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._state = _file_state(path)
        # The first load raises: a webhook must not start without a valid policy.
        self._policy = load_policy(path)
        self._loaded_at = clock()
        self._reload_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def policy(self) -> Policy:
        """The policy in force."""
        return self._policy

    def status(self) -> PolicyStatus:
        """Name, digest and reload state of the policy in force."""
        policy = self._policy
        return PolicyStatus(
            name=policy.name,
            digest=str(policy.digest),
            source=str(self._path),
            loaded_at=self._loaded_at,
            reload_error=self._reload_error,
        )

    def check_now(self) -> bool:
        """Reload the policy if its file changed; True when a new policy was put in force."""
        with self._lock:
            state = _file_state(self._path)
            if state == self._state:
                return False
            self._state = state
            try:
                policy = load_policy(self._path)
            except GateError as exc:
                self._reload_error = str(exc)
                self._metrics.policy_reload_errors.inc()
                log.error(
                    "policy %s changed but is not valid; keeping policy %r (%s): %s",
                    self._path,
                    self._policy.name,
                    self._policy.digest,
                    " | ".join(str(exc).splitlines()),
                )
                return False
            self._reload_error = None
            if policy.digest == self._policy.digest:
                return False
            self._policy = policy
            self._loaded_at = self._clock()
            self._metrics.policy_reloads.inc()
            log.info("policy reloaded from %s: %r (%s)", self._path, policy.name, policy.digest)
            return True

    def ensure_watching(self) -> None:
        """Start the watcher thread unless it runs (again after a fork, where threads are lost)."""
        if self._interval <= 0 or self._stop.is_set():
            return
        thread = self._thread
        if thread is not None and thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(
                target=self._watch, name="gate-policy-watcher", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop the watcher thread."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=5)

    def _watch(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.check_now()
            except Exception:
                # The watcher must outlive any surprise; the policy in force stays.
                log.exception("policy watcher failed; will try again")
