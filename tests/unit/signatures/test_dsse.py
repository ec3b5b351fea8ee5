"""DSSE envelopes: PAE, strict parsing, and verification with per-key signature schemes."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from gate.errors import InputError, VerificationError
from gate.signatures.dsse import (
    MAX_SIGNATURES,
    DsseKey,
    Envelope,
    EnvelopeSignature,
    SignatureScheme,
    decode_base64,
    default_scheme,
    envelope_from_json,
    pae,
    parse_envelope,
    verify_envelope,
)
from gate.signatures.keyfile import SupportedPrivateKey
from gate.signatures.keys import CURVE_HASH
from tests.unit.signatures.helpers import private_key, public_key

PAYLOAD_TYPE = "application/vnd.in-toto+json"
PAYLOAD = b'{"_type":"https://in-toto.io/Statement/v1"}'


def sign(key: SupportedPrivateKey, scheme: SignatureScheme, message: bytes) -> bytes:
    """A signature over ``message`` in ``scheme``, as the matching signer would make it."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        der = key.sign(message, ec.ECDSA(CURVE_HASH[key.curve.name]()))
        if scheme is SignatureScheme.ECDSA_DER:
            return der
        width = (key.curve.key_size + 7) // 8
        r, s = decode_dss_signature(der)
        return r.to_bytes(width, "big") + s.to_bytes(width, "big")
    if isinstance(key, rsa.RSAPrivateKey):
        if scheme is SignatureScheme.RSA_PSS_SHA256:
            pss = padding.PSS(
                mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH
            )
            return key.sign(message, pss, hashes.SHA256())
        return key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    return key.sign(message)


def envelope(*signatures: bytes, payload_type: str = PAYLOAD_TYPE) -> Envelope:
    return Envelope(payload_type, PAYLOAD, tuple(EnvelopeSignature(s) for s in signatures))


def document(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(PAYLOAD).decode(),
        "signatures": [{"keyid": "k1", "sig": base64.b64encode(b"sig").decode()}],
    }
    base.update(overrides)
    return base


def encoded(value: Any) -> bytes:
    return json.dumps(value).encode()


# --- PAE -------------------------------------------------------------------------------


