"""Real Sigstore bundles: every row of CASES.md section 1 (1a conformance suite, 1b other assets).

Each row is verified through ``gate.signatures.keyless.bundle`` and must reach
the verdict CASES.md expects, including the rows where sigstore-python 4.5.1
alone diverges (last column there): intoto/0.0.2 entries, the inclusive TSA
validity end, v0.1 bundles with only an inclusion promise, managed keys and
the DSSE subject check. For invalid rows where the reason matters (the
attack the row is about), the sentence is checked too. No row says "ref", so
no clock is injected: none of these verdicts depends on the current time.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from gate.errors import GateError, InputError
from gate.oci.digest import Digest
from gate.signatures.keyless.authority import IdentityPattern, KeylessTrust
from gate.signatures.keyless.bundle import (
    ENGINE_GATE,
    ENGINE_SIGSTORE,
    BundleVerification,
    verify_bundle,
    verify_bundle_with_key,
)
from gate.signatures.keys import load_public_key
from tests.support.realdata import real_fixtures

pytestmark = pytest.mark.conformance

BEACON = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
GITHUB_ACTIONS = "https://token.actions.githubusercontent.com"
GITHUB_OAUTH = "https://github.com/login/oauth"

#: CASES.md 1a, in table order. The directory suffix ``_fail`` means "invalid".
CONFORMANCE = (
    "bundle-empty-certificate-chain_fail",
    "bundle-from-wrong-instance_fail",
    "bundle-invalid-base64-signature_fail",
    "bundle-malformed-json_fail",
    "bundle-negative-log-index_fail",
    "bundle-unknown-version_fail",
    "bundle-with-root-cert_fail",
    "bundle-with-sct-with-extensions",
    "checkpoint-bad-keyhint_fail",
    "checkpoint-wrong-roothash_fail",
    "dsse-invalid-sig_fail",
    "dsse-mismatch-envelope_fail",
    "dsse-mismatch-sig_fail",
    "happy-path-intoto-in-dsse-v3",
    "happy-path-v0.1",
    "happy-path-v0.2",
    "happy-path-v0.3",
    "happy-path-v0.3-new-mediaType",
    "inclusion-proof-corrupted-hash_fail",
    "incorrect-public-key_fail",
    "integrated-time-in-future_fail",
    "intoto-expired-certificate_fail",
    "intoto-log-entry-mismatch_fail",
    "intoto-missing-inclusion-proof_fail",
    "intoto-set-outside-signing-cert-validity_fail",
    "intoto-tsa-timestamp-outside-cert-validity_fail",
    "intoto-with-custom-trust-root",
    "invalid-checkpoint-signature_fail",
    "invalid-ct-key_fail",
    "invalid-inclusion-proof_fail",
    "managed-key-and-trusted-root",
    "managed-key-happy-path",
    "managed-key-no-key_fail",
    "managed-key-wrong-key_fail",
    "message-digest-mismatch_fail",
    "rekor2-checkpoint-cosigned",
    "rekor2-checkpoint-missing-log-signature_fail",
    "rekor2-checkpoint-missing-origin_fail",
    "rekor2-checkpoint-missing-root-hash_fail",
    "rekor2-checkpoint-missing-size_fail",
    "rekor2-checkpoint-multiple-cosigs",
    "rekor2-checkpoint-no-matching-signature_fail",
    "rekor2-checkpoint-origin-not-first",
    "rekor2-checkpoint-two-sigs-cosigned",
    "rekor2-checkpoint-two-sigs-from-origin",
    "rekor2-dsse-happy-path",
    "rekor2-dsse-invalid-sig_fail",
    "rekor2-dsse-mismatch-envelope_fail",
    "rekor2-dsse-mismatch-sig_fail",
    "rekor2-happy-path",
    "rekor2-no-inclusion-proof_fail",
    "rekor2-no-timestamp_fail",
    "rekor2-timestamp-outside-trust-root-tsa-validity_fail",
    "rekor2-timestamp-outside-tsa-cert-validity_fail",
    "rekor2-timestamp-payload-mismatch_fail",
    "rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail",
    "rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail",
    "rekor2-timestamp-with-embedded-cert",
    "rekor2-timestamp-with-expired-cert-chain",
    "rekor2-timestamp-with-incorrect-time_fail",
    "rekor2-timestamp-without-embedded-cert",
    "set-invalid-signature_fail",
    "signature-mismatch_fail",
    "trust-root-tlog-missing-validity-start_fail",
    "trust-root-tlog-validity-end-inclusive",
    "trust-root-tsa-validity-end-inclusive",
    "wrong-hashedrekord-artifact_fail",
    "wrong-hashedrekord-cert-and-sig_fail",
    "wrong-hashedrekord-entry_fail",
    "wrong-material_fail",
)

#: Invalid rows whose reason is the point of the row (sigstore-python gives another or none).
REASONS = {
    "bundle-unknown-version_fail": "unknown or unsupported bundle media type",
    "bundle-with-root-cert_fail": "root certificate that is not a trust anchor",
    "bundle-negative-log-index_fail": "logIndex is negative",
    # The leaf's own validity (2030) does not contain the signing time (2023).
    "intoto-expired-certificate_fail": "does not chain to a Fulcio CA",
    "intoto-log-entry-mismatch_fail": "log entry signature is not the envelope's signature",
    "intoto-missing-inclusion-proof_fail": "needs an inclusion proof with a checkpoint",
    "intoto-set-outside-signing-cert-validity_fail": "does not chain to a Fulcio CA",
    "intoto-tsa-timestamp-outside-cert-validity_fail": "does not chain to a Fulcio CA",
    "invalid-inclusion-proof_fail": "needs an inclusion proof with a checkpoint",
    "managed-key-no-key_fail": "signed with a key, not a certificate",
    "managed-key-wrong-key_fail": "not a PEM public key",
    "message-digest-mismatch_fail": "message digest",
    "trust-root-tlog-missing-validity-start_fail": "tlogs[1].publicKey.validFor.start",
    "wrong-material_fail": "message digest",
}

#: Valid rows sigstore-python 4.5.1 gets wrong or cannot do, and which engine now decides them.
ENGINES = {
    "intoto-with-custom-trust-root": ENGINE_GATE,  # intoto/0.0.2
    "managed-key-and-trusted-root": ENGINE_GATE,  # no key-based verification upstream
    "managed-key-happy-path": ENGINE_GATE,
    "trust-root-tsa-validity-end-inclusive": ENGINE_SIGSTORE,  # with the closed-interval view
}


@pytest.fixture(scope="module")
def sigstore_dir() -> Path:
    return real_fixtures("signatures", "sigstore")


def test_every_conformance_directory_is_a_row(sigstore_dir: Path) -> None:
    directories = {p.name for p in (sigstore_dir / "conformance" / "bundle-verify").iterdir()}
    assert {
        d for d in directories if (sigstore_dir / "conformance" / "bundle-verify" / d).is_dir()
    } == set(CONFORMANCE)


def _verify_conformance_case(case: Path, default_artifact: Path) -> BundleVerification:
    """What the conformance runner does for one directory, through the gate's API."""
    artifact = case / "artifact" if (case / "artifact").exists() else default_artifact
    digest = Digest.of(artifact.read_bytes())
    root = case / "trusted_root.json" if (case / "trusted_root.json").exists() else None
    data = (case / "bundle.sigstore.json").read_bytes()
    if (case / "key.pub").exists():
        key = load_public_key((case / "key.pub").read_bytes(), label=str(case / "key.pub"))
        return verify_bundle_with_key(data, digest, key, trusted_root=root)
    subject = (case / "identity").read_text().strip() if (case / "identity").exists() else BEACON
    issuer = (case / "issuer").read_text().strip() if (case / "issuer").exists() else GITHUB_ACTIONS
    trust = KeylessTrust(IdentityPattern(subject), IdentityPattern(issuer), trusted_root=root)
    return verify_bundle(data, digest, trust)


