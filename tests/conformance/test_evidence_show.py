"""``gate evidence show``: every real document prints its normalised content, JSON or text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gate.cli import main
from tests.support.realdata import real_fixtures

FORMAT_DIRECTORIES = ("trivy", "grype", "clair", "harbor", "sarif", "cyclonedx", "spdx", "vex")
FINDING_KEYS = {
    "id",
    "aliases",
    "package",
    "version",
    "purl",
    "severity",
    "cvss",
    "fixedVersions",
    "fixState",
    "target",
}


def _documents() -> list[Path]:
    root = real_fixtures()
    return sorted(
        p
        for d in FORMAT_DIRECTORIES
        for p in (root / d).rglob("*")
        if p.is_file() and p.suffix in {".json", ".xml", ".spdx", ".sarif", ".golden"}
    )


def test_every_real_document_shows_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    shown = 0
    for path in _documents():
        code = main(["evidence", "show", str(path), "--format", "json"])
        out, err = capsys.readouterr()
        # Every real document shows: SBOMs without findings (syft's CycloneDX) included.
        assert code == 0, (path, err)
        view = json.loads(out)
        assert {"format", "findings", "components"} <= set(view), path
        for finding in view["findings"]:
            assert set(finding) >= FINDING_KEYS, (path, finding)
        for component in view["components"]:
            assert {"name", "version", "purl", "licenses"} <= set(component), path
        shown += 1
    assert shown >= 60


def test_text_lists_findings(capsys: pytest.CaptureFixture[str]) -> None:
    path = real_fixtures("grype", "presenter-image.json")
    assert main(["evidence", "show", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Grype JSON (grype)")
    assert "CVE-1999-0002" in out


def test_an_unknown_document_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"hello": "world"}')
    assert main(["evidence", "show", str(path)]) == 2
    assert "is not a recognised scanner report, SBOM or VEX format" in capsys.readouterr().err
