"""Image platforms (``linux/arm64/v8``): parsing, normalising and matching.

A multi-arch image index lists one manifest per platform; ``--platform``
chooses one. Matching follows what container runtimes do: architecture
aliases are normalised (``aarch64`` is ``arm64``) and an absent variant stands
for the architecture's default one (``linux/arm64`` matches ``v8`` or none).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gate.errors import InputError

_ARCH_ALIASES = {
    "aarch64": "arm64",
    "x86_64": "amd64",
    "x86-64": "amd64",
    "i386": "386",
    "i686": "386",
}
# The variant a runtime assumes when an index entry or a request names none.
_DEFAULT_VARIANT = {"arm64": "v8", "arm": "v7", "amd64": "v1"}
_PART_RE = re.compile(r"[a-z0-9][a-z0-9._-]*", re.ASCII)


@dataclass(frozen=True)
class Platform:
    """An operating system, CPU architecture and optional variant, normalised."""

    os: str
    architecture: str
    variant: str | None = None

    @classmethod
    def parse(cls, text: str) -> Platform:
        """Parse ``os/arch[/variant]`` (e.g. ``linux/arm64/v8``); raise ``InputError`` otherwise."""
        parts = text.strip().lower().split("/")
        if len(parts) not in (2, 3) or not all(_PART_RE.fullmatch(p) for p in parts):
            raise InputError(
                f"invalid platform {text!r}: expected os/architecture[/variant], "
                "e.g. linux/amd64 or linux/arm64/v8"
            )
        return cls.of(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    @classmethod
    def of(cls, os: str, architecture: str, variant: str | None = None) -> Platform:
        """A platform with architecture aliases normalised (``aarch64`` -> ``arm64``)."""
        arch = architecture.lower()
        arch = _ARCH_ALIASES.get(arch, arch)
        return cls(os=os.lower(), architecture=arch, variant=variant.lower() if variant else None)

    def matches(self, candidate: Platform) -> bool:
        """True when ``candidate`` (an index entry) satisfies this requested platform.

        An absent variant on either side stands for the architecture's default
        variant, so ``linux/arm64`` matches an entry with variant ``v8`` or none,
        but not ``v7``.
        """
        if self.os != candidate.os or self.architecture != candidate.architecture:
            return False
        return self._effective_variant() == candidate._effective_variant()

    def _effective_variant(self) -> str | None:
        return self.variant or _DEFAULT_VARIANT.get(self.architecture)

    def __str__(self) -> str:
        text = f"{self.os}/{self.architecture}"
        return f"{text}/{self.variant}" if self.variant else text