@pytest.mark.parametrize("name", CONFORMANCE)
def test_sig_conf(sigstore_dir: Path, name: str) -> None:
    case = sigstore_dir / "conformance" / "bundle-verify" / name
    default_artifact = sigstore_dir / "conformance" / "a.txt"
    if name.endswith("_fail"):
        with pytest.raises(GateError) as raised:
            _verify_conformance_case(case, default_artifact)
        message = str(raised.value)
        assert "\n" not in message
        if name in REASONS:
            assert REASONS[name] in message
        if name in {"managed-key-wrong-key_fail", "trust-root-tlog-missing-validity-start_fail"}:
            # Rejected before any signature check: the key / trust root file itself is bad.
            assert isinstance(raised.value, InputError)
        return
    result = _verify_conformance_case(case, default_artifact)
    if name in ENGINES:
        assert result.engine == ENGINES[name]
    assert result.signed_times


# -- 1b: sigstore-python, sigstore-go and cosign assets ----------------------------------


def _trust(subject: str, issuer: str, root: Path | None, *, regexp: bool = False) -> KeylessTrust:
    return KeylessTrust(IdentityPattern(subject, regexp), IdentityPattern(issuer, regexp), root)


def _asset(sigstore_dir: Path, name: str) -> bytes:
    return (sigstore_dir / "sigstore-python" / name).read_bytes()


def _staging(sigstore_dir: Path) -> Path:
    return sigstore_dir / "trusted_root" / "staging.trusted_root.json"


@pytest.mark.parametrize(
    ("row", "files", "subject"),
    [
        ("SIG-SP-01", ("bundle.txt.sigstore", "bundle.txt"), "a@tny.town"),
        ("SIG-SP-02", ("bundle_v3.txt.sigstore", "bundle_v3.txt"), "william@yossarian.net"),
        ("SIG-SP-03", ("bundle_v3_alt.txt.sigstore", "bundle_v3_alt.txt"), "william@yossarian.net"),
        (
            "SIG-SP-08",
            ("staging-rekor-v2.txt.sigstore.json", "staging-rekor-v2.txt"),
            "jku@goto.fi",
        ),
    ],
)
def test_sig_sp_staging_happy_paths(
    sigstore_dir: Path, row: str, files: tuple[str, str], subject: str
) -> None:
    bundle, artifact = files
    result = verify_bundle(
        _asset(sigstore_dir, bundle),
        Digest.of(_asset(sigstore_dir, artifact)),
        _trust(subject, GITHUB_OAUTH, _staging(sigstore_dir)),
    )
    assert result.identity is not None
    assert result.identity.subject == subject, row


def test_sig_sp_04_cve_2022_36056(sigstore_dir: Path) -> None:
    # Any identity: the log entry belongs to other materials, whoever signed.
    with pytest.raises(GateError, match="inconsistent with other materials"):
        verify_bundle(
            _asset(sigstore_dir, "bundle_cve_2022_36056.txt.sigstore"),
            Digest.of(_asset(sigstore_dir, "bundle_cve_2022_36056.txt")),
            _trust(".*", ".*", _staging(sigstore_dir), regexp=True),
        )


RFC8785_RELEASE = (
    "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/"
)


@pytest.mark.parametrize(
    ("row", "subject", "issuer", "valid"),
    [
        ("SIG-SP-05", RFC8785_RELEASE + "v0.1.2", GITHUB_ACTIONS, True),
        ("SIG-SP-06", RFC8785_RELEASE + "v0.1.3", GITHUB_ACTIONS, False),
        ("SIG-SP-07", RFC8785_RELEASE + "v0.1.2", "https://accounts.google.com", False),
    ],
)
def test_sig_sp_05_07_github_release_identity(
    sigstore_dir: Path, row: str, subject: str, issuer: str, valid: bool
) -> None:
    data = _asset(sigstore_dir, "bundle_v3_github.whl.sigstore")
    artifact = Digest.of(_asset(sigstore_dir, "bundle_v3_github.whl"))
    trust = _trust(subject, issuer, None)
    if valid:
        assert verify_bundle(data, artifact, trust).engine == ENGINE_SIGSTORE
    else:
        with pytest.raises(GateError, match="not by the trusted identity"):
            verify_bundle(data, artifact, trust)


@pytest.mark.parametrize(("row", "valid"), [("SIG-SP-09", True), ("SIG-SP-10", False)])
def test_sig_sp_09_10_dsse_subject(sigstore_dir: Path, row: str, valid: bool) -> None:
    data = _asset(sigstore_dir, "a.dsse.staging-rekor-v2.txt.sigstore.json")
    trust = _trust(BEACON, GITHUB_ACTIONS, _staging(sigstore_dir))
    if valid:
        subject = Digest.of((sigstore_dir / "conformance" / "a.txt").read_bytes())
        assert (
            verify_bundle(data, subject, trust).predicate_type == "https://slsa.dev/provenance/v1"
        )
    else:
        # sigstore-python's verify_dsse does not compare subjects; the gate must.
        other = Digest.of(_asset(sigstore_dir, "a.dsse.staging-rekor-v2.txt"))
        with pytest.raises(GateError, match="statement subjects do not include"):
            verify_bundle(data, other, trust)


