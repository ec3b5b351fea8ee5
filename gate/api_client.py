"""A client of the gate server's verdict API (``/api/v1``), for the CLI's remote commands.

``gate check --record``, ``gate evidence push`` and ``gate verdicts list`` talk
to a running ``gate serve`` through this class. Every failure is one line:
a refused request (4xx) is an ``InputError`` (the caller sent something wrong,
or its token is), a server or network failure a ``BackendError``; both carry
the HTTP status and the server's own ``error`` text.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import requests
import requests.auth

from gate import __version__
from gate.errors import BackendError, InputError

__all__ = ["API_PATH", "ApiClient"]

API_PATH = "/api/v1"
#: No answer of the API comes near this; more is a misbehaving server.
_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
_TOKEN_RE = re.compile(r"[\x21-\x7e]+")


class ApiClient:
    """Calls the verdict API of one gate server with one bearer token.

    ``base_url`` is the server (``https://gate.example:8443``; a trailing
    ``/api/v1`` is accepted). Plain ``http`` is refused except to a loopback
    host, since the token would travel in the clear. ``ca_cert`` is a PEM
    bundle to trust instead of the system's; ``timeout`` bounds the connect
    and each read of every request.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        ca_cert: Path | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._base = _api_base(base_url)
        if not token or not _TOKEN_RE.fullmatch(token):
            raise InputError(
                "the API token is empty or holds spaces or non-ASCII characters",
                source="--token",
            )
        if ca_cert is not None and not ca_cert.is_file():
            raise InputError("CA certificate file not found", source=str(ca_cert))
        if not timeout > 0:
            raise InputError("API timeout must be a positive number of seconds")
        self._timeout = timeout
        self._session = requests.Session()
        # Set as the session's auth, not a plain header: requests would otherwise
        # replace it with credentials from ~/.netrc for the host.
        self._session.auth = _BearerAuth(token)
        self._session.headers.update(
            {"User-Agent": f"gate/{__version__}", "Accept": "application/json"}
        )
        self._verify: str | bool = str(ca_cert) if ca_cert is not None else True

    @property
    def base_url(self) -> str:
        """The API root every path is appended to (``.../api/v1``)."""
        return self._base

    def close(self) -> None:
        """Release pooled connections."""
        self._session.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def record_verdict(self, report: Mapping[str, Any]) -> list[str]:
        """Record a gate JSON report (``verdict_to_dict`` plus ``policyDigest``); the new ids."""
        body = json.dumps(report, ensure_ascii=False, allow_nan=False).encode("utf-8")
        answer = self._call(
            "POST", "/verdicts", data=body, content_type="application/json", expect=201
        )
        ids = answer.get("ids")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise self._nonsense("POST", "/verdicts", "no list of ids")
        return list(ids)

    def push_evidence(self, digest: str, kind: str, name: str, data: bytes) -> str:
        """Store a scan report (``kind`` scan), SBOM (sbom) or VEX (vex) for ``digest``; its id."""
        answer = self._call(
            "POST",
            "/evidence",
            params={"digest": digest, "kind": kind, "name": name},
            data=data,
            content_type="application/octet-stream",
            expect=201,
        )
        evidence_id = answer.get("id")
        if not isinstance(evidence_id, str):
            raise self._nonsense("POST", "/evidence", "no evidence id")
        return evidence_id

    def list_verdicts(self, **filters: str | int | None) -> dict[str, Any]:
        """One page of verdicts: ``{"items": [...], "nextCursor": ...}``.

        ``filters`` are the API's query parameters (``image``, ``digest``,
        ``namespace``, ``decision``, ``source``, ``since``, ``until``,
        ``limit``, ``cursor``); None values are left out.
        """
        params = {key: str(value) for key, value in filters.items() if value is not None}
        answer = self._call("GET", "/verdicts", params=params, expect=200)
        if not isinstance(answer.get("items"), list) or not all(
            isinstance(i, dict) for i in answer["items"]
        ):
            raise self._nonsense("GET", "/verdicts", "no list of items")
        cursor = answer.get("nextCursor")
        if cursor is not None and not isinstance(cursor, str):
            raise self._nonsense("GET", "/verdicts", "nextCursor is not a string")
        return answer

    def get_verdict(self, verdict_id: str) -> dict[str, Any]:
        """One verdict by id; ``InputError`` (404) when the server has none."""
        if not verdict_id:
            raise InputError("empty verdict id")
        return self._call("GET", f"/verdicts/{quote(verdict_id, safe='')}", expect=200)

    def preview_policy(
        self,
        policy_text: str,
        *,
        old_policy: str | None = None,
        since: str | None = None,
        all_images: bool = False,
    ) -> dict[str, Any]:
        """The server's impact preview of ``policy_text`` (``POST /policy/preview``).

        ``old_policy`` defaults to the policy the server runs; ``since`` is a
        duration (``7d``) or an RFC 3339 time.
        """
        body: dict[str, Any] = {"policy": policy_text, "allImages": all_images}
        if old_policy is not None:
            body["oldPolicy"] = old_policy
        if since is not None:
            body["since"] = since
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        answer = self._call(
            "POST", "/policy/preview", data=data, content_type="application/json", expect=200
        )
        if not isinstance(answer.get("counts"), dict):
            raise self._nonsense("POST", "/policy/preview", "no counts")
        return answer

    def add_exception(self, exception: Mapping[str, Any]) -> dict[str, Any]:
        """Create an exception (``POST /exceptions``); the stored record with its id."""
        body = json.dumps(exception, ensure_ascii=False, allow_nan=False).encode("utf-8")
        answer = self._call(
            "POST", "/exceptions", data=body, content_type="application/json", expect=201
        )
        if not isinstance(answer.get("id"), str):
            raise self._nonsense("POST", "/exceptions", "no exception id")
        return answer

    def list_exceptions(self, **filters: str | None) -> list[dict[str, Any]]:
        """Exceptions (``GET /exceptions``) with the API's filters; None values left out."""
        params = {key: value for key, value in filters.items() if value is not None}
        answer = self._call("GET", "/exceptions", params=params, expect=200)
        items = answer.get("items")
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise self._nonsense("GET", "/exceptions", "no list of items")
        return items

    def revoke_exception(self, exception_id: str) -> dict[str, Any]:
        """Revoke an exception (``DELETE /exceptions/{id}``); the record, now revoked."""
        if not exception_id:
            raise InputError("empty exception id")
        return self._call("DELETE", f"/exceptions/{quote(exception_id, safe='')}", expect=200)

    # -- plumbing ---------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        data: bytes | None = None,
        content_type: str | None = None,
        expect: int,
    ) -> dict[str, Any]:
        url = self._base + path
        where = f"{method} {url}"
        headers = {"Content-Type": content_type} if content_type else {}
        try:
            response = self._session.request(
                method,
                url,
                params=params,
                data=data,
                headers=headers,
                timeout=(self._timeout, self._timeout),
                verify=self._verify,
                # A redirect could carry the token elsewhere or turn a POST into a GET.
                allow_redirects=False,
                stream=True,
            )
        except requests.exceptions.SSLError as exc:
            raise BackendError(f"{where}: TLS failed: {_short(exc)}") from exc
        except requests.exceptions.Timeout as exc:
            raise BackendError(f"{where}: no answer within {self._timeout:g} s") from exc
        except requests.exceptions.RequestException as exc:
            raise BackendError(f"{where}: cannot reach the gate server: {_short(exc)}") from exc
        with response:
            body = _read_capped(response, where)
        document = _json_object(body)
        if response.status_code != expect:
            message = document.get("error") if document is not None else None
            text = (
                " ".join(message.split())
                if isinstance(message, str)
                else (response.reason or "unexpected answer")
            )
            detail = f"{where}: HTTP {response.status_code}: {text}"
            if 400 <= response.status_code < 500 and response.status_code != 429:
                raise InputError(detail)
            raise BackendError(detail)
        if document is None:
            raise self._nonsense(method, path, "the body is not a JSON object")
        return document

    def _nonsense(self, method: str, path: str, what: str) -> BackendError:
        return BackendError(f"{method} {self._base}{path}: the server answered nonsense ({what})")


