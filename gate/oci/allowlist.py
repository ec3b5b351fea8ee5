"""Which hosts the gate may connect to on behalf of an image reference.

An admission request names images, and so hosts, chosen by whoever can
create a Pod. Without a limit, ``169.254.169.254/latest/meta-data:x`` makes
the gate send a request to the cloud metadata service from inside the
cluster. Two rules apply to every connection the registry client makes:

* link-local, unspecified and multicast addresses (the metadata services
  among them) are never contacted, also when a host name resolves to one or
  a registry redirects there, unless an allowlist entry names that address;
* when an allowlist is configured, only the registries it names are asked
  for images (a redirect to blob storage or a token service may go
  elsewhere, but never to the addresses above).

Entries are ``host``, ``host:port``, ``*.domain`` (any subdomain, at any
depth; not the domain itself) or ``*.domain:port``; a host without a port
allows every port. Matching is case-insensitive and anchored: ``*.acme.io``
does not admit ``evilacme.io`` or ``acme.io.evil.net``.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from gate.errors import InputError
from gate.oci.reference import normalise_registry

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class RegistryNotAllowedError(InputError):
    """The reference names a registry the gate may not contact."""


def _split(host: str) -> tuple[str, int | None]:
    if host.startswith("["):
        inner, _, rest = host[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        return inner.lower(), int(port) if port.isdigit() else None
    name, sep, port = host.rpartition(":")
    if sep and port.isdigit() and ":" not in name:
        return name.lower(), int(port)
    return host.lower(), None


def _address(name: str) -> _Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def _forbidden(address: _Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_link_local or address.is_unspecified or address.is_multicast


@dataclass(frozen=True)
class _Entry:
    name: str  # without "*." for a wildcard
    wildcard: bool
    port: int | None

    def admits(self, name: str, port: int | None) -> bool:
        if self.port is not None and port != self.port:
            return False
        if self.wildcard:
            return name.endswith("." + self.name)
        return name == self.name


def _entry(text: str) -> _Entry:
    raw = text.strip()
    wildcard = raw.startswith("*.")
    name, port = _split(normalise_registry(raw[2:] if wildcard else raw))
    if not name or "*" in name or "/" in name:
        raise InputError(f"not a registry host, host:port or *.domain: {text!r}")
    return _Entry(name, wildcard, port)


class HostPolicy:
    """The allowlist (None: any registry) and the addresses never contacted."""

    def __init__(self, allowed: Iterable[str] | None = None) -> None:
        """``allowed``: registry entries as described in the module; None allows any registry."""
        self._entries = None if allowed is None else tuple(_entry(e) for e in allowed)
        self._named = frozenset(
            e.name for e in self._entries or () if not e.wildcard and _address(e.name) is not None
        )
        self._resolved: dict[str, bool] = {}
        self._lock = threading.Lock()

    @property
    def restricted(self) -> bool:
        """True when an allowlist is configured."""
        return self._entries is not None

    def check_registry(self, host: str) -> None:
        """Refuse a registry ``host`` the allowlist does not name (``RegistryNotAllowedError``)."""
        if self._entries is None:
            return
        name, port = _split(normalise_registry(host))
        if not any(e.admits(name, port) for e in self._entries):
            raise RegistryNotAllowedError(
                f"registry {host} is not in the allowed registries; the gate does not contact it"
            )

    def check_connection(self, netloc: str) -> None:
        """Refuse to connect to ``netloc`` when it is, or resolves to, a forbidden address.

        A name's answer is remembered for the life of this object, so the
        check costs one lookup per host; requests then resolves it again to
        connect, which a rebinding DNS server could answer differently: the
        allowlist, not this check, is the defence against a hostile resolver.
        """
        name, _ = _split(netloc)
        if name in self._named:
            return
        address = _address(name)
        if address is not None:
            if _forbidden(address):
                raise RegistryNotAllowedError(
                    f"refusing to connect to {netloc}: a link-local, unspecified or multicast "
                    "address (cloud metadata services live there)"
                )
            return
        with self._lock:
            known = self._resolved.get(name)
        if known is None:
            known = self._resolves_to_forbidden(name)
            with self._lock:
                self._resolved[name] = known
        if known:
            raise RegistryNotAllowedError(
                f"refusing to connect to {netloc}: the name resolves to a link-local, unspecified "
                "or multicast address"
            )

    @staticmethod
    def _resolves_to_forbidden(name: str) -> bool:
        try:
            answers = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            return False  # the connection attempt reports the failure in its own words
        for answer in answers:
            address = _address(str(answer[4][0]).split("%", 1)[0])
            if address is not None and _forbidden(address):
                return True
        return False
