"""``gate attest``: the predicate file per ``--type``, the statement, the ``.att`` manifest."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gate.attestations.layout import attestation_tag
from gate.attestations.predicate_file import Predicate, PredicateKind, read_predicate
from gate.attestations.writer import attest_image, build_statement
from gate.cli import main
from gate.errors import BackendError, InputError
from gate.signatures.intoto import (
    COSIGN_VULN_V1,
    CYCLONEDX_BOM,
    SLSA_PROVENANCE_V02,
    SLSA_PROVENANCE_V1,
    SPDX_DOCUMENT,
    parse_statement,
)
from tests.unit.attestations.support import SLSA_V1, att_layer, cyclonedx, put_att, spdx, trivy
from tests.unit.signatures.helpers import REPO, private_key, push_image
from tests.unit.signatures.keyless.fake_sigstore import ReferrerRegistry

BOM = cyclonedx(("left-pad", "1.3.0", "MIT"))


def _read(document: object, kind: PredicateKind, **kwargs: datetime) -> Predicate:
    return read_predicate(json.dumps(document).encode(), "pred.json", kind, **kwargs)


def test_sbom_predicates_are_the_documents() -> None:
    assert _read(BOM, PredicateKind.CYCLONEDX) == Predicate(CYCLONEDX_BOM, BOM)
    document = spdx(("a", "1", "MIT"))
    for kind in (PredicateKind.SPDX, PredicateKind.SPDXJSON):
        assert _read(document, kind) == Predicate(SPDX_DOCUMENT, document)


@pytest.mark.parametrize(
    ("data", "kind", "expected"),
    [
        (b'{"bomFormat": "CycloneDX"', PredicateKind.CYCLONEDX, "not valid JSON"),
        (json.dumps(spdx()).encode(), PredicateKind.CYCLONEDX, "is SPDX JSON, not CycloneDX JSON"),
        (
            b'<bom xmlns="http://cyclonedx.org/schema/bom/1.5" version="1"/>',
            PredicateKind.CYCLONEDX,
            "must be JSON (e.g. syft -o cyclonedx-json)",
        ),
        (b"SPDXVersion: SPDX-2.3\n", PredicateKind.SPDX, "must be JSON (e.g. syft -o spdx-json)"),
        (json.dumps(BOM).encode(), PredicateKind.VULN, "not a scanner report"),
        (json.dumps(trivy(created=None)).encode(), PredicateKind.VULN, "--scan-finished-on"),
        (json.dumps({"x": 1}).encode(), PredicateKind.SLSAPROVENANCE, "neither SLSA provenance"),
        (
            json.dumps({"runDetails": {}}).encode(),
            PredicateKind.SLSAPROVENANCE,
            "not SLSA provenance v1",
        ),
        (
            json.dumps({"_type": "x", "predicate": SLSA_V1}).encode(),
            PredicateKind.SLSAPROVENANCE1,
            "whole in-toto statement",
        ),
    ],
)
def test_bad_predicate_files_are_input_errors(
    data: bytes, kind: PredicateKind, expected: str
) -> None:
    with pytest.raises(InputError) as caught:
        read_predicate(data, "pred.json", kind)
    assert expected in str(caught.value)
    assert str(caught.value).startswith("pred.json")


def test_vuln_wraps_a_report_with_its_scan_time() -> None:
    predicate = _read(trivy("CVE-1"), PredicateKind.VULN)
    assert predicate.predicate_type == COSIGN_VULN_V1
    assert predicate.body["scanner"]["uri"] == "https://github.com/aquasecurity/trivy"
    assert predicate.body["scanner"]["result"]["SchemaVersion"] == 2
    assert predicate.body["metadata"]["scanFinishedOn"] == "2026-05-30T10:00:00Z"
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    undated = _read(trivy(created=None), PredicateKind.VULN, scan_finished_on=when)
    assert undated.body["metadata"]["scanFinishedOn"] == "2026-01-02T03:04:05Z"


def test_ready_made_vuln_predicate_is_kept() -> None:
    ready = {
        "invocation": {"uri": "ci"},
        "scanner": {"uri": "https://github.com/anchore/grype", "result": trivy("CVE-1")},
        "metadata": {"scanFinishedOn": "2026-05-01T00:00:00Z"},
    }
    assert _read(ready, PredicateKind.VULN).body == ready


def test_slsa_version_from_content() -> None:
    assert _read(SLSA_V1, PredicateKind.SLSAPROVENANCE).predicate_type == SLSA_PROVENANCE_V1
    v02 = {"builder": {"id": "b"}, "buildType": "t"}
    assert _read(v02, PredicateKind.SLSAPROVENANCE).predicate_type == SLSA_PROVENANCE_V02
    with pytest.raises(InputError, match=r"not SLSA provenance v0\.2"):
        _read(SLSA_V1, PredicateKind.SLSAPROVENANCE02)


def test_statement_names_the_resolved_digest_and_repository() -> None:
    registry = ReferrerRegistry()
    image = push_image(registry, "v1")
    statement = parse_statement(build_statement(image, Predicate(CYCLONEDX_BOM, BOM)))
    assert statement.statement_type == "https://in-toto.io/Statement/v1"
    assert statement.subjects[0].name == "registry.example/team/app"
    assert dict(statement.subjects[0].digest) == {"sha256": image.digest.hex}
    assert statement.predicate == BOM


def test_att_manifest_layout_append_and_idempotence() -> None:
    registry = ReferrerRegistry()
    image = push_image(registry, "v1")
    key = private_key("release")
    first = attest_image(registry, registry, image, key, Predicate(CYCLONEDX_BOM, BOM))
    again = attest_image(registry, registry, image, key, Predicate(CYCLONEDX_BOM, BOM))
    assert first.written
    assert not again.written
    assert again.manifest_digest == first.manifest_digest
    provenance = attest_image(
        registry, registry, image, key, Predicate(SLSA_PROVENANCE_V1, SLSA_V1)
    )
    assert provenance.layers == 2
    fetched = registry.fetch_manifest(REPO, attestation_tag(image.digest))
    assert fetched is not None
    manifest = json.loads(fetched.data)
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    first_layer, second_layer = manifest["layers"]
    assert first_layer["mediaType"] == "application/vnd.dsse.envelope.v1+json"
    assert first_layer["annotations"] == {
        "dev.cosignproject.cosign/signature": "",
        "predicateType": CYCLONEDX_BOM,
    }
    assert first_layer["digest"] == str(first.envelope_digest)
    assert second_layer["annotations"]["predicateType"] == SLSA_PROVENANCE_V1
    envelope = json.loads(registry.fetch_blob(REPO, provenance.envelope_digest, 1 << 20))
    assert list(envelope) == ["payloadType", "payload", "signatures"]
    assert json.loads(base64.b64decode(envelope["payload"]))["predicateType"] == SLSA_PROVENANCE_V1


def test_existing_layers_are_kept_byte_for_byte() -> None:
    registry = ReferrerRegistry()
    image = push_image(registry, "v1")
    foreign = att_layer(registry, b'{"payloadType":"x","payload":"","signatures":[]}', hint="x")
    put_att(registry, image, [foreign])
    attest_image(registry, registry, image, private_key("release"), Predicate(CYCLONEDX_BOM, BOM))
    fetched = registry.fetch_manifest(REPO, attestation_tag(image.digest))
    assert fetched is not None
    assert json.loads(fetched.data)["layers"][0] == foreign


def test_unreadable_existing_att_is_not_overwritten() -> None:
    registry = ReferrerRegistry()
    image = push_image(registry, "v1")
    registry.put_manifest(REPO, b'{"schemaVersion": 2}', tag=attestation_tag(image.digest))
    with pytest.raises(BackendError, match="existing attestation manifest has no layers"):
        attest_image(
            registry, registry, image, private_key("release"), Predicate(CYCLONEDX_BOM, BOM)
        )


def test_cli_bad_input_exits_2_before_the_registry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COSIGN_PASSWORD", "x")
    predicate = tmp_path / "bom.json"
    predicate.write_text(json.dumps(spdx()))
    key = tmp_path / "missing.key"
    image = "127.0.0.1:1/nothing/here:1"
    code = main(
        ["attest", image, "--key", str(key), "--predicate", str(predicate), "--type", "cyclonedx"]
    )
    assert code == 2
    assert "is SPDX JSON, not CycloneDX JSON" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["attest", image, "--key", str(key), "--predicate", str(predicate), "--type", "sbom"])
    assert usage.value.code == 2
    assert "invalid choice: 'sbom' (choose from 'cyclonedx', 'spdx'" in capsys.readouterr().err
    args = ["attest", image, "--key", str(key), "--predicate", str(tmp_path / "none.json")]
    assert main([*args, "--type", "spdx"]) == 2
    assert "none.json" in capsys.readouterr().err
    args = ["attest", image, "--key", str(key), "--predicate", str(predicate), "--type", "spdx"]
    assert main([*args, "--scan-finished-on", "2026-01-01T00:00:00Z"]) == 2
    assert "only applies to --type vuln" in capsys.readouterr().err
    assert main([*args]) == 2  # the key file is missing
    assert "missing.key" in capsys.readouterr().err
