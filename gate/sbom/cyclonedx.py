"""CycloneDX SBOMs (JSON 1.0-1.7, and XML through the same reader) into components.

Why not ``cyclonedx-python-lib``'s ``Bom.from_json``: measured on the real
files in ``shared/fixtures/real/cyclonedx/`` it reads 13 of 15, but

* it invents ``metadata.timestamp = now()`` when the document has none (the
  juice-shop SBOM), which would make a stale SBOM look fresh to a policy;
* it merges components that compare equal and re-sorts them (a SortedSet);
* it accepts wrong types it does not use (``"name": 5``) and reports the ones
  it does as ``AttributeError``/``TypeError`` without saying where;
* it refuses the syft 1.7 snapshots over a placeholder ``serialNumber`` the
  gate never reads;
* it takes 2.7 s on the 2 MB juice-shop SBOM (this reader: ~60 ms including
  ``json.loads``), which an admission webhook cannot afford.

So this module reads exactly the fields the gate uses, checks their types and
names the JSON path of anything malformed; the conformance tests use the
library as an independent oracle for every file it accepts. XML documents are
converted to the JSON shape (``cyclonedx_xml_to_json``) and then read by the
same code, so both encodings obey the same rules.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote
from xml.etree.ElementTree import Element

from gate.errors import InputError
from gate.oci.digest import Digest
from gate.sbom.component import Component, Sbom
from gate.scanners._fields import (
    fail,
    join,
    opt_dict,
    opt_list,
    opt_str,
    parse_timestamp,
    req_str,
    wrong_type,
)

FORMAT = "cyclonedx"

#: Properties that name a component's package ecosystem (Trivy, syft/grype).
PACKAGE_TYPE_PROPERTIES = ("aquasecurity:trivy:PkgType", "syft:package:type")
#: Trivy's property holding ``name@sha256:...`` of the scanned image.
_TRIVY_REPO_DIGEST = "aquasecurity:trivy:RepoDigest"
#: Metadata key set when the subject names digests none of which is valid.
UNPARSED_SUBJECT_DIGESTS = "unparsed_subject_digests"


@dataclass(frozen=True)
class CycloneDxDocument:
    """The checked parts of one CycloneDX document that SBOM and vulnerability readers share.

    ``components`` is every component, nested ones included, in document
    order, without the subject (``metadata.component``) itself. ``by_ref``
    indexes all of them and the subject by ``bom-ref``; ``package_types``
    maps a ``bom-ref`` to the ecosystem its properties name.
    """

    spec_version: str
    serial_number: str | None
    components: tuple[Component, ...]
    subject: Component | None
    subject_digests: frozenset[Digest]
    created_at: datetime | None
    tool_name: str | None
    tool_version: str | None
    by_ref: Mapping[str, Component]
    package_types: Mapping[str, str]
    metadata: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


def parse_cyclonedx_sbom(document: object, source: str) -> Sbom:
    """Turn a parsed CycloneDX JSON document into an ``Sbom``."""
    return _to_sbom(read_cyclonedx(document, source), source, "json")


def parse_cyclonedx_xml_sbom(root: Element, source: str) -> Sbom:
    """Turn the root element of a CycloneDX XML document into an ``Sbom``."""
    return _to_sbom(read_cyclonedx(cyclonedx_xml_to_json(root), source), source, "xml")


def _to_sbom(doc: CycloneDxDocument, source: str, encoding: str) -> Sbom:
    return Sbom(
        source=source,
        format=FORMAT,
        spec_version=doc.spec_version,
        components=doc.components,
        subject_name=doc.subject.name if doc.subject else None,
        subject_digests=doc.subject_digests,
        created_at=doc.created_at,
        metadata=MappingProxyType({"encoding": encoding, **doc.metadata}),
    )


def read_cyclonedx(document: object, source: str) -> CycloneDxDocument:
    """Check and read the parts of a CycloneDX document the gate uses.

    Raises ``InputError`` naming the JSON path for wrong types, components
    without a name, license entries without an id/name/expression, duplicate
    ``bom-ref`` values and unsupported spec versions.
    """
    if type(document) is not dict:
        wrong_type(source, "", "a CycloneDX object", document)
    if document.get("bomFormat") != "CycloneDX":
        fail(source, "bomFormat", "expected 'CycloneDX'")
    spec_version = req_str(document, "specVersion", source, "")
    major, _, minor = spec_version.partition(".")
    if major != "1" or not minor.isdigit():
        fail(source, "specVersion", f"CycloneDX {spec_version!r} is not supported (only 1.x)")
    serial_number = opt_str(document, "serialNumber", source, "")

    notes: dict[str, str] = {}
    meta = opt_dict(document, "metadata", source, "")
    created_at = None
    timestamp = opt_str(meta, "timestamp", source, "metadata")
    if timestamp:
        created_at = parse_timestamp(timestamp)
        if created_at is None:
            notes["created_at_unparsed"] = timestamp
    tool_name, tool_version = _first_tool(meta, source)

    reader = _ComponentReader(source)
    subject = None
    subject_obj = meta.get("component")
    if subject_obj is not None:
        subject = reader.read_subject(subject_obj, "metadata.component")
    reader.read_list(opt_list(document, "components", source, ""), "components")

    return CycloneDxDocument(
        spec_version=spec_version,
        serial_number=serial_number,
        components=tuple(reader.components),
        subject=subject,
        subject_digests=_subject_digests(subject, subject_obj, source, notes),
        created_at=created_at,
        tool_name=tool_name,
        tool_version=tool_version,
        by_ref=MappingProxyType(reader.by_ref),
        package_types=MappingProxyType(reader.package_types),
        metadata=MappingProxyType(notes),
    )


class _ComponentReader:
    """Collects components depth-first with an explicit stack (no recursion limit)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.components: list[Component] = []
        self.by_ref: dict[str, Component] = {}
        self.ref_paths: dict[str, str] = {}
        self.package_types: dict[str, str] = {}

    def read_list(self, items: list[Any], path: str) -> None:
        """Read every component of ``items`` and all of their nested components."""
        stack = [(items[i], f"{path}[{i}]") for i in range(len(items) - 1, -1, -1)]
        self._drain(stack)

    def read_subject(self, obj: object, path: str) -> Component:
        """Read the subject, which is indexed but not listed, and list its nested components."""
        if type(obj) is not dict:
            wrong_type(self.source, path, "an object", obj)
        root = self._component(obj, path)
        children = opt_list(obj, "components", self.source, path)
        self.read_list(children, join(path, "components"))
        return root

    def _drain(self, stack: list[tuple[Any, str]]) -> None:
        source = self.source
        while stack:
            obj, path = stack.pop()
            self.components.append(self._component(obj, path))
            children = opt_list(obj, "components", source, path)
            for i in range(len(children) - 1, -1, -1):
                stack.append((children[i], f"{path}.components[{i}]"))

    def _component(self, obj: object, path: str) -> Component:
        source = self.source
        if type(obj) is not dict:
            wrong_type(source, path, "an object", obj)
        bom_ref = opt_str(obj, "bom-ref", source, path)
        component = Component(
            name=req_str(obj, "name", source, path),
            version=opt_str(obj, "version", source, path),
            purl=opt_str(obj, "purl", source, path),
            licenses=_licenses(obj, source, path),
            type=opt_str(obj, "type", source, path),
            bom_ref=bom_ref,
        )
        package_type = _package_type(obj, source, path)
        if bom_ref is not None:
            first = self.ref_paths.get(bom_ref)
            if first is not None:
                fail(
                    source,
                    join(path, "bom-ref"),
                    f"duplicate bom-ref {bom_ref!r} (first at {first})",
                )
            self.ref_paths[bom_ref] = path
            self.by_ref[bom_ref] = component
            if package_type is not None:
                self.package_types[bom_ref] = package_type
        return component


