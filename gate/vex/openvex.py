"""OpenVEX documents (``@context`` ``https://openvex.dev/ns``, v0.0.1 and v0.2.0) into statements.

The two versions differ in shape, and real documents mix the forms
(``defectdojo-openvex-mixed-forms.json``):

* ``vulnerability`` is a string (0.0.1) or an object ``{name | @id, aliases}``;
* ``products`` are purl strings (0.0.1) or objects ``{@id, identifiers
  {purl, cpe22, cpe23}, hashes, subcomponents}``;
* 0.0.1 lists ``subcomponents`` (strings) on the statement, 0.2.0 on each
  product. A 0.2.0 statement whose products carry different subcomponent
  lists becomes one ``VexStatement`` per distinct list, so that a
  subcomponent stays tied to the product it was named for.

Timestamps cascade: a statement's own ``last_updated`` or ``timestamp``,
else the document's. A ``not_affected`` statement must give a
``justification`` or an ``impact_statement``: the spec requires it, and a
finding suppressed as not affected must be able to say why. (``affected``
without the ``action_statement`` the spec asks for is accepted: it suppresses
nothing, and Trivy's own example documents omit it.)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gate.oci.digest import Digest
from gate.scanners._fields import (
    fail,
    join,
    key_path,
    opt_dict,
    opt_list,
    opt_str,
    wrong_type,
)
from gate.vex.model import (
    ProductRef,
    VexDocument,
    VexStatement,
    VexStatus,
    digest_from_hash,
    parse_vex_timestamp,
    product_ref,
)

FORMAT = "openvex"

#: ``@context`` values of the OpenVEX versions this reader knows.
CONTEXTS = {
    "https://openvex.dev/ns": "unversioned",
    "https://openvex.dev/ns/v0.0.1": "0.0.1",
    "https://openvex.dev/ns/v0.2.0": "0.2.0",
}

_STATUSES = {status.value: status for status in VexStatus}


def parse_openvex(document: object, source: str) -> VexDocument:
    """Turn a parsed OpenVEX JSON document into a ``VexDocument``.

    ``source`` names the file in errors. ``statements`` absent, null or
    ``[]`` is an empty document; anything malformed is an ``InputError``
    naming the JSON path.
    """
    if type(document) is not dict:
        wrong_type(source, "", "an OpenVEX object", document)
    context = document.get("@context")
    if type(context) is not str:
        wrong_type(source, "@context", "a string", context)
    spec_version = CONTEXTS.get(context.rstrip("/"))
    if spec_version is None:
        fail(source, "@context", f"OpenVEX context {context!r} is not supported (0.0.1, 0.2.0)")
    version = document.get("version")
    if version is not None and not (
        (type(version) is int and version >= 0) or (type(version) is str and version.isdigit())
    ):
        fail(source, "version", f"expected a document version number, got {version!r}")
    doc_time = _timestamp(document, source, "")
    notes: list[str] = []
    statements: list[VexStatement] = []
    for index, raw in enumerate(opt_list(document, "statements", source, "")):
        path = f"statements[{index}]"
        if type(raw) is not dict:
            wrong_type(source, path, "an object", raw)
        read = _statement(raw, source, path, doc_time)
        if not read[0].products:
            notes.append(f"{path} names no product: it is never applied")
        statements.extend(read)
    return VexDocument(
        source=source,
        format=FORMAT,
        statements=tuple(statements),
        timestamp=doc_time,
        document_id=opt_str(document, "@id", source, ""),
        author=opt_str(document, "author", source, ""),
        spec_version=spec_version,
        notes=tuple(notes),
    )


def _timestamp(obj: dict[str, Any], source: str, path: str) -> datetime | None:
    """``last_updated`` if given, else ``timestamp``, else None; malformed text is an error."""
    for key in ("last_updated", "timestamp"):
        text = opt_str(obj, key, source, path)
        if text is None:
            continue
        try:
            parsed = parse_vex_timestamp(text)
        except ValueError as exc:
            fail(source, join(path, key), str(exc))
        if parsed is not None:
            return parsed
    return None


def _statement(
    raw: dict[str, Any], source: str, path: str, doc_time: datetime | None
) -> list[VexStatement]:
    vulnerability, aliases = _vulnerability(raw, source, path)
    status_text = raw.get("status")
    if type(status_text) is not str:
        if status_text is None:
            fail(source, join(path, "status"), "required field is missing")
        wrong_type(source, join(path, "status"), "a string", status_text)
    status = _STATUSES.get(status_text)
    if status is None:
        fail(
            source,
            join(path, "status"),
            f"unknown status {status_text!r} (expected one of {', '.join(_STATUSES)})",
        )
    justification = opt_str(raw, "justification", source, path) or None
    impact = opt_str(raw, "impact_statement", source, path) or None
    if status is VexStatus.NOT_AFFECTED and justification is None and impact is None:
        fail(
            source,
            path,
            "a not_affected statement needs a justification or an impact_statement",
        )
    own_time = _timestamp(raw, source, path)
    common: dict[str, Any] = {
        "vulnerability": vulnerability,
        "aliases": aliases,
        "status": status,
        "source": source,
        "justification": justification,
        "impact_statement": impact,
        "action_statement": opt_str(raw, "action_statement", source, path) or None,
        "status_notes": opt_str(raw, "status_notes", source, path) or None,
        "timestamp": own_time if own_time is not None else doc_time,
        "location": path,
    }
    # 0.0.1: subcomponents on the statement, as strings.
    statement_subs = tuple(
        _string_ref(item, source, f"{path}.subcomponents[{i}]")
        for i, item in enumerate(opt_list(raw, "subcomponents", source, path))
    )
    groups: dict[tuple[ProductRef, ...], list[ProductRef]] = {}
    for p_index, item in enumerate(opt_list(raw, "products", source, path)):
        ppath = f"{path}.products[{p_index}]"
        product, subs = _product(item, source, ppath)
        groups.setdefault(statement_subs + subs, []).append(product)
    if not groups:
        return [VexStatement(products=(), subcomponents=statement_subs, **common)]
    return [
        VexStatement(products=tuple(products), subcomponents=subs, **common)
        for subs, products in groups.items()
    ]


def _vulnerability(raw: dict[str, Any], source: str, path: str) -> tuple[str, tuple[str, ...]]:
    """(main id, aliases) from a 0.0.1 string or a 0.2.0 ``{name, @id, aliases}`` object."""
    vpath = join(path, "vulnerability")
    value = raw.get("vulnerability")
    if type(value) is str:
        if not value:
            fail(source, vpath, "must not be empty")
        return value, ()
    if value is None:
        fail(source, vpath, "required field is missing")
    if type(value) is not dict:
        wrong_type(source, vpath, "a string or an object", value)
    name = opt_str(value, "name", source, vpath) or None
    iri = opt_str(value, "@id", source, vpath) or None
    ids: list[str] = [i for i in (name, iri) if i]
    if not ids:
        fail(source, vpath, "the vulnerability has neither a name nor an @id")
    for index, alias in enumerate(opt_list(value, "aliases", source, vpath)):
        if type(alias) is not str:
            wrong_type(source, f"{vpath}.aliases[{index}]", "a string", alias)
        if alias and alias not in ids:
            ids.append(alias)
    return ids[0], tuple(ids[1:])


def _string_ref(item: object, source: str, path: str) -> ProductRef:
    if type(item) is not str:
        wrong_type(source, path, "a string", item)
    if not item:
        fail(source, path, "must not be empty")
    return _build(item, source, path)


def _product(item: object, source: str, path: str) -> tuple[ProductRef, tuple[ProductRef, ...]]:
    """A product and the subcomponents named with it."""
    if type(item) is str:
        return _string_ref(item, source, path), ()
    if type(item) is not dict:
        wrong_type(source, path, "a string or an object", item)
    product = _component(item, source, path)
    subs = []
    for index, sub in enumerate(opt_list(item, "subcomponents", source, path)):
        spath = f"{path}.subcomponents[{index}]"
        if type(sub) is str:
            subs.append(_string_ref(sub, source, spath))
            continue
        if type(sub) is not dict:
            wrong_type(source, spath, "a string or an object", sub)
        subs.append(_component(sub, source, spath))
    return product, tuple(subs)


def _component(obj: dict[str, Any], source: str, path: str) -> ProductRef:
    """An OpenVEX component object: ``@id`` and/or ``identifiers`` and/or ``hashes``."""
    iri = opt_str(obj, "@id", source, path) or None
    identifiers = opt_dict(obj, "identifiers", source, path)
    ipath = join(path, "identifiers")
    purl = opt_str(identifiers, "purl", source, ipath) or None
    cpes = tuple(
        cpe
        for cpe in (
            opt_str(identifiers, "cpe23", source, ipath),
            opt_str(identifiers, "cpe22", source, ipath),
        )
        if cpe
    )
    digests = _hashes(obj, source, path)
    text = iri or purl or (cpes[0] if cpes else None)
    if text is None:
        if not digests:
            fail(source, path, "the component has no @id, identifiers or hashes")
        text = str(min(digests))
    return _build(text, source, path, purl=purl, digests=digests, cpes=cpes)


def _hashes(obj: dict[str, Any], source: str, path: str) -> frozenset[Digest]:
    hpath = join(path, "hashes")
    found = set()
    for algorithm, value in opt_dict(obj, "hashes", source, path).items():
        vpath = key_path(hpath, algorithm)
        if type(value) is not str:
            wrong_type(source, vpath, "a string", value)
        try:
            digest = digest_from_hash(algorithm, value)
        except ValueError as exc:
            fail(source, vpath, str(exc))
        if digest is not None:
            found.add(digest)
    return frozenset(found)


def _build(
    text: str,
    source: str,
    path: str,
    *,
    purl: str | None = None,
    digests: frozenset[Digest] = frozenset(),
    cpes: tuple[str, ...] = (),
) -> ProductRef:
    try:
        return product_ref(text, purl=purl, digests=digests, cpes=cpes)
    except ValueError as exc:
        fail(source, path, str(exc))
