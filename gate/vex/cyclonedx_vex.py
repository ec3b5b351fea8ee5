"""CycloneDX VEX (``vulnerabilities[].analysis`` + ``affects[]``) into statements.

Each vulnerability that carries an ``analysis`` is one statement. Its
``state`` maps onto the OpenVEX statuses (section 10 of scanner-formats.md):
``not_affected`` and ``false_positive`` -> not_affected, ``resolved`` and
``resolved_with_pedigree`` -> fixed, ``exploitable`` -> affected,
``in_triage`` -> under_investigation. The CycloneDX justification list is not
OpenVEX's, so the raw word is kept. ``analysis.detail`` is the impact
statement of a not_affected statement and the action statement of an
affected one; ``response[]`` is kept as is.

The products are the ``affects[].ref`` values: a local ``bom-ref`` (resolved
to the component of this document when there is one, taking its purl), a
BOM-Link ``urn:cdx:<serial>/<version>#<bom-ref>`` (into this document when
the serial is its own; otherwise kept for ``apply_vex`` to resolve through
the image's SBOM; a fragment that is a purl is read as that purl, as Trivy
does), with ``affects[].versions`` limiting it to those versions. A
vulnerability without ``affects`` is about the document's subject
(``metadata.component``); with no subject either, it names no product and is
never applied (``use-case7-no-affects.json``).

Statement time: ``analysis.lastUpdated``, else ``analysis.firstIssued``
(CycloneDX 1.5+), else ``metadata.timestamp``. The vulnerability's own
``published``/``updated`` date the advisory, not the analysis, and are not used.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote
from xml.etree.ElementTree import Element

from gate.sbom.component import Component
from gate.sbom.cyclonedx import CycloneDxDocument, cyclonedx_xml_to_json, read_cyclonedx
from gate.scanners._fields import fail, join, opt_dict, opt_list, opt_str, req_str, wrong_type
from gate.vex.model import (
    ProductRef,
    VexDocument,
    VexStatement,
    VexStatus,
    parse_vex_timestamp,
    product_ref,
)

FORMAT = "cyclonedx"

#: CycloneDX ``analysis.state`` -> VEX status.
STATE_STATUSES: Mapping[str, VexStatus] = MappingProxyType(
    {
        "not_affected": VexStatus.NOT_AFFECTED,
        "false_positive": VexStatus.NOT_AFFECTED,
        "resolved": VexStatus.FIXED,
        "resolved_with_pedigree": VexStatus.FIXED,
        "exploitable": VexStatus.AFFECTED,
        "in_triage": VexStatus.UNDER_INVESTIGATION,
    }
)

_BOM_LINK_PREFIX = "urn:cdx:"


def is_cyclonedx_vex(document: object) -> bool:
    """True when a parsed CycloneDX JSON document is VEX rather than an SBOM or scan report.

    It is when some vulnerability carries an ``analysis``, or when it is the
    VEX-only shape with nothing in it (``vulnerabilities: []`` and no
    ``components``).
    """
    if not isinstance(document, dict):
        return False
    vulnerabilities = document.get("vulnerabilities")
    if type(vulnerabilities) is not list:
        return False
    if not vulnerabilities:
        return "components" not in document
    return any(type(v) is dict and v.get("analysis") is not None for v in vulnerabilities)


def parse_cyclonedx_vex(document: object, source: str) -> VexDocument:
    """Turn a parsed CycloneDX JSON VEX document into a ``VexDocument``.

    Vulnerabilities without an ``analysis.state`` state nothing and are only
    counted in ``notes``; anything malformed is an ``InputError`` naming the JSON path.
    """
    doc = read_cyclonedx(document, source)
    # read_cyclonedx has refused anything else already; this is for the type checker
    # (the XML converter may hand over a dict subclass).
    if not isinstance(document, dict):
        wrong_type(source, "", "a CycloneDX object", document)
    return _Reader(doc, source).read(document)


def parse_cyclonedx_xml_vex(root: Element, source: str) -> VexDocument:
    """Turn the root element of a CycloneDX XML VEX document into a ``VexDocument``."""
    document = cyclonedx_xml_to_json(root)
    _complete_xml_analysis(root, document)
    return parse_cyclonedx_vex(document, source)


def is_cyclonedx_xml_vex(root: Element) -> bool:
    """``is_cyclonedx_vex`` for the root element of a CycloneDX XML document."""
    ns = root.tag[: root.tag.index("}") + 1]
    holder = root.find(ns + "vulnerabilities")
    if holder is None:
        return False
    vulnerabilities = holder.findall(ns + "vulnerability")
    if not vulnerabilities:
        return root.find(ns + "components") is None
    return any(v.find(ns + "analysis") is not None for v in vulnerabilities)


def _complete_xml_analysis(root: Element, document: dict[str, Any]) -> None:
    """Add the ``analysis`` fields the shared XML converter leaves out (detail, response, times)."""
    ns = root.tag[: root.tag.index("}") + 1]
    holder = root.find(ns + "vulnerabilities")
    if holder is None:
        return
    for element, converted in zip(
        holder.findall(ns + "vulnerability"), document.get("vulnerabilities", []), strict=True
    ):
        analysis = element.find(ns + "analysis")
        if analysis is None:
            continue
        out: dict[str, Any] = {}
        for tag in ("state", "justification", "detail", "firstIssued", "lastUpdated"):
            child = analysis.find(ns + tag)
            if child is not None:
                out[tag] = (child.text or "").strip()
        responses = analysis.find(ns + "responses")
        if responses is not None:
            out["response"] = [(r.text or "").strip() for r in responses.findall(ns + "response")]
        converted["analysis"] = out


class _Reader:
    """Reads the vulnerabilities of one checked CycloneDX document into statements."""

    def __init__(self, doc: CycloneDxDocument, source: str) -> None:
        self.doc = doc
        self.source = source
        self.notes: list[str] = []
        self.subject = self._subject_ref()

    def read(self, document: dict[str, Any]) -> VexDocument:
        source, doc = self.source, self.doc
        unparsed = doc.metadata.get("created_at_unparsed")
        if unparsed is not None:
            fail(source, "metadata.timestamp", f"not an RFC 3339 timestamp: {unparsed!r}")
        statements: list[VexStatement] = []
        without_analysis = 0
        for index, vuln in enumerate(opt_list(document, "vulnerabilities", source, "")):
            path = f"vulnerabilities[{index}]"
            if type(vuln) is not dict:
                wrong_type(source, path, "an object", vuln)
            statement = self._statement(vuln, path)
            if statement is None:
                without_analysis += 1
            else:
                statements.append(statement)
        if without_analysis:
            self.notes.append(
                f"{without_analysis} vulnerabilities have no analysis state: they state"
                " nothing and were skipped"
            )
        return VexDocument(
            source=source,
            format=FORMAT,
            statements=tuple(statements),
            timestamp=doc.created_at,
            document_id=doc.serial_number,
            spec_version=doc.spec_version,
            notes=tuple(self.notes),
        )

    def _statement(self, vuln: dict[str, Any], path: str) -> VexStatement | None:
        source = self.source
        vuln_id = req_str(vuln, "id", source, path)
        analysis = opt_dict(vuln, "analysis", source, path)
        apath = join(path, "analysis")
        state = opt_str(analysis, "state", source, apath)
        if not state:
            # No analysis, or one without a state (the schema allows it): nothing is stated.
            return None
        status = STATE_STATUSES.get(state)
        if status is None:
            fail(
                source,
                join(apath, "state"),
                f"unknown analysis state {state!r} (expected one of {', '.join(STATE_STATUSES)})",
            )
        detail = opt_str(analysis, "detail", source, apath) or None
        responses = []
        for r_index, response in enumerate(opt_list(analysis, "response", source, apath)):
            if type(response) is not str:
                wrong_type(source, f"{apath}.response[{r_index}]", "a string", response)
            responses.append(response)

        aliases: list[str] = []
        for r_index, ref in enumerate(opt_list(vuln, "references", source, path)):
            rpath = f"{path}.references[{r_index}]"
            if type(ref) is not dict:
                wrong_type(source, rpath, "an object", ref)
            alias = req_str(ref, "id", source, rpath)
            if alias != vuln_id and alias not in aliases:
                aliases.append(alias)

        products = self._products(vuln, path)
        if not products:
            self.notes.append(
                f"{path} ({vuln_id}) names no affected component and the document has no "
                "metadata.component: it is never applied"
            )
        timestamp = self._time(analysis, apath)
        return VexStatement(
            vulnerability=vuln_id,
            aliases=tuple(aliases),
            products=products,
            subcomponents=(),
            status=status,
            source=source,
            justification=opt_str(analysis, "justification", source, apath) or None,
            impact_statement=detail if status is VexStatus.NOT_AFFECTED else None,
            action_statement=detail if status is VexStatus.AFFECTED else None,
            timestamp=timestamp if timestamp is not None else self.doc.created_at,
            status_notes=detail,
            raw_status=state if state != status.value else None,
            responses=tuple(responses),
            location=path,
        )

    def _time(self, analysis: dict[str, Any], apath: str) -> datetime | None:
        for key in ("lastUpdated", "firstIssued"):
            text = opt_str(analysis, key, self.source, apath)
            if text is None:
                continue
            try:
                parsed = parse_vex_timestamp(text)
            except ValueError as exc:
                fail(self.source, join(apath, key), str(exc))
            if parsed is not None:
                return parsed
        return None

    def _products(self, vuln: dict[str, Any], path: str) -> tuple[ProductRef, ...]:
        source = self.source
        affects = opt_list(vuln, "affects", source, path)
        if not affects:
            return (self.subject,) if self.subject is not None else ()
        products = []
        for index, affect in enumerate(affects):
            apath = f"{path}.affects[{index}]"
            if type(affect) is not dict:
                wrong_type(source, apath, "an object", affect)
            ref = req_str(affect, "ref", source, apath)
            versions, ranges = self._versions(affect, apath)
            products.append(self._ref(ref, apath, versions, ranges))
        return tuple(products)

    def _versions(
        self, affect: dict[str, Any], apath: str
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(exact versions, ``vers:`` ranges) an affects entry is limited to, whatever their status.

        The per-version ``status`` (affected/unaffected/unknown) says whether
        the vulnerable code is in that version; the ``analysis`` is what the
        author concluded for the product, and that is the statement.
        """
        exact: list[str] = []
        ranges: list[str] = []
        for index, entry in enumerate(opt_list(affect, "versions", self.source, apath)):
            vpath = f"{apath}.versions[{index}]"
            if type(entry) is not dict:
                wrong_type(self.source, vpath, "an object", entry)
            version = opt_str(entry, "version", self.source, vpath)
            version_range = opt_str(entry, "range", self.source, vpath)
            opt_str(entry, "status", self.source, vpath)
            if version:
                exact.append(version)
            elif version_range:
                ranges.append(version_range)
            else:
                fail(self.source, vpath, "a version entry needs a version or a range")
        return tuple(exact), tuple(ranges)

    def _ref(
        self, ref: str, path: str, versions: tuple[str, ...], ranges: tuple[str, ...]
    ) -> ProductRef:
        doc = self.doc
        bom_ref, bom_link = ref, None
        if ref.startswith(_BOM_LINK_PREFIX):
            target, hash_sign, fragment = ref[len(_BOM_LINK_PREFIX) :].partition("#")
            serial, slash, version = target.partition("/")
            if not hash_sign or not fragment or not serial or not slash or not version.isdigit():
                fail(
                    self.source,
                    join(path, "ref"),
                    f"malformed BOM-Link {ref!r} (expected urn:cdx:<serial>/<version>#<bom-ref>)",
                )
            bom_ref = fragment
            if doc.serial_number != f"urn:uuid:{serial}":
                bom_link = f"{_BOM_LINK_PREFIX}{target}"
        component = None
        if bom_link is None:
            component = doc.by_ref.get(bom_ref) or doc.by_ref.get(unquote(bom_ref))
        purl = component.purl if component is not None else None
        if not purl or not purl.startswith("pkg:"):
            # A bom-ref that is itself a purl (Trivy writes them so) identifies the package.
            purl = next((c for c in (bom_ref, unquote(bom_ref)) if c.startswith("pkg:")), None)
        digests = (
            doc.subject_digests if component is not None and component is doc.subject else None
        )
        try:
            return product_ref(
                ref,
                purl=purl,
                digests=digests or frozenset(),
                bom_ref=bom_ref,
                bom_link=bom_link,
                versions=versions,
                version_ranges=ranges,
                opaque=True,
            )
        except ValueError as exc:
            fail(self.source, join(path, "ref"), str(exc))

    def _subject_ref(self) -> ProductRef | None:
        subject: Component | None = self.doc.subject
        if subject is None:
            return None
        try:
            return product_ref(
                subject.bom_ref or subject.name,
                purl=subject.purl if subject.purl and subject.purl.startswith("pkg:") else None,
                digests=self.doc.subject_digests,
                bom_ref=subject.bom_ref,
                opaque=True,
            )
        except ValueError as exc:
            fail(self.source, "metadata.component", str(exc))
