"""Package URLs (``pkg:type/namespace/name@version?qualifiers#subpath``) for deny lists.

Parsing follows the purl specification: components are percent-decoded, the
type is lowercase, qualifier keys are lowercase. Names and namespaces are
compared case-insensitively only for the types whose definitions say they
are not case sensitive, and PyPI names are normalised as pip does (PEP 503:
runs of ``-``, ``_`` and ``.`` are one ``-``). A policy purl matches a
component's purl when type, namespace and name are equal, the version is
equal if the policy gives one, every qualifier of the policy purl is present
with the same value, and the subpath is equal if the policy gives one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

_TYPE_RE = re.compile(r"^[a-z.+-][a-z0-9.+-]*$")
_QUALIFIER_KEY_RE = re.compile(r"^[a-z.\-_][a-z0-9.\-_]*$")

# From the purl-spec type definitions (case_sensitive: false).
_CASE_INSENSITIVE_NAMESPACE = frozenset(
    {
        "alpm",
        "apk",
        "bitbucket",
        "brew",
        "composer",
        "deb",
        "github",
        "hex",
        "luarocks",
        "qpkg",
        "rpm",
        "vscode-extension",
        "yocto",
    }
)
_CASE_INSENSITIVE_NAME = frozenset(
    {
        "alpm",
        "apk",
        "bitbucket",
        "bitnami",
        "brew",
        "chrome-extension",
        "composer",
        "deb",
        "github",
        "hex",
        "luarocks",
        "oci",
        "otp",
        "pub",
        "pypi",
        "vscode-extension",
    }
)
_CASE_INSENSITIVE_VERSION = frozenset({"huggingface", "oci", "pypi", "vscode-extension"})
_PEP503_RE = re.compile(r"[-_.]+")


class PurlError(ValueError):
    """Text that is not a package URL; the message says which part is wrong."""


@dataclass(frozen=True)
class PackageUrl:
    """A parsed, normalised package URL."""

    type: str
    name: str
    namespace: str | None = None
    version: str | None = None
    qualifiers: tuple[tuple[str, str], ...] = ()  # sorted (key, value) pairs
    subpath: str | None = None

    @classmethod
    def parse(cls, text: str) -> PackageUrl:
        """Parse and normalise ``text``; raise ``PurlError`` when it is not a purl."""
        rest = text.strip()
        if rest != text or not rest:
            raise PurlError("empty or surrounded by spaces")
        scheme, colon, rest = rest.partition(":")
        if not colon or scheme.lower() != "pkg":
            raise PurlError('must start with "pkg:"')
        rest = rest.lstrip("/")
        subpath: str | None = None
        if "#" in rest:
            rest, _, raw_subpath = rest.rpartition("#")
            segments = [unquote(s) for s in raw_subpath.split("/") if s not in ("", ".", "..")]
            subpath = "/".join(segments) or None
        qualifiers: dict[str, str] = {}
        if "?" in rest:
            rest, _, raw_qualifiers = rest.rpartition("?")
            for pair in raw_qualifiers.split("&"):
                if not pair:
                    continue
                key, equals, value = pair.partition("=")
                key = key.lower()
                if not equals or not _QUALIFIER_KEY_RE.match(key):
                    raise PurlError(f"bad qualifier {pair!r}")
                if key in qualifiers:
                    raise PurlError(f"qualifier {key!r} given twice")
                if value:
                    qualifiers[key] = unquote(value)
        purl_type, slash, rest = rest.partition("/")
        purl_type = purl_type.lower()
        if not slash:
            raise PurlError("expected pkg:type/name")
        if not _TYPE_RE.match(purl_type):
            raise PurlError(f"invalid type {purl_type!r}")
        rest = rest.strip("/")
        version: str | None = None
        head, _, last = rest.rpartition("/")
        # The version separator is the last "@" of the last segment; an "@"
        # in a namespace (an unencoded npm scope) is not one.
        if "@" in last:
            last, _, raw_version = last.rpartition("@")
            version = unquote(raw_version) or None
        name = unquote(last)
        if not name:
            raise PurlError("missing name")
        namespace_segments = [unquote(s) for s in head.split("/") if s]
        namespace = "/".join(namespace_segments) or None
        # Type-specific case rules (and PEP 503 for PyPI) so equal packages compare equal.
        if namespace is not None and purl_type in _CASE_INSENSITIVE_NAMESPACE:
            namespace = namespace.lower()
        if purl_type in _CASE_INSENSITIVE_NAME:
            name = name.lower()
        if purl_type == "pypi":
            name = _PEP503_RE.sub("-", name)
        if version is not None and purl_type in _CASE_INSENSITIVE_VERSION:
            version = version.lower()
        return cls(
            type=purl_type,
            name=name,
            namespace=namespace,
            version=version,
            qualifiers=tuple(sorted(qualifiers.items())),
            subpath=subpath,
        )

    def matches(self, other: PackageUrl) -> bool:
        """True when ``other`` (a component's purl) is selected by this (a policy's) purl."""
        if (self.type, self.namespace, self.name) != (other.type, other.namespace, other.name):
            return False
        if self.version is not None and self.version != other.version:
            return False
        if self.subpath is not None and self.subpath != other.subpath:
            return False
        theirs = dict(other.qualifiers)
        return all(theirs.get(key) == value for key, value in self.qualifiers)

    def matches_name(self, name: str, version: str | None) -> bool:
        """True when a component known only by ``name`` and ``version`` may be this package.

        For components without a usable purl. ``name`` may carry a group:
        ``namespace/name`` or ``namespace:name`` (``@babel/core``,
        ``org.apache.logging.log4j:log4j-core``), which must then equal this
        purl's namespace; a bare name matches whatever this purl's namespace,
        because SBOM tools often drop the group. Names compare
        case-insensitively (PyPI names after PEP 503 normalisation). A version
        must be equal when this purl gives one; an unknown component version
        matches (it cannot be shown to differ: fail closed). Qualifiers and
        subpath cannot be compared and are not required.
        """
        text = name.strip()
        if not text:
            return False
        cut = max(text.rfind("/"), text.rfind(":"))
        group, base = (text[:cut], text[cut + 1 :]) if cut > 0 else (None, text)
        if not self._same_name(base, self.name):
            # The whole text may be the name itself (a name with '/' or ':').
            if group is None or not self._same_name(text, self.name):
                return False
            group = None
        if group is not None and (
            self.namespace is None or group.strip("/").casefold() != self.namespace.casefold()
        ):
            return False
        if self.version is None or version is None:
            return True
        if self.type in _CASE_INSENSITIVE_VERSION:
            return version.strip().lower() == self.version
        return version.strip() == self.version

    def _same_name(self, candidate: str, name: str) -> bool:
        if self.type == "pypi":
            candidate = _PEP503_RE.sub("-", candidate)
        return candidate.casefold() == name.casefold()

    def __str__(self) -> str:
        text = f"pkg:{self.type}/"
        if self.namespace:
            text += f"{self.namespace}/"
        text += self.name
        if self.version:
            text += f"@{self.version}"
        if self.qualifiers:
            text += "?" + "&".join(f"{k}={v}" for k, v in self.qualifiers)
        if self.subpath:
            text += f"#{self.subpath}"
        return text
