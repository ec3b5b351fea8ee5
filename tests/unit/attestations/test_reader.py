"""AttestationReader over the cosign ``.att`` layout: what counts for an authority, and why not."""

from __future__ import annotations

import json

import pytest

from gate.attestations.layout import MAX_TOTAL_BYTES, attestation_tag, cosign_candidates
from gate.attestations.reader import AttestationReader
from gate.errors import BackendError
from gate.oci.digest import Digest
from gate.signatures.dsse import MAX_ENVELOPE_SIZE
from gate.signatures.intoto import (
    CYCLONEDX_BOM,
    SLSA_PROVENANCE_V1,
    SPDX_DOCUMENT,
    STATEMENT_V01,
)
from tests.unit.attestations.support import (
    COSIGN_VULN_V1,
    SLSA_V1,
    att_layer,
    attest,
    cyclonedx,
    envelope,
    put_att,
    spdx,
    statement,
    trivy,
    vuln,
)
from tests.unit.signatures.helpers import REPO, authority, private_key, push_image
from tests.unit.signatures.keyless.fake_sigstore import ReferrerRegistry

BOM = cyclonedx(("left-pad", "1.3.0", "MIT"), ("event-stream", "3.3.6", "MIT"))


@pytest.fixture
def registry() -> ReferrerRegistry:
    return ReferrerRegistry()


def _reader(registry: ReferrerRegistry) -> AttestationReader:
    return AttestationReader(registry)


def test_attested_sbom_counts_for_its_key(registry: ReferrerRegistry) -> None:
    image = push_image(registry, "v1")
    key = private_key("release")
    attest(registry, image, key, CYCLONEDX_BOM, BOM)
    result = _reader(registry).read(image, authority("release", key))
    assert result.error is None
    assert result.found == 1
    assert result.rejections == ()
    (attested,) = result.attestations
    assert attested.predicate_type == CYCLONEDX_BOM
    assert attested.digest == image.digest
    assert attested.signer_label == "release-0.pub"
    assert attested.sbom is not None
    assert [c.name for c in attested.sbom.components] == ["left-pad", "event-stream"]
    assert "CycloneDX SBOM attestation" in attested.sbom.source


def test_no_att_tag_is_no_attestations_not_an_error(registry: ReferrerRegistry) -> None:
    image = push_image(registry, "v1")
    result = _reader(registry).read(image, authority("release", private_key("release")))
    assert (result.error, result.found, result.attestations, result.rejections) == (
        None,
        0,
        (),
        (),
    )


def test_attestation_by_another_key_is_rejected_with_a_reason(
    registry: ReferrerRegistry,
) -> None:
    image = push_image(registry, "v1")
    attest(registry, image, private_key("other"), CYCLONEDX_BOM, BOM)
    result = _reader(registry).read(image, authority("release", private_key("release")))
    assert result.attestations == ()
    (rejection,) = result.rejections
    assert "does not verify with any key authority 'release' trusts" in rejection.reason
    assert rejection.predicate_type == CYCLONEDX_BOM  # the layer's hint
    assert str(rejection).startswith("attestation layer 1 of sha256-")


def test_attestation_copied_from_another_image_is_rejected(registry: ReferrerRegistry) -> None:
    image = push_image(registry, "v1")
    other = push_image(registry, "v2")
    key = private_key("release")
    attest(registry, other, key, CYCLONEDX_BOM, BOM)
    registry.tag_alias(REPO, attestation_tag(image.digest), attestation_tag(other.digest))
    result = _reader(registry).read(image, authority("release", key))
    assert result.attestations == ()
    (rejection,) = result.rejections
    assert f"the statement is about {other.digest}, not this image {image.digest}" in str(rejection)
    assert "copied from another image" in rejection.reason


def test_payload_type_must_be_in_toto(registry: ReferrerRegistry) -> None:
    image = push_image(registry, "v1")
    key = private_key("release")
    body = statement(image.digest, CYCLONEDX_BOM, BOM)
    layer = att_layer(registry, envelope(key, body, payload_type="application/json"))
    put_att(registry, image, [layer])
    result = _reader(registry).read(image, authority("release", key))
    (rejection,) = result.rejections
    assert "signed by release-0.pub, but" in rejection.reason
    assert "payloadType" in rejection.reason
    assert "application/vnd.in-toto+json" in rejection.reason


