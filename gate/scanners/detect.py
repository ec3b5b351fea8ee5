"""Recognise a scanner report, SBOM or VEX document from its content, never its file name.

Trivy and grype goldens end in ``.golden``, DefectDojo samples in ``.json``,
SARIF sometimes in ``.sarif``: only the content is reliable. The document is
parsed exactly once here and handed on, so adapters never ``json.loads`` twice.
It follows the table in section 0 of the shared ``scanner-formats.md`` notes.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeElementTree  # type: ignore[import-untyped]  # ships no stubs
from defusedxml import DefusedXmlException

from gate.errors import InputError
from gate.scanners._fields import json_type


class Kind(enum.Enum):
    """What a recognised document is for, so a misplaced file gets a helpful error."""

    SCAN = "a scanner report"
    SBOM = "an SBOM"
    VEX = "a VEX document"


@dataclass(frozen=True)
class FormatInfo:
    """A recognisable format: its human name (for messages) and what kind of evidence it is."""

    title: str
    kind: Kind


#: Every format the sniffer recognises, keyed by the name ``detect_format`` returns.
FORMATS: Mapping[str, FormatInfo] = {
    "trivy": FormatInfo("Trivy JSON", Kind.SCAN),
    "trivy-legacy": FormatInfo("Trivy JSON (legacy, before v0.20)", Kind.SCAN),
    "grype": FormatInfo("Grype JSON", Kind.SCAN),
    "clair-v4": FormatInfo("Clair v4 vulnerability report", Kind.SCAN),
    "clair-scanner": FormatInfo("Clair v2 report from clair-scanner", Kind.SCAN),
    "klar": FormatInfo("Clair v2 report from klar", Kind.SCAN),
    "clair-v1": FormatInfo("Clair v1 API layer report", Kind.SCAN),
    "harbor": FormatInfo("Harbor scanner-adapter report", Kind.SCAN),
    "cyclonedx-json": FormatInfo("CycloneDX JSON", Kind.SBOM),
    "cyclonedx-xml": FormatInfo("CycloneDX XML", Kind.SBOM),
    "spdx-json": FormatInfo("SPDX JSON", Kind.SBOM),
    "spdx-tag-value": FormatInfo("SPDX tag-value", Kind.SBOM),
    "openvex": FormatInfo("OpenVEX", Kind.VEX),
    "sarif": FormatInfo("SARIF", Kind.SCAN),
}

_HARBOR_MIME_TYPES = frozenset(
    {
        "application/vnd.security.vulnerability.report; version=1.1",
        "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0",
    }
)
_CYCLONEDX_XML_NAMESPACE = "{http://cyclonedx.org/schema/bom/"
_UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class DetectedDocument:
    """A document parsed once, with the format its content was recognised as.

    ``document`` is the parsed JSON value for JSON formats, the root
    ``xml.etree.ElementTree.Element`` for XML, and the decoded text for SPDX
    tag-value.
    """

    format: str
    document: Any

    @property
    def info(self) -> FormatInfo:
        """Human name and kind of the detected format."""
        return FORMATS[self.format]


def detect_format(data: bytes, source: str) -> DetectedDocument:
    """Parse ``data`` once and recognise its format; ``InputError`` when it is none of them.

    ``source`` (the file name or URL) is only used in error messages.
    """
    head = data[:4096].lstrip()
    if head.startswith(_UTF8_BOM):
        head = head[len(_UTF8_BOM) :].lstrip()
    if not head and not data.strip():
        raise InputError("the file is empty", source=source)
    if head.startswith(b"<"):
        return _detect_xml(data, source)
    if _looks_like_spdx_tag_value(head):
        return DetectedDocument("spdx-tag-value", _decode_text(data, source))
    document = _parse_json(data, source)
    name = sniff_json(document)
    if name is None:
        raise InputError(
            f"{_describe_json(document)} is not a recognised scanner report, SBOM or VEX format",
            source=source,
        )
    return DetectedDocument(name, document)


_Loaded = TypeVar("_Loaded")


def load_with(
    data: bytes,
    source: str,
    adapters: Mapping[str, Callable[[Any, str], _Loaded]],
    *,
    kind: Kind,
    noun: str,
) -> _Loaded:
    """Detect the format of ``data`` and hand the parsed document to its adapter.

    A recognised format without an adapter is an ``InputError`` that names
    what the document is (and whether it is the right ``kind`` at all), so a
    user who passes a Grype report or a VEX file learns why it was refused.
    """
    detected = detect_format(data, source)
    adapter = adapters.get(detected.format)
    if adapter is None:
        info = detected.info
        if info.kind is kind:
            reason = f"recognised as {info.title}, which this version of gate does not ingest yet"
        else:
            reason = f"recognised as {info.title}, which is {info.kind.value}, not {noun}"
        raise InputError(reason, source=source)
    try:
        return adapter(detected.document, source)
    except RecursionError:
        raise InputError(f"document is nested too deeply to be {noun}", source=source) from None


def sniff_json(document: object) -> str | None:
    """The format name of an already parsed JSON document, or None if unrecognised."""
    if document is None:
        # Legacy Trivy writes a bare ``null`` when nothing was scanned.
        return "trivy-legacy"
    if isinstance(document, list):
        # Only a non-empty array of Trivy results is positive evidence; an empty
        # array could be anything, and reading it as "no findings" would pass silently.
        if document and isinstance(document[0], dict) and "Target" in document[0]:
            return "trivy-legacy"
        return None
    if not isinstance(document, dict):
        return None
    return _sniff_object(document)


def _sniff_object(doc: dict[str, Any]) -> str | None:
    if "SchemaVersion" in doc:
        # Any SchemaVersion is Trivy's; the adapter refuses versions it does not know.
        return "trivy"
    descriptor = doc.get("descriptor")
    if "matches" in doc and isinstance(descriptor, dict) and descriptor.get("name") == "grype":
        return "grype"
    if "manifest_hash" in doc and "package_vulnerabilities" in doc:
        return "clair-v4"
    if "unapproved" in doc and _items_have(doc.get("vulnerabilities"), "featurename"):
        return "clair-scanner"
    if "LayerCount" in doc and isinstance(doc.get("Vulnerabilities"), dict):
        return "klar"
    layer = doc.get("Layer")
    if isinstance(layer, dict) and "Features" in layer:
        return "clair-v1"
    if len(doc) == 1 and next(iter(doc)) in _HARBOR_MIME_TYPES:
        return "harbor"
    if "generated_at" in doc and "scanner" in doc and "vulnerabilities" in doc:
        return "harbor"
    if doc.get("bomFormat") == "CycloneDX":
        return "cyclonedx-json"
    if "spdxVersion" in doc:
        return "spdx-json"
    context = doc.get("@context")
    if isinstance(context, str) and context.startswith("https://openvex.dev/ns"):
        return "openvex"
    if doc.get("version") == "2.1.0" and "runs" in doc:
        return "sarif"
    return None


def _items_have(value: object, key: str) -> bool:
    """True for a list whose items are all objects carrying ``key`` (an empty list counts)."""
    return isinstance(value, list) and all(isinstance(i, dict) and key in i for i in value)


class _NonStandardNumberError(ValueError):
    """Raised for ``NaN``/``Infinity``, which Python's json accepts but JSON does not."""


