"""``gate serve``: the webhook under gunicorn, started from Python with fitting settings.

Defaults (``--workers``/``--threads`` override them) depend on who connects:

- Serving TLS itself, as a webhook Kubernetes calls: two ``gthread`` worker
  processes with four threads each and keep-alive (``TLS_WORKERS``,
  ``TLS_THREADS``). The API server reuses its connections; a sync worker
  closes each one, and a TLS handshake per admission measured nearly ten
  times fewer admissions per second. The threads keep a worker answering
  cached admissions while another of its requests waits on a slow registry.
- Plain HTTP (locally, in CI, behind a TLS-terminating proxy): four ``sync``
  workers (``PLAIN_WORKERS``). A cached admission is pure CPU; sync workers
  take requests from the kernel's accept queue in order, one each, so none
  waits behind another connection's burst or a thread's hold on the GIL:
  their p99 at saturation was about half that of ``gthread`` workers, whose
  kept-alive connections stay with whichever worker accepted them. Four of
  them let two requests wait on a slow registry without stopping the rest.

Each worker has its own caches (so each verifies a digest once), its own
verdict queue and writer thread (SQLite serialises the writers; the schema
is created once before the fork), and its own metrics (see
``webhook.metrics``). The worker timeout and the graceful shutdown leave
room for the admission deadline; the access log is off (every decision is in
the verdict store and the metrics), errors go to stderr.

Everything that can be wrong with the configuration (policy, token file,
database, TLS files) is checked before gunicorn starts, so a mistake is one
line on stderr and exit code 2, not a worker that fails to boot.
"""

from __future__ import annotations

import gc
import math
import ssl
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]  # gunicorn ships no type hints
from gunicorn.arbiter import Arbiter  # type: ignore[import-untyped]  # gunicorn ships no type hints
from gunicorn.workers.base import Worker  # type: ignore[import-untyped]  # gunicorn ships no type hints

from gate.errors import GateError, InputError
from gate.policy.loader import load_policy
from webhook.app import create_app, state_of
from webhook.settings import Settings
from webhook.tokens import load_tokens

#: Worker processes and threads each when serving TLS (``gthread``, keep-alive).
TLS_WORKERS = 2
TLS_THREADS = 4
#: ``sync`` worker processes when serving plain HTTP.
PLAIN_WORKERS = 4
#: Keep-alive of ``gthread`` workers: the API server reuses its connections.
KEEPALIVE = 75


class WebhookServer(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    """A gunicorn application whose workers each build the app from ``settings``."""

    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self._settings = settings
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        """Apply ``options`` to gunicorn's configuration."""
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        """The app, built in the worker (after the fork: its threads belong to the worker)."""
        return create_app(self._settings)


def _worker_exit(server: Arbiter, worker: Worker) -> None:
    """Write queued verdicts and stop the app's threads when a worker stops."""
    app = getattr(worker, "wsgi", None)
    if isinstance(app, Flask) and "gate" in app.extensions:
        state_of(app).close()


#: The GIL hand-off interval in workers. CPython's default (5 ms) lets a
#: background thread (the verdict writer) keep a request thread waiting up to
#: 5 ms at each of its socket operations; 1 ms bounds that wait.
SWITCH_INTERVAL = 0.001


def _worker_init(worker: Worker) -> None:
    """Tune a worker once its app is loaded: GIL hand-offs, and the GC's view of the startup heap.

    ``gc.freeze`` moves everything alive after start-up (modules, the app,
    the policy, SQLAlchemy's metadata) out of the collector's reach, so a
    full collection during traffic scans only what requests created.
    """
    sys.setswitchinterval(SWITCH_INTERVAL)
    gc.collect()
    gc.freeze()


def gunicorn_options(
    settings: Settings,
    *,
    host: str,
    port: int,
    tls_cert: Path | None,
    tls_key: Path | None,
    workers: int | None,
    threads: int | None,
) -> dict[str, Any]:
    """The gunicorn settings ``serve`` uses (the benchmark uses them for its baseline too)."""
    bind_host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    tls = tls_cert is not None and tls_key is not None
    threads = threads or (TLS_THREADS if tls else 1)
    workers = workers or (TLS_WORKERS if tls else PLAIN_WORKERS)
    options: dict[str, Any] = {
        "bind": [f"{bind_host}:{port}"],
        "workers": workers,
        "worker_class": "sync" if threads == 1 else "gthread",
        "threads": threads,
        # The API server times out at timeoutSeconds; a worker is only killed well after.
        "timeout": max(30, math.ceil(settings.admission_deadline * 3)),
        "graceful_timeout": math.ceil(settings.admission_deadline) + 5,
        # gthread only (a sync worker closes after each answer).
        "keepalive": KEEPALIVE,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "info",
        "preload_app": False,
        "worker_exit": _worker_exit,
        "post_worker_init": _worker_init,
        "proc_name": "gate-webhook",
        "limit_request_line": 8190,
    }
    if tls:
        options["certfile"] = str(tls_cert)
        options["keyfile"] = str(tls_key)
        options["ssl_context"] = _tls_context
    return options


def _tls_context(_config: Any, default_context: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
    """gunicorn's server context with TLS 1.2 as the oldest version a client may speak."""
    context = default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _preflight(settings: Settings, tls_cert: Path | None, tls_key: Path | None) -> None:
    load_policy(settings.policy)
    if settings.tokens_file is not None:
        load_tokens(settings.tokens_file)
    if (tls_cert is None) != (tls_key is None):
        raise InputError("--tls-cert and --tls-key go together")
    for path in (tls_cert, tls_key):
        if path is not None and not path.is_file():
            raise InputError("file not found", source=str(path))
    from gate.store.sql import SqlVerdictStore  # noqa: PLC0415 - SQLAlchemy only when serving

    # Creates or migrates the schema once, before several workers race to do it.
    SqlVerdictStore.from_url(settings.db_url).close()


def serve(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 8443,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    workers: int | None = None,
    threads: int | None = None,
) -> int:
    """Run the webhook under gunicorn until it is stopped; the process exit code.

    Without ``tls_cert``/``tls_key`` it serves plain HTTP (Kubernetes needs
    HTTPS: use that only behind a TLS-terminating proxy or locally). Returns
    2 after printing one line when the configuration is unusable.
    """
    try:
        _preflight(settings, tls_cert, tls_key)
    except GateError as exc:
        for line in str(exc).splitlines():
            print(f"gate: {line}", file=sys.stderr)
        return 2
    options = gunicorn_options(
        settings,
        host=host,
        port=port,
        tls_cert=tls_cert,
        tls_key=tls_key,
        workers=workers,
        threads=threads,
    )
    try:
        WebhookServer(settings, options).run()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0
