"""CycloneDX SBOMs (JSON 1.0-1.7, and XML through the same reader) into components.

Two passes over every document:

1. This module's reader takes exactly the fields the gate uses, checks their
   types and names the JSON path of anything malformed. It decides whether
   the document is usable, and it is what the gate reads.
2. ``cyclonedx-python-lib`` then validates the whole document against the
   official schema of its ``specVersion`` (JSON schema 1.2-1.7, XSD 1.0-1.7)
   and its verdict is recorded in the metadata (``validation``: ``valid``,
   ``invalid`` or ``not validated``, and ``validation_detail`` with the first
   problem and where it is).

Why the library does not read the components itself (measured on the real
files in ``shared/fixtures/real/cyclonedx/`` with ``Bom.from_json``): it
invents ``metadata.timestamp = now()`` when the document has none (a stale
SBOM would look fresh), merges components that compare equal and re-sorts
them, reports wrong types as bare ``AttributeError``/``TypeError`` without a
place, and takes seconds on the 2 MB juice-shop SBOM.

Why a schema violation is recorded rather than refused: the reader already
refuses everything the gate cannot read unambiguously, and real producers
break rules that do not touch what the gate decides on (the placeholder
``serialNumber`` of syft's snapshots, identical components listed twice).
Refusing those would turn a readable SBOM into "could not decide". Two
deliberate departures from the library's own JSON validator, to keep the
verdict deterministic and the time linear: ``format`` keywords are not
checked (which formats ``jsonschema`` checks depends on optional packages
being installed; the gate parses the values it uses itself), and
``uniqueItems`` is checked by hashing (``jsonschema`` compares every pair of
components: 60% of the 10 s it spent on the juice-shop SBOM, and quadratic).
The validators are built once per spec version and reused. Even so, schema
validation is the slow part of reading an SBOM: about 3 ms per component
(2-4 s for juice-shop's 1,115 components).

XML documents are converted to the JSON shape (``cyclonedx_xml_to_json``) and
read by the same code, so both encodings obey the same rules; the XSD check
runs on the tree ``defusedxml`` already parsed (serialised again, so no DTD
or entity can reach the library's parser).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote
from xml.etree import ElementTree
from xml.etree.ElementTree import Element

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonValidator
from cyclonedx.validation.xml import XmlValidator
from jsonschema import validators as jsonschema_validators
from jsonschema.exceptions import ValidationError as JsonSchemaError

from gate.errors import InputError
from gate.oci.digest import Digest
from gate.sbom import validation
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
#: Metadata key: the library's verdict on the whole document, ``valid``,
#: ``invalid`` or ``not validated`` (shared with the SPDX reader).
VALIDATION = "validation"
#: Metadata key: one line saying which validator and schema, and the first problem.
VALIDATION_DETAIL = "validation_detail"


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
    xml_verdict = document.get(_XML_VERDICT)
    if xml_verdict is not None:
        notes.update(xml_verdict)
    elif validation.enabled():
        notes.update(validate_cyclonedx_json(document, spec_version))
    else:
        notes.update(validation.NOT_REQUESTED)

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
    spec_version = ns.rstrip("}").rsplit("/", 1)[1]
    doc: dict[Any, Any] = {"bomFormat": "CycloneDX", "specVersion": spec_version}
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
    # After the conversion, which refuses absurd nesting before the serialiser meets it.
    doc[_XML_VERDICT] = (
        validate_cyclonedx_xml(root, spec_version)
        if validation.enabled()
        else dict(validation.NOT_REQUESTED)
    )
    return doc


class _XmlVerdictKey:
    """The key under which a converted XML document carries the XSD verdict on the XML.

    Not a string, so no JSON document can carry it: ``read_cyclonedx``
    records that verdict instead of checking the converted dictionary (which
    holds only the fields the gate reads) against the JSON schema.
    """


_XML_VERDICT = _XmlVerdictKey()


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


# --- schema validation through cyclonedx-python-lib ----------------------------------------


def _library_name() -> str:
    try:
        return f"cyclonedx-python-lib {version('cyclonedx-python-lib')}"
    except PackageNotFoundError:  # pragma: no cover - imported above, so installed
        return "cyclonedx-python-lib"


_LIBRARY = _library_name()


def one_line(text: str, limit: int = 300) -> str:
    """``text`` with all whitespace runs collapsed to one space, cut at ``limit`` characters.

    For library messages quoted in errors and metadata, which may span lines
    or quote a whole document.
    """
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _frozen(value: object) -> object:
    """A hashable stand-in with JSON Schema's equality: ``true`` is not ``1``, ``1`` is ``1.0``."""
    if isinstance(value, dict):
        return ("object", frozenset((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("array", tuple(_frozen(v) for v in value))
    if isinstance(value, bool):
        return ("boolean", value)
    return value


def _unique_items(
    validator: Any, unique: object, instance: object, schema: object
) -> Iterator[JsonSchemaError]:
    """``uniqueItems`` in linear time (hashing), where ``jsonschema`` compares every pair."""
    if unique and type(instance) is list and len(set(map(_frozen, instance))) != len(instance):
        yield JsonSchemaError("has non-unique elements")


class _JsonSchemas:
    """One validator per CycloneDX version, built from the library's bundled schema on first use.

    Built once and shared (load once, serve many); ``jsonschema`` validators
    keep no per-document state, so threads may share them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._validators: dict[SchemaVersion, Any] = {}

    def get(self, schema_version: SchemaVersion) -> Any:
        """The validator for ``schema_version``; ``ValueError`` when the library has no schema."""
        with self._lock:
            validator = self._validators.get(schema_version)
            if validator is None:
                # The library's compiled Draft 7 validator, re-created with a linear
                # uniqueItems and without format checks (see the module docstring).
                base = JsonValidator(schema_version)._validator
                linear = jsonschema_validators.extend(  # type: ignore[no-untyped-call]  # untyped
                    type(base), {"uniqueItems": _unique_items}
                )
                registry = base._registry  # type: ignore[attr-defined]  # the library's $ref targets
                validator = linear(base.schema, registry=registry, format_checker=None)
                self._validators[schema_version] = validator
            return validator


class _XmlSchemas:
    """One library ``XmlValidator`` (an lxml ``XMLSchema``) per version, each with its lock.

    The library reads the validator's ``error_log`` after validating, which is
    per-schema state, so one document at a time per version.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._validators: dict[SchemaVersion, tuple[XmlValidator, threading.Lock]] = {}

    def get(self, schema_version: SchemaVersion) -> tuple[XmlValidator, threading.Lock]:
        """The validator for ``schema_version`` and the lock to hold while using it."""
        with self._lock:
            entry = self._validators.get(schema_version)
            if entry is None:
                entry = (XmlValidator(schema_version), threading.Lock())
                self._validators[schema_version] = entry
            return entry


_JSON_SCHEMAS = _JsonSchemas()
_XML_SCHEMAS = _XmlSchemas()


def validate_cyclonedx_json(document: object, spec_version: str) -> Mapping[str, str]:
    """The library's JSON-schema verdict on ``document`` as ``VALIDATION`` metadata.

    Never raises for what it finds: a document the library has no schema for,
    or that is nested too deeply to validate, is ``not validated``.
    """
    what = f"CycloneDX {spec_version} JSON schema"
    try:
        validator = _JSON_SCHEMAS.get(SchemaVersion.from_version(spec_version))
    except ValueError:
        return _not_validated(f"{_LIBRARY} has no {what}")
    try:
        errors = validator.iter_errors(document)
        first = next(errors, None)
        more = first is not None and next(errors, None) is not None
    except RecursionError:
        return _not_validated(f"nested too deeply for the {what} validator")
    if first is None:
        return _valid(what)
    where = first.json_path.removeprefix("$").removeprefix(".")
    return _invalid(what, where, first.message, more)


def validate_cyclonedx_xml(root: Element, spec_version: str) -> Mapping[str, str]:
    """The library's XSD verdict on an XML document already parsed by ``defusedxml``.

    The tree is serialised again for the library's parser (which resolves no
    entities and loads no DTD or network resource): nothing ``defusedxml``
    refused can reach it.
    """
    what = f"CycloneDX {spec_version} XML schema"
    try:
        validator, lock = _XML_SCHEMAS.get(SchemaVersion.from_version(spec_version))
    except ValueError:
        return _not_validated(f"{_LIBRARY} has no {what}")
    try:
        text = ElementTree.tostring(root, encoding="unicode")
    except RecursionError:
        return _not_validated(f"nested too deeply for the {what} validator")
    with lock:
        errors = validator.validate_str(text, all_errors=True)
        found = [] if errors is None else [e.data for _, e in zip(range(2), errors, strict=False)]
    if not found:
        return _valid(what)
    first = found[0]
    # lxml names elements by the serialiser's prefixes (ns0:) and by {namespace}.
    where = "/".join(step.rpartition(":")[2] for step in str(first.path).split("/"))
    message = str(first.message).replace(root.tag[: root.tag.index("}") + 1], "")
    return _invalid(what, where, message, len(found) > 1)


def _valid(what: str) -> Mapping[str, str]:
    return MappingProxyType({VALIDATION: "valid", VALIDATION_DETAIL: f"{_LIBRARY}: {what}"})


def _invalid(what: str, where: str, message: str, more: bool) -> Mapping[str, str]:
    place = f"{where}: " if where else ""
    tail = " (and more)" if more else ""
    return MappingProxyType(
        {
            VALIDATION: "invalid",
            VALIDATION_DETAIL: one_line(f"{_LIBRARY}: {what}: {place}{message}{tail}"),
        }
    )


def _not_validated(reason: str) -> Mapping[str, str]:
    return MappingProxyType({VALIDATION: "not validated", VALIDATION_DETAIL: one_line(reason)})