def test_pae_matches_the_spec_example() -> None:
    assert (
        pae("http://example.com/HelloWorld", b"hello world")
        == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_pae_counts_utf8_bytes_of_a_non_ascii_type() -> None:
    # "é" is two bytes and "€" three: lengths are byte counts, not characters.
    assert pae("tÿpé/€", b"x") == "DSSEv1 10 tÿpé/€ 1 x".encode()


def test_pae_of_empty_type_and_body() -> None:
    assert pae("", b"") == b"DSSEv1 0  0 "


def test_pae_lengths_are_decimal_without_padding_and_body_is_raw() -> None:
    body = b"\x00 \n" * 400
    assert pae("t", body) == b"DSSEv1 1 t 1200 " + body


def test_pae_separates_type_and_body_unambiguously() -> None:
    # Moving a space from the type into the body changes the encoding.
    assert pae("a b", b"c") != pae("a", b"b c")


# --- parsing ---------------------------------------------------------------------------


def test_parse_reads_fields_and_keeps_exact_payload_bytes() -> None:
    parsed = parse_envelope(encoded(document()))
    assert parsed.payload_type == PAYLOAD_TYPE
    assert parsed.payload == PAYLOAD
    assert parsed.signatures == (EnvelopeSignature(sig=b"sig", keyid="k1"),)


def test_to_json_round_trips() -> None:
    original = Envelope("t/é", b"\x00\xff body", (EnvelopeSignature(b"\x01\x02", "id"),))
    assert parse_envelope(original.to_json()) == original


def test_url_safe_and_unpadded_base64_are_accepted() -> None:
    raw = b"\xfb\xff\xfe?"
    urlsafe = base64.urlsafe_b64encode(raw).decode()
    assert "-" in urlsafe or "_" in urlsafe
    assert decode_base64(urlsafe, source="s", field="f") == raw
    assert decode_base64(urlsafe.rstrip("="), source="s", field="f") == raw
    assert decode_base64(base64.b64encode(raw).decode(), source="s", field="f") == raw


def test_missing_keyid_and_null_keyid_mean_empty() -> None:
    sig = base64.b64encode(b"s").decode()
    parsed = parse_envelope(
        encoded(document(signatures=[{"sig": sig}, {"keyid": None, "sig": sig}]))
    )
    assert [s.keyid for s in parsed.signatures] == ["", ""]


def test_unknown_fields_are_ignored() -> None:
    parsed = parse_envelope(encoded(document(extension={"x": 1})))
    assert parsed.payload == PAYLOAD


def test_empty_signature_list_parses_but_never_verifies() -> None:
    parsed = parse_envelope(encoded(document(signatures=[])))
    key = public_key(private_key("dsse-a"), "a.pub")
    with pytest.raises(VerificationError, match="carries no signatures"):
        verify_envelope(parsed, [key])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not json", r"^att\.json: not valid JSON"),
        (b"\xff\xfe", r"^att\.json: not UTF-8"),
        (b"[]", r"^att\.json: must be a JSON object, got an array$"),
        (b'{"payload":"", "payload":"", "payloadType":"t", "signatures":[]}', "duplicate key"),
    ],
)
def test_non_envelopes_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_envelope(data, source="att.json")


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"payloadType": None}, "payloadType", "must be a string, got null"),
        ({"payloadType": 3}, "payloadType", "must be a string, got a number"),
        ({"payloadType": "\ud800"}, "payloadType", "lone surrogate"),
        ({"payload": None}, "payload", "must be a base64 string, got null"),
        ({"payload": "a*b="}, "payload", "is not valid base64"),
        ({"payload": "ab+_"}, "payload", "is not valid base64"),  # two alphabets
        ({"payload": "aGVsbG8=\n"}, "payload", "is not valid base64"),
        ({"payload": "aGVsb"}, "payload", "bad length or padding"),
        ({"payload": "aGVsbA="}, "payload", "bad length or padding"),
        ({"signatures": {}}, "signatures", "must be an array, got an object"),
        ({"signatures": ["c2ln"]}, "signatures[0]", "must be a JSON object, got a string"),
        ({"signatures": [{"keyid": "k"}]}, "signatures[0].sig", "missing"),
        ({"signatures": [{"sig": 5}]}, "signatures[0].sig", "must be a base64 string"),
        ({"signatures": [{"sig": "%%"}]}, "signatures[0].sig", "is not valid base64"),
        ({"signatures": [{"sig": "", "keyid": 7}]}, "signatures[0].keyid", "must be a string"),
    ],
)
def test_bad_fields_name_source_field_and_reason(
    overrides: dict[str, Any], field: str, reason: str
) -> None:
    with pytest.raises(InputError) as caught:
        parse_envelope(encoded(document(**overrides)), source="att.json")
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith(f"att.json: {field}: ")
    assert reason in text


@pytest.mark.parametrize("missing", ["payload", "payloadType", "signatures"])
def test_missing_required_fields_are_refused(missing: str) -> None:
    value = document()
    del value[missing]
    with pytest.raises(InputError, match=rf"^att\.json: {missing}: missing$"):
        parse_envelope(encoded(value), source="att.json")


@pytest.mark.parametrize("alias", ["PayloadType", "payload_type", "PAYLOAD", "Signatures"])
def test_aliases_other_parsers_would_read_are_refused(alias: str) -> None:
    value = document()
    value[alias] = value.get(alias[0].lower() + alias[1:], "x")
    with pytest.raises(InputError, match="would be read as"):
        parse_envelope(encoded(value))


def test_aliases_inside_a_signature_are_refused() -> None:
    value = document(signatures=[{"sig": "c2ln", "Sig": "b3RoZXI="}])
    with pytest.raises(InputError, match=r"signatures\[0\]\.Sig: key 'Sig' would be read as 'sig'"):
        parse_envelope(encoded(value))


def test_unicode_case_folding_alias_is_refused() -> None:
    # Go's case-insensitive match folds U+017F (LATIN SMALL LETTER LONG S) to "s".
    value = document()
    value["\u017fignatures"] = []
    with pytest.raises(InputError, match="would be read as 'signatures'"):
        parse_envelope(encoded(value))


def test_size_and_signature_count_are_capped() -> None:
    data = encoded(document())
    with pytest.raises(InputError, match="exceed the 10-byte limit"):
        parse_envelope(data, max_size=10)
    many = [{"sig": "c2ln"}] * (MAX_SIGNATURES + 1)
    with pytest.raises(InputError, match=f"exceed the limit of {MAX_SIGNATURES}"):
        parse_envelope(encoded(document(signatures=many)))


def test_envelope_from_json_prefixes_fields_with_path() -> None:
    with pytest.raises(InputError, match=r"^bundle\.json: dsseEnvelope\.payload: missing$"):
        envelope_from_json(
            {"payloadType": "t", "signatures": []}, source="bundle.json", path="dsseEnvelope"
        )


