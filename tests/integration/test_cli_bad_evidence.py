"""Bad evidence files (issue 6): exit 2 with one line naming the file and the reason.

Truncated documents of every kind, XML with an external entity (never
resolved), a deeply nested document of no known format, and a 200 MB report
(refused by size before it is read).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.gate_cli import GateRun, run_gate_process, write_policy
from tests.support.realdata import real_fixtures

pytestmark = pytest.mark.integration

POLICY = """\
apiVersion: gate/v1
kind: Policy
metadata: {name: p}
spec:
  rules:
    - name: everything
      match: {images: ["**"]}
      action: allow
"""

XXE = """<?xml version="1.0"?>
<!DOCTYPE bom [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<bom xmlns="http://cyclonedx.org/schema/bom/1.5" version="1">
  <components><component type="library"><name>&secret;</name></component></components>
</bom>
"""


def _check(tmp_path: Path, option: str, document: Path) -> GateRun:
    policy = write_policy(tmp_path, POLICY)
    env = {"DOCKER_CONFIG": str(tmp_path / "docker"), "HOME": str(tmp_path)}
    return run_gate_process(
        "check", "127.0.0.1:9/x:1", "--policy", str(policy), option, str(document), env=env
    )


def _one_line(run: GateRun, *needles: str) -> None:
    assert run.code == 2, run
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize(
    ("option", "fixture"),
    [
        ("--scan", ("grype", "presenter-image.json")),
        ("--scan", ("clair", "v4", "quay-v3.4.vulnerability_report.json")),
        ("--sbom", ("spdx", "syft-image-2.3.json")),
        ("--sbom", ("spdx", "syft-image-2.3.spdx")),
        ("--sbom", ("spdx", "trivy-centos-7-2.2.spdx")),
        ("--vex", ("vex", "openvex", "go-vex-v0.0.1-legacy.json")),
    ],
)
def test_truncated_documents(tmp_path: Path, option: str, fixture: tuple[str, ...]) -> None:
    source = real_fixtures(*fixture)
    data = source.read_bytes()
    truncated = tmp_path / source.name
    # Cut at a line end: tag-value still parses line by line, and must still be refused.
    truncated.write_bytes(data[: data.rindex(b"\n", 0, len(data) // 2) + 1])
    _one_line(_check(tmp_path, option, truncated), source.name)


def test_an_external_entity_is_never_resolved(tmp_path: Path) -> None:
    document = tmp_path / "bom.xml"
    document.write_text(XXE)
    run = _check(tmp_path, "--sbom", document)
    _one_line(run, "bom.xml")
    assert "root:" not in run.stdout + run.stderr


def test_a_deeply_nested_bogus_document(tmp_path: Path) -> None:
    nested: object = {"value": 1}
    for _ in range(10):
        nested = {"nested": nested}
    document = tmp_path / "deep.json"
    document.write_text(json.dumps(nested))
    _one_line(_check(tmp_path, "--scan", document), "deep.json", "not a recognised")
    very_deep = tmp_path / "very-deep.json"
    very_deep.write_text("[" * 100_000 + "]" * 100_000)
    _one_line(_check(tmp_path, "--scan", very_deep), "very-deep.json")


def test_a_200_mb_report_is_refused_by_size(tmp_path: Path) -> None:
    huge = tmp_path / "huge.json"
    with huge.open("wb") as handle:
        handle.truncate(200 * 1024 * 1024)  # sparse: the size is what is checked first
    _one_line(_check(tmp_path, "--scan", huge), "huge.json", "more than the limit")
