"""HTTP for registries: TLS trust, HTTPS/HTTP choice, redirects, size caps, timeouts.

Every request goes through :class:`Transport`. It decides per host whether
plain HTTP is allowed (loopback and ``insecure_registries`` only, after HTTPS
failed), builds one TLS context per host from the system trust store plus a
containers ``certs.d`` directory, follows redirects itself (dropping the
``Authorization`` header when the host changes, and going to plain HTTP only
when the host first asked was itself allowed plain HTTP), reads bodies as a
stream with a size cap, and turns every failure into a one-line
``BackendError``.

Two clocks bound a request: ``timeout`` for the connect and for each read,
and a total ``deadline`` from the first connect to the last body byte
(redirects and the HTTPS-then-HTTP fallback included), so that a server
dripping one byte at a time cannot hold the caller. The deadline caps the
connect and header waits and is enforced while the body streams in, by a
watchdog that shuts the socket down when it passes; a status line and
headers dripped byte by byte are cut at the deadline too, by the connection
watch of ``gate.oci.watchdog``.

A ``429 Too Many Requests`` (or a ``503``) with ``Retry-After`` is sent
again after the wait asked, at most ``MAX_RETRY_AFTER`` times, when the
wait fits in what is left of that request's deadline; a 429 whose wait does
not fit (or that gives none) fails at once with a line naming the registry,
the status and the ``Retry-After``. No wait ever runs past the deadline.
"""

from __future__ import annotations

import contextlib
import email.utils
import ipaddress
import json
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions
from requests.structures import CaseInsensitiveDict

from gate.errors import BackendError, InputError
from gate.oci.allowlist import HostPolicy
from gate.oci.reference import normalise_registry
from gate.oci.watchdog import WatchedAdapter, watched

if TYPE_CHECKING:
    from requests.adapters import _HostParams, _PoolKwargs

#: Where docker and podman look for per-registry certificates.
DEFAULT_CERT_DIRS = (Path("/etc/containers/certs.d"), Path("/etc/docker/certs.d"))
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 5
_ERROR_BODY_CAP = 64 * 1024
_CHUNK = 64 * 1024
_HTTPS_PORT = 443
#: Without an explicit deadline a request may take this many times the per-read timeout.
DEADLINE_FACTOR = 3
_TOO_MANY_REQUESTS = 429
_UNAVAILABLE = 503
#: Times one request is sent again after a ``Retry-After`` that fits in its deadline.
MAX_RETRY_AFTER = 2
#: Seconds of the deadline a retry must still have after its wait, or it is not tried.
RETRY_RESERVE = 0.5
#: A ``Retry-After`` beyond this is read as this (no deadline is that long anyway).
_MAX_RETRY_AFTER_SECONDS = 86400.0


@dataclass(frozen=True)
class RequestRecord:
    """One HTTP exchange that got an answer: what benchmarks and tests count."""

    method: str
    host: str
    path: str
    status: int
    kind: str  # "registry" or "token"


