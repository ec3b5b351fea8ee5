"""A small Docker token server (distribution ``auth: token``) for integration tests.

It implements what the token spec asks of an authorization service:
``GET /token?service=..&scope=..`` with optional HTTP Basic credentials, and
the OAuth2 ``POST /token`` (``grant_type=password`` or ``refresh_token``).
Tokens are ES256 JWTs whose ``x5c`` header carries a self-signed certificate
that the registry trusts through its ``rootcertbundle``; the ``access`` claim
grants what was asked for to known users (``read_only`` ones get ``pull``
only), and ``pull`` on ``public/*`` to anyone. Every token request is
recorded so tests can count them.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from tests.support.tls import SigningCertificate

TOKEN_LIFETIME = 300


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class TokenRequest:
    """One request the token server answered: how, who, and for which scopes."""

    method: str
    account: str | None  # None for anonymous
    scopes: tuple[str, ...]
    status: int


@dataclass
class TokenServer:
    """A token server on ``127.0.0.1`` in a background thread; ``realm`` is its URL."""

    signing: SigningCertificate
    users: Mapping[str, str]
    issuer: str = "gate-test-issuer"
    service: str = "gate-test-registry"
    refresh_tokens: Mapping[str, str] = field(default_factory=dict)  # token -> user
    public_prefix: str = "public/"
    read_only: frozenset[str] = frozenset()  # users granted pull only
    requests: list[TokenRequest] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def realm(self) -> str:
        """The ``realm`` URL the registry advertises in its Bearer challenge."""
        if self._server is None:
            raise RuntimeError("token server not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}/token"

    def start(self) -> TokenServer:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut the server down and wait for its thread."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def issue(self, account: str | None, scopes: list[str]) -> str:
        """A signed JWT granting ``account`` what it may have of ``scopes``."""
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": account or "",
            "aud": self.service,
            "exp": now + TOKEN_LIFETIME,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": [a for a in (self._grant(account, s) for s in scopes) if a is not None],
        }
        header = {
            "typ": "JWT",
            "alg": "ES256",
            "x5c": [base64.b64encode(self.signing.der).decode("ascii")],
        }
        signing_input = (
            _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
        )
        der = self.signing.key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return f"{signing_input}.{_b64url(signature)}"

    def _grant(self, account: str | None, scope: str) -> dict[str, Any] | None:
        parts = scope.split(":")
        if len(parts) != 3 or parts[0] != "repository":
            return None
        _, name, actions = parts
        wanted = [a for a in actions.split(",") if a]
        if account is None:
            granted = ["pull"] if name.startswith(self.public_prefix) and "pull" in wanted else []
        elif account in self.read_only:
            granted = [a for a in wanted if a == "pull"]
        else:
            granted = wanted
        return {"type": "repository", "name": name, "actions": granted}


def _handler_for(server: TokenServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return  # keep test output clean; requests are recorded instead

        def do_GET(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            scopes = query.get("scope", [])
            if query.get("service", [""])[0] != server.service:
                self._answer(400, {"error": "unknown service"}, None, scopes)
                return
            account: str | None = None
            header = self.headers.get("Authorization")
            if header:
                account = self._basic_user(header)
                if account is None:
                    self._answer(401, {"error": "bad credentials"}, None, scopes)
                    return
            token = server.issue(account, scopes)
            self._answer(
                200,
                {"token": token, "access_token": token, "expires_in": TOKEN_LIFETIME},
                account,
                scopes,
            )

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode())
            scopes = " ".join(form.get("scope", [])).split()
            grant = form.get("grant_type", [""])[0]
            account: str | None = None
            if grant == "refresh_token":
                account = server.refresh_tokens.get(form.get("refresh_token", [""])[0])
            elif grant == "password":
                user = form.get("username", [""])[0]
                if server.users.get(user) == form.get("password", [""])[0]:
                    account = user
            if account is None or form.get("service", [""])[0] != server.service:
                self._answer(401, {"error": "invalid_grant"}, None, scopes, method="POST")
                return
            token = server.issue(account, scopes)
            self._answer(
                200, {"access_token": token, "expires_in": TOKEN_LIFETIME}, account, scopes, "POST"
            )

        def _basic_user(self, header: str) -> str | None:
            scheme, _, encoded = header.partition(" ")
            if scheme.lower() != "basic":
                return None
            try:
                user, _, password = base64.b64decode(encoded).decode().partition(":")
            except ValueError:
                return None
            return user if server.users.get(user) == password else None

        def _answer(
            self,
            status: int,
            document: dict[str, Any],
            account: str | None,
            scopes: list[str],
            method: str = "GET",
        ) -> None:
            server.requests.append(TokenRequest(method, account, tuple(scopes), status))
            body = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler
