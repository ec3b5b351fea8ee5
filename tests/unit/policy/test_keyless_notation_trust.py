"""``spec.trust.<name>.keyless`` and ``.notation``: what loads, and every mistake with its field."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gate.policy.loader import load_policy
from gate.signatures.keyless.authority import PUBLIC_GOOD
from gate.signatures.notation.authority import VerificationLevel
from tests.unit.policy.support import error_lines, policy_text, write_policy

ISSUER = "https://token.actions.githubusercontent.com"
WORKFLOW = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main"


def _spec(name: str, block: str) -> str:
    return (
        f"trust:\n  ci:\n    {name}: {block}\n"
        "rules:\n  - name: all\n    match: {images: ['**']}\n    signatures: {anyOf: [ci]}\n"
    )


def _ca_pem(common_name: str = "Acme Root") -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def test_keyless_identity_loads_with_the_public_good_root(tmp_path: Path) -> None:
    text = policy_text(_spec("keyless", f"{{issuer: '{ISSUER}', subject: '{WORKFLOW}'}}"))
    authority = load_policy(write_policy(tmp_path, text)).trust["ci"]
    keyless = authority.keyless
    assert keyless is not None
    assert authority.kinds == ("keyless",)
    assert keyless.root_label == PUBLIC_GOOD
    assert keyless.require_tlog is True
    assert keyless.matches(WORKFLOW, ISSUER)
    assert not keyless.matches(WORKFLOW + "x", ISSUER)


def test_keyless_regular_expressions_are_anchored(tmp_path: Path) -> None:
    block = (
        f"{{issuer: '{ISSUER}', subjectRegExp: 'https://github\\.com/acme/[^/]+/.+', "
        "requireTlog: false}"
    )
    keyless = (
        load_policy(write_policy(tmp_path, policy_text(_spec("keyless", block))))
        .trust["ci"]
        .keyless
    )
    assert keyless is not None
    assert keyless.require_tlog is False
    assert keyless.matches(WORKFLOW, ISSUER)
    assert not keyless.matches("https://evil.example/?https://github.com/acme/app/x", ISSUER)


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        (f"{{issuer: '{ISSUER}'}}", 'missing "subject" (or "subjectRegExp")'),
        (f"{{subject: '{WORKFLOW}'}}", 'missing "issuer" (or "issuerRegExp")'),
        (
            f"{{issuer: '{ISSUER}', subject: a, subjectRegExp: b}}",
            "keyless.subjectRegExp: give subject or subjectRegExp, not both",
        ),
        (f"{{issuer: '{ISSUER}', subjectRegExp: '(unclosed'}}", "not a regular expression"),
        (
            f"{{issuer: '{ISSUER}', subject: a, trustedRoot: missing.json}}",
            "keyless.trustedRoot",
        ),
        (f"{{issuer: '{ISSUER}', subject: a, requireTlog: 'yes'}}", "keyless.requireTlog"),
    ],
)
def test_keyless_mistakes_name_the_field(tmp_path: Path, block: str, expected: str) -> None:
    path = write_policy(tmp_path, policy_text(_spec("keyless", block)))
    lines = error_lines(path)
    assert any(expected in line for line in lines), lines


def test_notation_block_loads(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_bytes(_ca_pem() + _ca_pem("Acme Signing Authority"))
    (tmp_path / "tsa.pem").write_bytes(_ca_pem("Acme TSA"))
    block = (
        "{trustStore: [ca.pem], trustedIdentities: ['x509.subject: C=US, O=Acme, CN=release'], "
        "verificationLevel: permissive, tsaRoots: [tsa.pem]}"
    )
    authority = load_policy(write_policy(tmp_path, policy_text(_spec("notation", block)))).trust[
        "ci"
    ]
    notation = authority.notation
    assert notation is not None
    assert authority.kinds == ("notation",)
    assert [c.label for c in notation.trust_store] == ["ca.pem", "ca.pem"]
    assert notation.verification_level is VerificationLevel.PERMISSIVE
    assert notation.trusted_identities == ("x509.subject: C=US, O=Acme, CN=release",)
    assert len(notation.tsa_roots) == 1


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ("{trustedIdentities: ['*']}", 'missing required field "trustStore"'),
        ("{trustStore: [ca.pem]}", 'missing required field "trustedIdentities"'),
        ("{trustStore: [nope.pem], trustedIdentities: ['*']}", "key file nope.pem not found"),
        ("{trustStore: [junk.pem], trustedIdentities: ['*']}", "junk.pem: not PEM certificates"),
        (
            "{trustStore: [ca.pem], trustedIdentities: ['CN=release']}",
            'write "x509.subject: <DN>"',
        ),
        (
            "{trustStore: [ca.pem], trustedIdentities: ['*', 'x509.subject: CN=a']}",
            '"*" trusts every identity; list it alone',
        ),
        (
            "{trustStore: [ca.pem], trustedIdentities: ['*'], verificationLevel: lax}",
            "notation.verificationLevel",
        ),
    ],
)
def test_notation_mistakes_name_the_field(tmp_path: Path, block: str, expected: str) -> None:
    (tmp_path / "ca.pem").write_bytes(_ca_pem())
    (tmp_path / "junk.pem").write_bytes(
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    )
    path = write_policy(tmp_path, policy_text(_spec("notation", block)))
    lines = error_lines(path)
    assert any(expected in line for line in lines), lines


def test_every_kind_in_one_authority_counts_one_signer_each(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_bytes(_ca_pem())
    text = policy_text(
        "trust:\n  ci:\n"
        f"    keyless: {{issuer: '{ISSUER}', subject: '{WORKFLOW}'}}\n"
        "    notation: {trustStore: [ca.pem], trustedIdentities: ['*']}\n"
        "rules:\n  - name: all\n    match: {images: ['**']}\n"
        "    signatures: {threshold: {count: 2, of: [ci]}}\n"
    )
    authority = load_policy(write_policy(tmp_path, text)).trust["ci"]
    assert authority.kinds == ("keyless", "notation")
    assert len(authority.possible_signers) == 2