def _licenses(obj: dict[str, Any], source: str, path: str) -> tuple[str, ...]:
    """``licenses[]`` as written: ``license.id``, else ``license.name``, or ``expression``."""
    entries = opt_list(obj, "licenses", source, path)
    if not entries:
        return ()
    found = []
    for index, entry in enumerate(entries):
        epath = f"{path}.licenses[{index}]"
        if type(entry) is not dict:
            wrong_type(source, epath, "an object", entry)
        expression = opt_str(entry, "expression", source, epath)
        if expression:
            found.append(expression)
            continue
        license_obj = entry.get("license")
        if license_obj is None:
            fail(source, epath, "license entry has neither 'license' nor 'expression'")
        if type(license_obj) is not dict:
            wrong_type(source, join(epath, "license"), "an object", license_obj)
        lpath = join(epath, "license")
        name = opt_str(license_obj, "id", source, lpath) or opt_str(
            license_obj, "name", source, lpath
        )
        if not name:
            fail(source, lpath, "license has neither 'id' nor 'name'")
        found.append(name)
    return tuple(found)


def _properties(obj: dict[str, Any], source: str, path: str) -> list[tuple[str, str]]:
    """``properties[]`` as (name, value) pairs; a property without a value reads as ""."""
    pairs = []
    for index, prop in enumerate(opt_list(obj, "properties", source, path)):
        ppath = f"{path}.properties[{index}]"
        if type(prop) is not dict:
            wrong_type(source, ppath, "an object", prop)
        pairs.append(
            (req_str(prop, "name", source, ppath), opt_str(prop, "value", source, ppath) or "")
        )
    return pairs


