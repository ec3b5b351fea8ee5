"""Real Notation signatures: CASES.md section 4 (NT-M-*, NT-L-*, NT-T-*, and NT-C-* from files).

``test_notation_case`` has one parameter per CASES.md row that is decided by
the envelope, the artifact and the trust policy alone. Each row opens the
envelope (``open_envelope``: parsing and signature), checks its target
against the artifact (``check_target``) and evaluates the trust policy
(``evaluate_trust``: chain, trust store, identity, authentic timestamp,
expiry, level). Valid rows must pass; invalid rows must raise
``NotationError`` of the Notation validation and for the reason CASES.md
gives.

The trust policies (``trustpolicy*.json``) and trust-store directories
(``truststore/x509/<type>/<name>/``) are read here, in the test, into a
``NotationTrust``: the gate's own policy format names certificates
directly, so the Notation files are only this suite's way of stating each
row's configuration. Policy selection by ``registryScopes`` (exact
repository, else the ``*`` statement, else no policy: NT-M-12) is also done
here; the gate does not read ``trustpolicy.json``.

All rows run with the clock at 2026-11-22 (the collection date): the NT-T
envelopes' signing certificates expired long ago or are not valid yet, and
the mock envelopes expire in 2120.

NT-C rows go through ``NotationVerifier`` on the connaisseur registry dump
(referrers via the tag schema), in memory; ``tests/integration`` runs them
against a real registry.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.oci.source import FetchedManifest
from gate.signatures.notation.authority import (
    NotationTrust,
    TrustedCertificate,
    VerificationLevel,
)
from gate.signatures.notation.chain import (
    VerifyTimestamp,
    check_signing_time,
    evaluate_trust,
    parse_trusted_identities,
)
from gate.signatures.notation.envelope import (
    COSE_MEDIA_TYPE,
    JWS_MEDIA_TYPE,
    Check,
    NotationError,
    check_target,
    open_envelope,
)
from gate.signatures.notation.verifier import NotationVerifier
from gate.signatures.trust import TrustAuthority
from tests.support.fixture_registry import MemoryRegistry, load_registry_dump
from tests.support.realdata import real_fixtures

pytestmark = pytest.mark.conformance

TODAY = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def _notation(*parts: str) -> Path:
    return real_fixtures("signatures", "notation", *parts)


# -- reading Notation trust policies (test configuration only) ---------------------------------


def _certificates(path: Path) -> list[x509.Certificate]:
    data = path.read_bytes()
    if b"-----BEGIN CERTIFICATE-----" in data:
        return x509.load_pem_x509_certificates(data)
    return [x509.load_der_x509_certificate(data)]


def _select_statement(document: Mapping[str, Any], repository: str) -> Mapping[str, Any] | None:
    """The trust-policy statement for ``repository``: exact scope, else ``*``, else none."""
    statements = document["trustPolicies"]
    for statement in statements:
        if repository in statement["registryScopes"]:
            return statement  # type: ignore[no-any-return]  # parsed JSON
    wildcard = [s for s in statements if "*" in s["registryScopes"]]
    assert len(wildcard) <= 1, "at most one '*' statement"
    return wildcard[0] if wildcard else None


def load_trust(
    directory: Path,
    policy: str,
    repository: str,
    *,
    level: str | None = None,
    stores: tuple[str, ...] | None = None,
) -> tuple[NotationTrust, VerifyTimestamp] | None:
    """The ``NotationTrust`` a Notation trust policy gives ``repository`` (None: no policy)."""
    document = json.loads((directory / policy).read_text())
    assert document["version"] == "1.0"
    statement = _select_statement(document, repository)
    if statement is None:
        return None
    verification = statement["signatureVerification"]
    trust_store: list[TrustedCertificate] = []
    signing_authorities: list[TrustedCertificate] = []
    tsa_roots: list[TrustedCertificate] = []
    for entry in stores if stores is not None else statement["trustStores"]:
        kind, _, name = entry.partition(":")
        assert kind in {"ca", "signingAuthority", "tsa"}, entry
        folder = directory / "truststore" / "x509" / kind / name
        assert folder.is_dir(), folder
        for path in sorted(folder.iterdir()):
            for certificate in _certificates(path):
                target = {"tsa": tsa_roots, "signingAuthority": signing_authorities}.get(
                    kind, trust_store
                )
                target.append(TrustedCertificate(certificate, f"{entry}/{path.name}"))
    # A Notation trust policy's identities must pass Notation's own rules (C, ST, O...).
    parse_trusted_identities(statement["trustedIdentities"])
    trust = NotationTrust(
        trust_store=tuple(trust_store),
        trusted_identities=tuple(statement["trustedIdentities"]),
        verification_level=VerificationLevel(level or verification["level"]),
        tsa_roots=tuple(tsa_roots),
        signing_authorities=tuple(signing_authorities),
    )
    return trust, VerifyTimestamp(verification.get("verifyTimestamp", "always"))


# -- the rows ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Artifact:
    """What was resolved: repository, digest, manifest size and media type."""

    repository: str
    digest: str
    size: int
    media_type: str


NET_MONITOR = Artifact(
    "registry.acme-rockets.io/software/net-monitor",
    "sha256:60043cf45eaebc4c0867fea485a039b598f52fd09fd5b07b0b2d2f88fad9d74e",
    528,
    DOCKER_MANIFEST,
)
ALPINE_LAYOUT = Artifact(
    "local/oci-layout",
    "sha256:19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0",
    481,
    OCI_MANIFEST,
)
TIMESTAMPED = Artifact(
    "registry.example/timestamped",
    "sha256:c0669ef34cdc14332c0f1ab0c2c01acb91d96014b172f1a76f3a39e63d1f0bda",
    528,
    DOCKER_MANIFEST,
)


@dataclass(frozen=True)
class Row:
    """One CASES.md row: envelope, artifact, policy and the expected verdict."""

    envelope: str  # under notation/
    artifact: Artifact
    directory: str
    policy: str = "trustpolicy.json"
    level: str | None = None
    stores: tuple[str, ...] | None = None
    verify_timestamp: VerifyTimestamp | None = None
    check: Check | None = None  # None: valid
    reason: str = ""


MOCK = "notation-go-mock"
LAYOUT = "notation-go-oci-layout"
STAMP = "notation-go-timestamp"
CASES: dict[str, Row] = {
    "NT-M-01": Row(f"{MOCK}/envelopes/ca_valid_sig_env.json", NET_MONITOR, MOCK),
    "NT-M-02": Row(
        f"{MOCK}/envelopes/ca_invalid_sig_env.json",
        NET_MONITOR,
        MOCK,
        check=Check.INTEGRITY,
        reason="payload: not unpadded base64url",
    ),
    "NT-M-03": Row(
        f"{MOCK}/envelopes/ca_expired_sig_env.json",
        NET_MONITOR,
        MOCK,
        check=Check.EXPIRY,
        reason="signature expired at 2022-07-29 23:59:00 UTC",
    ),
    "NT-M-04": Row(f"{MOCK}/envelopes/sa_valid_sig_env.json", NET_MONITOR, MOCK),
    "NT-M-05": Row(
        f"{MOCK}/envelopes/sa_invalid_sig_env.json",
        NET_MONITOR,
        MOCK,
        check=Check.INTEGRITY,
        reason="payload: not unpadded base64url",
    ),
    "NT-M-06": Row(
        f"{MOCK}/envelopes/sa_expired_sig_env.json",
        NET_MONITOR,
        MOCK,
        check=Check.EXPIRY,
        reason="signature expired",
    ),
    "NT-M-07 (strict)": Row(
        f"{MOCK}/envelopes/ca_valid_sig_env.json",
        NET_MONITOR,
        MOCK,
        "trustpolicy.wrong-truststore.json",
        check=Check.AUTHENTICITY,
        reason="certificate chain does not contain any trusted certificate",
    ),
    "NT-M-07 (permissive)": Row(
        f"{MOCK}/envelopes/ca_valid_sig_env.json",
        NET_MONITOR,
        MOCK,
        "trustpolicy.wrong-truststore.json",
        level="permissive",
        check=Check.AUTHENTICITY,
        reason="certificate chain does not contain any trusted certificate",
    ),
    "NT-M-08": Row(
        f"{MOCK}/envelopes/ca_valid_sig_env.json",
        NET_MONITOR,
        MOCK,
        "trustpolicy.wrong-identity.json",
        check=Check.AUTHENTICITY,
        reason="matches no trusted identity (x509.subject:CN=LOL,O=DummyOrg",
    ),
    "NT-M-09": Row(
        f"{MOCK}/envelopes/ca_valid_sig_env.json",
        Artifact(NET_MONITOR.repository, "sha256:" + "0" * 64, 528, DOCKER_MANIFEST),
        MOCK,
        check=Check.INTEGRITY,
        reason="payload.targetArtifact.digest: signature is for sha256:60043cf4",
    ),
    "NT-M-10": Row(
        f"{MOCK}/envelopes/ca_expired_sig_env.json", NET_MONITOR, MOCK, level="permissive"
    ),
    "NT-M-11": Row(
        f"{MOCK}/envelopes/ca_valid_sig_env.json",
        NET_MONITOR,
        MOCK,
        "trustpolicy.wrong-truststore.json",
        level="audit",
    ),
    # CASES.md abbreviates this digest; the row fails on the repository before any digest.
    "NT-M-12": Row(
        f"{MOCK}/envelopes/ca_valid_sig_env.json",
        Artifact(
            "non-existent-domain.com/repo", "sha256:73c80393" + "0" * 56, 528, DOCKER_MANIFEST
        ),
        MOCK,
        check=Check.AUTHENTICITY,
        reason="no applicable trust policy",
    ),
    "NT-L-01": Row(f"{LAYOUT}/jws_signature.sig", ALPINE_LAYOUT, LAYOUT),
    "NT-L-02": Row(f"{LAYOUT}/cose_signature.sig", ALPINE_LAYOUT, LAYOUT),
    "NT-L-03": Row(
        f"{LAYOUT}/jws_signature.sig",
        Artifact(ALPINE_LAYOUT.repository, "index.json", 0, OCI_INDEX),  # filled from the file
        LAYOUT,
        check=Check.INTEGRITY,
        reason="payload.targetArtifact.digest: signature is for sha256:19dbd2e4",
    ),
    "NT-T-01": Row(f"{STAMP}/envelopes/jwsWithTimestamp.sig", TIMESTAMPED, STAMP),
    "NT-T-02": Row(f"{STAMP}/envelopes/coseWithTimestamp.sig", TIMESTAMPED, STAMP),
    "NT-T-03": Row(
        f"{STAMP}/envelopes/jwsExpiredWithTimestamp.sig",
        TIMESTAMPED,
        STAMP,
        "trustpolicy.expired-signer.json",
    ),
    "NT-T-04": Row(
        f"{STAMP}/envelopes/coseExpiredWithTimestamp.sig",
        TIMESTAMPED,
        STAMP,
        "trustpolicy.expired-signer.json",
    ),
    "NT-T-05": Row(
        f"{STAMP}/envelopes/coseExpiredWithTimestamp.sig",
        TIMESTAMPED,
        STAMP,
        "trustpolicy.expired-signer.json",
        stores=("ca:expired-signer",),
        check=Check.AUTHENTIC_TIMESTAMP,
        reason="expired at 2024-06-18 07:30:31 UTC",
    ),
    "NT-T-06": Row(
        f"{STAMP}/envelopes/withoutTimestamp.sig",
        TIMESTAMPED,
        STAMP,
        check=Check.AUTHENTIC_TIMESTAMP,
        reason="no timestamp countersignature was found",
    ),
    "NT-T-07": Row(
        f"{STAMP}/envelopes/timestampBeforeNotBefore.sig",
        TIMESTAMPED,
        STAMP,
        check=Check.AUTHENTIC_TIMESTAMP,
        reason="may be before certificate 'CN=testTSA",
    ),
    # The signer (valid 2000-2001) is in no trust store of this policy, so authenticity fails
    # first; test_nt_t_08_timestamp_after_not_after shows the timestamp failure itself.
    "NT-T-08": Row(
        f"{STAMP}/envelopes/timestampAfterNotAfter.sig",
        TIMESTAMPED,
        STAMP,
        check=Check.AUTHENTICITY,
        reason="does not contain any trusted certificate",
    ),
    "NT-T-09": Row(
        f"{STAMP}/envelopes/coseWithTimestamp.sig",
        TIMESTAMPED,
        STAMP,
        stores=("ca:valid-trust-store", "tsa:test-mismatch"),
        check=Check.AUTHENTIC_TIMESTAMP,
        reason="does not chain to a trusted TSA root (tsa:test-mismatch/DigiCertTSARootSHA384",
    ),
    "NT-T-10": Row(
        f"{STAMP}/envelopes/coseWithTimestamp.sig",
        TIMESTAMPED,
        STAMP,
        verify_timestamp=VerifyTimestamp.AFTER_CERT_EXPIRY,
    ),
}


def _media_type(data: bytes) -> str:
    return COSE_MEDIA_TYPE if data[:1] == b"\xd2" else JWS_MEDIA_TYPE


def _artifact(row: Row) -> Artifact:
    if row.artifact.digest != "index.json":
        return row.artifact
    data = _notation(LAYOUT, "oci-layout", "index.json").read_bytes()
    return Artifact(row.artifact.repository, str(Digest.of(data)), len(data), OCI_INDEX)


def verify_row(row: Row) -> tuple[str, ...]:
    """Everything a gate does for one row; returns the notes, raises ``NotationError``."""
    directory = _notation(row.directory)
    artifact = _artifact(row)
    loaded = load_trust(
        directory, row.policy, artifact.repository, level=row.level, stores=row.stores
    )
    if loaded is None:
        raise NotationError(
            f"no applicable trust policy for {artifact.repository}", check=Check.AUTHENTICITY
        )
    trust, verify_timestamp = loaded
    if row.verify_timestamp is not None:
        verify_timestamp = row.verify_timestamp
    data = _notation(row.envelope).read_bytes()
    envelope = open_envelope(data, _media_type(data), source=Path(row.envelope).name)
    check_target(
        envelope,
        digest=Digest.parse(artifact.digest),
        size=artifact.size,
        media_type=artifact.media_type,
    )
    outcome = evaluate_trust(envelope, trust, now=TODAY, verify_timestamp=verify_timestamp)
    return outcome.notes


@pytest.mark.parametrize("case", sorted(CASES))
def test_notation_case(case: str) -> None:
    row = CASES[case]
    if row.check is None:
        notes = verify_row(row)
        assert notes, "the revocation note at least"
        return
    with pytest.raises(NotationError) as caught:
        verify_row(row)
    assert caught.value.check is row.check, str(caught.value)
    assert row.reason in str(caught.value)


def test_levels_only_log_what_they_do_not_enforce() -> None:
    expired = verify_row(CASES["NT-M-10"])
    assert (
        expired[0]
        == "expiry not enforced (permissive): signature expired at 2022-07-29 23:59:00 UTC"
    )
    audit = verify_row(CASES["NT-M-11"])
    assert audit[0].startswith(
        "authenticity not enforced (audit): certificate chain does not contain any trusted"
    )


def test_expired_signers_are_accepted_through_the_authentic_timestamp() -> None:
    for case in ("NT-T-03", "NT-T-04"):
        notes = verify_row(CASES[case])
        assert notes[0].startswith("authentic timestamp 2024-06-18 07:2")
        assert "from TSA 'CN=Globalsign TSA for Advanced - G4 - 202311" in notes[0]
        assert "expired at 2024-06-18 07:30:31 UTC, but the authentic timestamp" in notes[1]


def test_nt_t_10_needs_no_timestamp_while_the_signer_is_valid() -> None:
    notes = verify_row(CASES["NT-T-10"])
    assert not any(note.startswith("authentic timestamp") for note in notes)
    assert "timestamp countersignature not verified (not required by the policy)" in notes


def test_nt_t_08_timestamp_after_not_after() -> None:
    data = _notation(STAMP, "envelopes", "timestampAfterNotAfter.sig").read_bytes()
    envelope = open_envelope(data, COSE_MEDIA_TYPE)
    loaded = load_trust(_notation(STAMP), "trustpolicy.json", TIMESTAMPED.repository)
    assert loaded is not None
    with pytest.raises(NotationError) as caught:
        check_signing_time(envelope, loaded[0].tsa_roots, now=TODAY)
    assert caught.value.check is Check.AUTHENTIC_TIMESTAMP
    assert "may be after certificate 'CN=testTSA" in str(caught.value)
    assert "expired (2001-09-18 11:54:34 UTC)" in str(caught.value)


def test_tampered_real_timestamp_token_is_refused() -> None:
    data = bytearray(_notation(STAMP, "envelopes", "coseWithTimestamp.sig").read_bytes())
    envelope = open_envelope(bytes(data), COSE_MEDIA_TYPE)
    token = envelope.timestamp_token
    assert token is not None
    # Flip one bit inside the TSTInfo (genTime's digits live there): message-digest breaks.
    position = bytes(data).index(b"20240618")
    data[position + 7] ^= 0x01
    tampered = open_envelope(bytes(data), COSE_MEDIA_TYPE)  # unprotected: signature still fine
    loaded = load_trust(_notation(STAMP), "trustpolicy.json", TIMESTAMPED.repository)
    assert loaded is not None
    with pytest.raises(NotationError, match="message-digest attribute does not match"):
        check_signing_time(tampered, loaded[0].tsa_roots, now=TODAY)


# -- NT-C through the verifier, registry dump in memory -------------------------------------------

SSE = ("connaisseur-registry", "registry-sse-secure-systems", "testimage")
SSE_REPOSITORY = ImageReference.parse("registry.example/sse-secure-systems/testimage")


class _NoReferrersApi(MemoryRegistry):
    """The dump as a registry without the referrers API (Docker distribution 2.8)."""

    def fetch_referrers(
        self, repository: ImageReference, digest: Digest, artifact_type: str | None = None
    ) -> FetchedManifest | None:
        """No referrers API: the verifier must use the tag schema."""
        self.calls.append(("referrers", repository.name, str(digest)))
        return None


@pytest.mark.parametrize(
    ("case", "tag", "policy", "satisfied", "reason"),
    [
        ("NT-C-01", "notation-sign", ("ca:default", None), True, ""),
        (
            "NT-C-02",
            "notation-sign",
            ("ca:different-cert", None),
            False,
            "does not contain any trusted certificate",
        ),
        ("NT-C-03", "notation-unsign", ("ca:default", None), False, "no Notation signature found"),
        ("NT-C-04", "notation-sign", ("ca:different-cert", "audit"), True, ""),
    ],
)
def test_connaisseur_registry_cases(
    case: str, tag: str, policy: tuple[str, str | None], satisfied: bool, reason: str
) -> None:
    store, level = policy
    registry = _NoReferrersApi()
    load_registry_dump(_notation(*SSE), SSE_REPOSITORY, registry)
    image = registry.resolve(SSE_REPOSITORY.with_tag(tag))
    loaded = load_trust(
        _notation("connaisseur-registry"),
        "trustpolicy.json",
        SSE_REPOSITORY.name,
        level=level,
        stores=(store,),
    )
    assert loaded is not None
    trust = loaded[0]
    result = NotationVerifier(registry, clock=lambda: TODAY).verify(
        image, TrustAuthority("sse", notation=trust)
    )
    assert result.error is None, result.error
    assert result.satisfied is satisfied, result
    if satisfied:
        [signature] = result.signatures
        assert signature.signer_label.startswith("CN=securesystems.de,OU=Defensive,O=SSE")
    else:
        assert reason in result.rejections[0]
