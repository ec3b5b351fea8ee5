"""Registry authentication: ``WWW-Authenticate`` challenges, Basic, and Bearer tokens.

The flow is the distribution token spec: a request answered 401 names a
scheme. For ``Basic`` the auth file's username and password are sent; for
``Bearer`` a token for ``repository:<name>:<actions>`` is fetched from the
realm (with the credentials when there are any, anonymously otherwise) and
cached per (host, scope) until shortly before it expires. Once a host's
scheme is known, later requests carry the header from the start, so a cached
token costs no round trip.

Credentials go only to the registry they were configured for and to the
token realm that registry names, and never over plain HTTP to a non-loopback
host (the transport refuses).
"""

from __future__ import annotations

import base64
import json
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from gate.errors import BackendError
from gate.oci.authfile import AuthFile, Credentials
from gate.oci.transport import Transport

_TOKEN_CHARS = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_TOKEN_RE = re.compile(_TOKEN_CHARS)
_BARE_VALUE_RE = re.compile(r'[^\s,"]+')
_TOKEN68_RE = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_DEFAULT_TOKEN_LIFETIME = 60.0  # seconds, what the token spec says to assume
#: Longest a token is cached, whatever the server says: revocation must take effect.
MAX_TOKEN_LIFETIME = 3 * 3600.0
_TOKEN_RESPONSE_CAP = 1024 * 1024
_CLIENT_ID = "gate"


@dataclass(frozen=True)
class Challenge:
    """One challenge of a ``WWW-Authenticate`` header: a scheme and its parameters."""

    scheme: str  # lowercased, e.g. "bearer"
    params: dict[str, str] = field(default_factory=dict, hash=False)
    token68: str | None = None


def parse_challenges(header: str) -> list[Challenge]:
    """Parse a ``WWW-Authenticate`` value (RFC 7235) into its challenges.

    Handles quoted values with escapes and commas inside quotes, several
    challenges in one header (as when requests joins repeated headers), and
    parameter names in any case. Raises ``ValueError`` for text that is not a
    challenge list.
    """
    challenges: list[Challenge] = []
    position = 0
    length = len(header)
    current: Challenge | None = None
    while True:
        position = _skip(header, position, " \t,")
        if position >= length:
            return challenges
        match = _TOKEN_RE.match(header, position)
        if match is None:
            raise ValueError(f"unexpected {header[position]!r} at offset {position}")
        word = match.group(0)
        after = _skip(header, match.end(), " \t")
        if after < length and header[after] == "=" and current is not None:
            name = word.lower()
            value, position = _param_value(header, _skip(header, after + 1, " \t"))
            current.params[name] = value
            position = _skip(header, position, " \t")
            if position < length and header[position] != ",":
                raise ValueError(f"expected ',' at offset {position}")
            continue
        if after < length and header[after] == "=":
            raise ValueError(f"parameter {word!r} before any scheme")
        current = Challenge(scheme=word.lower())
        challenges.append(current)
        position = after
        if position >= length or header[position] == "," or _is_param_start(header, position):
            continue
        token68 = _TOKEN68_RE.match(header, position)
        end = _skip(header, token68.end(), " \t") if token68 is not None else position
        if token68 is None or (end < length and header[end] != ","):
            raise ValueError(f"unexpected {header[position]!r} at offset {position}")
        challenges[-1] = Challenge(scheme=current.scheme, token68=token68.group(0))
        current = None
        position = end


def _is_param_start(header: str, position: int) -> bool:
    match = _TOKEN_RE.match(header, position)
    if match is None:
        return False
    after = _skip(header, match.end(), " \t")
    if after >= len(header) or header[after] != "=":
        return False
    # "abc==" is token68; "abc=value" or 'abc="v"' is a parameter
    rest = _skip(header, after + 1, " \t")
    return rest < len(header) and header[rest] not in "=,"


def _skip(text: str, position: int, chars: str) -> int:
    while position < len(text) and text[position] in chars:
        position += 1
    return position