def _package_type(obj: dict[str, Any], source: str, path: str) -> str | None:
    """The ecosystem a scanner recorded in the properties, else the purl type."""
    for name, value in _properties(obj, source, path):
        if name in PACKAGE_TYPE_PROPERTIES and value:
            return value
    purl = obj.get("purl")
    if type(purl) is str and purl.startswith("pkg:"):
        purl_type = purl[4:].lstrip("/").partition("/")[0]
        return purl_type.lower() or None
    return None


def _first_tool(meta: dict[str, Any], source: str) -> tuple[str | None, str | None]:
    """Name and version of the first tool: ``tools`` is an array up to 1.4, an object after."""
    tools = meta.get("tools")
    if tools is None:
        return None, None
    if type(tools) is dict:
        items = opt_list(tools, "components", source, "metadata.tools")
        path = "metadata.tools.components"
    elif type(tools) is list:
        items, path = tools, "metadata.tools"
    else:
        wrong_type(source, "metadata.tools", "an array or object", tools)
    for index, tool in enumerate(items):
        tpath = f"{path}[{index}]"
        if type(tool) is not dict:
            wrong_type(source, tpath, "an object", tool)
        name = opt_str(tool, "name", source, tpath)
        if name:
            return name, opt_str(tool, "version", source, tpath)
    return None, None


def _subject_digests(
    subject: Component | None, obj: object, source: str, notes: dict[str, str]
) -> frozenset[Digest]:
    """Manifest digests the subject names: an ``oci`` purl version, Trivy's RepoDigest
    property, or (syft, grype) a container's version.

    Trivy's ``ImageID`` property is the config digest, not a manifest digest,
    and is deliberately not used. Digest-looking values that are not valid
    digests (such as ``sha256:redacted`` in test snapshots) are recorded in
    ``notes``: such an SBOM then binds to no image at all (not even by name),
    which is the safe outcome.
    """
    if subject is None or type(obj) is not dict:
        return frozenset()
    candidates = []
    purl = subject.purl
    if purl and purl.startswith("pkg:oci/"):
        version = purl.partition("@")[2].partition("?")[0].partition("#")[0]
        candidates.append(unquote(version))
    for name, value in _properties(obj, source, "metadata.component"):
        if name == _TRIVY_REPO_DIGEST:
            candidates.append(value.rpartition("@")[2])
    if subject.type == "container" and subject.version:
        candidates.append(subject.version)
    digests = set()
    unparsed = []
    for text in candidates:
        try:
            digests.add(Digest.parse(text))
        except InputError:
            if text.partition(":")[0].lower().startswith("sha"):
                unparsed.append(text)
    if unparsed and not digests:
        # It names a digest we cannot read: it must not bind by name instead.
        notes[UNPARSED_SUBJECT_DIGESTS] = ", ".join(unparsed)
    return frozenset(digests)


# --- XML -----------------------------------------------------------------------------------


def cyclonedx_xml_to_json(root: Element) -> dict[str, Any]:
    """Convert a CycloneDX XML document to the JSON shape, for the fields the gate reads.

    Only elements the readers use are converted (metadata timestamp, tools and
    component; components with licenses, properties and nesting;
    vulnerabilities with ratings, references, affects and analysis). Values
    keep their text, so a malformed one fails the same type checks as in JSON.
    """
    ns = root.tag[: root.tag.index("}") + 1]
    xml = _Xml(ns)
    doc: dict[str, Any] = {
        "bomFormat": "CycloneDX",
        "specVersion": ns.rstrip("}").rsplit("/", 1)[1],
    }
    if root.get("serialNumber") is not None:
        doc["serialNumber"] = root.get("serialNumber")
    metadata = root.find(ns + "metadata")
    if metadata is not None:
        doc["metadata"] = xml.metadata(metadata)
    components = root.find(ns + "components")
    if components is not None:
        doc["components"] = [xml.component(c) for c in components.findall(ns + "component")]
    vulnerabilities = root.find(ns + "vulnerabilities")
    if vulnerabilities is not None:
        doc["vulnerabilities"] = [
            xml.vulnerability(v) for v in vulnerabilities.findall(ns + "vulnerability")
        ]
    return doc


