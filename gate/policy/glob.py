"""Globs for image references and Kubernetes namespaces, compiled once at load time.

Image globs work on the normalised reference (``docker.io/library/nginx:1.25``):
``*`` is any run of characters except ``/``, ``**`` any run including ``/``,
``?`` one character except ``/``. A glob selects an image when it matches the
``name``, ``name:tag``, ``name@digest`` or ``name:tag@digest`` form, so
``registry.acme.io/prod/**`` selects every tag and digest below ``prod/``.

A reference that carries a digest (``app:v1.0@sha256:...``) is fetched and
verified by that digest; the tag next to it is never checked against
anything, so anyone could write ``app:v1.0@<any digest>``. Such a reference
is therefore matched only as ``name`` and ``name@digest``: a tag next to a
digest is ignored for matching. The tag forms are only offered for a
reference without a digest of its own (its tag is what the registry resolved).

Namespace globs have no path structure: ``*`` is any run of characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gate.oci.digest import Digest
from gate.oci.reference import ImageReference

_UNSUPPORTED = "[]{}!\\,"
_NAMESPACE_GLOB_RE = re.compile(r"^[a-z0-9*?-]{1,63}$")


class GlobError(ValueError):
    """A glob that cannot be used; the message says why."""


@dataclass(frozen=True)
class ImageGlob:
    """A compiled glob over image references (see the module docstring for the syntax)."""

    pattern: str
    regex: re.Pattern[str]

    @classmethod
    def compile(cls, pattern: str) -> ImageGlob:
        """Compile ``pattern``; raise ``GlobError`` saying what is wrong with it."""
        if not pattern:
            raise GlobError("empty image glob")
        if any(ch.isspace() or not ch.isprintable() for ch in pattern):
            raise GlobError(f'image glob "{pattern}" contains spaces or control characters')
        if "***" in pattern:
            raise GlobError(f'image glob "{pattern}": use * or **, not ***')
        for ch in pattern:
            if ch in _UNSUPPORTED:
                raise GlobError(
                    f'image glob "{pattern}": "{ch}" is not supported (only *, ** and ? are '
                    "wildcards)"
                )
        # Every normalised reference is registry/repository, so a glob must
        # either start with a registry or with a wildcard that can span it.
        registry, slash, _ = pattern.partition("/")
        if not slash and "**" not in pattern:
            hint = f"docker.io/library/{pattern}"
        elif (
            slash
            and not any(ch in registry for ch in "*?")
            and not ("." in registry or ":" in registry or registry == "localhost")
        ):
            hint = f"docker.io/{pattern}"
        else:
            hint = ""
        if hint:
            raise GlobError(
                f'image glob "{pattern}" names no registry; references are normalised, so '
                f'write "{hint}"'
            )
        return cls(pattern, re.compile(_translate(pattern, image=True)))

    def matches(self, text: str) -> bool:
        """True when the glob matches the whole of ``text``."""
        return self.regex.fullmatch(text) is not None

    def matches_reference(self, reference: ImageReference, digest: Digest | None = None) -> bool:
        """True when the glob matches any form of ``reference`` (see ``reference_forms``).

        ``digest`` is the resolved digest of a reference given by tag only;
        it is ignored when the reference carries a digest of its own.
        """
        return any(self.matches(form) for form in reference_forms(reference, digest))


@dataclass(frozen=True)
class NamespaceGlob:
    """A compiled glob over Kubernetes namespace names: ``*`` any run, ``?`` one character."""

    pattern: str
    regex: re.Pattern[str]

    @classmethod
    def compile(cls, pattern: str) -> NamespaceGlob:
        """Compile ``pattern``; raise ``GlobError`` when it could never match a namespace."""
        if not _NAMESPACE_GLOB_RE.match(pattern):
            raise GlobError(
                f'namespace glob "{pattern}" can never match: namespaces are lowercase letters, '
                "digits and '-' (with * and ? as wildcards), at most 63 characters"
            )
        return cls(pattern, re.compile(_translate(pattern, image=False)))

    def matches(self, namespace: str) -> bool:
        """True when the glob matches the whole of ``namespace``."""
        return self.regex.fullmatch(namespace) is not None


def reference_forms(reference: ImageReference, digest: Digest | None = None) -> tuple[str, ...]:
    """The forms a glob is tried against.

    A reference with a digest of its own: ``name`` and ``name@digest`` only,
    because the tag written next to a digest is not verified (the digest is
    what is fetched). A reference by tag, resolved by the registry to
    ``digest``: ``name``, ``name:tag``, ``name@digest`` and ``name:tag@digest``.
    """
    if reference.digest is not None:
        return (reference.name, f"{reference.name}@{reference.digest}")
    forms = [reference.name]
    if reference.tag is not None:
        forms.append(f"{reference.name}:{reference.tag}")
    if digest is not None:
        forms.append(f"{reference.name}@{digest}")
        if reference.tag is not None:
            forms.append(f"{reference.name}:{reference.tag}@{digest}")
    return tuple(forms)


def _translate(pattern: str, *, image: bool) -> str:
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        ch = pattern[index]
        if ch == "*":
            if image and pattern.startswith("**", index):
                parts.append(".*")
                index += 2
                continue
            parts.append("[^/]*" if image else ".*")
        elif ch == "?":
            parts.append("[^/]" if image else ".")
        else:
            parts.append(re.escape(ch))
        index += 1
    return "".join(parts)
