"""Registry credentials from a docker/podman auth file (``config.json`` / ``auth.json``).

Lookup order, first file that exists wins: the explicit ``--authfile``,
``$REGISTRY_AUTH_FILE``, ``$XDG_RUNTIME_DIR/containers/auth.json``,
``$DOCKER_CONFIG/config.json``, ``~/.docker/config.json``.

Supported per ``auths`` entry: ``auth`` (base64 ``user:password``),
``username`` + ``password`` (older docker files), and ``identitytoken`` (an
OAuth2 refresh token, exchanged at the registry's token endpoint). Keys may be
``host``, ``host:port``, a URL such as ``https://index.docker.io/v1/`` (only
its host counts), or podman's repository-scoped ``host/namespace[/repo]``
(the longest matching key wins). ``registrytoken``, ``credsStore`` and
``credHelpers`` are not used: credential helpers would mean running external
programs; a host that only has a helper is reported as such.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gate.errors import InputError
from gate.oci.reference import normalise_registry


@dataclass(frozen=True)
class Credentials:
    """A username and password, or an identity (refresh) token, for one registry.

    ``repr`` hides the secrets so they never land in a log or a traceback.
    """

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    identity_token: str | None = field(default=None, repr=False)
    #: Where these came from, e.g. ``/root/.docker/config.json: auths["ghcr.io"]``.
    origin: str = ""

    @property
    def has_password(self) -> bool:
        """True when a username and password pair is present (HTTP Basic is possible)."""
        return self.username is not None and self.password is not None


def default_authfile_candidates(
    environ: Mapping[str, str] | None = None, home: Path | None = None
) -> list[Path]:
    """The auth file locations docker and podman consult, in lookup order."""
    env = os.environ if environ is None else environ
    candidates: list[Path] = []
    if env.get("REGISTRY_AUTH_FILE"):
        candidates.append(Path(env["REGISTRY_AUTH_FILE"]))
    if env.get("XDG_RUNTIME_DIR"):
        candidates.append(Path(env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")
    if env.get("DOCKER_CONFIG"):
        candidates.append(Path(env["DOCKER_CONFIG"]) / "config.json")
    home_dir = home if home is not None else Path(env.get("HOME") or Path.home())
    candidates.append(home_dir / ".docker" / "config.json")
    return candidates


def find_authfile(
    explicit: Path | None,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> Path | None:
    """The auth file to use: ``explicit`` (which must exist), else the first default that exists."""
    if explicit is not None:
        if not explicit.is_file():
            raise InputError("auth file not found", source=str(explicit))
        return explicit
    for candidate in default_authfile_candidates(environ, home):
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class AuthFile:
    """The parsed ``auths`` of one auth file, looked up by registry and repository."""

    path: Path
    entries: Mapping[str, Credentials]
    #: Registries (normalised host) for which only a credential helper is configured.
    helpers: frozenset[str] = frozenset()

    @classmethod
    def load(cls, path: Path) -> AuthFile:
        """Read and validate ``path``; ``InputError`` naming the file and field when malformed."""
        source = str(path)
        try:
            text = path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read auth file ({exc.strerror})", source=source) from exc
        return cls.parse(text, source=source, path=path)

    @classmethod
    def parse(cls, data: bytes, *, source: str, path: Path | None = None) -> AuthFile:
        """Parse auth file bytes (see :meth:`load`); ``source`` names them in errors."""
        try:
            document = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(f"not JSON ({exc})", source=source) from exc
        if not isinstance(document, dict):
            raise InputError("not a JSON object", source=source)
        auths = document.get("auths", {})
        if not isinstance(auths, dict):
            raise InputError("expected an object", source=source, field="auths")
        entries: dict[str, Credentials] = {}
        for key, value in auths.items():
            where = f"auths[{json.dumps(key)}]"
            normalised = normalise_auth_key(key)
            if normalised is None:
                raise InputError("not a registry host or repository", source=source, field=where)
            credentials = _entry(value, source, where)
            if credentials is not None:
                entries[normalised] = credentials
        helpers = set()
        cred_helpers = document.get("credHelpers", {})
        if not isinstance(cred_helpers, dict):
            raise InputError("expected an object", source=source, field="credHelpers")
        for key in cred_helpers:
            normalised = normalise_auth_key(key)
            if normalised is not None:
                helpers.add(normalised)
        if isinstance(document.get("credsStore"), str) and document["credsStore"]:
            helpers.add("*")
        return cls(path=path or Path(source), entries=entries, helpers=frozenset(helpers))

    def lookup(self, registry: str, repository: str) -> Credentials | None:
        """Credentials for ``registry/repository``: the longest matching key, else the host key.

        ``registry`` is the normalised registry of an ``ImageReference``
        (``docker.io`` for Docker Hub); matching is on whole path components.
        """
        registry = normalise_registry(registry)
        candidate = f"{registry}/{repository}"
        while True:
            found = self.entries.get(candidate)
            if found is not None:
                return found
            if "/" not in candidate:
                return None
            candidate = candidate.rsplit("/", 1)[0]

    def has_helper_for(self, registry: str) -> bool:
        """True when a credential helper (unsupported) is configured for ``registry``."""
        return "*" in self.helpers or normalise_registry(registry) in self.helpers


def normalise_auth_key(key: str) -> str | None:
    """``host[:port][/repo/path]`` for an ``auths`` key, or None when it names no host.

    URL keys (``https://index.docker.io/v1/``) keep only their host, as docker
    does; bare keys keep their repository path, as podman does.
    """
    text = key.strip()
    if "://" in text:
        text = text.split("://", 1)[1].split("/", 1)[0]
    text = text.rstrip("/")
    if not text:
        return None
    host, _, path = text.partition("/")
    if not host:
        return None
    host = normalise_registry(host)
    return f"{host}/{path}" if path else host


def _entry(value: Any, source: str, where: str) -> Credentials | None:
    if not isinstance(value, dict):
        raise InputError("expected an object", source=source, field=where)
    for name in ("auth", "username", "password", "identitytoken"):
        if name in value and not isinstance(value[name], str):
            raise InputError("expected a string", source=source, field=f"{where}.{name}")
    origin = f"{source}: {where}"
    username: str | None = None
    password: str | None = None
    encoded = value.get("auth", "")
    if encoded:
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise InputError(
                "not base64 of 'user:password'", source=source, field=f"{where}.auth"
            ) from exc
        username, sep, password = decoded.partition(":")
        if not sep or not username:
            raise InputError(
                "decodes to no 'user:password' pair", source=source, field=f"{where}.auth"
            )
    elif value.get("username") or value.get("password"):
        username = value.get("username") or None
        password = value.get("password") or None
        if username is None or password is None:
            raise InputError("username and password must both be set", source=source, field=where)
    identity_token = value.get("identitytoken") or None
    if username is None and identity_token is None:
        # docker writes empty entries for hosts whose secret lives in a helper
        return None
    return Credentials(
        username=username, password=password, identity_token=identity_token, origin=origin
    )
