"""``gate policy test``: the shipped tests pass, a weakened policy fails them, bad files exit 2.

The policies in ``policies/`` and their ``*.tests.yaml`` are run as a CI step
would run them. Removing any one rule of a shipped policy (or flipping its
defaultAction) must make at least one shipped case fail: that is what "the
tests cover every rule" means, checked rather than claimed.
"""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.gate_cli import run_gate, run_gate_process

REPO = Path(__file__).resolve().parents[2]
POLICIES = REPO / "policies"
SHIPPED = sorted(POLICIES.glob("*.tests.yaml"))
_ERROR_LINE = re.compile(r"^\S+:\d+:\d+: \S+: .+$")


def _case_count(test_file: Path) -> int:
    return len(yaml.safe_load(test_file.read_text(encoding="utf-8"))["cases"])


def _policy_of(test_file: Path) -> Path:
    return test_file.parent / str(yaml.safe_load(test_file.read_text(encoding="utf-8"))["policy"])


def _changed_copy(tmp_path: Path, policy: Path, change: Any) -> Path:
    """A copy of ``policy`` changed by ``change(document)``, next to copies of its keys."""
    shutil.copytree(POLICIES / "keys", tmp_path / "keys", dirs_exist_ok=True)
    document = yaml.safe_load(policy.read_text(encoding="utf-8"))
    change(document)
    copy = tmp_path / policy.name
    copy.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return copy


def test_there_are_tests_for_every_shipped_policy() -> None:
    policies = {p.name for p in POLICIES.glob("*.yaml") if not p.name.endswith(".tests.yaml")}
    tested = {_policy_of(t).name for t in SHIPPED}
    assert "example.yaml" in tested
    assert len(policies) >= 4
    assert policies == tested


def test_every_shipped_policy_validates(capsys: pytest.CaptureFixture[str]) -> None:
    policies = sorted({str(_policy_of(t)) for t in SHIPPED})
    result = run_gate(capsys, "policy", "validate", *policies)
    assert result.code == 0, result.stderr
    assert result.stdout.count("valid policy") == len(policies)


def test_shipped_tests_pass(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_gate(capsys, "policy", "test", str(POLICIES))
    total = sum(_case_count(t) for t in SHIPPED)
    assert result.code == 0, result.stdout + result.stderr
    assert (
        result.stdout.splitlines()[-1] == f"policy tests: {total} cases, {total} passed, 0 failed"
    )
    assert "FAIL" not in result.stdout
    assert result.stderr == ""


def test_example_without_a_rule_fails_a_shipped_test(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The issue's own acceptance test: remove the "system" rule from a copy of
    # the example policy, and the shipped example tests catch it.
    shutil.copytree(POLICIES / "keys", tmp_path / "keys")
    text = (POLICIES / "example.yaml").read_text(encoding="utf-8")
    start = text.index("    - name: system")
    end = text.index("    - name: demo")
    copy = tmp_path / "example.yaml"
    copy.write_text(text[:start] + text[end:], encoding="utf-8")
    result = run_gate(
        capsys, "policy", "test", str(POLICIES / "example.tests.yaml"), "--policy", str(copy)
    )
    assert result.code == 1, result.stdout + result.stderr
    row = next(
        line for line in result.stdout.splitlines() if "kube-system image is allowed" in line
    )
    assert row.split()[-1] == "FAIL"
    assert "allow by system" in row
    assert "deny, no rule" in row
    assert "rule: expected 'system', got no rule (defaultAction)" in result.stdout
    assert result.stdout.splitlines()[-1].endswith("failed")
    assert " 0 failed" not in result.stdout.splitlines()[-1]


def _rule_removals() -> list[Any]:
    params = []
    for test_file in SHIPPED:
        policy = _policy_of(test_file)
        rules = yaml.safe_load(policy.read_text(encoding="utf-8"))["spec"]["rules"]
        for index, rule in enumerate(rules):
            params.append(pytest.param(test_file, index, id=f"{policy.stem}-{rule['name']}"))
    return params


@pytest.mark.parametrize(("test_file", "index"), _rule_removals())
def test_removing_any_rule_fails_a_shipped_test(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], test_file: Path, index: int
) -> None:
    copy = _changed_copy(tmp_path, _policy_of(test_file), lambda d: d["spec"]["rules"].pop(index))
    result = run_gate(capsys, "policy", "test", str(test_file), "--policy", str(copy))
    assert result.code == 1, result.stdout + result.stderr
    assert "FAIL" in result.stdout


@pytest.mark.parametrize("test_file", SHIPPED, ids=lambda p: p.stem)
def test_flipping_the_default_action_fails_a_shipped_test(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], test_file: Path
) -> None:
    def allow_by_default(document: dict[str, Any]) -> None:
        document["spec"]["defaultAction"] = "allow"
        document["spec"]["mode"] = "enforce"

    copy = _changed_copy(tmp_path, _policy_of(test_file), allow_by_default)
    result = run_gate(capsys, "policy", "test", str(test_file), "--policy", str(copy))
    assert result.code == 1, result.stdout + result.stderr