class _BearerAuth(requests.auth.AuthBase):
    """Adds ``Authorization: Bearer <token>`` to every request of the session."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request


def _api_base(base_url: str) -> str:
    """Check the server URL and return the API root (``scheme://host[:port][/prefix]/api/v1``)."""
    try:
        parts = urlsplit(base_url.strip())
        port = parts.port
    except ValueError as exc:
        raise InputError(f"not a valid URL: {base_url!r} ({exc})", source="--server") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(
            f"expected an http(s) URL such as https://gate.example:8443, got {base_url!r}",
            source="--server",
        )
    if parts.username or parts.password:
        raise InputError("the server URL must not hold credentials; use --token", source="--server")
    if parts.query or parts.fragment:
        raise InputError("the server URL must not have a query or fragment", source="--server")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise InputError(
            f"refusing to send the API token over plain HTTP to {parts.hostname}; use https",
            source="--server",
        )
    path = parts.path.rstrip("/")
    if not path.endswith(API_PATH):
        path += API_PATH
    del port  # parsed only to refuse a malformed one
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _read_capped(response: requests.Response, where: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(64 * 1024):
            size += len(chunk)
            if size > _MAX_RESPONSE_BYTES:
                raise BackendError(f"{where}: answer larger than {_MAX_RESPONSE_BYTES} bytes")
            chunks.append(chunk)
    except requests.exceptions.RequestException as exc:
        raise BackendError(f"{where}: answer cut short: {_short(exc)}") from exc
    return b"".join(chunks)


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def _short(exc: Exception) -> str:
    """The innermost reason of a requests error, on one line (their texts nest and repeat)."""
    reason: BaseException = exc
    for _ in range(5):  # requests -> urllib3 MaxRetryError -> the socket's error
        inner = reason.args[0] if reason.args else None
        if not isinstance(inner, BaseException):
            inner = getattr(reason, "reason", None)
        if not isinstance(inner, BaseException):
            break
        reason = inner
    text = str(reason) or type(reason).__name__
    return " ".join(text.split())[:300]
