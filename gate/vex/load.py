"""``--vex FILE``: recognise a VEX document by its content and read its statements.

OpenVEX is always VEX. A CycloneDX document (JSON or XML) is VEX when its
vulnerabilities carry an ``analysis``; one without is an SBOM or a scanner
report, and passing it as VEX is refused with an error that says so, rather
than read as "no statements" (which would hide the mistake).
"""

from __future__ import annotations

from gate.errors import InputError
from gate.scanners.detect import Kind, detect_format
from gate.vex.cyclonedx_vex import (
    is_cyclonedx_vex,
    is_cyclonedx_xml_vex,
    parse_cyclonedx_vex,
    parse_cyclonedx_xml_vex,
)
from gate.vex.model import VexDocument
from gate.vex.openvex import parse_openvex


def load_vex(data: bytes, source: str) -> VexDocument:
    """Parse the bytes of one VEX document (OpenVEX or CycloneDX VEX) into a ``VexDocument``.

    ``source`` is the file name or URL, used in the statements and in every
    error. Raises ``InputError`` (one line: file, JSON path, reason) for
    anything that is not a well-formed VEX document, naming what it is instead.
    """
    detected = detect_format(data, source)
    try:
        if detected.format == "openvex":
            return parse_openvex(detected.document, source)
        if detected.format == "cyclonedx-json" and is_cyclonedx_vex(detected.document):
            return parse_cyclonedx_vex(detected.document, source)
        if detected.format == "cyclonedx-xml" and is_cyclonedx_xml_vex(detected.document):
            return parse_cyclonedx_xml_vex(detected.document, source)
    except RecursionError:
        raise InputError("document is nested too deeply to be VEX", source=source) from None
    info = detected.info
    if detected.format.startswith("cyclonedx"):
        reason = (
            f"recognised as {info.title} without any vulnerability analysis: an SBOM or a "
            "scanner report, not a VEX document"
        )
    elif info.kind is Kind.VEX:
        reason = f"recognised as {info.title}, which this version of gate does not ingest yet"
    else:
        reason = f"recognised as {info.title}, which is {info.kind.value}, not a VEX document"
    raise InputError(reason, source=source)