@dataclass(frozen=True)
class HttpResponse:
    """A completed exchange with its body read in full (within the cap)."""

    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes
    url: str

    @property
    def ok(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self.status < 300


class BodyTooLargeError(BackendError):
    """A response body exceeded the cap the caller set (manifest or blob size limit)."""


class DeadlineExceededError(BackendError):
    """A request (redirects included) did not complete within its total deadline."""


class _Deadline:
    """The moment one request must be complete by, on the monotonic clock."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._expires_at = time.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left; zero or less once the deadline has passed."""
        return self._expires_at - time.monotonic()

    def error(self, where: str) -> DeadlineExceededError:
        """The one-line error for ``where`` (``label host: METHOD path``)."""
        return DeadlineExceededError(
            f"{where}: no complete answer within the {self.seconds:g}s deadline"
        )


def split_host_port(host: str) -> tuple[str, int | None]:
    """``("::1", 5000)`` for ``"[::1]:5000"``; the host part is lowercased."""
    if host.startswith("["):
        inner, _, rest = host[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
        return inner.lower(), int(port_text) if port_text.isdigit() else None
    name, sep, port_text = host.rpartition(":")
    if sep and port_text.isdigit() and ":" not in name:
        return name.lower(), int(port_text)
    return host.lower(), None


def is_loopback(host: str) -> bool:
    """True for ``localhost``, ``127.0.0.0/8`` and ``::1`` (with or without a port)."""
    name, _ = split_host_port(host)
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def proxies_from_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """``{"http": .., "https": .., "no": ..}`` from ``*_proxy`` variables (either case)."""
    proxies: dict[str, str] = {}
    for scheme in ("http", "https", "no"):
        value = environ.get(f"{scheme}_proxy") or environ.get(f"{scheme.upper()}_PROXY")
        if value:
            proxies[scheme] = value
    return proxies


def load_tls_context(
    host: str, cert_dirs: Sequence[Path], ca_files: Sequence[Path] = ()
) -> ssl.SSLContext:
    """A verifying TLS context for ``host``: the system CAs, ``ca_files`` and ``<dir>/<host>/``.

    In each ``<dir>/<host[:port]>/``, ``*.crt`` files are extra CAs and each
    ``X.cert`` needs an ``X.key`` (a client certificate for mutual TLS), the
    layout docker and podman use. A broken file is an ``InputError`` naming it.
    """
    context = ssl.create_default_context()
    for ca_file in ca_files:
        try:
            context.load_verify_locations(cafile=str(ca_file))
        except (ssl.SSLError, OSError) as exc:
            raise InputError(f"not a PEM CA certificate ({exc})", source=str(ca_file)) from exc
    # ``host`` and ``host:443`` are one HTTPS registry (references drop the
    # ``:443``), but a certs.d made for docker may use either spelling.
    names = [host]
    if split_host_port(host)[1] is None:
        names.append(f"{host}:{_HTTPS_PORT}")
    directories = [base / name for base in cert_dirs for name in names]
    for directory in directories:
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            if path.suffix == ".crt":
                try:
                    context.load_verify_locations(cafile=str(path))
                except (ssl.SSLError, OSError) as exc:
                    raise InputError(f"not a PEM CA certificate ({exc})", source=str(path)) from exc
            elif path.suffix == ".cert":
                key = path.with_suffix(".key")
                if not key.is_file():
                    raise InputError(
                        f"client certificate without its key {key.name}", source=str(path)
                    )
                try:
                    context.load_cert_chain(certfile=str(path), keyfile=str(key))
                except (ssl.SSLError, OSError) as exc:
                    raise InputError(
                        f"client certificate and key {key.name} do not load ({exc})",
                        source=str(path),
                    ) from exc
            elif path.suffix == ".key" and not path.with_suffix(".cert").is_file():
                raise InputError(
                    f"client key without its certificate {path.with_suffix('.cert').name}",
                    source=str(path),
                )
    return context


class _ContextAdapter(WatchedAdapter):
    """A requests adapter whose TLS trust is exactly one ``ssl.SSLContext``.

    requests would otherwise load certifi's bundle into every connection; the
    gate trusts the system store plus ``certs.d``, like docker and podman.
    """

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__()

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        pool_kwargs["ssl_context"] = self._context
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        proxy_kwargs["ssl_context"] = self._context
        return super().proxy_manager_for(proxy, **proxy_kwargs)

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[_HostParams, _PoolKwargs]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, True)
        pool_kwargs.pop("ca_certs", None)
        pool_kwargs.pop("ca_cert_dir", None)
        pool_kwargs.pop("cert_file", None)
        pool_kwargs.pop("key_file", None)
        pool_kwargs["cert_reqs"] = "CERT_REQUIRED"
        return host_params, pool_kwargs

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # The context decides trust; keep requests from adding certifi to it.
        conn.cert_reqs = "CERT_REQUIRED"
        conn.ca_certs = None
        conn.ca_cert_dir = None


class Transport:
    """Sends registry and token requests; owns TLS contexts, scheme choice and the request log."""

    def __init__(
        self,
        *,
        cert_dirs: Sequence[Path],
        insecure_registries: Iterable[str],
        timeout: float,
        user_agent: str,
        proxies: Mapping[str, str] | None = None,
        deadline: float | None = None,
        ca_files: Sequence[Path] = (),
        hosts: HostPolicy | None = None,
    ) -> None:
        self._hosts = hosts or HostPolicy()
        self._cert_dirs = tuple(cert_dirs)
        self._ca_files = tuple(ca_files)
        entries = tuple(insecure_registries)
        # Spelled as references are (``reg:443`` is ``reg``); an entry written
        # without a port allows every port of its host, one with a port only that.
        self._insecure = frozenset(normalise_registry(h) for h in entries)
        self._insecure_any_port = frozenset(
            _host_part(normalise_registry(h)) for h in entries if split_host_port(h)[1] is None
        )
        self._timeout = timeout
        self._deadline = DEADLINE_FACTOR * timeout if deadline is None else deadline
        self._user_agent = user_agent
        # Snapshot the proxy settings once: no environment reads per request.
        self._proxies = dict(proxies_from_environment(os.environ) if proxies is None else proxies)
        # One session per host, each with that host's TLS context, made once
        # and never re-mounted, so concurrent requests never see a half-built one.
        self._sessions: dict[str, requests.Session] = {}
        self._schemes: dict[str, str] = {}
        self._records: list[RequestRecord] = []
        self._lock = threading.Lock()

    @property
    def records(self) -> tuple[RequestRecord, ...]:
        """Every exchange that got an HTTP answer, in order."""
        with self._lock:
            return tuple(self._records)

    def plain_http_allowed(self, host: str) -> bool:
        """True for loopback hosts and hosts listed (with or without port) as insecure."""
        normalised = normalise_registry(host)
        return (
            is_loopback(normalised)
            or normalised in self._insecure
            or _host_part(normalised) in self._insecure_any_port
        )

    def scheme_for(self, host: str) -> str | None:
        """``"https"`` or ``"http"`` once chosen for ``host`` (at its first answer), else None."""
        with self._lock:
            return self._schemes.get(host)

    def close(self) -> None:
        """Close pooled connections."""
        with self._lock:
            sessions = list(self._sessions.values())
            self._sessions.clear()
        for session in sessions:
            session.close()

    def request(
        self,
        method: str,
        host: str,
        target: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        max_body: int = _ERROR_BODY_CAP,
        kind: str = "registry",
        label: str = "registry",
    ) -> HttpResponse:
        """Send ``method`` for ``target`` (path and query) to the registry ``host``.

        The scheme is HTTPS, or HTTP when ``host`` allows it and HTTPS failed
        (remembered per host). 2xx bodies beyond ``max_body`` raise
        ``BodyTooLargeError``; other bodies are truncated to 64 KiB (they only feed
        error messages). Past the total deadline, ``DeadlineExceededError``.
        A 429/503 with a ``Retry-After`` that fits in the deadline is retried
        (see the module docstring); a 429 that cannot be is a ``BackendError``.
        """
        if kind == "registry":
            self._hosts.check_registry(host)
        deadline = _Deadline(self._deadline)
        plain_ok = self.plain_http_allowed(host)

        def send(url: str, *, probe: bool = False) -> HttpResponse:
            return self._send(
                method,
                url,
                headers=headers,
                body=body,
                max_body=max_body,
                kind=kind,
                label=label,
                deadline=deadline,
                plain_ok=plain_ok,
                probe=probe,
            )

        response = self._first_answer(host, target, plain_ok, send)
        for _ in range(MAX_RETRY_AFTER):
            if not self._wait_to_retry(response, deadline, f"{label} {host}: {method} {target}"):
                break
            # The scheme is known now (remembered at the first answer).
            response = self._first_answer(host, target, plain_ok, send)
        if response.status == _TOO_MANY_REQUESTS:
            raise _throttled(response, deadline, f"{label} {host}: {method} {target}", retried=True)
        return response

    def _first_answer(
        self,
        host: str,
        target: str,
        plain_ok: bool,
        send: Callable[..., HttpResponse],
    ) -> HttpResponse:
        """One exchange with ``host``: over its known scheme, else HTTPS then maybe HTTP."""
        scheme = self._schemes.get(host)
        if scheme is not None:
            return send(f"{scheme}://{host}{target}")
        if not plain_ok:
            return send(f"https://{host}{target}")
        try:
            response = send(f"https://{host}{target}", probe=True)
        except _ConnectFailedError as https_failure:
            try:
                response = send(f"http://{host}{target}")
            except DeadlineExceededError:
                raise
            except BackendError as exc:
                if str(exc).endswith(https_failure.reason):
                    raise BackendError(f"{exc} (over HTTPS and HTTP)") from exc
                raise BackendError(f"{exc}; over HTTPS: {https_failure.reason}") from exc
            self._remember(host, "http")
            return response
        self._remember(host, "https")
        return response

    def request_url(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        max_body: int = _ERROR_BODY_CAP,
        kind: str = "token",
        label: str = "token server",
        origin_host: str | None = None,
    ) -> HttpResponse:
        """Send to an absolute URL (a token realm); plain HTTP only where ``host`` allows it.

        ``origin_host`` is the registry that named this URL (in its challenge):
        plain HTTP, directly or by redirect, also needs that registry to be
        allowed plain HTTP, so a remote HTTPS registry cannot steer the gate to
        a plain-HTTP service on loopback.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise BackendError(f"{label} {url!r}: not an http(s) URL")
        plain_ok = self.plain_http_allowed(parts.netloc if origin_host is None else origin_host)
        if parts.scheme == "http" and not self.plain_http_allowed(parts.netloc):
            raise BackendError(
                f"{label} {parts.netloc}: refusing plain HTTP to a non-loopback host "
                "(list it in insecure registries to allow)"
            )
        if parts.scheme == "http" and not plain_ok:
            raise BackendError(
                f"{label} {parts.netloc}: refusing plain HTTP named by registry {origin_host}, "
                "which is not allowed plain HTTP itself"
            )
        deadline = _Deadline(self._deadline)
        where = f"{label} {parts.netloc}: {method} {parts.path}"
        for attempt in range(MAX_RETRY_AFTER + 1):
            response = self._send(
                method,
                url,
                headers=headers,
                body=body,
                max_body=max_body,
                kind=kind,
                label=label,
                deadline=deadline,
                plain_ok=plain_ok,
            )
            if attempt == MAX_RETRY_AFTER or not self._wait_to_retry(response, deadline, where):
                break
        if response.status == _TOO_MANY_REQUESTS:
            raise _throttled(response, deadline, where, retried=True)
        return response

    @staticmethod
    def _wait_to_retry(response: HttpResponse, deadline: _Deadline, where: str) -> bool:
        """Sleep out a 429's (or a 503's) ``Retry-After`` when it fits in the deadline.

        True when the caller should send again. A 429 without a usable
        ``Retry-After``, or asking for longer than the deadline leaves, fails
        at once: sleeping past the deadline would only turn a clear "throttled"
        into a vague timeout. A 503 without the header is an ordinary error.
        """
        if response.status not in (_TOO_MANY_REQUESTS, _UNAVAILABLE):
            return False
        header = response.headers.get("Retry-After")
        seconds = parse_retry_after(header, time.time())
        if seconds is None:
            if response.status == _TOO_MANY_REQUESTS:
                raise _throttled(response, deadline, where)
            return False
        if seconds + RETRY_RESERVE > deadline.remaining():
            raise _throttled(response, deadline, where)
        time.sleep(seconds)
        return True

    def _remember(self, host: str, scheme: str) -> None:
        with self._lock:
            self._schemes[host] = scheme

    def _session_for(self, netloc: str) -> requests.Session:
        """The session for ``netloc``, made on first contact with its certs.d trust."""
        with self._lock:
            session = self._sessions.get(netloc)
            if session is not None:
                return session
            session = requests.Session()
            # trust_env would let ~/.netrc inject credentials into any request and
            # REQUESTS_CA_BUNDLE replace the trust store; proxies are handled above.
            session.trust_env = False
            session.mount("http://", WatchedAdapter())
            session.mount(
                "https://",
                _ContextAdapter(load_tls_context(netloc, self._cert_dirs, self._ca_files)),
            )
            self._sessions[netloc] = session
            return session

    def _proxies_for(self, netloc: str) -> dict[str, str]:
        if not self._proxies or is_loopback(netloc):
            return {}
        if bypasses_proxy(netloc, self._proxies.get("no", "")):
            return {}
        return {k: v for k, v in self._proxies.items() if k in ("http", "https")}

    def _send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None,
        body: bytes | None,
        max_body: int,
        kind: str,
        label: str,
        deadline: _Deadline,
        plain_ok: bool,
        probe: bool = False,
    ) -> HttpResponse:
        """One request with its redirects; ``plain_ok``: the host first asked may use HTTP."""
        origin = urlsplit(url)
        current = url
        send_headers: dict[str, str] = {
            "User-Agent": self._user_agent,
            # Digests are over exact bytes; a decoded body could also be a zip bomb.
            "Accept-Encoding": "identity",
            **(headers or {}),
        }
        for hop in range(_MAX_REDIRECTS + 1):
            parts = urlsplit(current)
            where = f"{label} {parts.netloc}: {method} {parts.path}"
            if (
                "Authorization" in send_headers
                and parts.scheme == "http"
                and not is_loopback(parts.netloc)
            ):
                raise BackendError(
                    f"{where}: refusing to send credentials over plain HTTP to a non-loopback host"
                )
            # Every hop: a redirect or a token realm must not reach the metadata service.
            self._hosts.check_connection(parts.netloc)
            session = self._session_for(parts.netloc)
            remaining = deadline.remaining()
            if remaining <= 0:
                raise deadline.error(where)
            # Never wait past the deadline, for the connect or the headers.
            wait = min(self._timeout, remaining)
            try:
                # The status line and headers too: a server dripping them byte by byte
                # never trips the per-read timeout, so the watch cuts the connection.
                with watched(remaining) as watch:
                    response = session.request(
                        method,
                        current,
                        headers=send_headers,
                        data=body,
                        timeout=(wait, wait),
                        allow_redirects=False,
                        stream=True,
                        proxies=self._proxies_for(parts.netloc),
                    )
            except requests.exceptions.RequestException as exc:
                timed_out = isinstance(exc, requests.exceptions.Timeout)
                if watch.fired or deadline.remaining() <= 0 or (timed_out and wait < self._timeout):
                    raise deadline.error(where) from exc
                reason = describe_failure(exc, self._timeout)
                # Only the registry's own first answer decides HTTPS vs HTTP; a dead
                # storage host behind a redirect must not downgrade the registry.
                if probe and hop == 0 and _connect_level(exc):
                    raise _ConnectFailedError(f"{where}: {reason}", reason) from exc
                raise BackendError(f"{where}: {reason}") from exc
            with response:
                status = response.status_code
                with self._lock:
                    self._records.append(
                        RequestRecord(method, parts.netloc, parts.path, status, kind)
                    )
                location = response.headers.get("Location")
                if status in _REDIRECT_STATUSES and location and method in ("GET", "HEAD"):
                    target = urljoin(current, location)
                    new = urlsplit(target)
                    if new.scheme not in ("http", "https"):
                        raise BackendError(f"{where}: redirect to a non-HTTP URL")
                    if new.scheme == "http" and not self.plain_http_allowed(new.netloc):
                        raise BackendError(
                            f"{where}: refusing redirect to plain HTTP at {new.netloc}"
                        )
                    if new.scheme == "http" and not plain_ok:
                        # Loopback may always use HTTP, but only when asked for directly:
                        # an HTTPS registry must not steer the gate to a local service.
                        raise BackendError(
                            f"{where}: refusing redirect to plain HTTP at {new.netloc} "
                            f"from {origin.netloc}, which is not allowed plain HTTP"
                        )
                    if (new.scheme, new.netloc) != (origin.scheme, origin.netloc):
                        # Credentials belong to the registry, never to storage it redirects to.
                        send_headers.pop("Authorization", None)
                    current = target
                    continue
                cap = max_body if 200 <= status < 300 else _ERROR_BODY_CAP
                data = (
                    b""
                    if method == "HEAD"
                    else _read_capped(response, cap, where, status, deadline)
                )
                return HttpResponse(
                    status=status,
                    reason=response.reason or "",
                    headers=CaseInsensitiveDict(response.headers),
                    body=data,
                    url=current,
                )
        raise BackendError(f"{label} {origin.netloc}: {method} {origin.path}: too many redirects")


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delay-seconds or HTTP-date), else None.

    ``now`` is the wall clock (``time.time()``) an HTTP-date is measured from;
    a date in the past means "now" (0). Anything else is None: unusable.
    """
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(min(int(text), _MAX_RETRY_AFTER_SECONDS))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None  # HTTP-dates are always GMT; one without a zone is not one
    return max(0.0, min(when.timestamp() - now, _MAX_RETRY_AFTER_SECONDS))