# --- verification ----------------------------------------------------------------------

SCHEMES = [
    ("p256", SignatureScheme.ECDSA_DER),
    ("p256", SignatureScheme.ECDSA_RAW),
    ("p384", SignatureScheme.ECDSA_RAW),
    ("p521", SignatureScheme.ECDSA_RAW),
    ("rsa", SignatureScheme.RSA_PKCS1V15_SHA256),
    ("rsa", SignatureScheme.RSA_PSS_SHA256),
    ("ed25519", SignatureScheme.ED25519),
]


@pytest.mark.parametrize(("kind", "scheme"), SCHEMES)
def test_each_scheme_verifies_over_pae(kind: str, scheme: SignatureScheme) -> None:
    private = private_key("dsse-a", kind)
    key = public_key(private, "a.pub")
    signed = envelope(sign(private, scheme, pae(PAYLOAD_TYPE, PAYLOAD)))
    assert verify_envelope(signed, [DsseKey(key, scheme)]) == (key,)


@pytest.mark.parametrize(("kind", "scheme"), SCHEMES)
def test_payload_type_is_authenticated(kind: str, scheme: SignatureScheme) -> None:
    private = private_key("dsse-a", kind)
    signature = sign(private, scheme, pae(PAYLOAD_TYPE, PAYLOAD))
    retyped = envelope(signature, payload_type="application/vnd.in-toto+json2")
    with pytest.raises(VerificationError):
        verify_envelope(retyped, [DsseKey(public_key(private, "a.pub"), scheme)])


def test_a_signature_over_the_bare_payload_does_not_count() -> None:
    private = private_key("dsse-a")
    signed = envelope(sign(private, SignatureScheme.ECDSA_DER, PAYLOAD))
    with pytest.raises(VerificationError, match="0 distinct trusted key"):
        verify_envelope(signed, [public_key(private, "a.pub")])


@pytest.mark.parametrize(
    ("kind", "signed_as", "configured"),
    [
        ("p256", SignatureScheme.ECDSA_RAW, SignatureScheme.ECDSA_DER),
        ("p256", SignatureScheme.ECDSA_DER, SignatureScheme.ECDSA_RAW),
        ("rsa", SignatureScheme.RSA_PSS_SHA256, SignatureScheme.RSA_PKCS1V15_SHA256),
        ("rsa", SignatureScheme.RSA_PKCS1V15_SHA256, SignatureScheme.RSA_PSS_SHA256),
    ],
)
def test_only_the_configured_scheme_is_tried(
    kind: str, signed_as: SignatureScheme, configured: SignatureScheme
) -> None:
    private = private_key("dsse-a", kind)
    signed = envelope(sign(private, signed_as, pae(PAYLOAD_TYPE, PAYLOAD)))
    with pytest.raises(VerificationError):
        verify_envelope(signed, [DsseKey(public_key(private, "a.pub"), configured)])


def test_bare_public_key_uses_the_default_scheme() -> None:
    ec_key = public_key(private_key("dsse-a"), "a.pub")
    rsa_key = public_key(private_key("dsse-a", "rsa"), "r.pub")
    ed_key = public_key(private_key("dsse-a", "ed25519"), "e.pub")
    assert default_scheme(ec_key) is SignatureScheme.ECDSA_DER
    assert default_scheme(rsa_key) is SignatureScheme.RSA_PKCS1V15_SHA256
    assert default_scheme(ed_key) is SignatureScheme.ED25519


@pytest.mark.parametrize(
    ("kind", "scheme"),
    [
        ("p256", SignatureScheme.RSA_PSS_SHA256),
        ("rsa", SignatureScheme.ECDSA_RAW),
        ("ed25519", SignatureScheme.ECDSA_DER),
    ],
)
def test_a_scheme_that_does_not_fit_the_key_is_refused(kind: str, scheme: SignatureScheme) -> None:
    key = public_key(private_key("dsse-a", kind), "team.pub")
    with pytest.raises(InputError, match=rf"^team\.pub: signature scheme {scheme} does not fit"):
        DsseKey(key, scheme)


def test_raw_signature_of_the_wrong_width_fails() -> None:
    private = private_key("dsse-a")
    raw = sign(private, SignatureScheme.ECDSA_RAW, pae(PAYLOAD_TYPE, PAYLOAD))
    key = DsseKey(public_key(private, "a.pub"), SignatureScheme.ECDSA_RAW)
    for bad in (raw[:-1], raw + b"\x00", b"\x00" + raw[:-1], b""):
        assert not key.verify(bad, pae(PAYLOAD_TYPE, PAYLOAD))


