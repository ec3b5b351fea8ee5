"""JWS and COSE envelope parsing and signature checks (``gate.signatures.notation.envelope``)."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import cbor2
import pytest

from gate.oci.digest import Digest
from gate.signatures.notation.envelope import (
    COSE_MEDIA_TYPE,
    JWS_MEDIA_TYPE,
    MAX_ENVELOPE_SIZE,
    Check,
    NotationError,
    check_target,
    open_envelope,
    parse_envelope,
)
from tests.unit.signatures.notation.signing import (
    IMAGE_DIGEST,
    IMAGE_MANIFEST,
    IMAGE_MEDIA_TYPE,
    NOW,
    Spec,
    b64url,
    cose,
    cose_protected,
    ec_key,
    jws,
    make_cert,
    payload_for,
    pki,
    rsa_key,
)

Builder = Callable[[Spec], bytes]
FORMATS: list[tuple[str, Builder, str]] = [
    ("jws", jws, JWS_MEDIA_TYPE),
    ("cose", cose, COSE_MEDIA_TYPE),
]


def _rejected(data: bytes, media_type: str) -> NotationError:
    with pytest.raises(NotationError) as caught:
        open_envelope(data, media_type, source="test envelope")
    assert caught.value.check is Check.INTEGRITY
    assert "\n" not in str(caught.value)
    return caught.value


@pytest.mark.parametrize(("fmt", "build", "media_type"), FORMATS)
def test_a_well_formed_envelope_opens(fmt: str, build: Builder, media_type: str) -> None:
    chain = pki().chain
    envelope = open_envelope(build(Spec(chain)), media_type, source="sig")
    assert envelope.algorithm.name == "ES256"
    assert envelope.target.digest == IMAGE_DIGEST
    assert envelope.leaf == chain[0].certificate
    assert len(envelope.certificate_chain) == 3
    assert envelope.signing_agent == "gate-tests"
    check_target(
        envelope, digest=IMAGE_DIGEST, size=len(IMAGE_MANIFEST), media_type=IMAGE_MEDIA_TYPE
    )


@pytest.mark.parametrize(("fmt", "build", "media_type"), FORMATS)
def test_rsa_pss_envelopes_open(fmt: str, build: Builder, media_type: str) -> None:
    leaf = make_cert("C=US,ST=WA,O=Notary,CN=rsa", rsa_key(2048))
    assert open_envelope(build(Spec([leaf])), media_type).algorithm.name == "PS256"


@pytest.mark.parametrize(("fmt", "build", "media_type"), FORMATS)
def test_unknown_critical_header_makes_the_signature_invalid(
    fmt: str, build: Builder, media_type: str
) -> None:
    spec = Spec(
        pki().chain,
        extra_protected={"io.example.mustUnderstand": "yes"},
        crit=["io.cncf.notary.signingScheme", "io.example.mustUnderstand"],
    )
    error = _rejected(build(spec), media_type)
    assert "unknown critical header 'io.example.mustUnderstand'" in str(error)


@pytest.mark.parametrize(("fmt", "build", "media_type"), FORMATS)
def test_unknown_non_critical_header_is_ignored(fmt: str, build: Builder, media_type: str) -> None:
    spec = Spec(pki().chain, extra_protected={"io.example.note": "hello"})
    open_envelope(build(spec), media_type)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"crit": ["io.cncf.notary.signingScheme", "io.cncf.notary.absent"]}, "not present"),
        ({"crit": []}, "protected.crit: empty"),
        ({"expiry": NOW + timedelta(days=1), "crit": ["io.cncf.notary.signingScheme"]}, "expiry"),
        ({"crit": ["io.cncf.notary.signingScheme", "io.cncf.notary.signingScheme"]}, "twice"),
        ({"scheme": "notary.default.x509"}, "unsupported signing scheme"),
        ({"content_type": "application/json"}, "payload content type"),
        ({"signing_time": None}, "signingTime: required"),
        ({"expiry": NOW - timedelta(days=2)}, "expiry is not after the signing time"),
        (
            {
                "extra_protected": {"io.cncf.notary.verificationPlugin": "acme"},
                "crit": ["io.cncf.notary.signingScheme", "io.cncf.notary.verificationPlugin"],
            },
            "verification plugin",
        ),
        ({"extra_protected": {"io.cncf.notary.verificationPlugin": "acme"}}, "plugin"),
        (
            {"scheme": "notary.x509.signingAuthority", "crit": ["io.cncf.notary.signingScheme"]},
            "signingTime: not allowed",
        ),
        (
            {
                "scheme": "notary.x509.signingAuthority",
                "signing_time": None,
                "authentic_signing_time": NOW,
                "crit": ["io.cncf.notary.signingScheme"],
            },
            "authenticSigningTime not listed",
        ),
        ({"authentic_signing_time": NOW}, "authenticSigningTime: not allowed"),
    ],
)
@pytest.mark.parametrize(("fmt", "build", "media_type"), FORMATS)
def test_header_rules(
    fmt: str, build: Builder, media_type: str, change: dict[str, Any], message: str
) -> None:
    spec = Spec(pki().chain)
    for key, value in change.items():
        setattr(spec, key, value)
    assert message in str(_rejected(build(spec), media_type))


@pytest.mark.parametrize(("fmt", "build", "media_type"), FORMATS)
def test_algorithm_must_match_the_signing_key(fmt: str, build: Builder, media_type: str) -> None:
    # Header claims ES384 for a P-256 key: algorithm substitution.
    error = _rejected(build(Spec(pki().chain, alg="ES384")), media_type)
    assert "does not match the signing key, which requires ES256" in str(error)


@pytest.mark.parametrize("alg", ["none", "HS256", "RS256", "EdDSA"])
def test_jws_algorithms_outside_notation_are_refused(alg: str) -> None:
    error = _rejected(jws(Spec(pki().chain, alg=alg)), JWS_MEDIA_TYPE)
    assert "not allowed" in str(error)


@pytest.mark.parametrize(("fmt", "build", "media_type"), FORMATS)
def test_signature_by_another_key_is_refused(fmt: str, build: Builder, media_type: str) -> None:
    error = _rejected(build(Spec(pki().chain, signer=ec_key(99))), media_type)
    assert "signature does not verify" in str(error)


def test_jws_payload_swapped_after_signing_is_refused() -> None:
    document = json.loads(jws(Spec(pki().chain)))
    other = Digest.of(b"another image")
    document["payload"] = b64url(payload_for(other))
    error = _rejected(json.dumps(document).encode(), JWS_MEDIA_TYPE)
    assert "signature does not verify" in str(error)


def test_cose_payload_swapped_after_signing_is_refused() -> None:
    message = cbor2.loads(cose(Spec(pki().chain)))
    body = list(message.value)
    body[2] = payload_for(Digest.of(b"another image"))
    tampered = cbor2.dumps(cbor2.CBORTag(18, body))
    assert "signature does not verify" in str(_rejected(tampered, COSE_MEDIA_TYPE))


def _jws_doc() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(jws(Spec(pki().chain)))
    return document


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("header"), "header: missing"),
        (lambda d: d["header"].pop("x5c"), "certificate chain missing"),
        (lambda d: d["header"].update(x5c=[]), "certificate chain missing"),
        (lambda d: d["header"].update(x5c=["!!!"]), "not valid base64"),
        (
            lambda d: d["header"].update(x5c=[base64.b64encode(b"junk").decode()]),
            "not a usable DER",
        ),
        (lambda d: d.update(signatures=[]), "flattened"),
        (lambda d: d.update(extra=1), "unexpected member"),
        (lambda d: d.update(protected=d["protected"] + "="), "not unpadded base64url"),
        (lambda d: d.update(signature=""), "signature: empty"),
        (lambda d: d.update(protected=b64url(b"[1]")), "not a JSON object"),
        (lambda d: d["header"].update(alg="ES256"), "both the protected and the unprotected"),
        (
            lambda d: d["header"].update({"io.cncf.notary.timestampSignature": "%%"}),
            "not valid base64",
        ),
    ],
)
def test_malformed_jws_is_refused(mutate: Callable[[dict[str, Any]], Any], message: str) -> None:
    document = _jws_doc()
    mutate(document)
    assert message in str(_rejected(json.dumps(document).encode(), JWS_MEDIA_TYPE))


def test_jws_duplicate_protected_keys_are_refused() -> None:
    document = _jws_doc()
    raw = base64.urlsafe_b64decode(document["protected"] + "==").decode()
    document["protected"] = b64url(raw.replace('{"alg"', '{"alg": "ES256", "alg"', 1).encode())
    assert "duplicate key 'alg'" in str(_rejected(json.dumps(document).encode(), JWS_MEDIA_TYPE))


def test_payload_keys_differing_only_in_case_are_refused() -> None:
    # Go reads "TargetArtifact" into the same field; the last one would win there.
    other = json.loads(payload_for(Digest.of(b"other")))["targetArtifact"]
    ours = json.loads(payload_for())["targetArtifact"]
    payload = json.dumps({"targetArtifact": ours, "TargetArtifact": other}).encode()
    error = _rejected(jws(Spec(pki().chain, payload=payload)), JWS_MEDIA_TYPE)
    assert "differ only in case" in str(error)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"not json", "not valid JSON"),
        (b'{"target": {}}', "targetArtifact: missing"),
        (b'{"targetArtifact": {"mediaType": "x", "digest": "sha256:1", "size": 1}}', "digest"),
        (
            json.dumps(
                {"targetArtifact": {"mediaType": "x", "digest": str(IMAGE_DIGEST), "size": -1}}
            ).encode(),
            "size",
        ),
        (
            json.dumps(
                {"targetArtifact": {"mediaType": "x", "digest": str(IMAGE_DIGEST), "size": True}}
            ).encode(),
            "size",
        ),
    ],
)
def test_malformed_payloads_are_refused(payload: bytes, message: str) -> None:
    assert message in str(_rejected(jws(Spec(pki().chain, payload=payload)), JWS_MEDIA_TYPE))


def test_cose_string_times_are_refused() -> None:
    spec = Spec(pki().chain)
    spec.signing_time = None
    spec.extra_protected = {"io.cncf.notary.signingTime": cbor2.CBORTag(0, "2026-11-22T00:00:00Z")}
    error = _rejected(cose(spec), COSE_MEDIA_TYPE)
    assert "tag 1" in str(error)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (cbor2.dumps([1, 2, 3]), "not a tagged COSE_Sign1"),
        (cbor2.dumps(cbor2.CBORTag(98, [])), "not a tagged COSE_Sign1"),
        (cbor2.dumps(cbor2.CBORTag(18, [b"", {}, b""])), "array of 4"),
        (b"\xd2\x9f\xff", "not valid CBOR"),  # indefinite-length array
        (b"\xff", "not valid CBOR"),
    ],
)
def test_malformed_cose_is_refused(data: bytes, message: str) -> None:
    assert message in str(_rejected(data, COSE_MEDIA_TYPE))


def _cose_parts() -> list[Any]:
    parts: list[Any] = list(cbor2.loads(cose(Spec(pki().chain))).value)
    parts[1] = dict(parts[1])  # decoded as an immutable map inside the tag
    return parts


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: p.__setitem__(2, None), "detached payloads"),
        (lambda p: p.__setitem__(0, b""), "protected: missing"),
        (lambda p: p[1].pop(33), "x5chain"),
        (lambda p: p[1].__setitem__(33, ["not bytes"]), "not a byte string"),
        (lambda p: p[1].__setitem__(1, -7), "both the protected and the unprotected"),
        (lambda p: p.__setitem__(3, b""), "signature: missing or empty"),
    ],
)
def test_malformed_cose_parts_are_refused(mutate: Callable[[list[Any]], Any], message: str) -> None:
    parts = _cose_parts()
    mutate(parts)
    data = cbor2.dumps(cbor2.CBORTag(18, parts))
    assert message in str(_rejected(data, COSE_MEDIA_TYPE))


def test_cose_trailing_bytes_and_duplicate_labels_are_refused() -> None:
    data = cose(Spec(pki().chain))
    assert "trailing" in str(_rejected(data + b"\x00", COSE_MEDIA_TYPE))
    # A protected map with label 3 twice (content type) written by hand.
    protected = cose_protected(Spec(pki().chain))
    assert protected[0] == 0xA5  # map of 5 entries
    duplicated = b"\xa6" + protected[1:] + cbor2.dumps(3)[0:1] + cbor2.dumps("application/json")
    error = _rejected(cose(Spec(pki().chain), protected=duplicated), COSE_MEDIA_TYPE)
    assert "not valid CBOR" in str(error)


def test_cose_single_certificate_as_byte_string_is_accepted() -> None:
    leaf = make_cert("C=US,ST=WA,O=Notary,CN=solo", ec_key(5))
    parts = list(cbor2.loads(cose(Spec([leaf]))).value)
    parts[1] = {**parts[1], 33: leaf.der}
    envelope = open_envelope(cbor2.dumps(cbor2.CBORTag(18, parts)), COSE_MEDIA_TYPE)
    assert len(envelope.certificate_chain) == 1


@pytest.mark.parametrize(("fmt", "build", "media_type"), FORMATS)
def test_truncated_envelopes_are_refused_cleanly(fmt: str, build: Builder, media_type: str) -> None:
    data = build(Spec(pki().chain))
    for cut in range(0, len(data), max(1, len(data) // 97)):
        with pytest.raises(NotationError) as caught:
            open_envelope(data[:cut], media_type)
        assert caught.value.check is Check.INTEGRITY


@pytest.mark.parametrize(("fmt", "build", "media_type"), FORMATS)
def test_huge_envelopes_are_refused_before_parsing(
    fmt: str, build: Builder, media_type: str
) -> None:
    data = build(Spec(pki().chain)) + b" " * MAX_ENVELOPE_SIZE
    assert "exceeds" in str(_rejected(data, media_type))


def test_unknown_media_type_is_refused() -> None:
    assert "unknown envelope media type" in str(
        _rejected(jws(Spec(pki().chain)), "application/json")
    )


def test_parse_does_not_verify_the_signature() -> None:
    data = jws(Spec(pki().chain, signer=ec_key(98)))
    envelope = parse_envelope(data, JWS_MEDIA_TYPE)
    assert envelope.target.digest == IMAGE_DIGEST


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"digest": Digest.of(b"another image")}, "digest"),
        ({"size": len(IMAGE_MANIFEST) + 1}, "size"),
        ({"media_type": "application/vnd.docker.distribution.manifest.v2+json"}, "mediaType"),
    ],
)
def test_target_must_be_this_artifact(kwargs: dict[str, Any], field: str) -> None:
    envelope = open_envelope(jws(Spec(pki().chain)), JWS_MEDIA_TYPE, source="sig")
    target: dict[str, Any] = {
        "digest": IMAGE_DIGEST,
        "size": len(IMAGE_MANIFEST),
        "media_type": IMAGE_MEDIA_TYPE,
    }
    target.update(kwargs)
    with pytest.raises(NotationError) as caught:
        check_target(envelope, **target)
    assert caught.value.field == f"payload.targetArtifact.{field}"
    assert caught.value.check is Check.INTEGRITY


@pytest.mark.parametrize(("fmt", "build", "media_type"), FORMATS)
def test_mutated_envelopes_fail_only_with_notation_errors(
    fmt: str, build: Builder, media_type: str
) -> None:
    # Seeded, so every run tries the same inputs: a typed one-line error or a clean pass.
    rng = random.Random(f"notation-{fmt}")  # noqa: S311 - reproducible test inputs
    original = build(Spec(pki().chain))
    failures: list[NotationError] = []
    for _ in range(400):
        data = bytearray(original)
        for _ in range(rng.randint(1, 3)):
            position = rng.randrange(len(data))
            if rng.random() < 0.7:
                data[position] = rng.randrange(256)
            else:
                del data[position : position + rng.randint(1, 40)]
        try:
            open_envelope(bytes(data), media_type)
        except NotationError as exc:
            failures.append(exc)
    assert all("\n" not in str(exc) for exc in failures)
