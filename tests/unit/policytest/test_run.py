"""Running policy tests: the evidence a case stands for, its instant, and the comparison."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gate.errors import InputError, PolicyValidationError
from gate.oci.digest import Digest
from gate.policy.evaluate import evaluate
from gate.policy.loader import load_policy
from gate.policy.model import Policy
from gate.policy.verdict import Decision, Outcome
from gate.policytest.cases import load_test_file
from gate.policytest.run import (
    case_evidence,
    compare,
    find_test_files,
    load_suites,
    run_policy_tests,
    run_suite,
)
from tests.unit.policytest.support import (
    DIGEST_A,
    DIGEST_B,
    HEADER,
    cases_text,
    make_policy,
    write_cases,
)

CLOCK_NOW = datetime(2030, 1, 1, tzinfo=UTC)


def _clock() -> datetime:
    return CLOCK_NOW


def _run_one(directory: Path, case: str) -> tuple[bool, tuple[str, ...]]:
    make_policy(directory)
    suite = load_test_file(write_cases(directory, case))
    (result,) = run_suite(suite, clock=_clock).results
    return result.passed, result.mismatches


def test_each_case_is_what_evaluate_decides(tmp_path: Path) -> None:
    make_policy(tmp_path)
    path = write_cases(
        tmp_path,
        f"""\
        - name: critical
          image: registry.acme.io/apps/web:1.0
          digest: {DIGEST_A}
          signatures: {{release: present}}
          findings:
            - {{id: CVE-2024-1, package: openssl, severity: CRITICAL, fixedVersions: ["2"]}}
          expect: {{decision: deny, rule: apps, checks: {{vulnerabilities: fail}}}}
        """,
    )
    suite = load_test_file(path)
    (result,) = run_suite(suite).results
    assert result.passed
    direct = evaluate(
        suite.policy, case_evidence(suite.cases[0], suite.policy, result.now), result.now
    )
    assert result.verdict == direct
    assert result.verdict.decision is Decision.DENY


def test_mismatches_say_what_differs(tmp_path: Path) -> None:
    passed, mismatches = _run_one(
        tmp_path,
        f"""\
        - name: wrong on every count
          image: registry.acme.io/apps/web:1.0
          digest: {DIGEST_A}
          signatures: {{release: present}}
          expect:
            decision: deny
            rule: system
            checks: {{signatures: fail, sbom: skip, attestations: pass}}
            reason: nothing like this
        """,
    )
    assert not passed
    assert mismatches == (
        "decision: expected deny, got allow",
        "rule: expected 'system', got 'apps'",
        "checks.signatures: expected fail, got pass",
        "checks.attestations: expected pass, but no attestations check ran "
        "(checks run: signatures, vulnerabilities, scan, sbom)",
        "reason: expected 'nothing like this' in the verdict's reason or a check's reason",
    )


def test_rule_null_means_no_rule_matched(tmp_path: Path) -> None:
    passed, mismatches = _run_one(
        tmp_path,
        f"""\
        - name: default
          image: docker.io/library/nginx:1
          digest: {DIGEST_A}
          expect: {{decision: deny, rule: apps, checks: {{signatures: fail}}}}
        """,
    )
    assert not passed
    assert mismatches == (
        "rule: expected 'apps', got no rule (defaultAction)",
        "checks.signatures: expected fail, but no signatures check ran (checks run: none)",
    )
    passed, _ = _run_one(
        tmp_path,
        f"""\
        - name: default
          image: docker.io/library/nginx:1
          digest: {DIGEST_A}
          expect: {{decision: deny, rule: null, reason: defaultAction is deny}}
        """,
    )
    assert passed


def test_reason_may_match_a_checks_reason(tmp_path: Path) -> None:
    passed, _ = _run_one(
        tmp_path,
        f"""\
        - name: signer named by the signatures check
          image: registry.acme.io/apps/web:1.0
          digest: {DIGEST_A}
          signatures: {{release: present}}
          expect: {{decision: allow, reason: signed by release}}
        """,
    )
    assert passed


def test_signature_states_decide_as_verification_results_would(tmp_path: Path) -> None:
    make_policy(tmp_path)
    path = write_cases(
        tmp_path,
        f"""\
        - name: absent by default
          image: registry.acme.io/apps/web:1.0
          digest: {DIGEST_A}
          expect:
            decision: deny
            checks: {{signatures: fail}}
            reason: no signature from release
        - name: invalid
          image: registry.acme.io/apps/web:1.0
          digest: {DIGEST_A}
          signatures: {{release: invalid}}
          expect: {{decision: deny, checks: {{signatures: fail}}, reason: "rejected: release:"}}
        - name: error fails closed
          image: registry.acme.io/apps/web:1.0
          digest: {DIGEST_A}
          signatures: {{release: error}}
          expect:
            decision: deny
            checks: {{signatures: error}}
            reason: could not verify release
        - name: one key of two is not a threshold of two
          image: registry.acme.io/pair/x:1
          digest: {DIGEST_A}
          signatures: {{pair: present}}
          expect: {{decision: deny, rule: pair, reason: threshold needs 2}}
        - name: two keys are
          image: registry.acme.io/pair/x:1
          digest: {DIGEST_A}
          signatures: {{pair: {{signers: 2}}}}
          expect: {{decision: allow, rule: pair, reason: 2 distinct trusted signers}}
        """,
    )
    results = run_suite(load_test_file(path)).results
    assert [(r.case.name, r.mismatches) for r in results if not r.passed] == []


def test_the_instant_of_a_case(tmp_path: Path) -> None:
    make_policy(tmp_path)
    cases = f"""\
    - name: own
      image: registry.acme.io/apps/web:1.0
      digest: {DIGEST_A}
      now: 2026-03-03
      expect: {{decision: deny}}
    - name: inherited
      image: registry.acme.io/apps/web:1.0
      digest: {DIGEST_A}
      expect: {{decision: deny}}
    """
    with_file_now = load_test_file(write_cases(tmp_path, cases))
    results = run_suite(with_file_now, clock=_clock).results
    assert [r.now for r in results] == [
        datetime(2026, 3, 3, tzinfo=UTC),
        datetime(2026, 6, 1, 12, tzinfo=UTC),  # the file's now
    ]
    override = datetime(2027, 2, 1, tzinfo=UTC)
    results = run_suite(with_file_now, now=override, clock=_clock).results
    assert [r.now for r in results] == [datetime(2026, 3, 3, tzinfo=UTC), override]

    no_file_now = tmp_path / "clock.tests.yaml"
    no_file_now.write_text(
        cases_text(cases, header=HEADER.replace("now: 2026-06-01T12:00:00Z\n", "")),
        encoding="utf-8",
    )
    results = run_suite(load_test_file(no_file_now), clock=_clock).results
    assert [r.now for r in results] == [datetime(2026, 3, 3, tzinfo=UTC), CLOCK_NOW]


def test_expiring_exception_follows_the_instant(tmp_path: Path) -> None:
    make_policy(tmp_path)
    path = write_cases(
        tmp_path,
        f"""\
        - name: excepted until the end of 2026-12-31
          image: registry.acme.io/apps/web:1.0
          digest: {DIGEST_A}
          signatures: {{release: present}}
          findings:
            - {{id: CVE-2024-9999, package: zlib, severity: CRITICAL, fixedVersions: ["2"]}}
          expect: {{decision: allow, checks: {{vulnerabilities: pass}}}}
        """,
    )
    suite = load_test_file(path)
    assert run_suite(suite).results[0].passed
    late = run_suite(suite, now=datetime(2027, 1, 1, tzinfo=UTC)).results[0]
    assert not late.passed
    assert "expired on 2026-12-31" in late.verdict.reason


def test_inline_scan_is_dated_at_the_instant_unless_scanned_at_says(tmp_path: Path) -> None:
    make_policy(tmp_path)
    path = write_cases(
        tmp_path,
        f"""\
        - name: fresh
          image: registry.acme.io/apps/web:1.0
          digest: {DIGEST_A}
          signatures: {{release: present}}
          findings: []
          expect: {{decision: allow, checks: {{scan: pass}}}}
        - name: stale
          image: registry.acme.io/apps/web:1.0
          digest: {DIGEST_A}
          signatures: {{release: present}}
          findings: []
          scannedAt: 2026-05-01
          expect: {{decision: deny, checks: {{scan: fail}}, reason: maxScanAge 7d}}
        """,
    )
    suite = load_test_file(path)
    fresh, stale = run_suite(suite).results
    assert fresh.passed
    assert stale.passed
    evidence = case_evidence(suite.cases[0], suite.policy, fresh.now)
    (report,) = evidence.scans
    assert report.created_at == fresh.now
    assert report.artifact_digests == frozenset({Digest.parse(DIGEST_A)})


def test_reports_are_bound_to_the_digest_as_gate_check_binds_them(tmp_path: Path) -> None:
    make_policy(tmp_path)
    trivy = {
        "SchemaVersion": 2,
        "CreatedAt": "2026-06-01T00:00:00Z",
        "ArtifactName": "registry.acme.io/apps/web:1.0",
        "Metadata": {"RepoDigests": [f"registry.acme.io/apps/web@{DIGEST_B}"]},
        "Results": [
            {
                "Target": "x",
                "Vulnerabilities": [
                    {
                        "VulnerabilityID": "CVE-2024-7",
                        "PkgName": "openssl",
                        "InstalledVersion": "1",
                        "FixedVersion": "2",
                        "Status": "fixed",
                        "Severity": "CRITICAL",
                    }
                ],
            }
        ],
    }
    (tmp_path / "trivy.json").write_text(json.dumps(trivy), encoding="utf-8")
    path = write_cases(
        tmp_path,
        f"""\
        - name: another digest
          image: registry.acme.io/apps/web:1.0
          digest: {DIGEST_A}
          signatures: {{release: present}}
          scans: [trivy.json]
          expect: {{decision: allow, checks: {{scan: skip, vulnerabilities: skip}}}}
        - name: the platform manifest the report describes
          image: registry.acme.io/apps/web:1.0
          digest: {DIGEST_A}
          platform: {{name: linux/amd64, digest: {DIGEST_B}}}
          signatures: {{release: present}}
          scans: [trivy.json]
          expect: {{decision: deny, checks: {{vulnerabilities: fail}}, reason: CVE-2024-7}}
        """,
    )
    suite = load_test_file(path)
    other, platform = run_suite(suite).results
    assert other.passed, other.mismatches
    assert platform.passed, platform.mismatches
    notes = case_evidence(suite.cases[0], suite.policy, other.now).notes
    assert any("not this image" in note for note in notes)


def test_vex_files_and_the_policys_vex_both_apply(tmp_path: Path) -> None:
    make_policy(tmp_path)
    vex = {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://example.invalid/vex/1",
        "author": "test",
        "timestamp": "2026-05-01T00:00:00Z",
        "version": 1,
        "statements": [
            {
                "vulnerability": {"name": "CVE-2024-5"},
                "products": [{"@id": f"registry.acme.io/apps/web@{DIGEST_A}"}],
                "status": "not_affected",
                "justification": "vulnerable_code_not_present",
            }
        ],
    }
    (tmp_path / "vex.json").write_text(json.dumps(vex), encoding="utf-8")
    passed, mismatches = _run_one(
        tmp_path,
        f"""\
        - name: suppressed
          image: registry.acme.io/apps/web:1.0
          digest: {DIGEST_A}
          signatures: {{release: present}}
          findings:
            - {{id: CVE-2024-5, package: zlib, severity: CRITICAL, fixedVersions: ["2"]}}
          vex: [vex.json]
          expect: {{decision: allow, checks: {{vulnerabilities: pass}}}}
        """,
    )
    assert passed, mismatches


# -- finding and loading files -------------------------------------------------------


def test_find_test_files(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    for name in ("x.tests.yaml", "a/y.tests.yml", "a/b/z.tests.yaml", ".hidden/h.tests.yaml"):
        (tmp_path / name).write_text("", encoding="utf-8")
    (tmp_path / "a" / "policy.yaml").write_text("", encoding="utf-8")
    assert find_test_files([tmp_path]) == [
        tmp_path / "a" / "b" / "z.tests.yaml",
        tmp_path / "a" / "y.tests.yml",
        tmp_path / "x.tests.yaml",
    ]
    named = tmp_path / "a" / "policy.yaml"
    assert find_test_files([named, tmp_path / "x.tests.yaml", named]) == [
        named,
        tmp_path / "x.tests.yaml",
    ]


def test_find_test_files_refuses_nothing_and_missing_paths(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no policy test files \(\*\.tests\.yaml\) found"):
        find_test_files([tmp_path])
    with pytest.raises(InputError, match="no such file or directory"):
        find_test_files([tmp_path / "nothere"])


def test_load_suites_reads_each_policy_once_and_reports_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_policy(tmp_path)
    case = f"""\
    - name: a
      image: registry.acme.io/apps/web:1.0
      digest: {DIGEST_A}
      expect: {{decision: deny}}
    """
    first = write_cases(tmp_path, case, "one.tests.yaml")
    second = write_cases(tmp_path, case, "two.tests.yaml")
    loads: list[Path] = []
    real = load_policy

    def counting(path: Path) -> Policy:
        loads.append(path)
        return real(path)

    monkeypatch.setattr("gate.policytest.run.load_policy", counting)
    suites = load_suites([first, second])
    assert len(suites) == 2
    assert loads == [tmp_path / "policy.yaml"]
    assert suites[0].policy is suites[1].policy

    (tmp_path / "policy.yaml").write_text("apiVersion: gate/v1\n", encoding="utf-8")
    loads.clear()
    with pytest.raises(PolicyValidationError) as info:
        load_suites([first, second])
    lines = str(info.value).splitlines()
    assert len(lines) == len(set(lines))
    assert all(line.startswith(str(tmp_path / "policy.yaml")) for line in lines)
    assert len(loads) == 1


def test_run_policy_tests_counts(tmp_path: Path) -> None:
    make_policy(tmp_path)
    write_cases(
        tmp_path,
        f"""\
        - name: passes
          image: registry.acme.io/apps/web:1.0
          digest: {DIGEST_A}
          expect: {{decision: deny}}
        - name: fails
          image: registry.acme.io/apps/web:1.0
          digest: {DIGEST_A}
          expect: {{decision: allow}}
        """,
    )
    run = run_policy_tests([tmp_path], clock=_clock)
    assert (run.total, run.passed, run.failed) == (2, 1, 1)
    (suite,) = run.suites
    assert [r.passed for r in suite.results] == [True, False]
    assert suite.results[1].verdict.checks[0].outcome is Outcome.FAIL


def test_compare_passes_when_only_the_decision_is_expected(tmp_path: Path) -> None:
    make_policy(tmp_path)
    path = write_cases(
        tmp_path,
        f"""\
        - name: only the decision
          image: registry.acme.io/apps/web:1.0
          digest: {DIGEST_A}
          expect: {{decision: deny}}
        """,
    )
    suite = load_test_file(path)
    (case,) = suite.cases
    verdict = evaluate(suite.policy, case_evidence(case, suite.policy, CLOCK_NOW), CLOCK_NOW)
    assert compare(case, verdict) == ()