def test_threshold_counts_distinct_keys_not_signatures() -> None:
    alice, bob = private_key("dsse-alice"), private_key("dsse-bob")
    keys = [public_key(alice, "alice.pub"), public_key(bob, "bob.pub")]
    message = pae(PAYLOAD_TYPE, PAYLOAD)
    twice_by_alice = envelope(
        sign(alice, SignatureScheme.ECDSA_DER, message),
        sign(alice, SignatureScheme.ECDSA_DER, message),
    )
    with pytest.raises(VerificationError, match="1 distinct trusted key"):
        verify_envelope(twice_by_alice, keys, threshold=2)
    assert verify_envelope(twice_by_alice, keys) == (keys[0],)
    both = envelope(
        sign(bob, SignatureScheme.ECDSA_DER, message),
        sign(alice, SignatureScheme.ECDSA_DER, message),
    )
    assert verify_envelope(both, keys, threshold=2) == (keys[1], keys[0])


def test_the_same_key_listed_twice_counts_once() -> None:
    alice = private_key("dsse-alice")
    key = public_key(alice, "alice.pub")
    signed = envelope(sign(alice, SignatureScheme.ECDSA_DER, pae(PAYLOAD_TYPE, PAYLOAD)))
    with pytest.raises(VerificationError):
        verify_envelope(signed, [key, public_key(alice, "alice-again.pub")], threshold=2)


def test_untrusted_signers_are_not_counted() -> None:
    trusted, stranger = private_key("dsse-alice"), private_key("dsse-mallory")
    message = pae(PAYLOAD_TYPE, PAYLOAD)
    signed = envelope(
        sign(stranger, SignatureScheme.ECDSA_DER, message),
        sign(trusted, SignatureScheme.ECDSA_DER, message),
    )
    trusted_key = public_key(trusted, "alice.pub")
    assert verify_envelope(signed, [trusted_key]) == (trusted_key,)
    with pytest.raises(VerificationError, match="1 distinct trusted key"):
        verify_envelope(signed, [trusted_key], threshold=2)


def test_keyid_is_only_a_hint() -> None:
    trusted, stranger = private_key("dsse-alice"), private_key("dsse-mallory")
    trusted_key = public_key(trusted, "alice.pub")
    message = pae(PAYLOAD_TYPE, PAYLOAD)
    # A wrong keyid does not stop a valid signature from counting...
    wrong_hint = Envelope(
        PAYLOAD_TYPE,
        PAYLOAD,
        (EnvelopeSignature(sign(trusted, SignatureScheme.ECDSA_DER, message), "nobody"),),
    )
    assert verify_envelope(wrong_hint, [trusted_key]) == (trusted_key,)
    # ...and naming a trusted key does not make a stranger's signature count.
    claimed = Envelope(
        PAYLOAD_TYPE,
        PAYLOAD,
        (
            EnvelopeSignature(
                sign(stranger, SignatureScheme.ECDSA_DER, message), trusted_key.fingerprint
            ),
        ),
    )
    with pytest.raises(VerificationError):
        verify_envelope(claimed, [trusted_key])


def test_no_trusted_keys_fails_closed() -> None:
    signed = envelope(b"sig")
    with pytest.raises(VerificationError, match="no trusted keys"):
        verify_envelope(signed, [])


def test_verification_error_is_one_line_naming_the_source() -> None:
    key = public_key(private_key("dsse-alice"), "alice.pub")
    with pytest.raises(VerificationError) as caught:
        verify_envelope(envelope(b"junk"), [key], source="attestation layer 1")
    text = str(caught.value)
    assert text.startswith("attestation layer 1: 0 distinct trusted key(s) signed, 1 required")
    assert "\n" not in text


def test_threshold_below_one_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="threshold"):
        verify_envelope(envelope(b"sig"), [], threshold=0)


def test_tampered_payload_fails() -> None:
    private = private_key("dsse-a")
    signature = sign(private, SignatureScheme.ECDSA_DER, pae(PAYLOAD_TYPE, PAYLOAD))
    tampered = Envelope(PAYLOAD_TYPE, PAYLOAD + b" ", (EnvelopeSignature(signature),))
    with pytest.raises(VerificationError):
        verify_envelope(tampered, [public_key(private, "a.pub")])
