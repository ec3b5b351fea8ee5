"""The webhook's Flask application factory: ``/validate``, probes, metrics and the API.

``create_app(settings)`` builds everything once (policy, registry client,
caches, store, thread pool on first use) and nothing at import time, so
``gunicorn 'webhook.app:create_app()'`` configures itself from ``GATE_*``
variables and tests can build several apps in one process.

``POST /validate`` is ``webhook.validate`` (served in front of Flask's
dispatch); the probes, metrics and the verdict API are Flask routes.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from gate.clock import Clock, system_clock
from gate.errors import BackendError, GateError
from gate.oci.client import RegistryClient
from gate.store.exceptions import ExceptionStore
from gate.store.model import VerdictQuery, VerdictStats, VerdictStore
from webhook.alerts import AlertSender
from webhook.api import create_api_blueprint
from webhook.checker import AdmissionChecker
from webhook.exceptions_api import create_exceptions_blueprint
from webhook.metrics import CONTENT_TYPE_LATEST, Metrics
from webhook.policy_holder import PolicyHolder
from webhook.preview_service import PreviewService
from webhook.recheck import Rechecker
from webhook.recorder import VerdictRecorder
from webhook.settings import Settings
from webhook.shared_cache import RedisBackend, SharedCache
from webhook.spool import VerdictSpool
from webhook.stats_api import create_stats_blueprint
from webhook.stored_exceptions import DEFAULT_EXCEPTIONS_TTL, StoredExceptions
from webhook.tokens import TokenSet, load_tokens
from webhook.ui_routes import create_ui_blueprint
from webhook.validate import PATH as VALIDATE_PATH
from webhook.validate import AdmissionEndpoint, error_body

log = logging.getLogger(__name__)


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
    rechecker: Rechecker | None = None
    alerts: AlertSender | None = None

    def close(self) -> None:
        """Stop the threads, write queued verdicts and release connections."""
        self.holder.stop()
        if self.rechecker is not None:
            self.rechecker.close()
        if self.alerts is not None:
            self.alerts.close()
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
    exceptions_ttl: float = DEFAULT_EXCEPTIONS_TTL,
) -> Flask:
    """The webhook application for ``settings`` (default: ``Settings.from_env(os.environ)``).

    ``store``, ``registry`` and ``tokens`` replace what ``settings`` would
    build (tests inject a failing store or a shared registry client). Raises
    ``GateError`` when the policy does not load or the store cannot be
    opened: a webhook must not start on a guess. ``exceptions_ttl`` is how
    long the set of stored exceptions is cached (``webhook.stored_exceptions``).
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
    shared_cache = None
    if settings.redis_url is not None:
        # No connection yet: Redis may be down at start, the webhook starts all the same.
        backend = RedisBackend(settings.redis_url, timeout=settings.redis_timeout)
        shared_cache = SharedCache(backend, metrics, hmac_key=settings.redis_hmac_key)
        log.info(
            "verification cache shared through %s%s",
            backend.label,
            " (values signed with an HMAC key)" if settings.redis_hmac_key else "",
        )
    stored_exceptions = (
        StoredExceptions(store, clock=clock, ttl=exceptions_ttl)
        if isinstance(store, ExceptionStore)
        else None
    )
    checker = AdmissionChecker(
        holder,
        registry,
        store,
        metrics,
        deadline=settings.admission_deadline,
        cache_ttl=settings.cache_ttl,
        tag_cache_ttl=settings.tag_cache_ttl,
        cache_size=settings.cache_size,
        threads=settings.check_threads,
        clock=clock,
        shared_cache=shared_cache,
        exceptions=stored_exceptions,
    )
    spool = None
    if settings.spool_dir is not None:
        try:
            spool = VerdictSpool(settings.spool_dir, max_bytes=settings.spool_max_bytes)
        except OSError as exc:
            raise BackendError(
                f"verdict spool {settings.spool_dir}: cannot use the directory: {exc.strerror}"
            ) from None
    recorder = VerdictRecorder(store, metrics, capacity=settings.store_queue_size, spool=spool)
    alerts = AlertSender(
        metrics, webhook_url=settings.alert_webhook_url, slack_url=settings.alert_slack_url
    )
    rechecker = Rechecker(
        holder,
        store,
        metrics,
        alerts,
        evidence=checker.stored_evidence,
        lookup=checker.cached_signature,
        interval=settings.recheck_interval,
        window=settings.recheck_window,
        clock=clock,
        submit=recorder.submit,
    )
    previewer = PreviewService(
        holder,
        store,
        evidence=checker.stored_evidence,
        lookup=checker.cached_signature,
        clock=clock,
    )
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
        rechecker=rechecker,
        alerts=alerts,
    )
    app = Flask("webhook")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions["gate"] = state
    app.register_blueprint(
        create_api_blueprint(
            store, tokens, clock=clock, preview=previewer, on_evidence=rechecker.evidence_arrived
        )
    )
    if isinstance(store, VerdictStats):  # an injected store may not aggregate
        app.register_blueprint(create_stats_blueprint(store, tokens, clock=clock))
    if stored_exceptions is not None and isinstance(store, ExceptionStore):
        app.register_blueprint(
            create_exceptions_blueprint(
                store,
                tokens,
                max_days=lambda: holder.policy.exceptions_max_days,
                clock=clock,
                on_change=stored_exceptions.invalidate,
            )
        )
    app.register_blueprint(create_ui_blueprint())
    endpoint = AdmissionEndpoint(
        holder,
        checker,
        recorder,
        metrics,
        max_body_bytes=settings.max_body_bytes,
        clock=clock,
    )
    _register_routes(app, state, endpoint)
    # Flask's documented way to wrap the app in WSGI middleware.
    app.wsgi_app = endpoint.wsgi(app.wsgi_app)  # type: ignore[method-assign,assignment]
    holder.ensure_watching()
    rechecker.start()
    return app


def _register_routes(app: Flask, state: WebhookState, endpoint: AdmissionEndpoint) -> None:
    metrics = state.metrics

    @app.post(VALIDATE_PATH)
    def validate() -> Response:
        # Served by ``endpoint.wsgi`` in front of Flask; this route answers when
        # the app is driven through ``app.wsgi_app``'s original (and for 405s).
        status, body = endpoint.answer(request.get_data(cache=False))
        return Response(body, status=status, mimetype="application/json")

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
        store: dict[str, Any] = {
            "pendingVerdicts": state.recorder.pending,
            "spooledVerdicts": state.recorder.spooled,
        }
        ready = True
        try:
            state.store.query(VerdictQuery(), limit=1)
        except GateError as exc:
            ready = False
            store["error"] = str(exc)
        if state.recorder.last_error is not None:
            store["lastRecordError"] = state.recorder.last_error
        body = {"status": "ready" if ready else "not ready", "policy": policy, "store": store}
        shared = state.checker.shared_cache
        if shared is not None:
            # Informational: without Redis every replica still decides, it verifies more.
            body["sharedCache"] = {"server": shared.label, "lastError": shared.last_error}
        return jsonify(body), 200 if ready else 503

    @app.get("/metrics")
    def metrics_view() -> Response:
        return Response(metrics.render(), mimetype=None, content_type=CONTENT_TYPE_LATEST)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc: RequestEntityTooLarge) -> tuple[Response, int]:
        status, body = endpoint.too_large()
        return Response(body, mimetype="application/json"), status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        return _json_error(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[Response, int]:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return _json_error(500, f"internal error: {type(exc).__name__}")


def _json_error(code: int, reason: str) -> tuple[Response, int]:
    return Response(error_body(reason), mimetype="application/json"), code
