"""in-toto Statements (v1 and v0.1): what an attestation says, about which artifacts.

Shape::

    {"_type": "https://in-toto.io/Statement/v1",
     "subject": [{"name": "<informational>", "digest": {"sha256": "<hex>"}}],
     "predicateType": "<URI>", "predicate": {...}}

Only a Statement is accepted: anything else with a valid signature (an
in-toto layout, a link) is refused, because its fields mean something else.
Subjects are matched by digest only (``binds``); ``name`` is informational.
Digests under ``sha256``/``sha512`` must be well-formed lowercase hex; other
algorithms (``gitCommit``, ``sha1``...) are kept but never match. Unknown
fields are ignored as the in-toto parsing rules require; duplicate keys and
alias spellings of known fields (``predicate_type``, ``Subject``) are refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from gate.errors import InputError
from gate.json_types import json_type as _json_type
from gate.oci.digest import Digest
from gate.signatures import gojson
from gate.signatures.dsse import (
    MAX_ENVELOPE_SIZE,
    DsseKey,
    Envelope,
    refuse_aliases,
    verify_envelope,
)
from gate.signatures.keys import PublicKey

#: The DSSE ``payloadType`` of an in-toto Statement.
PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_V1 = "https://in-toto.io/Statement/v1"
STATEMENT_V01 = "https://in-toto.io/Statement/v0.1"
STATEMENT_TYPES = frozenset({STATEMENT_V1, STATEMENT_V01})

SLSA_PROVENANCE_V1 = "https://slsa.dev/provenance/v1"
SLSA_PROVENANCE_V02 = "https://slsa.dev/provenance/v0.2"
SPDX_DOCUMENT = "https://spdx.dev/Document"
CYCLONEDX_BOM = "https://cyclonedx.org/bom"
COSIGN_VULN_V1 = "https://cosign.sigstore.dev/attestation/vuln/v1"
COSIGN_CUSTOM_V1 = "https://cosign.sigstore.dev/attestation/v1"
COSIGN_SIGN_V1 = "https://sigstore.dev/cosign/sign/v1"

#: Predicate types the gate recognises, by URI, with a short name for reports and policies.
#: Anything else is an unknown predicate: kept, but it never satisfies a requirement.
KNOWN_PREDICATE_TYPES: Mapping[str, str] = MappingProxyType(
    {
        SLSA_PROVENANCE_V1: "slsa-provenance-v1",
        SLSA_PROVENANCE_V02: "slsa-provenance-v0.2",
        SPDX_DOCUMENT: "spdx",
        CYCLONEDX_BOM: "cyclonedx",
        COSIGN_VULN_V1: "cosign-vuln",
        COSIGN_CUSTOM_V1: "cosign-custom",
        COSIGN_SIGN_V1: "cosign-sign",
    }
)

#: Subject digest algorithms that can bind a statement to an artifact.
ACCEPTED_DIGEST_ALGORITHMS = ("sha256", "sha512")

_SOURCE = "in-toto statement"
_STATEMENT_FIELDS = ("_type", "subject", "predicateType", "predicate")
_SUBJECT_FIELDS = ("name", "digest")


@dataclass(frozen=True)
class Subject:
    """One artifact the statement is about: its digests by algorithm, and an informational name."""

    digest: Mapping[str, str]
    name: str = ""


@dataclass(frozen=True)
class Statement:
    """A parsed in-toto Statement; ``predicate`` is ``{}`` when the statement leaves it unset."""

    statement_type: str
    subjects: tuple[Subject, ...]
    predicate_type: str
    predicate: Mapping[str, Any]

    @property
    def predicate_kind(self) -> str | None:
        """The short name of a recognised predicate type (``slsa-provenance-v1``), else None."""
        return KNOWN_PREDICATE_TYPES.get(self.predicate_type)


@dataclass(frozen=True)
class VerifiedStatement:
    """A statement read from a verified envelope, and the distinct trusted keys that signed it."""

    statement: Statement
    signers: tuple[PublicKey, ...]


def _subject(entry: object, path: str, source: str) -> Subject:
    if not isinstance(entry, dict):
        raise InputError(
            f"must be a JSON object, got {_json_type(entry)}", source=source, field=path
        )
    refuse_aliases(entry, _SUBJECT_FIELDS, source=source, path=path)
    name = entry.get("name", "")
    if not isinstance(name, str):
        raise InputError(
            f"must be a string, got {_json_type(name)}", source=source, field=f"{path}.name"
        )
    if "digest" not in entry:
        raise InputError("missing", source=source, field=f"{path}.digest")
    digests = entry["digest"]
    if not isinstance(digests, dict) or not digests:
        raise InputError(
            "must be a non-empty object of algorithm to digest",
            source=source,
            field=f"{path}.digest",
        )
    for algorithm, value in digests.items():
        where = f"{path}.digest.{algorithm}"
        if not isinstance(value, str):
            raise InputError(
                f"must be a string, got {_json_type(value)}", source=source, field=where
            )
        if algorithm in ACCEPTED_DIGEST_ALGORITHMS:
            try:
                Digest.parse(f"{algorithm}:{value}")
            except InputError:
                raise InputError(
                    f"is not a lowercase hex {algorithm} digest: {value!r}",
                    source=source,
                    field=where,
                ) from None
    return Subject(digest=MappingProxyType(dict(digests)), name=name)


def statement_from_json(document: object, *, source: str = _SOURCE) -> Statement:
    """A ``Statement`` from already-decoded JSON; ``InputError`` names the field and reason.

    Refused: a non-object; ``_type`` other than Statement v1/v0.1 (e.g. an
    in-toto layout); a missing or empty ``subject``; a subject without a
    ``digest`` object or with a malformed sha256/sha512 value; a missing or
    empty ``predicateType``; a ``predicate`` that is not an object.
    """
    if not isinstance(document, dict):
        raise InputError(f"must be a JSON object, got {_json_type(document)}", source=source)
    refuse_aliases(document, _STATEMENT_FIELDS, source=source)
    if "_type" not in document:
        raise InputError("missing", source=source, field="_type")
    statement_type = document["_type"]
    if not isinstance(statement_type, str):
        raise InputError(
            f"must be a string, got {_json_type(statement_type)}", source=source, field="_type"
        )
    if statement_type not in STATEMENT_TYPES:
        raise InputError(
            f"is {statement_type!r}: not an in-toto Statement "
            f"(expected {STATEMENT_V1} or {STATEMENT_V01})",
            source=source,
            field="_type",
        )
    entries = document.get("subject")
    if not isinstance(entries, list) or not entries:
        raise InputError("must be a non-empty array", source=source, field="subject")
    subjects = tuple(_subject(e, f"subject[{i}]", source) for i, e in enumerate(entries))
    predicate_type = document.get("predicateType")
    if not isinstance(predicate_type, str) or not predicate_type:
        raise InputError("must be a non-empty string", source=source, field="predicateType")
    predicate = document.get("predicate")
    if predicate is None:
        predicate = {}  # the spec: unset is the same as set-but-empty
    if not isinstance(predicate, dict):
        raise InputError(
            f"must be a JSON object, got {_json_type(predicate)}", source=source, field="predicate"
        )
    return Statement(
        statement_type=statement_type,
        subjects=subjects,
        predicate_type=predicate_type,
        predicate=predicate,
    )


def parse_statement(data: bytes, *, source: str = _SOURCE) -> Statement:
    """Parse Statement JSON bytes (strict JSON, size-capped); see ``statement_from_json``."""
    if len(data) > MAX_ENVELOPE_SIZE:
        raise InputError(
            f"{len(data)} bytes exceed the {MAX_ENVELOPE_SIZE}-byte limit", source=source
        )
    try:
        document = gojson.loads_strict(data)
    except ValueError as exc:
        raise InputError(str(exc), source=source) from None
    return statement_from_json(document, source=source)


def statement_from_envelope(envelope: Envelope, *, source: str = _SOURCE) -> Statement:
    """The Statement in ``envelope.payload``; the ``payloadType`` must be in-toto's.

    Call only after ``verify_envelope`` (or use ``verify_attestation``): the
    payload is not trusted until then.
    """
    if envelope.payload_type != PAYLOAD_TYPE:
        raise InputError(
            f"is {envelope.payload_type!r}, expected {PAYLOAD_TYPE!r}",
            source=source,
            field="payloadType",
        )
    return parse_statement(envelope.payload, source=source)


def verify_attestation(
    envelope: Envelope,
    keys: Iterable[PublicKey | DsseKey],
    *,
    threshold: int = 1,
    source: str = _SOURCE,
) -> VerifiedStatement:
    """Verify ``envelope`` with trusted ``keys``, then read its Statement from the verified bytes.

    The signature is checked first, so an unsigned payload is never parsed:
    ``VerificationError`` when fewer than ``threshold`` distinct trusted keys
    signed, then ``InputError`` when the payload type or Statement is wrong.
    The caller still checks ``binds()`` against the image digest.
    """
    signers = verify_envelope(envelope, keys, threshold=threshold, source=source)
    return VerifiedStatement(statement_from_envelope(envelope, source=source), signers)


def subject_digests(statement: Statement) -> tuple[Digest, ...]:
    """Every sha256/sha512 subject digest, in order, without repeats."""
    found: dict[Digest, None] = {}
    for subject in statement.subjects:
        for algorithm in ACCEPTED_DIGEST_ALGORITHMS:
            value = subject.digest.get(algorithm)
            if value is not None:
                found[Digest(algorithm, value)] = None
    return tuple(found)


def binds(statement: Statement, digest: Digest) -> bool:
    """True when ``digest`` is among the statement's subject digests (other subjects may exist)."""
    return digest in subject_digests(statement)
