"""What a policy says about an evidence source, and the credentials file it may name.

A ``EvidenceSourceSpec`` is plain data, built when the policy loads (see
``gate.policy.sources``): which kind of server, its base URL, the TLS CA
file, the timeout, and, for Harbor, Basic credentials read from a file at
load time so that a bad file is a policy error rather than a failed check.

Credentials file (Harbor), JSON, either of:

* ``{"username": "...", "password": "..."}`` for a Harbor user or any
  account written by hand;
* a Harbor robot account as Harbor exports it (``{"name": "robot$proj+ci",
  "secret": "...", ...}``; its other fields, such as ``id`` or ``expires_at``,
  are ignored).

Anything else (both forms at once, a missing or empty field, a user name
with ``:``, which Basic authentication cannot carry) is refused with one line
naming the file and the reason. The file's mode is not checked.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gate.errors import InputError
from gate.files import read_input_file
from gate.oci.transport import is_loopback

#: A credentials file is a few hundred bytes; anything far larger is not one.
MAX_CREDENTIALS_BYTES = 64 * 1024


class SourceKind(enum.StrEnum):
    """The kinds of servers a policy may name as evidence sources."""

    HARBOR = "harbor"
    CLAIR = "clair"


@dataclass(frozen=True)
class BasicCredentials:
    """A user name and password for HTTP Basic authentication, and the file they came from."""

    username: str
    password: str = field(repr=False)
    #: The file as the policy names it, for messages.
    source: str = ""


@dataclass(frozen=True)
class EvidenceSourceSpec:
    """One entry of ``spec.evidenceSources``: a server to ask for scan reports by digest.

    ``url`` is the base URL without a trailing ``/``; ``timeout`` (seconds)
    replaces the registry timeout for this source when set.
    """

    kind: SourceKind
    url: str
    credentials: BasicCredentials | None = None
    ca_file: Path | None = None
    timeout: float | None = None

    @property
    def label(self) -> str:
        """``harbor https://harbor.example.com``: how verdicts and errors name the source."""
        return f"{self.kind.value} {self.url}"


def source_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be an evidence source's base URL, or None.

    HTTPS, or plain HTTP to a loopback address (a local proxy or a test
    server); a path prefix is allowed, a query or fragment is not.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        return f'"{url}" is not an http(s) URL'
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        return f'"{url}": give the base URL only (no query or fragment)'
    if parts.username is not None or parts.password is not None:
        return f'"{url}": no credentials in the URL; use credentialsFile'
    if parts.scheme == "http" and not is_loopback(parts.netloc):
        return f'"{url}": plain http is only allowed to a loopback address; use https'
    return None


def load_credentials_file(path: Path, shown: str) -> BasicCredentials:
    """The Basic credentials in the JSON file ``path`` (``shown`` is how messages name it).

    Raises ``InputError`` naming the file when it cannot be read or is not one
    of the two accepted forms (see the module docstring).
    """
    if not path.is_file():
        what = "is not a file" if path.exists() else "not found"
        raise InputError(f"credentials file {what} (looked at {path})", source=shown)
    data = read_input_file(path, "credentials file", limit=MAX_CREDENTIALS_BYTES)
    try:
        document: Any = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"not JSON ({_short(exc)})", source=shown) from None
    if not isinstance(document, dict):
        raise InputError(_FORMS, source=shown)
    plain = "username" in document or "password" in document
    robot = "name" in document or "secret" in document
    if plain and robot:
        raise InputError(
            'give either "username"/"password" or a robot account\'s "name"/"secret", not both',
            source=shown,
        )
    if not plain and not robot:
        raise InputError(_FORMS, source=shown)
    user_key, secret_key = ("username", "password") if plain else ("name", "secret")
    username = _text(document, user_key, shown)
    password = _text(document, secret_key, shown)
    if ":" in username:
        raise InputError(
            f'"{user_key}" contains ":", which HTTP Basic authentication cannot carry',
            source=shown,
        )
    return BasicCredentials(username=username, password=password, source=shown)


_FORMS = (
    'expected a JSON object {"username": ..., "password": ...} or a Harbor robot account '
    'file {"name": ..., "secret": ...}'
)


def _text(document: dict[str, Any], key: str, shown: str) -> str:
    value = document.get(key)
    if not isinstance(value, str):
        what = "missing" if key not in document else "not a string"
        raise InputError(f'"{key}" is {what}', source=shown)
    if not value or any(ch in value for ch in "\r\n\0"):
        raise InputError(f'"{key}" is empty or contains line breaks', source=shown)
    return value


def _short(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno}, column {exc.colno}"
    return "the bytes are not UTF-8 text"