def error_detail(body: bytes) -> str:
    """``CODE: message`` from a distribution error body, or empty."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return ""
    errors = document.get("errors") if isinstance(document, dict) else None
    if not isinstance(errors, list):
        return ""
    parts = []
    for error in errors[:3]:
        if isinstance(error, dict):
            code, message = error.get("code"), error.get("message")
            parts.append(": ".join(str(p) for p in (code, message) if p))
    return " ".join("; ".join(p for p in parts if p).split())[:300]


def _throttled(
    response: HttpResponse, deadline: _Deadline, where: str, *, retried: bool = False
) -> BackendError:
    """The one-line error for a throttled request that is not (or no longer) retried."""
    where = where.split("?", 1)[0]
    status = f"{response.status} {response.reason or 'Too Many Requests'}".strip()
    detail = error_detail(response.body)
    if detail:
        status += f" ({detail})"
    header = response.headers.get("Retry-After")
    if retried:
        why = f"still throttled after {MAX_RETRY_AFTER} retries"
    elif header is None:
        why = "no Retry-After given"
    elif parse_retry_after(header, time.time()) is None:
        why = f"unusable Retry-After {header.strip()[:60]!r}"
    else:
        left = max(deadline.remaining(), 0.0)
        why = (
            f"Retry-After {header.strip()[:60]} does not fit in the {left:.1f}s left "
            f"of the {deadline.seconds:g}s deadline"
        )
    return BackendError(f"{where}: {status}, {why}")


class _ConnectFailedError(BackendError):
    """HTTPS could not be established with a host that may fall back to HTTP."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def bypasses_proxy(netloc: str, no_proxy: str) -> bool:
    """True when ``netloc`` matches a ``no_proxy`` entry (``*``, domain suffix, host:port, CIDR)."""
    name, port = split_host_port(netloc)
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        if "/" in entry:
            try:
                if ipaddress.ip_address(name) in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        entry_name, entry_port = split_host_port(entry)
        if entry_port is not None and entry_port != port:
            continue
        entry_name = entry_name.lstrip(".")
        if name == entry_name or name.endswith("." + entry_name):
            return True
    return False


def _read_capped(
    response: requests.Response, cap: int, where: str, status: int, deadline: _Deadline
) -> bytes:
    """The body, or ``BodyTooLargeError`` (2xx) / truncation (other statuses) past ``cap`` bytes.

    A watchdog shuts the socket down when ``deadline`` passes, which ends a
    read blocked on a server that drips its body; the read then fails with
    ``DeadlineExceededError`` (never with the bytes that arrived by then).
    """
    truncate = not 200 <= status < 300
    length = response.headers.get("Content-Length")
    if not truncate and length is not None and length.isdigit() and int(length) > cap:
        raise BodyTooLargeError(
            f"{where}: response of {int(length)} bytes exceeds the cap of {cap}"
        )
    remaining = deadline.remaining()
    if remaining <= 0:
        raise deadline.error(where)
    expired = threading.Event()

    def stop_reading() -> None:
        expired.set()
        # Fails on urllib3 before 2.3 or once the connection is gone: the checks
        # between chunks still end the read then, one ``timeout`` later at worst.
        with contextlib.suppress(
            AttributeError, NotImplementedError, RuntimeError, ValueError, OSError
        ):
            response.raw.shutdown()

    watchdog = threading.Timer(remaining, stop_reading)
    watchdog.daemon = True
    watchdog.start()
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(_CHUNK):
            if expired.is_set() or deadline.remaining() <= 0:
                raise deadline.error(where)
            size += len(chunk)
            if size > cap:
                if truncate:
                    chunks.append(chunk[: cap - (size - len(chunk))])
                    break
                raise BodyTooLargeError(f"{where}: response exceeds the cap of {cap} bytes")
            chunks.append(chunk)
    except (
        requests.exceptions.RequestException,
        urllib3.exceptions.HTTPError,
        OSError,
        ValueError,
    ) as exc:
        # A socket shut down under a read fails in whatever way the layer
        # reading it chooses; the deadline is the real reason.
        if expired.is_set():
            raise deadline.error(where) from exc
        if isinstance(exc, requests.exceptions.RequestException):
            raise BackendError(f"{where}: {describe_failure(exc, None)}") from exc
        raise
    finally:
        watchdog.cancel()
        # Wait out a watchdog already firing, so it cannot shut down a
        # connection after it went back to the pool.
        watchdog.join()
    if expired.is_set():
        # A body delimited by the connection's end looks complete once the
        # socket is shut down: it is not.
        raise deadline.error(where)
    return b"".join(chunks)


