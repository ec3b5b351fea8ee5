"""``--sbom FILE``: recognise an SBOM by its content and turn it into components.

Mirrors ``gate.scanners.load``: one registry dict of adapters, and an error
that names what the document was recognised as when it cannot be used here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from gate.sbom.component import Sbom
from gate.sbom.cyclonedx import parse_cyclonedx_sbom, parse_cyclonedx_xml_sbom
from gate.sbom.spdx import parse_spdx_json, parse_spdx_tag_value
from gate.scanners.detect import Kind, load_with

#: An adapter: the parsed document and its source name -> the SBOM.
SbomAdapter = Callable[[Any, str], Sbom]

#: The formats ``load_sbom`` ingests, keyed by ``detect_format`` names.
SBOM_ADAPTERS: Mapping[str, SbomAdapter] = MappingProxyType(
    {
        "cyclonedx-json": parse_cyclonedx_sbom,
        "cyclonedx-xml": parse_cyclonedx_xml_sbom,
        "spdx-json": parse_spdx_json,
        "spdx-tag-value": parse_spdx_tag_value,
    }
)


def load_sbom(data: bytes, source: str) -> Sbom:
    """Parse the bytes of one SBOM into an ``Sbom``.

    ``source`` is the file name or URL, used in the result and in every error.
    Raises ``InputError`` (one line: file, JSON path, reason) for anything that
    is not an ingestible, well-formed SBOM.
    """
    return load_with(data, source, SBOM_ADAPTERS, kind=Kind.SBOM, noun="an SBOM")