def _refuse_constant(name: str) -> Any:
    raise _NonStandardNumberError(name)


def _parse_json(data: bytes, source: str) -> Any:
    try:
        return json.loads(data, parse_constant=_refuse_constant)
    except _NonStandardNumberError as exc:
        raise InputError(f"not valid JSON: {exc} is not a JSON number", source=source) from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"not valid JSON or XML: {exc.msg} (line {exc.lineno}, column {exc.colno})",
            source=source,
        ) from None
    except UnicodeDecodeError:
        raise InputError(
            "not valid JSON: the bytes are not UTF-8/16/32 text", source=source
        ) from None
    except RecursionError:
        raise InputError("JSON is nested too deeply to be a report", source=source) from None


def _detect_xml(data: bytes, source: str) -> DetectedDocument:
    try:
        root: Element = SafeElementTree.fromstring(data)
    except DefusedXmlException as exc:
        # DTDs and entity declarations are refused outright (XXE, entity expansion).
        raise InputError(f"XML uses a forbidden construct: {exc}", source=source) from None
    except SafeElementTree.ParseError as exc:
        raise InputError(f"not valid XML: {exc}", source=source) from None
    except LookupError as exc:  # <?xml encoding="..."?> names a codec Python does not have
        raise InputError(f"not valid XML: {exc}", source=source) from None
    if root.tag.startswith(_CYCLONEDX_XML_NAMESPACE) and root.tag.endswith("}bom"):
        return DetectedDocument("cyclonedx-xml", root)
    raise InputError(
        f"XML document with root element {root.tag!r} is not a recognised format"
        " (CycloneDX XML has root {http://cyclonedx.org/schema/bom/1.x}bom)",
        source=source,
    )


def _looks_like_spdx_tag_value(head: bytes) -> bool:
    """True when the first line that is not a ``#`` comment starts with ``SPDXVersion:``."""
    for line in head.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(b"#"):
            continue
        return stripped.startswith(b"SPDXVersion:")
    return False


def _decode_text(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("SPDX tag-value document is not UTF-8 text", source=source) from None


def _describe_json(document: object) -> str:
    if isinstance(document, dict):
        names = sorted(document)
        shown = ", ".join(_shown_key(k) for k in names[:5])
        return f"JSON object with keys {{{shown}{', ...' if len(names) > 5 else ''}}}"
    if isinstance(document, list):
        return "JSON array" if document else "empty JSON array"
    return f"JSON {json_type(document)} value"


def _shown_key(key: str) -> str:
    """A key as it may appear in a one-line message: plain words as is, others JSON-quoted."""
    if len(key) <= 40 and key.isascii() and key.isprintable() and " " not in key:
        return key
    return json.dumps(key[:40] + ("..." if len(key) > 40 else ""))
