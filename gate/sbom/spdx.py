"""SPDX 2.2 and 2.3 SBOMs (JSON and tag-value) into components, read through ``spdx-tools``.

Every package becomes a ``Component``: name, ``versionInfo``, the purl of its
first ``PACKAGE-MANAGER purl`` external reference (``PACKAGE_MANAGER`` is
accepted too), and its concluded and declared licenses. Licenses are the
library's rendering of each expression, so equivalent spellings agree
(``mit`` -> ``MIT``, the deprecated ``GPL-2.0`` -> ``GPL-2.0-only``, outer
parentheses dropped); ``NOASSERTION`` and ``NONE`` add no license. The
described package (``SPDXRef-DOCUMENT DESCRIBES x``, ``x DESCRIBED_BY
SPDXRef-DOCUMENT`` or the legacy ``documentDescribes``) is the subject. It is
also kept as a component, unlike CycloneDX's ``metadata.component``: in
SPDX it is an ordinary package, and its own license must reach the policy
(``example6``: the one described package is the only package).

The library is the parser. Before it runs, the fields the gate reads are
type-checked here, so the usual mistakes name their JSON path; anything else
the library refuses becomes one ``InputError`` line quoting its first
message. Real producers write a few things the library rejects although the
gate can read them safely, so these are rewritten first and each rewrite is
recorded in ``Sbom.metadata``:

* ``created`` with fractional seconds or an offset (Trivy 2.2:
  ``2022-09-13T13:27:55.874784Z``): read by ``parse_timestamp``, handed to
  the library in its ``YYYY-MM-DDThh:mm:ssZ`` form;
* ``created`` that is no time at all (syft snapshots: ``redacted``): the
  time is unknown (``created_at`` None, ``created_at_unparsed``), never now;
* ``licenseListVersion`` that is not ``M.N`` (``redacted``): dropped, the
  gate does not use it (``license_list_version_unparsed``);
* a package without ``downloadLocation`` (Trivy 2.2): read as
  ``NOASSERTION``, SPDX's own word for "not stated"
  (``download_location_missing`` counts them).

``spdx-tools``' validator then checks the whole document against the SPDX
rules; its verdict is recorded (``validation``, ``validation_detail``), not
enforced, as for CycloneDX: the gate refuses only what it cannot read. Its
time grows with the square of the document, so documents larger than
``VALIDATION_LIMIT`` are parsed but recorded as ``not validated``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote

from license_expression import ExpressionError  # type: ignore[import-untyped]  # no type info
from ply.yacc import NullLogger  # type: ignore[import-untyped]  # ply ships no type information
from spdx_tools.common.spdx_licensing import (  # type: ignore[import-untyped]  # no py.typed
    spdx_licensing,
)
from spdx_tools.spdx.model.document import Document
from spdx_tools.spdx.model.package import ExternalPackageRefCategory, Package, PackagePurpose
from spdx_tools.spdx.model.relationship import RelationshipType
from spdx_tools.spdx.model.spdx_no_assertion import SpdxNoAssertion
from spdx_tools.spdx.model.spdx_none import SpdxNone
from spdx_tools.spdx.parser.error import SPDXParsingError
from spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser import JsonLikeDictParser
from spdx_tools.spdx.parser.tagvalue.parser import Parser as TagValueParser
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from gate.errors import InputError
from gate.oci.digest import Digest
from gate.sbom import validation
from gate.sbom.component import Component, Sbom
from gate.sbom.cyclonedx import (
    UNPARSED_SUBJECT_DIGESTS,
    VALIDATION,
    VALIDATION_DETAIL,
    one_line,
)
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

FORMAT = "spdx"
#: The ``spdxVersion`` values this reader (and spdx-tools) understands.
SUPPORTED_VERSIONS = ("SPDX-2.2", "SPDX-2.3")
#: Metadata keys for the rewrites described in the module docstring.
CREATED_AT_UNPARSED = "created_at_unparsed"
LICENSE_LIST_VERSION_UNPARSED = "license_list_version_unparsed"
DOWNLOAD_LOCATION_MISSING = "download_location_missing"

#: The largest document (packages, files, snippets and relationships) spdx-tools'
#: validator is run on: its time grows with the square of the size.
VALIDATION_LIMIT = 500

#: The only form of ``created`` spdx-tools accepts.
_LIBRARY_TIME_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_LIBRARY_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
#: Stands in for a ``created`` value that is no time, so the library parses the
#: rest; the gate never uses it (``created_at`` stays None).
_PLACEHOLDER_TIME = "1970-01-01T00:00:00Z"
_LICENSE_LIST_VERSION_RE = re.compile(r"\d+\.\d+")
#: Tag-value tags that start a new element: a package's fields end at the next one.
_ELEMENT_START_TAGS = frozenset(
    {"PackageName", "FileName", "SnippetSPDXID", "LicenseID", "Annotator", "Relationship"}
)
#: Trivy records the image's manifest digest as ``RepoDigest: name@sha256:...``
#: (``ImageID`` is the config digest and is not used).
_REPO_DIGEST_PREFIX = "RepoDigest:"


def parse_spdx_json(document: object, source: str) -> Sbom:
    """Turn a parsed SPDX 2.2/2.3 JSON document into an ``Sbom``.

    Raises ``InputError`` naming the JSON path for wrong types in the fields
    the gate reads, and quoting spdx-tools for anything else it refuses.
    """
    if type(document) is not dict:
        wrong_type(source, "", "an SPDX object", document)
    spdx_version = req_str(document, "spdxVersion", source, "")
    _check_version(spdx_version, source, "spdxVersion")
    package_paths = _check_json(document, source)
    fixed = _JsonFixUp(document, source).apply()
    try:
        parser = JsonLikeDictParser()  # type: ignore[no-untyped-call]  # unannotated __init__
        parsed: Document = parser.parse(fixed.document)
    except SPDXParsingError as exc:
        raise _library_refused(source, "JSON", exc.messages) from None
    except Exception as exc:  # any crash of the library on untrusted input is a refusal
        raise _library_crashed(source, exc) from None
    return _to_sbom(parsed, source, "json", fixed, package_paths=package_paths)


def parse_spdx_tag_value(text: str, source: str) -> Sbom:
    """Turn the text of an SPDX 2.2/2.3 tag-value document into an ``Sbom``.

    Raises ``InputError`` quoting spdx-tools (with the line it names) for
    anything it cannot parse, and for SPDX versions other than 2.2 and 2.3.
    """
    if type(text) is not str:
        raise InputError("SPDX tag-value document is not text", source=source)
    fixed = _fix_up_tag_value(text)
    try:
        parser = _TagValueParser.for_one_document()
        parsed: Document = parser.parse(fixed.text)  # type: ignore[no-untyped-call]  # unannotated
    except SPDXParsingError as exc:
        raise _library_refused(source, "tag-value", exc.messages) from None
    except Exception as exc:  # any crash of the library on untrusted input is a refusal
        raise _library_crashed(source, exc) from None
    _check_version(parsed.creation_info.spdx_version, source, "SPDXVersion")
    return _to_sbom(parsed, source, "tag-value", fixed, package_paths=None)


def _check_complete(doc: Document, source: str) -> None:
    """Refuse a tag-value document that was cut short.

    Tag-value is line by line, so a document cut at a line boundary still
    parses, with packages missing. Generators write the relationships last;
    a document that describes nothing (SPDX requires a ``DESCRIBES``
    relationship) or whose relationships name elements it never defines has
    lost its end.
    """
    defined = {"SPDXRef-DOCUMENT"}
    defined.update(p.spdx_id for p in doc.packages)
    defined.update(f.spdx_id for f in doc.files)
    defined.update(s.spdx_id for s in doc.snippets)
    describes = False
    for relationship in doc.relationships:
        ends = (relationship.spdx_element_id, relationship.related_spdx_element_id)
        for element in ends:
            if (
                isinstance(element, str)
                and element.startswith("SPDXRef-")
                and element not in defined
            ):
                raise InputError(
                    f"Relationship names {element!r}, which the document does not define "
                    "(truncated document?)",
                    source=source,
                )
        if (
            relationship.spdx_element_id == "SPDXRef-DOCUMENT"
            and relationship.relationship_type == RelationshipType.DESCRIBES
        ):
            describes = True
    if not describes:
        raise InputError(
            "the document describes nothing (no 'Relationship: SPDXRef-DOCUMENT DESCRIBES ...'"
            " line; truncated document?)",
            source=source,
        )


class _TagValueParser(TagValueParser):
    """spdx-tools' tag-value parser, reading license expressions with the library's shared index.

    spdx-tools 0.8.5 builds a new license index for every license value it
    meets in tag-value (about 0.1 s each: minutes for a large SBOM); its JSON
    parser and validator use the shared ``spdx_licensing`` instead, and so
    does this grammar action.
    """

    @classmethod
    def for_one_document(cls) -> _TagValueParser:
        """A fresh parser: it keeps per-document state, so it is never reused.

        ply caches the grammar tables beside the library's own (where it may
        write there); debug output and ply's warnings are off.
        """
        return cls(
            debug=False,
            errorlog=NullLogger(),
            tabmodule="spdx_tools.spdx.parser.tagvalue.parsetab",
        )

    def p_license(self, p: Any) -> None:
        # ply reads a grammar action's rule from its docstring; it replaces the
        # library's action of the same name.
        """license_or_no_assertion_or_none : LINE"""
        try:
            p[0] = spdx_licensing.parse(p[1])
        except ExpressionError as exc:
            self.current_element["logger"].append(
                f"Error while parsing license expression: {p[1]}: {exc}"
            )


def _check_version(spdx_version: str, source: str, path: str) -> None:
    if spdx_version not in SUPPORTED_VERSIONS:
        supported = ", ".join(SUPPORTED_VERSIONS)
        fail(source, path, f"SPDX version {spdx_version!r} is not supported (only {supported})")


# --- JSON: types of the fields the gate reads, and the fix-ups --------------------------------


def _check_json(document: dict[str, Any], source: str) -> dict[str, str]:
    """Type-check what the gate reads; return each package's JSON path by ``SPDXID``.

    Duplicate package ``SPDXID`` values are an error: relationships (and so
    the subject) would be ambiguous.
    """
    creation = document.get("creationInfo")
    if type(creation) is not dict:
        if creation is None:
            fail(source, "creationInfo", "required field is missing")
        wrong_type(source, "creationInfo", "an object", creation)
    opt_str(creation, "created", source, "creationInfo")
    opt_str(creation, "licenseListVersion", source, "creationInfo")
    opt_str(document, "SPDXID", source, "")
    for index, described in enumerate(opt_list(document, "documentDescribes", source, "")):
        if type(described) is not str:
            wrong_type(source, f"documentDescribes[{index}]", "a string", described)
    for index, relationship in enumerate(opt_list(document, "relationships", source, "")):
        path = f"relationships[{index}]"
        if type(relationship) is not dict:
            wrong_type(source, path, "an object", relationship)
        for key in ("spdxElementId", "relationshipType", "relatedSpdxElement"):
            req_str(relationship, key, source, path)
    paths: dict[str, str] = {}
    for index, package in enumerate(opt_list(document, "packages", source, "")):
        path = f"packages[{index}]"
        if type(package) is not dict:
            wrong_type(source, path, "an object", package)
        spdx_id = req_str(package, "SPDXID", source, path)
        req_str(package, "name", source, path)
        for key in ("versionInfo", "licenseConcluded", "licenseDeclared", "downloadLocation"):
            opt_str(package, key, source, path)
        opt_str(package, "primaryPackagePurpose", source, path)
        for tindex, text in enumerate(opt_list(package, "attributionTexts", source, path)):
            if type(text) is not str:
                wrong_type(source, f"{path}.attributionTexts[{tindex}]", "a string", text)
        for rindex, ref in enumerate(opt_list(package, "externalRefs", source, path)):
            rpath = f"{path}.externalRefs[{rindex}]"
            if type(ref) is not dict:
                wrong_type(source, rpath, "an object", ref)
            for key in ("referenceCategory", "referenceType", "referenceLocator"):
                req_str(ref, key, source, rpath)
        first = paths.get(spdx_id)
        if first is not None:
            fail(source, join(path, "SPDXID"), f"duplicate SPDXID {spdx_id!r} (first at {first})")
        paths[spdx_id] = path
    return paths


@dataclass
class _FixedUp:
    """A document rewritten for the library, with what was rewritten and the real ``created``."""

    document: dict[str, Any] = field(default_factory=dict)
    text: str = ""
    notes: dict[str, str] = field(default_factory=dict)
    created_at: datetime | None = None


class _JsonFixUp:
    """Shallow copies of the parts of a JSON document that must be rewritten."""

    def __init__(self, document: dict[str, Any], source: str) -> None:
        self.original = document
        self.source = source

    def apply(self) -> _FixedUp:
        result = _FixedUp(document=dict(self.original))
        creation = dict(opt_dict(self.original, "creationInfo", self.source, ""))
        created = creation.get("created")
        if type(created) is str:
            replacement = _created_for_library(created, result)
            if replacement is not None:
                creation["created"] = replacement
        list_version = creation.get("licenseListVersion")
        if type(list_version) is str and not _LICENSE_LIST_VERSION_RE.fullmatch(list_version):
            del creation["licenseListVersion"]
            result.notes[LICENSE_LIST_VERSION_UNPARSED] = list_version
        result.document["creationInfo"] = creation
        packages = opt_list(self.original, "packages", self.source, "")
        missing = 0
        fixed_packages = []
        for package in packages:
            if package.get("downloadLocation") is None:
                fixed_packages.append({**package, "downloadLocation": "NOASSERTION"})
                missing += 1
            else:
                fixed_packages.append(package)
        if missing:
            result.document["packages"] = fixed_packages
            result.notes[DOWNLOAD_LOCATION_MISSING] = str(missing)
        return result


def _created_for_library(created: str, result: _FixedUp) -> str | None:
    """The ``created`` value to give the library, or None to keep it as written."""
    if _LIBRARY_TIME_RE.fullmatch(created):
        return None
    parsed = parse_timestamp(created)
    if parsed is None:
        result.notes[CREATED_AT_UNPARSED] = created
        return _PLACEHOLDER_TIME
    result.created_at = parsed
    return parsed.astimezone(UTC).strftime(_LIBRARY_TIME_FORMAT)


# --- tag-value fix-ups ------------------------------------------------------------------------


def _fix_up_tag_value(text: str) -> _FixedUp:
    """Rewrite ``Created``, ``LicenseListVersion`` and missing download locations line by line.

    Multi-line ``<text>...</text>`` values are skipped, so a line inside a
    comment that happens to start with a tag is never touched.
    """
    result = _FixedUp()
    out: list[str] = []
    in_text = False
    package_line: int | None = None  # index in ``out`` of the current PackageName line
    package_has_location = False
    missing: list[int] = []

    def end_package() -> None:
        if package_line is not None and not package_has_location:
            missing.append(package_line)

    for line in text.splitlines(keepends=True):
        if in_text:
            out.append(line)
            in_text = "</text>" not in line
            continue
        tag, colon, value = line.partition(":")
        tag = tag.strip()
        if colon and tag in _ELEMENT_START_TAGS:
            end_package()
            package_line = len(out) if tag == "PackageName" else None
            package_has_location = False
        elif colon and tag == "PackageDownloadLocation":
            package_has_location = True
        elif colon and tag == "Created":
            replacement = _created_for_library(value.strip(), result)
            if replacement is not None:
                out.append(f"Created: {replacement}\n")
                continue
        elif colon and tag == "LicenseListVersion":
            list_version = value.strip()
            if not _LICENSE_LIST_VERSION_RE.fullmatch(list_version):
                result.notes[LICENSE_LIST_VERSION_UNPARSED] = list_version
                continue
        out.append(line)
        stripped = value.lstrip()
        if colon and stripped.startswith("<text>"):
            in_text = "</text>" not in stripped[len("<text>") :]
    end_package()
    for index in reversed(missing):
        if not out[index].endswith(("\n", "\r")):
            out[index] += "\n"
        out.insert(index + 1, "PackageDownloadLocation: NOASSERTION\n")
    if missing:
        result.notes[DOWNLOAD_LOCATION_MISSING] = str(len(missing))
    result.text = "".join(out)
    return result


# --- from the library's model to the gate's ---------------------------------------------------


def _to_sbom(
    doc: Document,
    source: str,
    encoding: str,
    fixed: _FixedUp,
    *,
    package_paths: Mapping[str, str] | None,
) -> Sbom:
    creation = doc.creation_info
    notes = fixed.notes
    created_at = fixed.created_at
    if CREATED_AT_UNPARSED not in notes and created_at is None:
        # The library reads the strict ``...Z`` form as a naive UTC time.
        created_at = creation.created.replace(tzinfo=UTC)
    packages: list[Package] = list(doc.packages)
    if package_paths is None:  # tag-value
        _check_unique_ids(packages, source)
        _check_complete(doc, source)
    subject = _subject(doc, packages, notes)
    metadata = {"encoding": encoding, **notes}
    metadata.update(_validation(doc))
    return Sbom(
        source=source,
        format=FORMAT,
        spec_version=creation.spdx_version.removeprefix("SPDX-"),
        components=tuple(_component(p, _extracted_names(doc)) for p in packages),
        subject_name=subject.name if subject is not None else None,
        subject_digests=_subject_digests(subject, metadata),
        created_at=created_at,
        metadata=MappingProxyType(metadata),
    )


def _check_unique_ids(packages: Iterable[Package], source: str) -> None:
    """Tag-value has no JSON paths: a duplicate ``SPDXID`` is named with its package."""
    seen: set[str] = set()
    for package in packages:
        if package.spdx_id in seen:
            raise InputError(
                f"duplicate SPDXID {package.spdx_id!r} (package {package.name!r})", source=source
            )
        seen.add(package.spdx_id)


def _subject(doc: Document, packages: list[Package], notes: dict[str, str]) -> Package | None:
    """The one package the document describes; None when it describes none or several."""
    document_id = doc.creation_info.spdx_id
    by_id = {p.spdx_id: p for p in packages}
    described: dict[str, Package] = {}
    for relationship in doc.relationships:
        kind = relationship.relationship_type
        related = relationship.related_spdx_element_id
        target: object = None
        if kind is RelationshipType.DESCRIBES and relationship.spdx_element_id == document_id:
            target = related
        elif kind is RelationshipType.DESCRIBED_BY and related == document_id:
            target = relationship.spdx_element_id
        if isinstance(target, str) and target in by_id:
            described[target] = by_id[target]
    if len(described) > 1:
        notes["described_packages"] = str(len(described))
        return None
    return next(iter(described.values()), None)


def _extracted_names(doc: Document) -> Mapping[str, str]:
    """``LicenseRef-*`` id -> its license name in the document (``hasExtractedLicensingInfos``)."""
    return {
        info.license_id: info.license_name.strip()
        for info in doc.extracted_licensing_info
        if info.license_id and isinstance(info.license_name, str) and info.license_name.strip()
    }


_LICENSE_REF_RE = re.compile(r"(?:DocumentRef-[A-Za-z0-9.-]+:)?LicenseRef-[A-Za-z0-9.-]+")


def _component(package: Package, extracted: Mapping[str, str]) -> Component:
    purpose = package.primary_package_purpose
    licenses = _licenses(package.license_concluded, package.license_declared)
    # Trivy writes a Debian copyright's "AGPL-3" as LicenseRef-<hash> named "AGPL-3": the
    # name is what a deny list can recognise, so it is listed after the expression.
    named = [
        extracted[ref]
        for text in licenses
        for ref in _LICENSE_REF_RE.findall(text)
        if ref in extracted and extracted[ref] not in licenses
    ]
    return Component(
        name=package.name,
        version=package.version,
        purl=next(_purls(package), None),
        licenses=licenses + tuple(dict.fromkeys(named)),
        type=purpose.name.lower().replace("_", "-") if purpose is not None else None,
        bom_ref=package.spdx_id,
    )


def _purls(package: Package) -> Iterator[str]:
    for ref in package.external_references:
        if (
            ref.category is ExternalPackageRefCategory.PACKAGE_MANAGER
            and ref.reference_type == "purl"
        ):
            yield ref.locator


def _licenses(*values: object) -> tuple[str, ...]:
    """Concluded, then declared, each once; ``NOASSERTION`` and ``NONE`` name no license."""
    found: list[str] = []
    for value in values:
        if value is None or isinstance(value, SpdxNoAssertion | SpdxNone):
            continue
        text = str(value)
        if text and text not in found:
            found.append(text)
    return tuple(found)


def _subject_digests(subject: Package | None, notes: dict[str, str]) -> frozenset[Digest]:
    """Manifest digests the subject names: an ``oci`` purl version, Trivy's ``RepoDigest``
    attribution, or a container package's version (syft).

    As for CycloneDX, digest-like values that are not valid digests are
    recorded under ``UNPARSED_SUBJECT_DIGESTS`` and bind the SBOM to nothing.
    """
    if subject is None:
        return frozenset()
    candidates = []
    for purl in _purls(subject):
        if purl.startswith("pkg:oci/"):
            digest = purl.partition("@")[2].partition("?")[0].partition("#")[0]
            candidates.append(unquote(digest))
    for text in subject.attribution_texts:
        if text.startswith(_REPO_DIGEST_PREFIX):
            candidates.append(text[len(_REPO_DIGEST_PREFIX) :].strip().rpartition("@")[2])
    if subject.primary_package_purpose is PackagePurpose.CONTAINER and subject.version:
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
        notes[UNPARSED_SUBJECT_DIGESTS] = ", ".join(unparsed)
    return frozenset(digests)


def _validation(doc: Document) -> dict[str, str]:
    """spdx-tools' verdict on the whole document, for the report (never enforced).

    Its validator looks every referenced SPDXID up in a list rebuilt for each
    reference, so its time grows with the square of the document (measured:
    0.9 s for 500 packages, 2.5 s for 1,000); above ``VALIDATION_LIMIT``
    elements the document is parsed (which checks every field) but not
    validated, and the metadata says so.
    """
    if not validation.enabled():
        return dict(validation.NOT_REQUESTED)
    size = len(doc.packages) + len(doc.files) + len(doc.snippets) + len(doc.relationships)
    if size > VALIDATION_LIMIT:
        return {
            VALIDATION: "not validated",
            VALIDATION_DETAIL: f"{size} elements and relationships: more than the"
            f" {VALIDATION_LIMIT} {_LIBRARY}'s validator is run on (its time is quadratic)",
        }
    try:
        messages = validate_full_spdx_document(doc)
    except Exception as exc:  # the verdict is advisory: a crash of it must not refuse the SBOM
        return {
            VALIDATION: "not validated",
            VALIDATION_DETAIL: one_line(f"{_LIBRARY} validator failed: {type(exc).__name__}"),
        }
    if not messages:
        return {VALIDATION: "valid", VALIDATION_DETAIL: f"{_LIBRARY}: no problems"}
    first = messages[0].validation_message
    more = f" (and {len(messages) - 1} more)" if len(messages) > 1 else ""
    return {VALIDATION: "invalid", VALIDATION_DETAIL: one_line(f"{_LIBRARY}: {first}{more}")}


def _library_version() -> str:
    try:
        return f"spdx-tools {version('spdx-tools')}"
    except PackageNotFoundError:  # pragma: no cover - imported above, so installed
        return "spdx-tools"


_LIBRARY = _library_version()


#: spdx-tools reports a missing or mistyped field as a type-checker complaint
#: about its own setter, and a missing constructor argument as Python's error.
_SETTER_ERROR_RE = re.compile(
    r"SetterError (?P<cls>\w+): .*? parameter (?P<field>\w+)=(?P<q>[\"'])(?P<value>.*?)(?P=q)"
    r" violates type hint"
)
_MISSING_ARGUMENT_RE = re.compile(
    r"(?P<cls>\w+)\.__init__\(\) missing \d+ required positional arguments?: (?P<fields>.*)"
)


def _readable(message: str) -> str:
    """The library's message, with its two most common Python-level forms said plainly."""
    setter = _SETTER_ERROR_RE.search(message)
    if setter is not None:
        where = f"{setter['cls']}.{setter['field']}"
        if setter["value"] == "None":
            return f"{where} is missing"
        return f"{where}: {setter['value']!r} is not a valid value"
    missing = _MISSING_ARGUMENT_RE.search(message)
    if missing is not None:
        fields = missing["fields"].replace("'", "")
        return f"{missing['cls']}: required {fields} missing"
    return message


def _library_refused(source: str, kind: str, messages: list[str]) -> InputError:
    first = _readable(messages[0]) if messages else "no reason given"
    more = f" (and {len(messages) - 1} more)" if len(messages) > 1 else ""
    return InputError(
        one_line(f"not a readable SPDX {kind} document: {first}{more}"), source=source
    )


def _library_crashed(source: str, exc: Exception) -> InputError:
    if isinstance(exc, RecursionError):
        return InputError("document is nested too deeply to be an SBOM", source=source)
    return InputError(
        one_line(f"{_LIBRARY} failed on this document: {type(exc).__name__}: {exc}"), source=source
    )