def _param_value(header: str, position: int) -> tuple[str, int]:
    if position < len(header) and header[position] == '"':
        out: list[str] = []
        position += 1
        while position < len(header):
            char = header[position]
            if char == "\\" and position + 1 < len(header):
                out.append(header[position + 1])
                position += 2
                continue
            if char == '"':
                return "".join(out), position + 1
            out.append(char)
            position += 1
        raise ValueError("unterminated quoted string")
    # RFC 7235 wants a token here; registries are known to send bare URLs, so
    # anything up to the next separator is accepted.
    match = _BARE_VALUE_RE.match(header, position)
    if match is None:
        raise ValueError(f"missing parameter value at offset {position}")
    return match.group(0), match.end()


@dataclass(frozen=True)
class _CachedToken:
    value: str
    expires_at: float


class TokenCache:
    """Bearer tokens per (host, scope) with their expiry; thread-safe.

    Tokens are dropped a little before the server says they expire, so a
    request never leaves with a token that dies in flight.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tokens: dict[tuple[str, str], _CachedToken] = {}
        self._lock = threading.Lock()

    def get(self, host: str, scope: str) -> str | None:
        """A live token for ``scope`` on ``host``, or None."""
        with self._lock:
            cached = self._tokens.get((host, scope))
            if cached is None:
                return None
            if cached.expires_at <= self._clock():
                del self._tokens[(host, scope)]
                return None
            return cached.value

    def put(self, host: str, scope: str, token: str, lifetime: float) -> None:
        """Remember ``token`` for ``lifetime`` seconds (less a safety margin).

        ``lifetime`` goes through :func:`token_lifetime`, so no value makes a
        token live forever.
        """
        lifetime = token_lifetime(lifetime)
        margin = min(10.0, lifetime / 10)
        with self._lock:
            self._tokens[(host, scope)] = _CachedToken(token, self._clock() + lifetime - margin)

    def discard(self, host: str, scope: str) -> None:
        """Forget the token for ``scope`` (the registry rejected it)."""
        with self._lock:
            self._tokens.pop((host, scope), None)


def token_lifetime(expires_in: object) -> float:
    """Seconds to cache a token for, from a token response's ``expires_in``.

    A positive finite number, capped at ``MAX_TOKEN_LIFETIME``; anything else
    (missing, not a number, zero, negative, NaN, infinity) means the 60 s the
    token spec says to assume. JSON's ``NaN``/``Infinity`` would otherwise
    make a token that never expires.
    """
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
        return _DEFAULT_TOKEN_LIFETIME
    if isinstance(expires_in, float) and not math.isfinite(expires_in):
        return _DEFAULT_TOKEN_LIFETIME
    if expires_in <= 0:
        return _DEFAULT_TOKEN_LIFETIME
    # min() before float(): an int too large for a float is compared exactly.
    return float(min(expires_in, MAX_TOKEN_LIFETIME))


def repository_scope(repository: str, actions: str) -> str:
    """The token scope ``repository:<name>:<actions>`` (actions ``pull`` or ``pull,push``)."""
    return f"repository:{repository}:{actions}"


class Authenticator:
    """Produces ``Authorization`` headers for one client and answers 401 challenges."""

    def __init__(
        self,
        transport: Transport,
        authfile: AuthFile | None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._transport = transport
        self._authfile = authfile
        self._tokens = TokenCache(clock)
        self._schemes: dict[str, Challenge] = {}
        self._lock = threading.Lock()

    def credentials(self, registry: str, repository: str) -> Credentials | None:
        """The auth file's credentials for ``registry/repository``, if any."""
        return None if self._authfile is None else self._authfile.lookup(registry, repository)

    def header_for(self, host: str, registry: str, repository: str, actions: str) -> str | None:
        """The ``Authorization`` value to send up front, once the host's scheme is known.

        Before the first 401 of a host this is None: requests start anonymous,
        so a public image needs no credentials and no token round trip.
        """
        with self._lock:
            challenge = self._schemes.get(host)
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            creds = self.credentials(registry, repository)
            return _basic(creds) if creds is not None and creds.has_password else None
        scope = repository_scope(repository, actions)
        token = self._tokens.get(host, scope)
        if token is None and actions == "pull":
            token = self._tokens.get(host, repository_scope(repository, "pull,push"))
        if token is None:
            token = self._fetch_token(host, registry, repository, actions, challenge)
        return f"Bearer {token}"

    def answer(
        self,
        host: str,
        registry: str,
        repository: str,
        actions: str,
        *,
        www_authenticate: str | None,
        where: str,
    ) -> str:
        """The ``Authorization`` value to retry a 401 with; ``BackendError`` if there is none."""
        if not www_authenticate:
            raise BackendError(f"{where}: no WWW-Authenticate challenge")
        try:
            challenges = parse_challenges(www_authenticate)
        except ValueError as exc:
            raise BackendError(f"{where}: malformed WWW-Authenticate header ({exc})") from exc
        by_scheme = {c.scheme: c for c in challenges}
        chosen = by_scheme.get("bearer") or by_scheme.get("basic")
        if chosen is None:
            offered = ", ".join(c.scheme for c in challenges) or "none"
            raise BackendError(f"{where}: unsupported authentication scheme(s): {offered}")
        with self._lock:
            self._schemes[host] = chosen
        if chosen.scheme == "basic":
            creds = self.credentials(registry, repository)
            if creds is None or not creds.has_password:
                raise BackendError(f"{where}: {self.missing_credentials_hint(registry)}")
            return _basic(creds)
        scope = repository_scope(repository, actions)
        self._tokens.discard(host, scope)
        return f"Bearer {self._fetch_token(host, registry, repository, actions, chosen)}"

    def missing_credentials_hint(self, registry: str) -> str:
        """Why no credentials were sent for ``registry`` and how to provide them."""
        if self._authfile is None:
            return (
                f"authentication required and no credentials for {registry} "
                "(no auth file found; pass --authfile or run docker/podman login)"
            )
        if self._authfile.has_helper_for(registry):
            return (
                f"authentication required and no credentials for {registry} in "
                f"{self._authfile.path} (credential helpers are not supported; "
                "pass --authfile with an 'auth' entry)"
            )
        return (
            f"authentication required and no credentials for {registry} in "
            f"{self._authfile.path} (pass --authfile or run docker/podman login)"
        )

    def _fetch_token(
        self, host: str, registry: str, repository: str, actions: str, challenge: Challenge
    ) -> str:
        realm = challenge.params.get("realm")
        if not realm:
            raise BackendError(f"registry {host}: Bearer challenge without a realm")
        scope = repository_scope(repository, actions)
        creds = self.credentials(registry, repository)
        service = challenge.params.get("service")
        realm_parts = urlsplit(realm)
        where = f"token server {realm_parts.netloc}: "
        if creds is not None and creds.identity_token:
            form = {
                "grant_type": "refresh_token",
                "refresh_token": creds.identity_token,
                "client_id": _CLIENT_ID,
                "scope": scope,
            }
            if service:
                form["service"] = service
            response = self._transport.request_url(
                "POST",
                realm,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                body=urlencode(form).encode(),
                max_body=_TOKEN_RESPONSE_CAP,
                origin_host=host,
            )
            where += f"POST {realm_parts.path}"
        else:
            query = {"scope": scope, **({"service": service} if service else {})}
            separator = "&" if realm_parts.query else "?"
            headers = {}
            if creds is not None and creds.has_password:
                headers["Authorization"] = _basic(creds)
            response = self._transport.request_url(
                "GET",
                f"{realm}{separator}{urlencode(query)}",
                headers=headers,
                max_body=_TOKEN_RESPONSE_CAP,
                origin_host=host,
            )
            where += f"GET {realm_parts.path}"
        if response.status in (401, 403):
            if creds is None:
                raise BackendError(f"{where}: {self.missing_credentials_hint(registry)}")
            raise BackendError(
                f"{where}: {response.status} {response.reason}: authentication failed for "
                f"{registry} with the credentials from {creds.origin}"
            )
        if not response.ok:
            raise BackendError(f"{where}: {response.status} {response.reason}")
        token, lifetime = _parse_token_response(response.body, where)
        self._tokens.put(host, scope, token, lifetime)
        return token


def _parse_token_response(body: bytes, where: str) -> tuple[str, float]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BackendError(f"{where}: token response is not JSON") from exc
    if not isinstance(document, dict):
        raise BackendError(f"{where}: token response is not a JSON object")
    token = document.get("token") or document.get("access_token")
    if not isinstance(token, str) or not token:
        raise BackendError(f"{where}: token response has no token")
    if any(c in token for c in "\r\n\0 ") or not token.isprintable():
        raise BackendError(f"{where}: token contains characters not allowed in a header")
    return token, token_lifetime(document.get("expires_in"))


def _basic(creds: Credentials) -> str:
    pair = f"{creds.username}:{creds.password}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")
