"""The one model every VEX format is read into: documents, statements, product references.

OpenVEX and CycloneDX VEX say the same thing in different words: "vulnerability
V in product P (optionally: in its subcomponent S) has status X, because Y".
Both readers produce ``VexDocument``s of ``VexStatement``s whose products and
subcomponents are ``ProductRef``s with their identifiers already parsed
(purl, digests, image reference, CycloneDX bom-ref), so that ``apply_vex``
compares normalised values and never re-parses text per finding.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime

from gate.errors import InputError
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.purl import PackageUrl, PurlError


class VexStatus(enum.StrEnum):
    """The four OpenVEX statuses; CycloneDX analysis states are mapped onto them."""

    NOT_AFFECTED = "not_affected"
    AFFECTED = "affected"
    FIXED = "fixed"
    UNDER_INVESTIGATION = "under_investigation"

    @property
    def suppresses(self) -> bool:
        """True for the statuses that remove a finding: ``not_affected`` and ``fixed``."""
        return self is VexStatus.NOT_AFFECTED or self is VexStatus.FIXED


@dataclass(frozen=True)
class ProductRef:
    """One product or subcomponent a statement names, with its identifiers parsed.

    ``id`` is the identifier as written (OpenVEX ``@id`` or product string,
    CycloneDX ``affects[].ref``). The other fields are what could be read
    from it and from the identifiers next to it: normalised package URLs
    (the ``@id``'s and ``identifiers.purl``; ``pkg:oci/...`` for images,
    any of them may match), content digests (the version of a
    ``pkg:oci`` purl, a bare ``sha256:...``, OpenVEX ``hashes``), an image
    reference (``tag`` is None when the text named none, meaning any tag),
    a CycloneDX ``bom_ref`` and, for a BOM-Link into another BOM, the
    ``bom_link`` prefix ``urn:cdx:<serial>/<version>``. CycloneDX
    ``affects[].versions`` become ``versions`` (exact) and
    ``version_ranges`` (``vers:`` ranges, which the gate does not evaluate).
    """

    id: str
    purls: tuple[PackageUrl, ...] = ()
    digests: frozenset[Digest] = frozenset()
    image: ImageReference | None = None
    bom_ref: str | None = None
    bom_link: str | None = None
    cpes: tuple[str, ...] = ()
    versions: tuple[str, ...] = ()
    version_ranges: tuple[str, ...] = ()

    @property
    def names_image(self) -> bool:
        """True when the reference can only mean a container image (oci purl, digest, image)."""
        return (
            bool(self.digests)
            or self.image is not None
            or any(purl.type == "oci" for purl in self.purls)
        )

    @property
    def version_scoped(self) -> bool:
        """True when CycloneDX ``affects[].versions`` limit the reference to some versions."""
        return bool(self.versions or self.version_ranges)

    def __str__(self) -> str:
        return self.id


@dataclass(frozen=True)
class VexStatement:
    """One statement: a vulnerability's status in some products (and subcomponents).

    ``vulnerability`` is the main id (OpenVEX ``name`` or ``@id``, CycloneDX
    ``id``) and ``aliases`` the others. ``subcomponents`` empty means the
    statement is about the products themselves. ``timestamp`` is the
    statement's effective time: its own (``last_updated`` before
    ``timestamp``), else the document's; None when neither is given.
    ``justification`` keeps the raw word: OpenVEX and CycloneDX use different
    lists. ``raw_status`` is the word as written when it differs from the
    mapped status (CycloneDX ``false_positive``, ``resolved``, ...).
    ``location`` is the JSON path of the statement in ``source``.
    """

    vulnerability: str
    products: tuple[ProductRef, ...]
    subcomponents: tuple[ProductRef, ...]
    status: VexStatus
    source: str
    aliases: tuple[str, ...] = ()
    justification: str | None = None
    impact_statement: str | None = None
    action_statement: str | None = None
    timestamp: datetime | None = None
    status_notes: str | None = None
    raw_status: str | None = None
    responses: tuple[str, ...] = ()
    location: str = ""

    @property
    def ids(self) -> frozenset[str]:
        """The vulnerability id and its aliases, casefolded for comparison."""
        return frozenset(i.casefold() for i in (self.vulnerability, *self.aliases))

    @property
    def where(self) -> str:
        """``source: location``, for messages."""
        return f"{self.source}: {self.location}" if self.location else self.source


@dataclass(frozen=True)
class VexDocument:
    """The statements of one VEX document.

    ``format`` is ``openvex`` or ``cyclonedx``; ``timestamp`` the document's
    own time (already inherited by undated statements). ``notes`` say what
    was read but cannot take effect (a statement naming no product, a
    CycloneDX vulnerability without ``analysis``), for the report.
    """

    source: str
    format: str
    statements: tuple[VexStatement, ...]
    timestamp: datetime | None = None
    document_id: str | None = None
    author: str | None = None
    spec_version: str | None = None
    notes: tuple[str, ...] = ()


# --- building product references ------------------------------------------------------------

#: OpenVEX ``hashes`` algorithm names (and their unhyphenated spellings) -> digest algorithm.
HASH_ALGORITHMS = {
    "sha-256": "sha256",
    "sha256": "sha256",
    "sha-384": "sha384",
    "sha384": "sha384",
    "sha-512": "sha512",
    "sha512": "sha512",
}


def product_ref(
    text: str,
    *,
    purl: str | None = None,
    digests: frozenset[Digest] = frozenset(),
    cpes: tuple[str, ...] = (),
    bom_ref: str | None = None,
    bom_link: str | None = None,
    versions: tuple[str, ...] = (),
    version_ranges: tuple[str, ...] = (),
    opaque: bool = False,
) -> ProductRef:
    """Parse the identifier ``text`` (and an explicit ``purl``) into a ``ProductRef``.

    ``text`` may be a package URL, a digest ``sha256:...``, an image
    reference (only text with ``/``, ``:`` or ``@`` is tried as one: a bare
    word is an opaque product name, not ``docker.io/library/<word>``) or any
    other IRI, kept as written. With ``opaque`` (a CycloneDX bom-ref) only a
    purl is read from ``text``: a local identifier is never an image. Raises
    ``ValueError`` with the reason when something that claims to be a purl or
    a digest is malformed.
    """
    purls: list[PackageUrl] = []
    found = set(digests)
    image: ImageReference | None = None
    if text.startswith("pkg:"):
        purls.append(_parse_purl(text))
    elif not opaque and _looks_like_digest(text):
        found.add(_parse_digest(text))
    elif not opaque and _may_be_image(text):
        image = _parse_image(text)
        if image is not None and image.digest is not None:
            found.add(image.digest)
    if purl:
        extra = _parse_purl(purl)
        if extra not in purls:
            purls.append(extra)
    for parsed in purls:
        if parsed.type == "oci" and parsed.version:
            found.add(_parse_digest(parsed.version))
    return ProductRef(
        id=text,
        purls=tuple(purls),
        digests=frozenset(found),
        image=image,
        bom_ref=bom_ref,
        bom_link=bom_link,
        cpes=cpes,
        versions=versions,
        version_ranges=version_ranges,
    )


def _parse_purl(text: str) -> PackageUrl:
    try:
        return PackageUrl.parse(text)
    except PurlError as exc:
        raise ValueError(f"invalid package URL {text!r}: {exc}") from None


def _looks_like_digest(text: str) -> bool:
    algorithm, colon, rest = text.partition(":")
    return bool(colon) and algorithm.lower() in ("sha256", "sha384", "sha512") and "/" not in rest


def _parse_digest(text: str) -> Digest:
    """A digest, accepting uppercase hex (hash values in VEX are not always lowercased)."""
    algorithm, _, hex_part = text.partition(":")
    try:
        return Digest.parse(f"{algorithm.lower()}:{hex_part.lower()}")
    except InputError:
        raise ValueError(f"invalid digest {text!r}") from None


def _may_be_image(text: str) -> bool:
    if not any(c in text for c in "/:@"):
        return False
    scheme = text.partition(":")[0].lower()
    return scheme not in ("http", "https", "urn", "cpe", "pkg")


def _parse_image(text: str) -> ImageReference | None:
    """``text`` as an image reference, with ``tag=None`` when it names no tag; None if it isn't."""
    try:
        reference = ImageReference.parse(text)
    except InputError:
        return None
    name_part = text.partition("@")[0]
    if name_part.rfind(":") <= name_part.rfind("/"):
        reference = replace(reference, tag=None)
    return reference


def digest_from_hash(algorithm: str, value: str) -> Digest | None:
    """An OpenVEX ``hashes`` entry as a digest; None for algorithms images are not named by.

    Raises ``ValueError`` for a SHA-2 value that is not a valid hex digest.
    """
    name = HASH_ALGORITHMS.get(algorithm.lower())
    if name is None:
        return None
    return _parse_digest(f"{name}:{value}")


def parse_vex_timestamp(text: str) -> datetime | None:
    """An RFC 3339 time with offset; None for "" and Go's zero time, ``ValueError`` otherwise.

    Timestamps decide which statement wins, so text that is not a time is an
    error rather than "undated" (which would quietly change the winner).
    """
    if text == "" or text.startswith("0001-01-01T00:00:00"):
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}") from None
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no UTC offset")
    return parsed
