"""Alerts for running images that a re-check now denies: a JSON webhook and a Slack message.

Alerts leave from one background thread, through a bounded queue, so a
slow or dead receiver never holds up a re-check (let alone an admission).
Each POST has a timeout and is retried a few times with a growing pause;
an alert that still fails is logged at ERROR and counted
(``gate_alert_failures_total``), never dropped silently. A full queue drops
the newest alert, also logged and counted.
"""

from __future__ import annotations

import collections
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from gate import __version__
from gate.errors import InputError
from webhook.metrics import Metrics

log = logging.getLogger(__name__)

#: Alert kinds, the label of the alert metrics.
GENERIC = "webhook"
SLACK = "slack"

_QUEUE_SIZE = 1000
_ATTEMPTS = 3
_FIRST_RETRY_DELAY = 1.0
_TIMEOUT = 5.0


@dataclass(frozen=True)
class RecheckAlert:
    """One running image that was admitted and that the current policy now denies."""

    image: str
    digest: str
    namespace: str | None
    workload_kind: str | None
    workload_name: str | None
    old_decision: str
    new_decision: str
    old_reason: str
    new_reason: str
    rule: str | None
    policy: str
    trigger: str  # "evidence" (a new document for the digest) or "schedule"
    time: str  # RFC 3339

    def to_json(self) -> dict[str, Any]:
        """The generic webhook's body."""
        return {
            "kind": "gate.recheck.denied",
            "image": self.image,
            "digest": self.digest,
            "namespace": self.namespace,
            "workloadKind": self.workload_kind,
            "workloadName": self.workload_name,
            "oldDecision": self.old_decision,
            "newDecision": self.new_decision,
            "rule": self.rule,
            "reasons": {"old": self.old_reason, "new": self.new_reason},
            "policy": self.policy,
            "trigger": self.trigger,
            "time": self.time,
        }

    def to_slack(self) -> dict[str, Any]:
        """A Slack incoming-webhook message: ``text`` for every client, ``blocks`` for layout."""
        where = f"namespace `{self.namespace or '-'}`"
        if self.workload_name:
            where += f", {self.workload_kind or 'workload'} `{self.workload_name}`"
        headline = (
            f"gate: running image {self.image} is now {self.new_decision.upper()} "
            f"(was {self.old_decision}) in {where}"
        )
        text = f"{headline}\nreason: {self.new_reason}\ndigest: {self.digest}"
        return {
            "text": text,
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": f"*{headline}*"}},
                {
                    "type": "section",
                    "text": {
                        "type": "mrkdwn",
                        "text": f"*Reason:* {self.new_reason}\n*Was:* {self.old_reason}\n"
                        f"*Digest:* `{self.digest}`\n*Policy:* {self.policy} ({self.trigger})",
                    },
                },
            ],
        }


def check_alert_url(url: str, source: str) -> str:
    """``url`` if it is an absolute http(s) URL; ``InputError`` naming ``source`` otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # The URL itself may carry a secret (Slack's does): it is not repeated.
        raise InputError("must be an http:// or https:// URL", source=source)
    return url


Poster = Callable[[str, bytes, float], int]


def _post(url: str, body: bytes, timeout: float) -> int:
    response = requests.post(
        url,
        data=body,
        headers={"Content-Type": "application/json", "User-Agent": f"gate/{__version__}"},
        timeout=(timeout, timeout),
        allow_redirects=False,
    )
    response.close()
    return response.status_code


class AlertSender:
    """Sends ``RecheckAlert``s to the configured receivers from one background thread."""

    def __init__(
        self,
        metrics: Metrics,
        *,
        webhook_url: str | None = None,
        slack_url: str | None = None,
        timeout: float = _TIMEOUT,
        attempts: int = _ATTEMPTS,
        first_retry_delay: float = _FIRST_RETRY_DELAY,
        poster: Poster = _post,
    ) -> None:
        self._targets: tuple[tuple[str, str], ...] = tuple(
            (kind, url) for kind, url in ((GENERIC, webhook_url), (SLACK, slack_url)) if url
        )
        self._metrics = metrics
        self._timeout = timeout
        self._attempts = max(attempts, 1)
        self._first_delay = first_retry_delay
        self._post = poster
        self._queue: collections.deque[tuple[str, str, RecheckAlert]] = collections.deque()
        self._cond = threading.Condition()
        self._busy = 0
        self._closing = False
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        """True when at least one receiver is configured."""
        return bool(self._targets)

    def send(self, alerts: Sequence[RecheckAlert]) -> None:
        """Queue ``alerts`` for every receiver; returns at once."""
        if not self._targets or not alerts:
            return
        with self._cond:
            for alert in alerts:
                for kind, url in self._targets:
                    if len(self._queue) >= _QUEUE_SIZE or self._closing:
                        self._metrics.alert_failure(kind).inc()
                        log.error(
                            "alert queue full or closed: %s alert for %s@%s not sent",
                            kind,
                            alert.image,
                            alert.digest,
                        )
                        continue
                    self._queue.append((kind, url, alert))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="gate-alerts", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def flush(self, timeout: float) -> bool:
        """Wait until every queued alert was sent or given up; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Send what is queued (waiting at most ``timeout``), then stop the thread."""
        self.flush(timeout)
        with self._cond:
            self._closing = True
            left = len(self._queue)
            self._cond.notify_all()
        if left:
            log.error("alert sender stopped with %d alerts not sent", left)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return
                kind, url, alert = self._queue.popleft()
                self._busy += 1
            try:
                self._deliver(kind, url, alert)
            except Exception:  # the thread must survive anything a receiver does
                self._metrics.alert_failure(kind).inc()
                log.exception("%s alert for %s@%s failed", kind, alert.image, alert.digest)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def _deliver(self, kind: str, url: str, alert: RecheckAlert) -> None:
        payload = alert.to_slack() if kind == SLACK else alert.to_json()
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        host = urlsplit(url).hostname or "?"
        delay = self._first_delay
        problem = ""
        for attempt in range(1, self._attempts + 1):
            try:
                status = self._post(url, body, self._timeout)
            except requests.RequestException as exc:
                problem = type(exc).__name__
            else:
                if 200 <= status < 300:
                    self._metrics.alert_sent(kind).inc()
                    return
                problem = f"HTTP {status}"
            if attempt < self._attempts:
                time.sleep(delay)
                delay *= 2
        self._metrics.alert_failure(kind).inc()
        # The host only: a Slack webhook URL's path is its secret.
        log.error(
            "%s alert to %s for %s@%s failed after %d attempts: %s",
            kind,
            host,
            alert.image,
            alert.digest,
            self._attempts,
            problem,
        )
