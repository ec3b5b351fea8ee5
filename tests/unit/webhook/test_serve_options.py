"""The gunicorn settings ``gate serve`` picks: by transport, and as the operator overrides them."""

from __future__ import annotations

from pathlib import Path

from webhook.serve import KEEPALIVE, PLAIN_WORKERS, TLS_THREADS, TLS_WORKERS, gunicorn_options
from webhook.settings import Settings

SETTINGS = Settings(policy=Path("policy.yaml"))


def _options(**overrides: object) -> dict[str, object]:
    arguments: dict[str, object] = {
        "host": "127.0.0.1",
        "port": 8443,
        "tls_cert": None,
        "tls_key": None,
        "workers": None,
        "threads": None,
    }
    arguments.update(overrides)
    return gunicorn_options(SETTINGS, **arguments)  # type: ignore[arg-type]  # test shorthand


def test_serving_tls_keeps_connections_alive_on_threaded_workers() -> None:
    options = _options(tls_cert=Path("tls.crt"), tls_key=Path("tls.key"))
    assert (options["worker_class"], options["workers"], options["threads"]) == (
        "gthread",
        TLS_WORKERS,
        TLS_THREADS,
    )
    assert options["keepalive"] == KEEPALIVE
    assert options["certfile"] == "tls.crt"
    assert options["keyfile"] == "tls.key"


def test_plain_http_takes_requests_in_order_on_sync_workers() -> None:
    options = _options()
    assert (options["worker_class"], options["workers"], options["threads"]) == (
        "sync",
        PLAIN_WORKERS,
        1,
    )
    assert "certfile" not in options


def test_the_operator_chooses_workers_and_threads() -> None:
    assert _options(workers=3, threads=8)["worker_class"] == "gthread"
    assert _options(workers=3, threads=8)["workers"] == 3
    tls_sync = _options(tls_cert=Path("c"), tls_key=Path("k"), workers=5, threads=1)
    assert (tls_sync["worker_class"], tls_sync["workers"]) == ("sync", 5)


def test_an_ipv6_host_is_bracketed() -> None:
    assert _options(host="::1", port=9443)["bind"] == ["[::1]:9443"]