def test_sig_sp_11_staging_bundle_against_production(sigstore_dir: Path) -> None:
    with pytest.raises(GateError, match="certificate chain"):
        verify_bundle(
            _asset(sigstore_dir, "bundle_v3.txt.sigstore"),
            Digest.of(_asset(sigstore_dir, "bundle_v3.txt")),
            _trust("william@yossarian.net", GITHUB_OAUTH, None),
        )


def _statement_subject(data: bytes) -> Digest:
    """The (only) subject digest a DSSE bundle's statement names, read without trusting it."""
    statement = json.loads(base64.b64decode(json.loads(data)["dsseEnvelope"]["payload"]))
    ((algorithm, value),) = statement["subject"][0]["digest"].items()
    return Digest(algorithm, value)


@pytest.mark.parametrize("root", ["sigstore-go", "prod"])
def test_sig_sg_01_npm_provenance_intoto_entry(sigstore_dir: Path, root: str) -> None:
    data = (
        sigstore_dir / "sigstore-go" / "sigstore.js@2.0.0-provenance.sigstore.json"
    ).read_bytes()
    trusted_root = (
        sigstore_dir / "sigstore-go" / "public-good.trusted_root.json"
        if root == "sigstore-go"
        else None
    )
    trust = _trust(
        "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main",
        GITHUB_ACTIONS,
        trusted_root,
    )
    subject = _statement_subject(data)
    assert subject.algorithm == "sha512"  # npm names its tarballs by sha512
    result = verify_bundle(data, subject, trust)
    assert result.engine == ENGINE_GATE  # sigstore-python: "Integrated time only supported for..."
    assert result.predicate_type == "https://slsa.dev/provenance/v1"
    with pytest.raises(GateError, match="statement subjects do not include"):
        verify_bundle(data, Digest("sha512", "0" * 128), trust)


def test_sig_sg_02_v01_bundle_with_inclusion_promise_only(sigstore_dir: Path) -> None:
    """Policy choice: accepted, as sigstore-go and cosign do (the SET is the log's promise).

    The legacy cosign annotation form rests on exactly the same evidence.
    sigstore-python 4.5.1 refuses to load such a bundle.
    """
    data = (sigstore_dir / "sigstore-go" / "dsse.sigstore.json").read_bytes()
    any_subject_from_github = KeylessTrust(
        IdentityPattern(".+", regexp=True), IdentityPattern(GITHUB_OAUTH), None
    )
    result = verify_bundle(data, _statement_subject(data), any_subject_from_github)
    assert result.engine == ENGINE_GATE
    assert result.identity is not None
    assert result.identity.issuer == GITHUB_OAUTH
    assert result.integrated_time is not None


COSIGN_IMAGE = Digest.parse(
    "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4"
)


@pytest.mark.parametrize(
    ("row", "image", "subject", "reason"),
    [
        ("SIG-COS-01", COSIGN_IMAGE, "cody@soyland.com", None),
        ("SIG-COS-02", Digest.of(b"another image"), "cody@soyland.com", "do not include"),
        ("SIG-COS-03", COSIGN_IMAGE, "wrong", "not by the trusted identity"),
    ],
)
def test_sig_cos_oci_referrer_bundle(
    sigstore_dir: Path, row: str, image: Digest, subject: str, reason: str | None
) -> None:
    data = (sigstore_dir / "cosign-oci-referrers" / "oci-attestation.sigstore.json").read_bytes()
    root = sigstore_dir / "cosign-oci-referrers" / "trusted_root_pgi.json"
    # SIG-COS-03 is upstream's "identity regexp wrong": a pattern, matched against the whole SAN.
    trust = KeylessTrust(
        IdentityPattern(subject, regexp=subject == "wrong"), IdentityPattern(GITHUB_OAUTH), root
    )
    if reason is None:
        result = verify_bundle(data, image, trust)
        assert result.predicate_type == "https://cosign.sigstore.dev/attestation/v1", row
    else:
        with pytest.raises(GateError, match=reason):
            verify_bundle(data, image, trust)