def _host_part(normalised: str) -> str:
    """``host`` of a normalised ``host[:port]``, an IPv6 literal keeping its brackets."""
    name, _ = split_host_port(normalised)
    return f"[{name}]" if ":" in name else name


def _connect_level(exc: requests.exceptions.RequestException) -> bool:
    """True when the host does not speak HTTPS at all (TCP or TLS handshake failed).

    A certificate that does not verify, or a TLS alert from the server, means
    the server does speak TLS: that is an error to report, never a reason to
    try plain HTTP.
    """
    if _find_cause(exc, ssl.SSLCertVerificationError) is not None:
        return False
    tls_error = _find_cause(exc, ssl.SSLError)
    if isinstance(tls_error, ssl.SSLError) and "ALERT" in (tls_error.reason or ""):
        return False  # the server answered in TLS (e.g. "certificate required")
    if isinstance(exc, requests.exceptions.SSLError | requests.exceptions.ConnectTimeout):
        return True
    return isinstance(exc, requests.exceptions.ConnectionError) and not isinstance(
        exc, requests.exceptions.ReadTimeout
    )


def _find_cause(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """The first exception of ``kind`` among ``exc``'s causes (urllib3 nests them deeply)."""
    pending: list[BaseException] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kind):
            return current
        # __context__ is not followed: it may be an earlier, handled failure
        # (the HTTPS attempt before an HTTP fallback), not a cause of this one.
        linked = [current.__cause__, getattr(current, "reason", None)]
        linked += [arg for arg in current.args if isinstance(arg, BaseException)]
        pending.extend(e for e in linked if isinstance(e, BaseException))
    return None


