"""The normalised software component every SBOM adapter produces."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from gate.oci.digest import Digest


@dataclass(frozen=True)
class Component:
    """One package in an SBOM: name, version, purl and its declared licenses.

    ``licenses`` keeps SPDX ids and license expressions as written
    (``"MIT"``, ``"(MIT OR AGPL-3.0-only)"``); the policy splits expressions.
    """

    name: str
    version: str | None = None
    purl: str | None = None
    licenses: tuple[str, ...] = ()
    type: str | None = None
    bom_ref: str | None = None


@dataclass(frozen=True)
class Sbom:
    """The components of one SBOM document, with what it says it describes."""

    source: str
    format: str  # "cyclonedx", "spdx"
    spec_version: str | None
    components: tuple[Component, ...]
    subject_name: str | None = None
    subject_digests: frozenset[Digest] = frozenset()
    created_at: datetime | None = None
    #: Facts about how the document was read (encoding, values that could not
    #: be interpreted), for the report; never needed to decide.
    metadata: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
