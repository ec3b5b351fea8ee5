"""Loading policy test files: the cases built from them, and every error on one line."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from gate.errors import PolicyError, PolicyValidationError
from gate.oci.digest import Digest
from gate.policy.verdict import Decision, Outcome
from gate.policytest.cases import (
    MAX_TEST_FILE_BYTES,
    is_test_file,
    load_test_file,
    load_test_text,
    parse_instant,
    schema_text,
)
from gate.scanners.finding import FixState, Severity
from tests.unit.policy.support import policy_text, write_policy
from tests.unit.policytest.support import (
    DIGEST_A,
    DIGEST_B,
    HEADER,
    cases_text,
    make_policy,
    write_cases,
)

REPO = Path(__file__).resolve().parents[3]


def _errors(directory: Path, text: str, name: str = "policy.tests.yaml") -> list[str]:
    """The error lines of loading ``text`` as ``directory/name`` (it must fail)."""
    path = directory / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_test_file(path)
    return str(info.value).splitlines()


# -- the schema ----------------------------------------------------------------------


def test_schema_is_valid_and_the_editor_copy_is_identical() -> None:
    Draft202012Validator.check_schema(json.loads(schema_text()))
    editor_copy = (REPO / "policies" / "policytest.schema.json").read_text(encoding="utf-8")
    assert editor_copy == schema_text(), (
        "policies/policytest.schema.json differs from gate/data/policytest.schema.json; "
        "copy the package's file over it"
    )


def test_every_schema_property_has_a_title_or_description() -> None:
    def walk(node: object, where: str) -> list[str]:
        missing: list[str] = []
        if isinstance(node, dict):
            for name, prop in node.get("properties", {}).items():
                if "description" not in prop:
                    missing.append(f"{where}.{name}")
            for key, value in node.items():
                missing.extend(walk(value, f"{where}.{key}"))
        elif isinstance(node, list):
            for index, item in enumerate(node):
                missing.extend(walk(item, f"{where}[{index}]"))
        return missing

    assert walk(json.loads(schema_text()), "$") == []


# -- a valid file --------------------------------------------------------------------


def test_a_valid_file_builds_every_case(tmp_path: Path) -> None:
    _, keys = make_policy(tmp_path)
    path = write_cases(
        tmp_path,
        f"""\
        - name: signed app
          description: the happy path
          image: registry.acme.io/apps/web:1.0
          digest: {DIGEST_A}
          namespace: prod-eu
          platform: {{name: linux/arm64, digest: {DIGEST_B}}}
          now: 2026-07-01
          scannedAt: 2026-06-30T10:00:00+02:00
          signatures: {{release: present}}
          findings:
            - id: CVE-2024-1
              aliases: [GHSA-xxxx-yyyy-zzzz]
              package: openssl
              version: 3.0.1
              purl: pkg:deb/debian/openssl@3.0.1
              severity: critical
              cvss: 9
              fixedVersions: [3.0.2]
              fixPublished: 2026-05-01
              epss: 0.25
              kev: true
          components:
            - {{name: left-pad, version: 1.3.0, purl: pkg:npm/left-pad@1.3.0, licenses: [MIT]}}
          expect:
            decision: deny
            rule: apps
            checks: {{vulnerabilities: fail, sbom: pass}}
            reason: CVE-2024-1
        - name: pinned reference, default expectations
          image: registry.acme.io/apps/web@{DIGEST_B}
          expect: {{decision: allow}}
        """,
    )
    suite = load_test_file(path)
    assert suite.policy.name == "test"
    assert suite.policy_path == tmp_path / "policy.yaml"
    assert suite.now == datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    first, second = suite.cases
    assert first.name == "signed app"
    assert first.description == "the happy path"
    assert first.line == 6
    assert str(first.reference) == "registry.acme.io/apps/web:1.0"
    assert first.digest == Digest.parse(DIGEST_A)
    assert first.namespace == "prod-eu"
    assert str(first.platform) == "linux/arm64"
    assert first.platform_digest == Digest.parse(DIGEST_B)
    assert first.now == datetime(2026, 7, 1, tzinfo=UTC)
    assert first.inline_scan is not None
    assert first.inline_scan.created_at == datetime(2026, 6, 30, 8, 0, tzinfo=UTC)
    assert first.inline_scan.source == f"{path}:15"
    (finding,) = first.inline_scan.findings
    assert finding.id == "CVE-2024-1"
    assert finding.aliases == ("GHSA-xxxx-yyyy-zzzz",)
    assert finding.severity is Severity.CRITICAL
    assert finding.max_cvss == 9.0
    assert finding.fix_state is FixState.FIXED
    assert finding.fixed_versions == ("3.0.2",)
    assert finding.fix_published == datetime(2026, 5, 1, tzinfo=UTC)
    assert finding.epss == 0.25
    assert finding.kev is True
    assert finding.purl == "pkg:deb/debian/openssl@3.0.1"
    assert first.inline_sbom is not None
    assert first.inline_sbom.subject_digests == frozenset({Digest.parse(DIGEST_A)})
    (component,) = first.inline_sbom.components
    assert (component.name, component.version, component.licenses) == (
        "left-pad",
        "1.3.0",
        ("MIT",),
    )
    assert first.expect.decision is Decision.DENY
    assert first.expect.compare_rule
    assert first.expect.rule == "apps"
    assert dict(first.expect.checks) == {"vulnerabilities": Outcome.FAIL, "sbom": Outcome.PASS}
    assert first.expect.reason == "CVE-2024-1"
    # Every authority of the policy has a result; the ones not named are absent.
    release = first.signatures["release"]
    assert release.satisfied
    assert [s.signer for s in release.signatures] == [keys["release"].fingerprint]
    assert release.signatures[0].digest == Digest.parse(DIGEST_A)
    assert release.signatures[0].signer_label == "keys/release.pub"
    assert not first.signatures["pair"].signatures
    assert first.signatures["pair"].error is None

    assert second.digest == Digest.parse(DIGEST_B)
    assert second.now is None
    assert second.inline_scan is None
    assert second.inline_sbom is None
    assert not second.expect.compare_rule
    assert second.expect.checks == {}


def test_signature_outcomes_become_authority_results(tmp_path: Path) -> None:
    _, keys = make_policy(tmp_path)
    path = write_cases(
        tmp_path,
        f"""\
        - name: states
          image: registry.acme.io/pair/x:1
          digest: {DIGEST_A}
          signatures: {{release: invalid, pair: {{signers: 2}}}}
          expect: {{decision: allow}}
        - name: error
          image: registry.acme.io/pair/x:1
          digest: {DIGEST_A}
          signatures: {{release: error, pair: absent}}
          expect: {{decision: allow}}
        """,
    )
    states, error = load_test_file(path).cases
    invalid = states.signatures["release"]
    assert not invalid.signatures
    assert invalid.error is None
    (rejection,) = invalid.rejections
    assert "did not verify with keys/release.pub" in rejection
    pair = states.signatures["pair"]
    assert pair.signers == frozenset({keys["alice"].fingerprint, keys["bob"].fingerprint})
    assert error.signatures["release"].error is not None
    assert not error.signatures["release"].satisfied
    assert error.signatures["pair"].signatures == ()


def test_findings_fix_state_defaults(tmp_path: Path) -> None:
    make_policy(tmp_path)
    path = write_cases(
        tmp_path,
        f"""\
        - name: fix states
          image: registry.acme.io/apps/web:1.0
          digest: {DIGEST_A}
          findings:
            - {{id: CVE-1, package: a, severity: LOW}}
            - {{id: CVE-2, package: b, severity: Low, fixedVersions: ["2"]}}
            - {{id: CVE-3, package: c, severity: unknown, fixedVersions: ["2"], fixState: wont-fix}}
          components: []
          expect: {{decision: allow}}
        """,
    )
    (case,) = load_test_file(path).cases
    assert case.inline_scan is not None
    assert [f.fix_state for f in case.inline_scan.findings] == [
        FixState.NOT_FIXED,
        FixState.FIXED,
        FixState.WONT_FIX,
    ]
    assert [f.package_version for f in case.inline_scan.findings] == ["", "", ""]
    assert case.inline_scan.created_at is None  # the case's instant, decided when it runs
    assert case.inline_sbom is not None
    assert case.inline_sbom.components == ()


def test_evidence_files_are_read_relative_to_the_test_file(tmp_path: Path) -> None:
    make_policy(tmp_path)
    data = tmp_path / "tests" / "data"
    data.mkdir(parents=True)
    trivy = {
        "SchemaVersion": 2,
        "ArtifactName": "registry.acme.io/apps/web:1.0",
        "Metadata": {"RepoDigests": [f"registry.acme.io/apps/web@{DIGEST_A}"]},
        "Results": [],
    }
    (data / "trivy.json").write_text(json.dumps(trivy), encoding="utf-8")
    text = cases_text(
        f"""\
        - name: with a report
          image: registry.acme.io/apps/web:1.0
          digest: {DIGEST_A}
          scans: [data/trivy.json]
          expect: {{decision: allow}}
        - name: same report again
          image: registry.acme.io/apps/web:1.0
          digest: {DIGEST_A}
          scans: [data/trivy.json]
          expect: {{decision: allow}}
        """,
        header=HEADER.replace("policy: policy.yaml", "policy: ../policy.yaml"),
    )
    path = tmp_path / "tests" / "web.tests.yaml"
    path.write_text(text, encoding="utf-8")
    first, second = load_test_file(path).cases
    (report,) = first.scans
    assert report.source == str(data / "trivy.json")
    assert report.artifact_digests == frozenset({Digest.parse(DIGEST_A)})
    assert second.scans[0] is report  # parsed once per file


def test_policy_override_replaces_the_named_policy(tmp_path: Path) -> None:
    make_policy(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    make_policy(other)
    path = write_cases(
        tmp_path,
        f"""\
        - name: one
          image: registry.acme.io/apps/web:1.0
          digest: {DIGEST_A}
          expect: {{decision: allow}}
        """,
    )
    suite = load_test_file(path, policy=other / "policy.yaml")
    assert suite.policy_path == other / "policy.yaml"
    assert suite.policy.source == other / "policy.yaml"


def test_is_test_file() -> None:
    assert is_test_file(Path("policies/example.tests.yaml"))
    assert is_test_file(Path("x.tests.yml"))
    assert not is_test_file(Path("policies/example.yaml"))
    assert not is_test_file(Path("tests.yaml"))


# -- instants ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-06-01", datetime(2026, 6, 1, tzinfo=UTC)),
        ("2026-06-01T12:30:00Z", datetime(2026, 6, 1, 12, 30, tzinfo=UTC)),
        ("2026-06-01T12:30:00z", datetime(2026, 6, 1, 12, 30, tzinfo=UTC)),
        ("2026-06-01T12:30:00+02:00", datetime(2026, 6, 1, 10, 30, tzinfo=UTC)),
        ("2026-06-01 12:30:00+00:00", datetime(2026, 6, 1, 12, 30, tzinfo=UTC)),
    ],
)
def test_parse_instant(text: str, expected: datetime) -> None:
    parsed = parse_instant(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2026-06-01T12:00:00", "has no time zone"),
        ("2026-02-30", "not a date or timestamp"),
        ("yesterday", "not a date or timestamp"),
    ],
)
def test_parse_instant_refuses(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_instant(text)


# -- errors: one line each, file:line:column: field: reason ---------------------------

_CASE = f"""\
- name: one
  image: registry.acme.io/apps/web:1.0
  digest: {DIGEST_A}
  expect: {{decision: allow}}