def describe_failure(exc: BaseException, timeout: float | None) -> str:
    """A short, single-line reason for a transport failure."""
    tls_error = _find_cause(exc, ssl.SSLError)
    if isinstance(exc, requests.exceptions.SSLError) or tls_error is not None:
        reason = getattr(tls_error, "reason", None) or ""
        hint = ""
        if "ALERT_BAD_CERTIFICATE" in reason or "CERTIFICATE_REQUIRED" in reason:
            hint = " (the registry wants a client certificate: <certs.d>/<host>/*.cert + *.key)"
        return f"TLS failed: {_innermost(exc)}{hint}"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"connection timed out after {timeout:g}s" if timeout else "connection timed out"
    if isinstance(exc, requests.exceptions.ReadTimeout | requests.exceptions.Timeout):
        return f"no answer within {timeout:g}s" if timeout else "read timed out"
    if _find_cause(exc, ConnectionRefusedError) is not None:
        return "connection refused"
    if _find_cause(exc, socket.gaierror) is not None:
        return "cannot resolve the host name"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return f"connection failed: {_innermost(exc)}"
    return f"request failed: {_innermost(exc)}"


def _innermost(exc: BaseException) -> str:
    """The message of the deepest cause, on one line (urllib3 wraps errors several times)."""
    verify = _find_cause(exc, ssl.SSLCertVerificationError)
    if isinstance(verify, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {verify.verify_message}"
    seen = exc
    for _ in range(10):
        nested = seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None
        nested = nested or getattr(seen, "reason", None)
        if not isinstance(nested, BaseException):
            break
        seen = nested
    text = str(seen) or type(seen).__name__
    return " ".join(text.split())[:300]
