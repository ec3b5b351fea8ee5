"""Prometheus metrics of one webhook app, in a registry of its own.

A registry per app (not the process-global default) lets tests build several
apps in one process. Metrics are per worker process: ``gate serve`` runs
several gunicorn workers (see ``webhook.serve``), and a scrape of
``/metrics`` sees the counters of the worker that answered it. Summed over
scrapes and workers the counters stay right in PromQL only per worker; for
exact per-pod totals run one worker per pod (``gate serve --workers 1``) and
scale by replicas.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics import MetricWrapperBase

__all__ = ["CONTENT_TYPE_LATEST", "LabelCache", "Metrics"]

M = TypeVar("M", bound=MetricWrapperBase)


class LabelCache(Generic[M]):
    """The children of a one-label metric, looked up once per label value.

    ``metric.labels(value)`` validates and locks on every call, a cost paid on
    every admission; a race here only makes two lookups that return the same child.
    """

    def __init__(self, metric: M) -> None:
        self._metric = metric
        self._children: dict[str, M] = {}

    def __call__(self, value: str) -> M:
        """The child of the metric for ``value``."""
        child = self._children.get(value)
        if child is None:
            child = self._children[value] = self._metric.labels(value)
        return child


#: Latency buckets around the admission budget: sub-millisecond cache hits up to the deadline.
_LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    8.0,
    10.0,
    30.0,
)


class Metrics:
    """Every metric the webhook exports, registered in ``self.registry``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.admissions = Counter(
            "gate_admission_requests",
            "AdmissionReview requests answered, by decision (allow, warn, deny, skipped).",
            ["decision"],
            registry=r,
        )
        self.image_decisions = Counter(
            "gate_image_decisions",
            "Images decided at admission, by decision.",
            ["decision"],
            registry=r,
        )
        self.latency = Histogram(
            "gate_admission_duration_seconds",
            "Time to answer one AdmissionReview.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.bad_requests = Counter(
            "gate_admission_bad_requests",
            "Requests to /validate that were not a usable AdmissionReview.",
            registry=r,
        )
        self.deadline_exceeded = Counter(
            "gate_admission_deadline_exceeded",
            "Images denied because their check did not finish within the deadline.",
            registry=r,
        )
        self.cache_hits = Counter(
            "gate_verification_cache_hits",
            "Lookups answered from the cache, by cache (signature, manifest).",
            ["cache"],
            registry=r,
        )
        self.cache_misses = Counter(
            "gate_verification_cache_misses",
            "Lookups that had to ask the registry, by cache (signature, manifest).",
            ["cache"],
            registry=r,
        )
        self.registry_errors = Counter(
            "gate_registry_errors",
            "Registry failures met while checking images (the image is denied).",
            registry=r,
        )
        self.policy_reloads = Counter(
            "gate_policy_reloads",
            "Policy files loaded after a change.",
            registry=r,
        )
        self.policy_reload_errors = Counter(
            "gate_policy_reload_errors",
            "Changed policy files that did not validate (the last good policy stays).",
            registry=r,
        )
        self.store_errors = Counter(
            "gate_store_errors",
            "Failed attempts to record verdicts (they stay queued for retry).",
            registry=r,
        )
        self.store_dropped = Counter(
            "gate_store_dropped_verdicts",
            "Verdicts dropped because the retry queue (and the disk spool) was full.",
            registry=r,
        )
        self.store_queue = Gauge(
            "gate_store_queue_verdicts",
            "Verdicts waiting to be recorded.",
            registry=r,
        )
        self.store_spooled = Gauge(
            "gate_store_spooled_verdicts",
            "Verdicts kept on local disk while the store was unavailable, not yet recorded.",
            registry=r,
        )
        self.rechecks = Counter(
            "gate_rechecks",
            "Images re-evaluated after new evidence or on the schedule, by decision.",
            ["decision"],
            registry=r,
        )
        self.recheck_failures = Counter(
            "gate_recheck_failures",
            "Running (admitted) images that a re-check now denies.",
            registry=r,
        )
        self.recheck_errors = Counter(
            "gate_recheck_errors",
            "Re-check runs that could not complete (e.g. the store was unreachable).",
            registry=r,
        )
        self.alerts_sent = Counter(
            "gate_alerts_sent",
            "Re-check alerts delivered, by receiver (webhook, slack).",
            ["receiver"],
            registry=r,
        )
        self.alert_failures = Counter(
            "gate_alert_failures",
            "Re-check alerts that could not be delivered after retries, by receiver.",
            ["receiver"],
            registry=r,
        )

        self.admission = LabelCache(self.admissions)
        self.image_decision = LabelCache(self.image_decisions)
        self.cache_hit = LabelCache(self.cache_hits)
        self.cache_miss = LabelCache(self.cache_misses)
        self.recheck = LabelCache(self.rechecks)
        self.alert_sent = LabelCache(self.alerts_sent)
        self.alert_failure = LabelCache(self.alert_failures)

    def render(self) -> bytes:
        """The text exposition format of every metric."""
        return generate_latest(self.registry)
