"""in-toto Statements: strict parsing, subject digests and binding, signed attestations."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from gate.errors import InputError, VerificationError
from gate.oci.digest import Digest
from gate.signatures.dsse import Envelope, EnvelopeSignature, pae
from gate.signatures.intoto import (
    COSIGN_VULN_V1,
    KNOWN_PREDICATE_TYPES,
    PAYLOAD_TYPE,
    SLSA_PROVENANCE_V1,
    STATEMENT_V01,
    STATEMENT_V1,
    binds,
    parse_statement,
    statement_from_envelope,
    statement_from_json,
    subject_digests,
    verify_attestation,
)
from gate.signatures.keys import CURVE_HASH
from tests.unit.signatures.helpers import private_key, public_key

IMAGE = Digest.of(b"image manifest")
OTHER = Digest.of(b"other manifest")
SHA512 = Digest.of(b"image manifest", "sha512")


def statement(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "_type": STATEMENT_V1,
        "subject": [{"name": "registry.example/app", "digest": {"sha256": IMAGE.hex}}],
        "predicateType": SLSA_PROVENANCE_V1,
        "predicate": {"buildDefinition": {}},
    }
    base.update(overrides)
    return base


def encoded(value: Any) -> bytes:
    return json.dumps(value).encode()


def signed_envelope(payload: bytes, payload_type: str = PAYLOAD_TYPE) -> Envelope:
    private = private_key("intoto-signer")
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    signature = private.sign(pae(payload_type, payload), ec.ECDSA(CURVE_HASH["secp256r1"]()))
    return Envelope(payload_type, payload, (EnvelopeSignature(signature),))


# --- parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize("statement_type", [STATEMENT_V1, STATEMENT_V01])
def test_statement_v1_and_v01_parse(statement_type: str) -> None:
    parsed = parse_statement(encoded(statement(_type=statement_type)))
    assert parsed.statement_type == statement_type
    assert parsed.subjects[0].name == "registry.example/app"
    assert dict(parsed.subjects[0].digest) == {"sha256": IMAGE.hex}
    assert parsed.predicate_type == SLSA_PROVENANCE_V1
    assert parsed.predicate == {"buildDefinition": {}}
    assert parsed.predicate_kind == "slsa-provenance-v1"


def test_unknown_predicate_type_is_kept_but_not_recognised() -> None:
    parsed = parse_statement(encoded(statement(predicateType="https://example.com/mine/v1")))
    assert parsed.predicate_type == "https://example.com/mine/v1"
    assert parsed.predicate_kind is None


def test_known_predicate_types_have_distinct_names() -> None:
    assert KNOWN_PREDICATE_TYPES[COSIGN_VULN_V1] == "cosign-vuln"
    assert len(set(KNOWN_PREDICATE_TYPES.values())) == len(KNOWN_PREDICATE_TYPES)


@pytest.mark.parametrize("predicate", [None, "absent"])
def test_unset_predicate_is_an_empty_object(predicate: str | None) -> None:
    value = statement(predicate=predicate)
    if predicate == "absent":
        del value["predicate"]
    assert parse_statement(encoded(value)).predicate == {}


def test_subject_name_is_optional_and_unknown_fields_are_ignored() -> None:
    value = statement(
        subject=[{"digest": {"sha256": IMAGE.hex}, "uri": "oci://x", "annotations": {}}],
        extension={"anything": True},
    )
    parsed = parse_statement(encoded(value))
    assert parsed.subjects[0].name == ""


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{", r"^att: not valid JSON"),
        (b"\xc3\x28", r"^att: not UTF-8"),
        (b"[]", r"^att: must be a JSON object, got an array$"),
        (b"null", r"^att: must be a JSON object, got null$"),
        (b'{"_type": "a", "_type": "b"}', r"^att: duplicate key '_type'$"),
    ],
)
def test_non_statements_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_statement(data, source="att")


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"_type": "layout"}, "_type", "'layout': not an in-toto Statement"),
        ({"_type": "https://in-toto.io/Statement/v2"}, "_type", "not an in-toto Statement"),
        ({"_type": "https://in-toto.io/statement/v1"}, "_type", "not an in-toto Statement"),
        ({"_type": 1}, "_type", "must be a string, got a number"),
        ({"subject": []}, "subject", "must be a non-empty array"),
        ({"subject": {"digest": {}}}, "subject", "must be a non-empty array"),
        ({"subject": ["sha256:abc"]}, "subject[0]", "must be a JSON object, got a string"),
        ({"subject": [{"name": "x"}]}, "subject[0].digest", "missing"),
        ({"subject": [{"digest": {}}]}, "subject[0].digest", "must be a non-empty object"),
        ({"subject": [{"digest": ["a"]}]}, "subject[0].digest", "must be a non-empty object"),
        ({"subject": [{"name": 3, "digest": {"x": "y"}}]}, "subject[0].name", "must be a string"),
        ({"subject": [{"digest": {"sha256": 1}}]}, "subject[0].digest.sha256", "must be a string"),
        (
            {"subject": [{"digest": {"sha256": IMAGE.hex.upper()}}]},
            "subject[0].digest.sha256",
            "is not a lowercase hex sha256 digest",
        ),
        (
            {"subject": [{"digest": {"sha512": IMAGE.hex}}]},
            "subject[0].digest.sha512",
            "is not a lowercase hex sha512 digest",
        ),
        ({"predicateType": ""}, "predicateType", "must be a non-empty string"),
        ({"predicateType": None}, "predicateType", "must be a non-empty string"),
        ({"predicate": []}, "predicate", "must be a JSON object, got an array"),
        ({"predicate": "text"}, "predicate", "must be a JSON object, got a string"),
    ],
)
def test_bad_fields_name_source_field_and_reason(
    overrides: dict[str, Any], field: str, reason: str
) -> None:
    with pytest.raises(InputError) as caught:
        parse_statement(encoded(statement(**overrides)), source="att.json")
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith(f"att.json: {field}: ")
    assert reason in text


@pytest.mark.parametrize("field", ["_type", "predicateType"])
def test_missing_required_fields_are_refused(field: str) -> None:
    value = statement()
    del value[field]
    with pytest.raises(InputError, match=f"^att: {field}: "):
        statement_from_json(value, source="att")


@pytest.mark.parametrize(
    ("alias", "path"),
    [("predicate_type", "predicate_type"), ("Subject", "Subject"), ("type", "type")],
)
def test_aliases_other_parsers_would_read_are_refused(alias: str, path: str) -> None:
    value = statement()
    value[alias] = "https://example.com/confusing"
    with pytest.raises(InputError, match=rf"^att: {path}: key '{alias}' would be read as"):
        statement_from_json(value, source="att")


def test_aliases_in_a_subject_are_refused() -> None:
    value = statement(subject=[{"digest": {"sha256": IMAGE.hex}, "Digest": {"sha256": OTHER.hex}}])
    with pytest.raises(InputError, match=r"subject\[0\]\.Digest: key 'Digest' would be read"):
        statement_from_json(value)


# --- subjects and binding ---------------------------------------------------------------


def test_binds_when_the_digest_is_among_several_subjects() -> None:
    parsed = statement_from_json(
        statement(
            subject=[
                {"name": "a", "digest": {"sha256": OTHER.hex}},
                {"name": "b", "digest": {"sha256": IMAGE.hex, "sha512": SHA512.hex}},
            ]
        )
    )
    assert subject_digests(parsed) == (OTHER, IMAGE, SHA512)
    assert binds(parsed, IMAGE)
    assert binds(parsed, SHA512)
    assert not binds(parsed, Digest.of(b"third"))


def test_a_transplanted_statement_does_not_bind() -> None:
    parsed = statement_from_json(statement())
    assert not binds(parsed, OTHER)


def test_other_algorithms_are_kept_but_never_bind() -> None:
    sha1_hex = "a" * 40
    parsed = statement_from_json(
        statement(subject=[{"digest": {"gitCommit": sha1_hex, "sha1": sha1_hex, "md5": "X"}}])
    )
    assert parsed.subjects[0].digest["gitCommit"] == sha1_hex
    assert subject_digests(parsed) == ()
    assert not binds(parsed, IMAGE)


def test_repeated_subject_digests_are_listed_once() -> None:
    subject = {"digest": {"sha256": IMAGE.hex}}
    parsed = statement_from_json(statement(subject=[subject, subject]))
    assert subject_digests(parsed) == (IMAGE,)


# --- envelopes -------------------------------------------------------------------------


def test_statement_from_envelope_requires_the_in_toto_payload_type() -> None:
    envelope = signed_envelope(encoded(statement()), payload_type="application/json")
    with pytest.raises(
        InputError, match=r"^att: payloadType: is 'application/json', expected 'application/vnd"
    ):
        statement_from_envelope(envelope, source="att")


def test_verify_attestation_returns_statement_and_signers() -> None:
    key = public_key(private_key("intoto-signer"), "signer.pub")
    verified = verify_attestation(signed_envelope(encoded(statement())), [key])
    assert verified.signers == (key,)
    assert binds(verified.statement, IMAGE)


def test_verify_attestation_checks_the_signature_before_reading_the_payload() -> None:
    key = public_key(private_key("intoto-signer"), "signer.pub")
    unsigned_garbage = Envelope(PAYLOAD_TYPE, b"not json", (EnvelopeSignature(b"x"),))
    with pytest.raises(VerificationError, match=r"^att: 0 distinct trusted key"):
        verify_attestation(unsigned_garbage, [key], source="att")


def test_verify_attestation_refuses_a_signed_non_statement() -> None:
    key = public_key(private_key("intoto-signer"), "signer.pub")
    layout = signed_envelope(encoded({"_type": "layout", "steps": []}))
    with pytest.raises(InputError, match=r"^att: _type: is 'layout': not an in-toto Statement"):
        verify_attestation(layout, [key], source="att")


def test_verify_attestation_refuses_a_signed_foreign_payload_type() -> None:
    key = public_key(private_key("intoto-signer"), "signer.pub")
    other = signed_envelope(encoded(statement()), payload_type="application/vnd.other+json")
    with pytest.raises(InputError, match="payloadType"):
        verify_attestation(other, [key])