def test_a_bad_test_file_exits_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tests.yaml"
    bad.write_text(
        "apiVersion: gate/v1\n"
        "kind: PolicyTest\n"
        f"policy: {POLICIES / 'example.yaml'}\n"
        "cases:\n"
        "  - name: nginx\n"
        "    image: docker.io/library/nginx:1.25\n"
        f"    digest: sha256:{'5' * 64}\n"
        "    expect: {decision: denied, rule: null}\n",
        encoding="utf-8",
    )
    result = run_gate_process("policy", "test", str(tmp_path))
    assert result.code == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert _ERROR_LINE.match(line), line
    assert line == f"{bad}:8:24: cases[0].expect.decision: must be one of allow, warn, deny"


def test_a_bad_policy_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: gate/v1\nkind: Policy\nmetadata: {name: x}\nspec: {mode: on}\n")
    result = run_gate(
        capsys, "policy", "test", str(POLICIES / "example.tests.yaml"), "--policy", str(broken)
    )
    assert result.code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines
    assert all(line.startswith(f"{broken}:") for line in lines)


def test_no_test_files_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_gate(capsys, "policy", "test", str(tmp_path))
    assert result.code == 2
    assert result.stderr == f"gate: no policy test files (*.tests.yaml) found in {tmp_path}\n"


def test_junit_report_has_one_testcase_per_case(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "junit.xml"
    result = run_gate(
        capsys, "policy", "test", str(POLICIES), "--format", "junit", "--output", str(report)
    )
    assert result.code == 0
    assert result.stdout == ""
    total = sum(_case_count(t) for t in SHIPPED)
    assert result.stderr == f"gate: policy tests: {total} cases, {total} passed, 0 failed\n"
    root = ET.parse(report).getroot()  # noqa: S314 - our own output
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [str(t) for t in SHIPPED]
    for suite, test_file in zip(suites, SHIPPED, strict=True):
        assert len(suite.findall("testcase")) == _case_count(test_file)
    assert root.get("tests") == str(total)
    assert root.get("failures") == "0"
    assert not list(root.iter("failure"))


def test_junit_marks_failures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = _changed_copy(tmp_path, POLICIES / "example.yaml", lambda d: d["spec"]["rules"].pop(0))
    result = run_gate(
        capsys,
        "policy",
        "test",
        str(POLICIES / "example.tests.yaml"),
        "--policy",
        str(copy),
        "--format",
        "junit",
    )
    assert result.code == 1
    root = ET.fromstring(result.stdout)  # noqa: S314 - our own output
    failed = [
        case.get("name") for case in root.iter("testcase") if case.find("failure") is not None
    ]
    assert "kube-system image is allowed unchecked" in failed
    assert root.get("failures") == str(len(failed))
    assert len(list(root.iter("testcase"))) == _case_count(POLICIES / "example.tests.yaml")


def test_json_report(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_gate(
        capsys, "policy", "test", str(POLICIES / "example.tests.yaml"), "--format", "json"
    )
    assert result.code == 0
    data = result.json()
    assert data["passed"] is True
    (file,) = data["files"]
    assert file["policy"] == "example"
    assert len(file["cases"]) == _case_count(POLICIES / "example.tests.yaml")
    assert all(case["passed"] for case in file["cases"])


def test_now_moves_the_cases_that_fix_no_instant(capsys: pytest.CaptureFixture[str]) -> None:
    # A month after the exception expired, the case that relies on it fails.
    result = run_gate(
        capsys, "policy", "test", str(POLICIES / "example.tests.yaml"), "--now", "2027-03-01"
    )
    assert result.code == 1
    failed = [line for line in result.stdout.splitlines() if line.endswith("FAIL")]
    assert len(failed) == 1
    assert "CVE-2023-4863 is excepted" in failed[0]
    bad = run_gate(capsys, "policy", "test", str(POLICIES), "--now", "tomorrow")
    assert bad.code == 2
    assert bad.stderr.startswith("gate: --now: not a date or timestamp")
