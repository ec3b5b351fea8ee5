"""The webhook's Flask application factory: ``/validate``, probes, metrics and the API.

``create_app(settings)`` builds everything once (policy, registry client,
caches, store, thread pool on first use) and nothing at import time, so
``gunicorn 'webhook.app:create_app()'`` configures itself from ``GATE_*``
variables and tests can build several apps in one process.

``POST /validate`` never answers 500 to bad input: a body that is not a
usable AdmissionReview is a 400 with the reason, or, when the request's
``uid`` could be read, a well-formed AdmissionReview that denies with it.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from gate.clock import Clock, system_clock
from gate.errors import GateError, InputError
from gate.oci.client import RegistryClient
from gate.policy.verdict import Decision
from gate.store.model import CheckRecord, NewVerdict, VerdictQuery, VerdictSource, VerdictStore
from webhook.admission import AdmissionRequest, ReviewError, parse_review, review_response
from webhook.api import create_api_blueprint
from webhook.checker import AdmissionChecker, ImageOutcome
from webhook.metrics import CONTENT_TYPE_LATEST, Metrics
from webhook.policy_holder import PolicyHolder
from webhook.recorder import VerdictRecorder
from webhook.settings import Settings
from webhook.tokens import TokenSet, load_tokens
from webhook.workloads import container_images

log = logging.getLogger(__name__)

#: How many denied images a message names before "and N more".
_MESSAGE_IMAGES = 3


@dataclass
class WebhookState:
    """What one app owns; ``app.extensions["gate"]`` (tests reach caches and queues here)."""

    settings: Settings
    holder: PolicyHolder
    checker: AdmissionChecker
    recorder: VerdictRecorder
    store: VerdictStore
    registry: RegistryClient
    metrics: Metrics
    owns_store: bool
    owns_registry: bool

    def close(self) -> None:
        """Stop the threads, write queued verdicts and release connections."""
        self.holder.stop()
        self.checker.close()
        self.recorder.close()
        if self.owns_store:
            self.store.close()
        if self.owns_registry:
            self.registry.close()


def state_of(app: Flask) -> WebhookState:
    """The ``WebhookState`` of an app made by ``create_app``."""
    state = app.extensions["gate"]
    assert isinstance(state, WebhookState)  # noqa: S101 - an internal invariant, not input
    return state


def create_app(
    settings: Settings | None = None,
    *,
    store: VerdictStore | None = None,
    registry: RegistryClient | None = None,
    tokens: TokenSet | None = None,
    clock: Clock = system_clock,
) -> Flask:
    """The webhook application for ``settings`` (default: ``Settings.from_env(os.environ)``).

    ``store``, ``registry`` and ``tokens`` replace what ``settings`` would
    build (tests inject a failing store or a shared registry client). Raises
    ``GateError`` when the policy does not load or the store cannot be
    opened: a webhook must not start on a guess.
    """
    if settings is None:
        settings = Settings.from_env(os.environ)
    metrics = Metrics()
    holder = PolicyHolder(
        settings.policy, metrics, interval=settings.policy_reload_interval, clock=clock
    )
    if tokens is None:
        tokens = load_tokens(settings.tokens_file) if settings.tokens_file else TokenSet.empty()
    owns_store = store is None
    if store is None:
        from gate.store.sql import SqlVerdictStore  # noqa: PLC0415 - SQLAlchemy only when needed

        store = SqlVerdictStore.from_url(settings.db_url)
    owns_registry = registry is None
    if registry is None:
        registry = RegistryClient(settings.registry_options(), environ=settings.registry_environ)
    checker = AdmissionChecker(
        holder,
        registry,
        store,
        metrics,
        deadline=settings.admission_deadline,
        cache_ttl=settings.cache_ttl,
        cache_size=settings.cache_size,
        threads=settings.check_threads,
        clock=clock,
    )
    recorder = VerdictRecorder(store, metrics, capacity=settings.store_queue_size)
    state = WebhookState(
        settings=settings,
        holder=holder,
        checker=checker,
        recorder=recorder,
        store=store,
        registry=registry,
        metrics=metrics,
        owns_store=owns_store,
        owns_registry=owns_registry,
    )
    app = Flask("webhook")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions["gate"] = state
    app.register_blueprint(create_api_blueprint(store, tokens, clock=clock))
    _register_routes(app, state, clock)
    holder.ensure_watching()
    return app


def _register_routes(app: Flask, state: WebhookState, clock: Clock) -> None:
    metrics = state.metrics

    @app.post("/validate")
    def validate() -> Response | tuple[Response, int]:
        started = time.monotonic()
        state.holder.ensure_watching()
        try:
            body = request.get_data(cache=False)
            if len(body) > state.settings.max_body_bytes:
                raise RequestEntityTooLarge()
            review = parse_review(body)
        except ReviewError as exc:
            metrics.bad_requests.inc()
            if exc.uid is None:
                return _json_error(400, f"bad AdmissionReview: {exc.reason}")
            metrics.admission("deny").inc()
            answer = review_response(
                exc.uid,
                allowed=False,
                code=400,
                message=f"gate: bad AdmissionReview: {exc.reason}",
            )
            return _review_answer(answer)
        try:
            answer = _admit(state, review, started, clock)
        except Exception as exc:
            # A bug must not turn into an allow or a 500 the API server retries on.
            log.exception("admission %s failed", review.uid)
            metrics.admission("deny").inc()
            answer = review_response(
                review.uid,
                allowed=False,
                code=500,
                message=f"gate: internal error, denied (fail closed): {type(exc).__name__}",
            )
        metrics.latency.observe(time.monotonic() - started)
        return _review_answer(answer)

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok"})

    @app.get("/readyz")
    def readyz() -> tuple[Response, int]:
        state.holder.ensure_watching()
        status = state.holder.status()
        policy: dict[str, Any] = {
            "name": status.name,
            "digest": status.digest,
            "file": status.source,
            "loadedAt": status.loaded_at.isoformat(),
        }
        if status.reload_error is not None:
            policy["reloadError"] = status.reload_error
        store: dict[str, Any] = {"pendingVerdicts": state.recorder.pending}
        ready = True
        try:
            state.store.query(VerdictQuery(), limit=1)
        except GateError as exc:
            ready = False
            store["error"] = str(exc)
        if state.recorder.last_error is not None:
            store["lastRecordError"] = state.recorder.last_error
        body = {"status": "ready" if ready else "not ready", "policy": policy, "store": store}
        return jsonify(body), 200 if ready else 503

    @app.get("/metrics")
    def metrics_view() -> Response:
        return Response(metrics.render(), mimetype=None, content_type=CONTENT_TYPE_LATEST)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc: RequestEntityTooLarge) -> tuple[Response, int]:
        metrics.bad_requests.inc()
        limit = state.settings.max_body_bytes
        return _json_error(413, f"request body larger than {limit} bytes")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        return _json_error(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[Response, int]:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return _json_error(500, f"internal error: {type(exc).__name__}")


def _review_answer(answer: dict[str, Any]) -> Response:
    # Serialised directly: ``jsonify`` sorts keys and goes through the app's
    # JSON provider, which costs more than the answer is worth on this path.
    return Response(json.dumps(answer, separators=(",", ":")), mimetype="application/json")


def _json_error(code: int, reason: str) -> tuple[Response, int]:
    return jsonify({"error": " ".join(reason.split())}), code


def _admit(
    state: WebhookState, review: AdmissionRequest, started: float, clock: Clock
) -> dict[str, Any]:
    """Decide one parsed request and queue its verdicts for recording."""
    metrics = state.metrics
    try:
        images = container_images(review)
    except InputError as exc:
        metrics.bad_requests.inc()
        metrics.admission("deny").inc()
        return review_response(
            review.uid,
            allowed=False,
            message=f"gate: cannot tell which images {review.kind.kind} would run: {exc}",
        )
    if images is None:
        metrics.admission("skipped").inc()
        return review_response(review.uid, allowed=True)
    gate = state.checker.gate()
    policy = gate.policy
    outcomes = state.checker.check(gate, images, review.namespace, started)
    for outcome in outcomes:
        metrics.image_decision(outcome.verdict.decision.value).inc()
    decision = Decision.worst(tuple(o.verdict.decision for o in outcomes))
    metrics.admission(decision.value).inc()
    if not review.dry_run:
        decided_at = clock()
        state.recorder.submit(
            [
                NewVerdict(
                    time=decided_at,
                    source=VerdictSource.ADMISSION,
                    reference=o.verdict.reference,
                    digest=o.verdict.digest,
                    decision=o.verdict.decision.value,
                    mode=o.verdict.mode,
                    policy_name=policy.name,
                    policy_digest=str(policy.digest),
                    rule=o.verdict.rule,
                    reason=o.verdict.reason,
                    checks=tuple(
                        CheckRecord(c.check, c.outcome.value, c.reason, c.details)
                        for c in o.verdict.checks
                    ),
                    namespace=review.namespace,
                    workload_kind=review.kind.kind,
                    workload_name=review.workload_name,
                    user=review.username,
                    duration_ms=o.duration_ms,
                    decided=o.decided,
                )
                for o in outcomes
            ]
        )
    warnings = [
        f"gate: image {o.image}{_containers(o)}: {o.verdict.reason}"
        for o in outcomes
        if o.verdict.decision is Decision.WARN
    ]
    if decision is Decision.DENY:
        return review_response(
            review.uid,
            allowed=False,
            message=deny_message(policy.name, outcomes),
            warnings=warnings,
        )
    return review_response(review.uid, allowed=True, warnings=warnings)


def _containers(outcome: ImageOutcome) -> str:
    names = [c.container for c in outcome.containers]
    label = "container" if len(names) == 1 else "containers"
    return f" ({label} {', '.join(names)})"


def deny_message(policy_name: str, outcomes: Sequence[ImageOutcome]) -> str:
    """What ``kubectl apply`` shows: each denied image, its rule and reason, on one line.

    E.g. ``gate policy 'prod' denied image reg/app:1 (container app): rule
    'signed' denies: signatures: no cosign signatures found (sha256-....sig)``.
    """
    denied = [o for o in outcomes if o.verdict.decision is Decision.DENY]
    parts = [f"image {o.image}{_containers(o)}: {o.verdict.reason}" for o in denied]
    shown = "; ".join(parts[:_MESSAGE_IMAGES])
    more = len(parts) - _MESSAGE_IMAGES
    tail = f"; and {more} more denied image(s)" if more > 0 else ""
    return f"gate policy '{policy_name}' denied {shown}{tail}"