class _Xml:
    """Element -> dict conversions for one CycloneDX XML namespace."""

    def __init__(self, ns: str) -> None:
        self.ns = ns

    def text(self, parent: Element, tag: str) -> str | None:
        child = parent.find(self.ns + tag)
        if child is None:
            return None
        return (child.text or "").strip()

    def fields(self, parent: Element, *tags: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for tag in tags:
            value = self.text(parent, tag)
            if value is not None:
                out[tag] = value
        return out

    def items(self, parent: Element, container: str, item: str) -> list[Element]:
        holder = parent.find(self.ns + container)
        return [] if holder is None else holder.findall(self.ns + item)

    def metadata(self, elem: Element) -> dict[str, Any]:
        out = self.fields(elem, "timestamp")
        tools = elem.find(self.ns + "tools")
        if tools is not None:
            nested = tools.find(self.ns + "components")
            if nested is not None:
                out["tools"] = {
                    "components": [self.component(c) for c in nested.findall(self.ns + "component")]
                }
            else:
                out["tools"] = [
                    self.fields(t, "vendor", "name", "version")
                    for t in tools.findall(self.ns + "tool")
                ]
        component = elem.find(self.ns + "component")
        if component is not None:
            out["component"] = self.component(component)
        return out

    def component(self, elem: Element) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for attr in ("type", "bom-ref"):
            if elem.get(attr) is not None:
                out[attr] = elem.get(attr)
        out.update(self.fields(elem, "group", "name", "version", "purl"))
        licenses = elem.find(self.ns + "licenses")
        if licenses is not None:
            out["licenses"] = [self.license(entry) for entry in licenses]
        properties = elem.find(self.ns + "properties")
        if properties is not None:
            out["properties"] = [
                {"name": p.get("name"), "value": (p.text or "").strip()}
                for p in properties.findall(self.ns + "property")
            ]
        nested = elem.find(self.ns + "components")
        if nested is not None:
            out["components"] = [self.component(c) for c in nested.findall(self.ns + "component")]
        return out

    def license(self, entry: Element) -> dict[str, Any]:
        if entry.tag == self.ns + "expression":
            return {"expression": (entry.text or "").strip()}
        if entry.tag == self.ns + "license":
            return {"license": self.fields(entry, "id", "name")}
        return {}  # an unknown element: the reader reports "neither license nor expression"

    def vulnerability(self, elem: Element) -> dict[str, Any]:
        out = self.fields(elem, "id", "description", "recommendation")
        if elem.get("bom-ref") is not None:
            out["bom-ref"] = elem.get("bom-ref")
        source = elem.find(self.ns + "source")
        if source is not None:
            out["source"] = self.fields(source, "name", "url")
        out["references"] = [
            {"id": self.text(r, "id")} for r in self.items(elem, "references", "reference")
        ]
        out["ratings"] = [self.rating(r) for r in self.items(elem, "ratings", "rating")]
        out["advisories"] = [
            self.fields(a, "url") for a in self.items(elem, "advisories", "advisory")
        ]
        out["affects"] = [self.target(t) for t in self.items(elem, "affects", "target")]
        analysis = elem.find(self.ns + "analysis")
        if analysis is not None:
            out["analysis"] = self.fields(analysis, "state", "justification")
        return out

    def rating(self, elem: Element) -> dict[str, Any]:
        out = self.fields(elem, "severity", "method", "vector")
        score = self.text(elem, "score")
        if score is not None:
            try:
                number = float(score)
            except ValueError:
                number = math.nan
            # Text that is not a finite number stays text, so the reader reports it.
            out["score"] = number if math.isfinite(number) else score
        source = elem.find(self.ns + "source")
        if source is not None:
            out["source"] = self.fields(source, "name", "url")
        return out

    def target(self, elem: Element) -> dict[str, Any]:
        out = self.fields(elem, "ref")
        out["versions"] = [
            self.fields(v, "version", "range", "status")
            for v in self.items(elem, "versions", "version")
        ]
        return out
