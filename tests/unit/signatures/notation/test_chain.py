"""Chains, trust anchors, identities, timestamps and levels (``gate.signatures.notation.chain``)."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID

from gate.errors import PolicyError
from gate.signatures.notation.authority import VerificationLevel
from gate.signatures.notation.chain import (
    REVOCATION_NOTE,
    VerifyTimestamp,
    check_signing_time,
    evaluate_trust,
    find_trust_anchor,
    match_identity,
    parse_distinguished_name,
    parse_trusted_identities,
    validate_certificate_chain,
    verify_timestamp_token,
)
from gate.signatures.notation.envelope import (
    COSE_MEDIA_TYPE,
    JWS_MEDIA_TYPE,
    Check,
    NotationError,
    SignatureEnvelope,
    open_envelope,
)
from tests.unit.signatures.notation.signing import (
    NOW,
    SUBJECT,
    Cert,
    Spec,
    TokenSpec,
    cose,
    cose_signature,
    ec_key,
    jws,
    jws_signature,
    make_cert,
    pki,
    rsa_key,
    timestamp_token,
    trust_for,
    tsa_pki,
    with_timestamp,
)

LEVELS = (VerificationLevel.STRICT, VerificationLevel.PERMISSIVE, VerificationLevel.AUDIT)


def _open(spec: Spec) -> SignatureEnvelope:
    return open_envelope(jws(spec), JWS_MEDIA_TYPE, source="sig")


def _chain_error(*certs: Cert) -> str:
    with pytest.raises(NotationError) as caught:
        validate_certificate_chain([c.certificate for c in certs])
    assert caught.value.check is Check.INTEGRITY
    return str(caught.value)


# -- chain requirements ------------------------------------------------------------------------


def test_a_proper_chain_and_a_single_self_signed_leaf_are_valid() -> None:
    validate_certificate_chain([c.certificate for c in pki().chain])
    validate_certificate_chain([make_cert(SUBJECT, ec_key(1)).certificate])


def test_chain_out_of_order_or_incomplete_is_refused() -> None:
    p = pki()
    assert "not issued by the next one" in _chain_error(p.leaf, p.root, p.intermediate)
    assert "not self-signed" in _chain_error(p.leaf, p.intermediate)
    unrelated = pki(1)
    assert "not issued by the next one" in _chain_error(p.leaf, unrelated.intermediate, p.root)


def test_self_signed_leaf_above_nothing_but_followed_by_a_root_is_refused() -> None:
    p = pki()
    lone = make_cert(SUBJECT, ec_key(2))
    assert "leaf certificate" in _chain_error(lone, p.root)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ca": True, "key_usage": "ca"}, "cA=true"),
        ({"key_usage": None}, "no key usage"),
        ({"key_usage_critical": False}, "must be critical"),
        ({"key_usage": "encipher"}, "keyEncipherment"),
        ({"ekus": (ExtendedKeyUsageOID.SERVER_AUTH,)}, "serverAuth"),
        ({"ekus": (ExtendedKeyUsageOID.TIME_STAMPING,)}, "timeStamping"),
        ({"ekus": (ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,)}, "anyExtendedKeyUsage"),
        ({"signature_hash": hashes.SHA224()}, "sha224"),
    ],
)
def test_leaf_requirements(kwargs: dict[str, object], message: str) -> None:
    p = pki()
    leaf = make_cert(SUBJECT, ec_key(3), issuer=p.intermediate, **kwargs)  # type: ignore[arg-type]  # test parameters
    assert message in _chain_error(leaf, p.intermediate, p.root)


def test_small_rsa_leaf_keys_are_refused() -> None:
    leaf = make_cert(SUBJECT, rsa_key(1024))
    assert "RSA key of 1024 bits" in _chain_error(leaf)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ca": False, "key_usage": "ca"}, "cA=true"),
        ({"ca": None, "key_usage": "ca"}, "cA=true"),
        (
            {"ca": True, "ca_critical": False, "key_usage": "ca"},
            "basic constraints must be critical",
        ),
        ({"ca": True, "key_usage": "sign"}, "keyCertSign"),
    ],
)
def test_intermediate_requirements(kwargs: dict[str, object], message: str) -> None:
    p = pki()
    intermediate = make_cert(
        "C=US,ST=WA,O=Notary,CN=Bad Intermediate",
        ec_key(4),
        issuer=p.root,
        **kwargs,  # type: ignore[arg-type]  # test parameters
    )
    leaf = make_cert(SUBJECT, ec_key(5), issuer=intermediate)
    assert message in _chain_error(leaf, intermediate, p.root)


def test_path_length_constraint_is_enforced() -> None:
    p = pki()  # the intermediate has pathLen 0
    sub = make_cert(
        "C=US,ST=WA,O=Notary,CN=Sub", ec_key(6), issuer=p.intermediate, ca=True, key_usage="ca"
    )
    leaf = make_cert(SUBJECT, ec_key(7), issuer=sub)
    assert "path length constraint 0" in _chain_error(leaf, sub, p.intermediate, p.root)


# -- authenticity --------------------------------------------------------------------------------


def test_chain_material_is_never_an_anchor() -> None:
    p = pki()
    # The envelope carries its own root; the trust store has another root of the same name.
    impostor = make_cert("C=US,ST=WA,O=Notary,CN=Root 0", ec_key(50), ca=True, key_usage="ca")
    assert impostor.certificate.subject == p.root.certificate.subject
    chain = [c.certificate for c in p.chain]
    with pytest.raises(NotationError) as caught:
        find_trust_anchor(chain, [impostor.trusted("ca:impostor")])
    assert caught.value.check is Check.AUTHENTICITY
    assert "does not contain any trusted certificate (trust store: ca:impostor)" in str(
        caught.value
    )
    assert find_trust_anchor(chain, [p.root.trusted("ca:root")]).label == "ca:root"
    # A trusted intermediate is an anchor too (notation compares every chain certificate).
    assert find_trust_anchor(chain, [p.intermediate.trusted("ca:int")]).label == "ca:int"


def test_empty_trust_store_fails_authenticity() -> None:
    with pytest.raises(NotationError, match="no trusted certificates"):
        find_trust_anchor([pki().leaf.certificate], [])


@pytest.mark.parametrize(
    ("identity", "matches"),
    [
        ("x509.subject: C=US, ST=WA, O=Notary", True),
        ("x509.subject:C=US,S=WA,O=Notary,CN=gate-test", True),
        ("x509.subject:C=US,ST=WA,O=Notary,L=Seattle,CN=gate-test", True),
        ("x509.subject:C=US,ST=WA,O=Notary,CN=gate-test-2", False),
        ("x509.subject:C=US,ST=WA,O=notary", False),
        ("x509.subject:C=US,ST=WA,O=Notary,OU=Team", False),
    ],
)
def test_trusted_identity_is_an_rdn_subset_match(identity: str, matches: bool) -> None:
    leaf = pki().leaf.certificate
    identities = parse_trusted_identities([identity])
    if matches:
        assert match_identity(leaf, identities).text == identity.strip()
    else:
        with pytest.raises(NotationError) as caught:
            match_identity(leaf, identities)
        assert caught.value.check is Check.AUTHENTICITY
        assert "matches no trusted identity" in str(caught.value)


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([], "at least one"),
        (["x509.subject:CN=only"], "must contain C, ST, O at least"),
        (["x509.subject:C=US,ST=WA,O=A+OU=B"], "multi-valued"),
        (["x509.subject:C=US,ST=WA,O=A,O=B"], "O appears twice"),
        (["x509.subject:C=US,ST=WA,O=#0403"], "=#"),
        (["email:someone@example.com"], "or start with"),
        (["*", "x509.subject:C=US,ST=WA,O=A"], "must be the only"),
        (["x509.subject:C=US,ST=WA,O=A", "x509.subject:C=US,ST=WA,O=A,CN=x"], "overlap"),
        (["x509.subject:C=US,ST=WA,O=A", "x509.subject:C=US,S=WA,O=A"], "overlap"),
    ],
)
def test_invalid_trusted_identities_are_policy_errors(entries: list[str], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_trusted_identities(entries)


def test_identities_outside_notation_rules_are_accepted_by_the_gate() -> None:
    # The gate's policy format allows DNs without ST, and overlapping identities.
    entries = ["x509.subject: C=US, O=Notary, CN=gate-test", "x509.subject: C=US, O=Notary"]
    with pytest.raises(PolicyError):
        parse_trusted_identities(entries)
    identities = parse_trusted_identities(entries, notation_rules=False)
    assert match_identity(pki().leaf.certificate, identities) == identities[0]
    p = pki()
    trust = trust_for(p.root, identities=["x509.subject: C=US, O=Notary, CN=gate-test"])
    assert evaluate_trust(_open(Spec(p.chain)), trust, now=NOW).identity is not None


def test_distinguished_name_escapes() -> None:
    parsed = parse_distinguished_name(r"C=US, ST=WA, O=Acme\, Inc., CN=a\2Bb\ ")
    assert parsed == {"C": "US", "ST": "WA", "O": "Acme, Inc.", "CN": "a+b "}


# -- timestamps ---------------------------------------------------------------------------------


def _expired_leaf() -> tuple[Cert, Cert]:
    """A root and a leaf that expired a day before NOW (was valid a month ago)."""
    root = make_cert("C=US,ST=WA,O=Notary,CN=Old Root", ec_key(60), ca=True, key_usage="ca")
    leaf = make_cert(
        SUBJECT,
        ec_key(61),
        issuer=root,
        not_before=NOW - timedelta(days=60),
        not_after=NOW - timedelta(days=1),
    )
    return root, leaf


def _stamped(
    leaf: Cert, root: Cert, *, cose_format: bool = False, **token: Any
) -> SignatureEnvelope:
    """An envelope by ``leaf`` countersigned by the test TSA (``token`` changes the token).

    The token sits in the unprotected header, so it is added after signing.
    """
    _, tsa = tsa_pki()
    spec = Spec([leaf, root], signing_time=NOW - timedelta(days=30))
    if cose_format:
        data, media_type = cose(spec), COSE_MEDIA_TYPE
        signature = cose_signature(data)
    else:
        data, media_type = jws(spec), JWS_MEDIA_TYPE
        signature = jws_signature(data)
    message = token.pop("message", signature)
    assert isinstance(message, bytes)
    token_spec = TokenSpec(tsa, gen_time=NOW - timedelta(days=30))
    for key, value in token.items():
        setattr(token_spec, key, value)
    stamped = with_timestamp(data, timestamp_token(message, token_spec))
    return open_envelope(stamped, media_type, source="stamped")


@pytest.mark.parametrize("cose_format", [False, True])
def test_expired_signer_is_accepted_with_an_authentic_timestamp(cose_format: bool) -> None:
    root, leaf = _expired_leaf()
    tsa_root, _ = tsa_pki()
    envelope = _stamped(leaf, root, cose_format=cose_format)
    outcome = evaluate_trust(envelope, trust_for(root, tsa=[tsa_root]), now=NOW)
    assert outcome.timestamp is not None
    assert outcome.timestamp.time == NOW - timedelta(days=30)
    assert any("expired at" in note and "valid when signing" in note for note in outcome.notes)
    assert outcome.notes[-1] == REVOCATION_NOTE


def test_expired_signer_without_tsa_roots_is_refused_at_strict() -> None:
    root, leaf = _expired_leaf()
    envelope = _stamped(leaf, root)
    with pytest.raises(NotationError) as caught:
        evaluate_trust(envelope, trust_for(root), now=NOW)
    assert caught.value.check is Check.AUTHENTIC_TIMESTAMP
    assert "expired at" in str(caught.value)
    # permissive and audit only log the authentic-timestamp failure
    for level in LEVELS[1:]:
        outcome = evaluate_trust(envelope, trust_for(root, level=level), now=NOW)
        assert any(note.startswith("authenticTimestamp not enforced") for note in outcome.notes)


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ({"gen_time": NOW - timedelta(hours=12)}, "may be after certificate"),
        ({"gen_time": NOW - timedelta(days=90)}, "may be before certificate"),
        ({"message": b"another signature"}, "message imprint is not the hash"),
        ({"signing_certificate": False}, "signing-certificate-v2 is missing"),
        ({"corrupt_signature": True}, "does not verify"),
        ({"content_type": "1.2.840.113549.1.7.1"}, "content-type attribute is not TSTInfo"),
    ],
)
def test_bad_timestamps_are_refused(token: dict[str, Any], message: str) -> None:
    root, leaf = _expired_leaf()
    tsa_root, _ = tsa_pki()
    envelope = _stamped(leaf, root, **token)
    with pytest.raises(NotationError) as caught:
        evaluate_trust(envelope, trust_for(root, tsa=[tsa_root]), now=NOW)
    assert caught.value.check is Check.AUTHENTIC_TIMESTAMP
    assert message in str(caught.value)


def test_timestamp_from_an_untrusted_tsa_is_refused() -> None:
    root, leaf = _expired_leaf()
    other_root = make_cert("C=US,ST=WA,O=TSA,CN=Other", ec_key(70), ca=True, key_usage="ca")
    envelope = _stamped(leaf, root)
    with pytest.raises(NotationError, match="does not chain to a trusted TSA root"):
        evaluate_trust(envelope, trust_for(root, tsa=[other_root]), now=NOW)


def test_tsa_certificate_must_be_timestamping_only_and_critical() -> None:
    tsa_root, _ = tsa_pki()
    lax = make_cert(
        "C=US,ST=WA,O=TSA,CN=Lax TSA",
        ec_key(71),
        issuer=tsa_root,
        ekus=(ExtendedKeyUsageOID.TIME_STAMPING,),
        eku_critical=False,
    )
    signature = b"some signature"
    token = timestamp_token(signature, TokenSpec(lax))
    with pytest.raises(NotationError, match="must be present and critical"):
        verify_timestamp_token(token, signature, [tsa_root.trusted()])


def test_timestamp_token_garbage_is_refused_cleanly() -> None:
    tsa_root, tsa = tsa_pki()
    signature = b"some signature"
    token = timestamp_token(signature, TokenSpec(tsa))
    assert verify_timestamp_token(token, signature, [tsa_root.trusted()]).tsa.startswith("CN=TSA")
    for cut in range(0, len(token), 7):
        with pytest.raises(NotationError) as caught:
            verify_timestamp_token(token[:cut], signature, [tsa_root.trusted()])
        assert caught.value.check is Check.AUTHENTIC_TIMESTAMP
    indefinite = b"\x30\x80" + token[2:]
    with pytest.raises(NotationError, match="indefinite"):
        verify_timestamp_token(indefinite, signature, [tsa_root.trusted()])


def test_missing_timestamp_when_tsa_roots_are_configured() -> None:
    p = pki()
    tsa_root, _ = tsa_pki()
    envelope = _open(Spec(p.chain))
    with pytest.raises(NotationError, match="no timestamp countersignature"):
        evaluate_trust(envelope, trust_for(p.root, tsa=[tsa_root]), now=NOW)
    # afterCertExpiry: the chain is valid now, so no timestamp is needed
    outcome = evaluate_trust(
        envelope,
        trust_for(p.root, tsa=[tsa_root]),
        now=NOW,
        verify_timestamp=VerifyTimestamp.AFTER_CERT_EXPIRY,
    )
    assert outcome.timestamp is None


def test_not_yet_valid_chain_is_refused_without_timestamp() -> None:
    p = pki()
    envelope = _open(Spec(p.chain))
    with pytest.raises(NotationError, match="not valid yet"):
        check_signing_time(envelope, (), now=NOW - timedelta(days=400))


def test_signing_authority_time_must_lie_in_the_chain_validity() -> None:
    p = pki()
    spec = Spec(
        p.chain,
        scheme="notary.x509.signingAuthority",
        signing_time=None,
        authentic_signing_time=NOW - timedelta(days=1),
    )
    authority = trust_for(signing_authorities=[p.root])
    outcome = evaluate_trust(_open(spec), authority, now=NOW + timedelta(days=3650))
    assert outcome.anchor is not None  # long after expiry: the authentic signing time counts
    spec.authentic_signing_time = NOW - timedelta(days=400)
    with pytest.raises(NotationError, match="not valid at the authentic signing time"):
        evaluate_trust(_open(spec), authority, now=NOW)


def test_a_plain_ca_is_not_trusted_for_signing_authority_signatures() -> None:
    p = pki()
    spec = Spec(
        p.chain,
        scheme="notary.x509.signingAuthority",
        signing_time=None,
        authentic_signing_time=NOW - timedelta(days=1),
    )
    with pytest.raises(NotationError, match="no trusted certificates are configured"):
        evaluate_trust(_open(spec), trust_for(p.root), now=NOW)


# -- levels -----------------------------------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
def test_expiry_per_level(level: VerificationLevel) -> None:
    p = pki()
    envelope = _open(Spec(p.chain, expiry=NOW - timedelta(minutes=1)))
    trust = trust_for(p.root, level=level)
    if level is VerificationLevel.STRICT:
        with pytest.raises(NotationError) as caught:
            evaluate_trust(envelope, trust, now=NOW)
        assert caught.value.check is Check.EXPIRY
        assert "signature expired at" in str(caught.value)
    else:
        outcome = evaluate_trust(envelope, trust, now=NOW)
        assert any(
            note.startswith(f"expiry not enforced ({level.value})") for note in outcome.notes
        )


def test_expiry_bound_is_exclusive_of_the_expiry_instant() -> None:
    p = pki()
    expiry = NOW + timedelta(hours=1)
    envelope = _open(Spec(p.chain, expiry=expiry))
    evaluate_trust(envelope, trust_for(p.root), now=expiry - timedelta(seconds=1))
    with pytest.raises(NotationError, match="expired"):
        evaluate_trust(envelope, trust_for(p.root), now=expiry)


@pytest.mark.parametrize("level", LEVELS)
def test_untrusted_signer_per_level(level: VerificationLevel) -> None:
    p = pki()
    envelope = _open(Spec(p.chain))
    trust = trust_for(pki(1).root, level=level)
    if level is VerificationLevel.AUDIT:
        outcome = evaluate_trust(envelope, trust, now=NOW)
        assert outcome.anchor is None
        assert outcome.notes[0].startswith("authenticity not enforced (audit)")
    else:
        with pytest.raises(NotationError) as caught:
            evaluate_trust(envelope, trust, now=NOW)
        assert caught.value.check is Check.AUTHENTICITY


@pytest.mark.parametrize("level", LEVELS)
def test_identity_mismatch_per_level(level: VerificationLevel) -> None:
    p = pki()
    envelope = _open(Spec(p.chain))
    trust = trust_for(p.root, identities=["x509.subject:C=US,ST=WA,O=Other"], level=level)
    if level is VerificationLevel.AUDIT:
        assert "matches no trusted identity" in evaluate_trust(envelope, trust, now=NOW).notes[0]
    else:
        with pytest.raises(NotationError, match="matches no trusted identity"):
            evaluate_trust(envelope, trust, now=NOW)


@pytest.mark.parametrize("level", LEVELS)
def test_integrity_of_the_chain_is_enforced_at_every_level(level: VerificationLevel) -> None:
    p = pki()
    envelope = _open(Spec([p.leaf, p.root, p.intermediate]))  # out of order
    with pytest.raises(NotationError) as caught:
        evaluate_trust(envelope, trust_for(p.root, level=level), now=NOW)
    assert caught.value.check is Check.INTEGRITY


def test_invalid_identity_configuration_is_a_policy_error() -> None:
    p = pki()
    envelope = _open(Spec(p.chain))
    with pytest.raises(PolicyError):
        evaluate_trust(envelope, trust_for(p.root, identities=["CN=x"]), now=NOW)


def test_mutated_timestamp_tokens_fail_only_with_notation_errors() -> None:
    tsa_root, tsa = tsa_pki()
    signature = b"some signature"
    original = timestamp_token(signature, TokenSpec(tsa))
    rng = random.Random("notation-token")  # noqa: S311 - reproducible test inputs
    checks: set[Check] = set()
    for _ in range(400):
        data = bytearray(original)
        position = rng.randrange(len(data))
        data[position] ^= 1 << rng.randrange(8)
        try:
            verify_timestamp_token(bytes(data), signature, [tsa_root.trusted()])
        except NotationError as exc:
            checks.add(exc.check)
    assert checks == {Check.AUTHENTIC_TIMESTAMP}