"""


@pytest.mark.parametrize(
    ("replace", "by", "line"),
    [
        (
            "decision: allow",
            "decision: allowed",
            "t.tests.yaml:9:24: cases[0].expect.decision: must be one of allow, warn, deny",
        ),
        (
            "decision: allow}",
            "decision: allow, checks: {sbom: passed}}",
            "t.tests.yaml:9:46: cases[0].expect.checks.sbom: must be one of pass, fail, warn, "
            "skip, error",
        ),
        (
            "decision: allow}",
            "decision: allow, rule: [apps]}",
            "t.tests.yaml:9:37: cases[0].expect.rule: expected a string or null, got a list",
        ),
        (
            "expect: {decision: allow}",
            "expect: {}",
            't.tests.yaml:9:13: cases[0].expect: missing required field "decision"',
        ),
        (
            "  expect: {decision: allow}",
            "  expect: {decision: allow}\n  expected: {}",
            't.tests.yaml:10:5: cases[0]: unknown field "expected" (did you mean "expect"?)',
        ),
        (
            f"digest: {DIGEST_A}",
            "digest: sha256:abc",
            "t.tests.yaml:8:13: cases[0].digest: not a valid digest: 'sha256:abc'",
        ),
        (
            f"  digest: {DIGEST_A}\n",
            "",
            't.tests.yaml:6:5: cases[0]: missing "digest": the digest the image reference '
            "resolves to (required unless the reference carries one)",
        ),
        (
            "image: registry.acme.io/apps/web:1.0",
            "image: registry.acme.io/Apps/web",
            "t.tests.yaml:7:12: cases[0].image: invalid image reference "
            "'registry.acme.io/Apps/web': bad repository component 'Apps' (lowercase letters, "
            "digits and . _ - only)",
        ),
        (
            "image: registry.acme.io/apps/web:1.0",
            f"image: registry.acme.io/apps/web@{DIGEST_B}",
            f"t.tests.yaml:8:13: cases[0].digest: the image reference is pinned to {DIGEST_B}, "
            f"not {DIGEST_A}; give one digest",
        ),
        (
            "  expect:",
            "  namespace: Prod\n  expect:",
            "t.tests.yaml:9:16: cases[0].namespace: not a Kubernetes namespace: 'Prod' "
            "(lowercase letters, digits and '-', at most 63 characters)",
        ),
        (
            "  expect:",
            "  now: 2026-06-01 10:00:00\n  expect:",
            "t.tests.yaml:9:10: cases[0].now: timestamp '2026-06-01T10:00:00' has no time zone: "
            "add Z (UTC) or an offset such as +02:00",
        ),
        (
            "  expect:",
            "  signatures: {relase: present}\n  expect:",
            't.tests.yaml:9:18: cases[0].signatures.relase: unknown trust authority "relase" '
            "in policy policy.yaml (it has: pair, release)",
        ),
        (
            "  expect:",
            "  signatures: {release: signed}\n  expect:",
            "t.tests.yaml:9:27: cases[0].signatures.release: must be one of present, absent, "
            "invalid, error",
        ),
        (
            "  expect:",
            "  signatures: {release: {signers: 2}}\n  expect:",
            "t.tests.yaml:9:37: cases[0].signatures.release.signers: authority release has 1 "
            "distinct signer, so 2 cannot have signed",
        ),
        (
            "  expect:",
            "  signatures: {pair: {signers: 0}}\n  expect:",
            "t.tests.yaml:9:34: cases[0].signatures.pair.signers: must be at least 1",
        ),
        (
            "  expect:",
            "  findings: [{id: CVE-1, package: a, severity: severe}]\n  expect:",
            "t.tests.yaml:9:50: cases[0].findings[0].severity: must be one of UNKNOWN, LOW, "
            "MEDIUM, HIGH, CRITICAL (any case)",
        ),
        (
            "  expect:",
            "  findings: [{id: CVE-1, severity: LOW}]\n  expect:",
            't.tests.yaml:9:16: cases[0].findings[0]: missing required field "package"',
        ),
        (
            "  expect:",
            "  findings: [{id: CVE-1, package: a, severity: LOW, epss: 2}]\n  expect:",
            "t.tests.yaml:9:61: cases[0].findings[0].epss: must be at most 1",
        ),
        (
            "  expect:",
            "  findings: [{id: CVE-1, package: a, severity: LOW, fixState: done}]\n  expect:",
            "t.tests.yaml:9:65: cases[0].findings[0].fixState: must be one of fixed, not-fixed, "
            "wont-fix, not-affected, unknown",
        ),
        (
            "  expect:",
            "  scannedAt: 2026-06-01\n  expect:",
            "t.tests.yaml:9:5: cases[0].scannedAt: scannedAt dates the inline findings report; "
            "give findings (an empty list for a clean scan) or leave scannedAt out",
        ),
        (
            "  expect:",
            "  scans: [missing.json]\n  expect:",
            "t.tests.yaml:9:13: cases[0].scans[0]: {dir}/missing.json: scan report file not found",
        ),
        (
            "  expect:",
            "  platform: {name: linux, digest: " + DIGEST_B + "}\n  expect:",
            "t.tests.yaml:9:22: cases[0].platform.name: invalid platform 'linux': expected "
            "os/architecture[/variant], e.g. linux/amd64 or linux/arm64/v8",
        ),
        (
            "  expect:",
            "  components: [{version: '1'}]\n  expect:",
            't.tests.yaml:9:18: cases[0].components[0]: missing required field "name"',
        ),
    ],
)
def test_each_error_is_one_line_with_its_position(
    tmp_path: Path, replace: str, by: str, line: str
) -> None:
    make_policy(tmp_path)
    case = _CASE.replace(replace, by)
    assert case != _CASE
    text = cases_text(case)
    assert _errors(tmp_path, text, "t.tests.yaml") == [
        line.replace("t.tests.yaml", str(tmp_path / "t.tests.yaml"))
        .replace("policy policy.yaml", f"policy {tmp_path / 'policy.yaml'}")
        .replace("{dir}", str(tmp_path))
    ]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("apiVersion: gate/v2\n", '1:13: apiVersion: must be gate/v1, got "gate/v2"'),
        ("kind: Policy\n", '2:7: kind: must be PolicyTest, got "Policy"'),
        ("policy: 3\n", "3:9: policy: expected a string, got an integer"),
        ("policy: nothere.yaml\n", "3:9: policy: policy file nothere.yaml not found (looked at "),
        ("now: someday\n", "4:6: now: not a date or timestamp: 'someday'"),
        ("cases: []\n", "5:8: cases: must not be empty"),
    ],
)
def test_top_level_errors(tmp_path: Path, text: str, line: str) -> None:
    make_policy(tmp_path)
    base = {
        "apiVersion": "apiVersion: gate/v1\n",
        "kind": "kind: PolicyTest\n",
        "policy": "policy: policy.yaml\n",
        "now": "now: 2026-06-01\n",
        "cases": f"cases:\n  - {{name: a, image: 'x.io/a:1', digest: '{DIGEST_A}', "
        "expect: {decision: allow}}\n",
    }
    key = text.split(":", 1)[0]
    base[key] = text
    (error,) = _errors(tmp_path, "".join(base.values()))
    assert error.startswith(f"{tmp_path / 'policy.tests.yaml'}:{line}")


def test_every_problem_of_a_file_is_reported_in_file_order(tmp_path: Path) -> None:
    make_policy(tmp_path)
    text = cases_text(
        f"""\
        - name: one
          image: registry.acme.io/apps/web:1.0
          digest: nope
          expect: {{decision: allow}}
        - name: one
          image: registry.acme.io/apps/web:1.0
          digest: {DIGEST_A}
          expect: {{decision: maybe}}
        """
    )
    lines = _errors(tmp_path, text)
    file = tmp_path / "policy.tests.yaml"
    assert lines == [
        f"{file}:8:13: cases[0].digest: not a valid digest: 'nope'",
        f'{file}:10:11: cases[1].name: duplicate case name "one" (also cases[0])',
        f"{file}:13:24: cases[1].expect.decision: must be one of allow, warn, deny",
    ]


def test_a_broken_policy_is_reported_with_the_test_files_own_errors(tmp_path: Path) -> None:
    write_policy(
        tmp_path, policy_text("rules: [{name: a, match: {images: [nginx]}, action: allow}]")
    )
    text = cases_text(
        """\
        - name: one
          image: registry.acme.io/apps/web:1.0
          expect: {decision: allow}
        """
    )
    lines = _errors(tmp_path, text)
    assert len(lines) == 2
    assert lines[0].startswith(f"{tmp_path / 'policy.yaml'}:6:")
    assert 'image glob "nginx" names no registry' in lines[0]
    assert lines[1].startswith(f"{tmp_path / 'policy.tests.yaml'}:6:5: cases[0]: missing")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty test file: expected a PolicyTest document"),
        (b"# only a comment\n", "empty test file: expected a PolicyTest document"),
        (b"a: 1\n---\nb: 2\n", "more than one YAML document; a test file holds exactly one"),
        (b"\xff\xfe", "test file is not UTF-8 (byte 0)"),
        (b"a: [1\n", "invalid YAML"),
        (b"- 1\n", "1:1: expected a mapping, got a list"),
        (b"\x00policy: x\n", "invalid YAML"),
    ],
)
def test_unreadable_files(tmp_path: Path, data: bytes, reason: str) -> None:
    path = tmp_path / "x.tests.yaml"
    path.write_bytes(data)
    with pytest.raises(PolicyError) as info:
        load_test_file(path)
    (line,) = str(info.value).splitlines()
    assert line.startswith(str(path))
    assert reason in line


def test_missing_and_oversized_files(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="test file not found"):
        load_test_file(tmp_path / "nothere.tests.yaml")
    with pytest.raises(PolicyError, match="test file is a directory"):
        load_test_file(tmp_path)
    with pytest.raises(PolicyError, match="larger than"):
        load_test_text(b"#" * (MAX_TEST_FILE_BYTES + 1), tmp_path / "big.tests.yaml")


def test_validation_error_carries_one_policy_error_per_line(tmp_path: Path) -> None:
    make_policy(tmp_path)
    text = cases_text(
        """\
        - name: a
          image: x.io/a:1
          digest: bad
          expect: {decision: nope}
        """
    )
    path = tmp_path / "policy.tests.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyValidationError) as info:
        load_test_file(path)
    assert [(e.line, e.field) for e in info.value.errors] == [
        (8, "cases[0].digest"),
        (9, "cases[0].expect.decision"),
    ]
