"""Image references: parsing and normalisation the way Docker and containers do it.

``alpine`` becomes ``docker.io/library/alpine:latest``; ``localhost:5000/app@sha256:..``
keeps its port; a reference may carry both a tag and a digest, in which case the
digest is what counts and the tag is informational.

One registry has one spelling, so that a policy glob denying it cannot be
bypassed by writing it differently: the host is lowercased, an explicit
``:443`` is dropped (the same registry over HTTPS), a port loses its leading
zeros, an IPv6 literal is written in its compressed form, and Docker Hub's
aliases (``index.docker.io``, ``registry-1.docker.io``) become ``docker.io``.
The repository path stays lowercase-only, as the distribution spec requires.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from dataclasses import dataclass, replace

from gate.errors import InputError
from gate.oci.digest import Digest

DEFAULT_REGISTRY = "docker.io"
DEFAULT_TAG = "latest"
#: Host names of Docker Hub, all normalised to ``DEFAULT_REGISTRY``.
DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
#: The port HTTPS uses when none is given: ``host:443`` is ``host``.
_HTTPS_PORT = 443
_MAX_PORT = 65535

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
# fullmatch + ASCII: "$" would accept a trailing newline and "\w" non-ASCII letters.
_COMPONENT_RE = re.compile(_COMPONENT, re.ASCII)
_DOMAIN_RE = re.compile(
    r"(?:\[[0-9a-fA-F:]+\]|(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*)(?::[0-9]+)?",
    re.ASCII,
)
#: A valid tag (distribution spec), to be used with ``fullmatch``.
TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", re.ASCII)
_HOST_PORT_RE = re.compile(r"(?P<host>\[[^\]]*\]|[^:]*)(?::(?P<port>[0-9]+))?", re.ASCII)
_MAX_NAME = 255


def normalise_registry(host: str) -> str:
    """The one spelling of registry ``host[:port]``, the same wherever a registry is named.

    Lowercase, no ``:443``, no leading zeros in the port, IPv6 literals
    compressed, Docker Hub aliases folded into ``docker.io``. A one-label host
    keeps its ``:443``: ``registry:443/app`` without it would read as the
    Docker Hub repository ``registry/app``. References, auth
    file keys and insecure-registry entries all go through this, so that they
    agree. Text that is not ``host[:port]`` comes back lowercased, unchanged
    otherwise (validation is the caller's business).
    """
    lowered = host.lower()
    match = _HOST_PORT_RE.fullmatch(lowered)
    if match is None:
        return lowered
    name, port = match.group("host"), match.group("port")
    if name.startswith("["):
        with contextlib.suppress(ValueError):  # not an address: left as written
            name = f"[{ipaddress.IPv6Address(name[1:-1]).compressed}]"
    if port is not None and (int(port) != _HTTPS_PORT or not _names_a_host(name)):
        name = f"{name}:{int(port)}"
    return DEFAULT_REGISTRY if name in DOCKER_HUB_ALIASES else name


def _names_a_host(name: str) -> bool:
    """True when ``name`` (lowercase, no port) reads as a registry host in a reference."""
    return "." in name or name == "localhost" or name.startswith("[")


def _valid_registry(registry: str) -> bool:
    """True for ``host[:port]`` with a real IPv6 literal (if any) and a port in 1..65535."""
    if not _DOMAIN_RE.fullmatch(registry):
        return False
    match = _HOST_PORT_RE.fullmatch(registry)
    if match is None:
        return False
    name, port = match.group("host"), match.group("port")
    if port is not None and not 0 < int(port) <= _MAX_PORT:
        return False
    if name.startswith("["):
        try:
            ipaddress.IPv6Address(name[1:-1])
        except ValueError:
            return False
    return True


@dataclass(frozen=True)
class ImageReference:
    """A normalised image reference: registry, repository, and a tag and/or digest."""

    registry: str
    repository: str
    tag: str | None = None
    digest: Digest | None = None

    @classmethod
    def parse(cls, text: str) -> ImageReference:
        """Parse and normalise ``text``; raise ``InputError`` naming what is wrong."""
        original = text
        if not text or text != text.strip():
            raise InputError(f"invalid image reference {original!r}: empty or has spaces")
        digest: Digest | None = None
        if "@" in text:
            text, _, digest_text = text.partition("@")
            try:
                digest = Digest.parse(digest_text)
            except InputError as exc:
                raise InputError(f"invalid image reference {original!r}: {exc.reason}") from exc
        tag: str | None = None
        last_slash = text.rfind("/")
        colon = text.rfind(":")
        if colon > last_slash:
            text, tag = text[:colon], text[colon + 1 :]
            if not TAG_RE.fullmatch(tag):
                raise InputError(f"invalid image reference {original!r}: bad tag {tag!r}")
        registry, _, path = text.partition("/")
        # As docker does: an uppercase first component can only be a host name.
        is_domain = (
            "." in registry
            or ":" in registry
            or registry.lower() == "localhost"
            or registry != registry.lower()
        )
        if not path or not (is_domain or registry.startswith("[")):
            registry, path = DEFAULT_REGISTRY, text
        elif not _valid_registry(registry):
            raise InputError(f"invalid image reference {original!r}: bad registry {registry!r}")
        elif not ("." in registry or ":" in registry or registry.lower() == "localhost"):
            # Only its capitals make ``EVIL/x`` name a host; lowercased, as every registry
            # is, it would print as ``evil/x``, which reads as Docker Hub: refused.
            raise InputError(
                f"invalid image reference {original!r}: registry {registry!r} is a host only "
                "because of its capital letters (in lowercase it names a Docker Hub "
                "namespace); give the registry a domain or a port"
            )
        registry = normalise_registry(registry)
        if registry == DEFAULT_REGISTRY and "/" not in path:
            path = f"library/{path}"
        for component in path.split("/"):
            if not _COMPONENT_RE.fullmatch(component):
                raise InputError(
                    f"invalid image reference {original!r}: bad repository component "
                    f"{component!r} (lowercase letters, digits and . _ - only)"
                )
        if len(registry) + 1 + len(path) > _MAX_NAME:
            raise InputError(f"invalid image reference {original!r}: name longer than 255")
        if tag is None and digest is None:
            tag = DEFAULT_TAG
        return cls(registry=registry, repository=path, tag=tag, digest=digest)

    @property
    def name(self) -> str:
        """``registry/repository`` without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def api_host(self) -> str:
        """The host:port that serves the distribution API for this registry."""
        return "registry-1.docker.io" if self.registry == DEFAULT_REGISTRY else self.registry

    def with_digest(self, digest: Digest) -> ImageReference:
        """This reference pinned to ``digest`` (the tag is kept for display)."""
        return replace(self, digest=digest)

    def with_tag(self, tag: str) -> ImageReference:
        """The same repository under another tag, without digest."""
        return replace(self, tag=tag, digest=None)

    @property
    def pinned(self) -> str:
        """``registry/repository@digest``: what admission should deploy."""
        if self.digest is None:
            raise ValueError(f"{self} is not pinned to a digest")
        return f"{self.name}@{self.digest}"

    def __str__(self) -> str:
        text = self.name
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text