def test_payload_type_is_authenticated(registry: ReferrerRegistry) -> None:
    """Changing payloadType after signing breaks the signature (it is inside the PAE)."""
    image = push_image(registry, "v1")
    key = private_key("release")
    signed = json.loads(envelope(key, statement(image.digest, CYCLONEDX_BOM, BOM)))
    signed["payloadType"] = "application/vnd.in-toto+json; charset=utf-8"
    put_att(registry, image, [att_layer(registry, json.dumps(signed).encode())])
    result = _reader(registry).read(image, authority("release", key))
    assert "does not verify" in result.rejections[0].reason


def test_truncated_envelope_is_unreadable(registry: ReferrerRegistry) -> None:
    image = push_image(registry, "v1")
    key = private_key("release")
    whole = envelope(key, statement(image.digest, CYCLONEDX_BOM, BOM))
    put_att(registry, image, [att_layer(registry, whole[: len(whole) // 2])])
    result = _reader(registry).read(image, authority("release", key))
    (rejection,) = result.rejections
    assert rejection.reason.startswith("unreadable: DSSE envelope: not valid JSON")


def test_signed_layout_is_not_a_statement(registry: ReferrerRegistry) -> None:
    image = push_image(registry, "v1")
    key = private_key("release")
    layout = json.dumps({"_type": "layout", "steps": []}).encode()
    put_att(registry, image, [att_layer(registry, envelope(key, layout))])
    result = _reader(registry).read(image, authority("release", key))
    assert "not an in-toto Statement" in result.rejections[0].reason


def test_statement_v01_counts(registry: ReferrerRegistry) -> None:
    image = push_image(registry, "v1")
    key = private_key("release")
    body = statement(image.digest, SLSA_PROVENANCE_V1, SLSA_V1, kind=STATEMENT_V01)
    put_att(registry, image, [att_layer(registry, envelope(key, body), hint=SLSA_PROVENANCE_V1)])
    result = _reader(registry).read(image, authority("release", key))
    assert [a.predicate_type for a in result.attestations] == [SLSA_PROVENANCE_V1]


def test_blob_that_does_not_match_its_descriptor_is_rejected(registry: ReferrerRegistry) -> None:
    image = push_image(registry, "v1")
    key = private_key("release")
    good = envelope(key, statement(image.digest, CYCLONEDX_BOM, BOM))
    lying = att_layer(registry, b"{}", digest=Digest.of(good))
    put_att(registry, image, [lying])
    result = _reader(registry).read(image, authority("release", key))
    assert "blob" in result.rejections[0].reason


def test_layer_sizes_are_bounded_before_fetching(registry: ReferrerRegistry) -> None:
    image = push_image(registry, "v1")
    key = private_key("release")
    big = att_layer(registry, b"{}", size=MAX_ENVELOPE_SIZE + 1)
    put_att(registry, image, [big])
    fetches = registry.count("blob")
    result = _reader(registry).read(image, authority("release", key))
    assert "exceeds the" in result.rejections[0].reason
    assert registry.count("blob") == fetches
    assert MAX_TOTAL_BYTES > MAX_ENVELOPE_SIZE


def test_other_layer_media_types_are_reported(registry: ReferrerRegistry) -> None:
    image = push_image(registry, "v1")
    layer = att_layer(
        registry, b"payload", media_type="application/vnd.dev.cosign.simplesigning.v1+json"
    )
    put_att(registry, image, [layer])
    result = _reader(registry).read(image, authority("release", private_key("release")))
    assert "is not a DSSE envelope" in result.rejections[0].reason


def test_keyless_attestation_does_not_count_for_a_key(registry: ReferrerRegistry) -> None:
    image = push_image(registry, "v1")
    key = private_key("release")
    data = envelope(key, statement(image.digest, CYCLONEDX_BOM, BOM))
    layer = att_layer(
        registry, data, extra={"dev.sigstore.cosign/certificate": "-----BEGIN CERTIFICATE-----"}
    )
    put_att(registry, image, [layer])
    result = _reader(registry).read(image, authority("release", key))
    assert "signed with a certificate (keyless)" in result.rejections[0].reason


def test_every_predicate_of_a_digest_is_read_once_for_all_authorities(
    registry: ReferrerRegistry,
) -> None:
    image = push_image(registry, "v1")
    release, ci = private_key("release"), private_key("ci")
    attest(registry, image, release, CYCLONEDX_BOM, BOM)
    attest(registry, image, ci, SPDX_DOCUMENT, spdx(("left-pad", "1.3.0", "MIT")))
    attest(registry, image, ci, SLSA_PROVENANCE_V1, SLSA_V1)
    reader = _reader(registry)
    before = len(registry.calls)
    first = reader.read(image, authority("release", release))
    second = reader.read(image, authority("ci", ci))
    assert [a.predicate_type for a in first.attestations] == [CYCLONEDX_BOM]
    assert len(first.rejections) == 2
    assert [a.predicate_type for a in second.attestations] == [SPDX_DOCUMENT, SLSA_PROVENANCE_V1]
    assert second.attestations[0].sbom is not None
    # One manifest and three envelope blobs fetched, whatever the number of authorities.
    reads = registry.calls[before:]
    assert sum(1 for call in reads if call[0] == "blob") == 3
    assert sum(1 for call in reads if call[2].endswith(".att")) == 1


def test_registry_failure_is_an_error_not_an_empty_result(registry: ReferrerRegistry) -> None:
    image = push_image(registry, "v1")
    registry.fail_with = "connection refused"
    result = _reader(registry).read(image, authority("release", private_key("release")))
    assert result.error is not None
    assert "connection refused" in result.error
    with pytest.raises(BackendError):
        cosign_candidates(registry, REPO, image.digest)


def test_vuln_attestation_becomes_a_dated_scan(registry: ReferrerRegistry) -> None:
    image = push_image(registry, "v1")
    key = private_key("release")
    attest(registry, image, key, COSIGN_VULN_V1, vuln(trivy("CVE-2024-0001", created=None)))
    (attested,) = _reader(registry).read(image, authority("release", key)).attestations
    assert attested.scan is not None
    assert attested.scan.created_at is not None
    assert attested.scan.created_at.isoformat() == "2026-05-30T10:00:00+00:00"
    assert [f.id for f in attested.scan.findings] == ["CVE-2024-0001"]
    assert attested.scanner == "https://github.com/aquasecurity/trivy"


def test_unusable_predicate_is_a_rejection(registry: ReferrerRegistry) -> None:
    image = push_image(registry, "v1")
    key = private_key("release")
    attest(registry, image, key, COSIGN_VULN_V1, vuln(None))
    attest(registry, image, key, CYCLONEDX_BOM, {"not": "a bom"})
    result = _reader(registry).read(image, authority("release", key))
    reasons = [r.reason for r in result.rejections]
    assert result.attestations == ()
    assert any("scanner.result: is null" in r for r in reasons)
    assert any("is not a CycloneDX SBOM document" in r for r in reasons)


def test_unknown_predicate_type_is_kept_with_a_note(registry: ReferrerRegistry) -> None:
    image = push_image(registry, "v1")
    key = private_key("release")
    attest(registry, image, key, "https://example.test/custom/v1", {"any": "thing"})
    result = _reader(registry).read(image, authority("release", key))
    assert [a.predicate_type for a in result.attestations] == ["https://example.test/custom/v1"]
    assert "not one the gate interprets" in result.notes[0]


def test_authority_without_attestation_material_is_an_error(registry: ReferrerRegistry) -> None:
    from gate.signatures.trust import TrustAuthority  # noqa: PLC0415

    image = push_image(registry, "v1")
    result = _reader(registry).read(image, TrustAuthority("empty"))
    assert result.error is not None
    assert "no cosign keys or keyless identity" in result.error
