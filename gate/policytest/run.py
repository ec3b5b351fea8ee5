"""Running policy tests: every case through ``evaluate``, compared with what it expects.

The evidence of a case is assembled the way ``gate.check.Gate`` assembles it
for a real image (reports bound to the digest with ``gate.binding.bind``,
the policy's VEX documents before the case's own), then handed to
``gate.policy.evaluate.evaluate``: a test passes exactly when CI and the
admission webhook would decide as it expects for that evidence.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from gate.binding import bind
from gate.clock import Clock, system_clock
from gate.errors import GateError, InputError, PolicyError, PolicyValidationError
from gate.policy.evaluate import evaluate
from gate.policy.evidence import ImageEvidence
from gate.policy.loader import load_policy
from gate.policy.model import Policy
from gate.policy.verdict import ImageVerdict
from gate.policytest.cases import (
    PolicyTestCase,
    PolicyTestSuite,
    is_test_file,
    load_test_file,
)
from gate.scanners.finding import ScanReport


@dataclass(frozen=True)
class CaseResult:
    """One case's verdict and what did not match the expectation (empty: the case passed)."""

    case: PolicyTestCase
    now: datetime
    verdict: ImageVerdict
    mismatches: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """True when the verdict matched everything the case expects."""
        return not self.mismatches


@dataclass(frozen=True)
class SuiteResult:
    """The results of one test file, in case order."""

    suite: PolicyTestSuite
    results: tuple[CaseResult, ...]

    @property
    def failed(self) -> int:
        """How many cases of the file failed."""
        return sum(1 for result in self.results if not result.passed)


@dataclass(frozen=True)
class PolicyTestRun:
    """Every test file of one ``gate policy test`` run."""

    suites: tuple[SuiteResult, ...]

    @property
    def total(self) -> int:
        """How many cases ran."""
        return sum(len(suite.results) for suite in self.suites)

    @property
    def failed(self) -> int:
        """How many cases failed."""
        return sum(suite.failed for suite in self.suites)

    @property
    def passed(self) -> int:
        """How many cases passed."""
        return self.total - self.failed


def find_test_files(paths: Sequence[Path]) -> list[Path]:
    """The test files under ``paths``: directories searched recursively for ``*.tests.yaml``.

    A file named directly is taken whatever its name. Raises ``InputError``
    for a path that does not exist, and when nothing is found at all: a CI
    step that tests nothing must not pass.
    """
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            # Hidden directories (.git, .venv) hold no one's policy tests.
            found.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if is_test_file(p)
                    and p.is_file()
                    and not any(part.startswith(".") for part in p.relative_to(path).parts)
                )
            )
        elif path.exists():
            found.append(path)
        else:
            raise InputError("no such file or directory", source=str(path))
    unique = list(dict.fromkeys(found))
    if not unique:
        shown = ", ".join(str(p) for p in paths)
        raise InputError(f"no policy test files (*.tests.yaml) found in {shown}")
    return unique


class _PolicyCache:
    """Loads each policy file once per run, failures included (several files name one policy)."""

    def __init__(self) -> None:
        self._loaded: dict[Path, Policy | GateError] = {}

    def __call__(self, path: Path) -> Policy:
        key = path.resolve()
        if key not in self._loaded:
            try:
                self._loaded[key] = load_policy(path)
            except GateError as exc:
                self._loaded[key] = exc
        value = self._loaded[key]
        if isinstance(value, GateError):
            raise value
        return value


def load_suites(files: Iterable[Path], *, policy: Path | None = None) -> list[PolicyTestSuite]:
    """Load every test file, each policy once; raise every problem of all of them together.

    Raises ``PolicyValidationError`` with one line per problem (a policy
    named by several files is reported once) when any file or policy is bad:
    then nothing runs, since a run over half the tests would look like a pass.
    """
    cache = _PolicyCache()
    suites: list[PolicyTestSuite] = []
    errors: dict[str, PolicyError] = {}
    for file in files:
        try:
            suites.append(load_test_file(file, policy=policy, load=cache))
        except PolicyValidationError as exc:
            errors.update((error.render(), error) for error in exc.errors)
        except PolicyError as exc:
            errors[exc.render()] = exc
        except GateError as exc:
            errors[str(exc)] = PolicyError(str(exc))
    if errors:
        raise PolicyValidationError(list(errors.values()))
    return suites


def case_evidence(case: PolicyTestCase, policy: Policy, now: datetime) -> ImageEvidence:
    """The evidence the gate would hold for the case's image, bound as ``gate check`` binds it."""
    scans = list(case.scans)
    if case.inline_scan is not None:
        inline = case.inline_scan
        scans.append(
            ScanReport(
                source=inline.source,
                format="inline",
                findings=inline.findings,
                artifact_digests=frozenset({case.digest}),
                created_at=inline.created_at or now,
            )
        )
    sboms = list(case.sboms)
    if case.inline_sbom is not None:
        sboms.append(case.inline_sbom)
    digests = [case.digest]
    if case.platform_digest is not None:
        digests.append(case.platform_digest)
    binding = bind(case.reference, digests, scans, sboms)
    return ImageEvidence(
        reference=case.reference,
        digest=case.digest,
        namespace=case.namespace,
        platform_digest=case.platform_digest,
        signatures=case.signatures,
        scans=binding.scans,
        sboms=binding.sboms,
        notes=binding.notes,
        vex=(*policy.vex, *case.vex),
    )


def compare(case: PolicyTestCase, verdict: ImageVerdict) -> tuple[str, ...]:
    """One sentence for each way ``verdict`` differs from what ``case`` expects."""
    expect = case.expect
    problems: list[str] = []
    if verdict.decision is not expect.decision:
        problems.append(f"decision: expected {expect.decision.value}, got {verdict.decision.value}")
    if expect.compare_rule and verdict.rule != expect.rule:
        problems.append(f"rule: expected {_rule_text(expect.rule)}, got {_rule_text(verdict.rule)}")
    outcomes = {check.check: check.outcome for check in verdict.checks}
    for name, outcome in expect.checks.items():
        got = outcomes.get(name)
        if got is None:
            ran = ", ".join(outcomes) if outcomes else "none"
            problems.append(
                f"checks.{name}: expected {outcome.value}, but no {name} check ran "
                f"(checks run: {ran})"
            )
        elif got is not outcome:
            problems.append(f"checks.{name}: expected {outcome.value}, got {got.value}")
    if expect.reason is not None and not any(
        expect.reason in text for text in (verdict.reason, *(c.reason for c in verdict.checks))
    ):
        problems.append(
            f"reason: expected {expect.reason!r} in the verdict's reason or a check's reason"
        )
    return tuple(problems)


def _rule_text(rule: str | None) -> str:
    return f"'{rule}'" if rule is not None else "no rule (defaultAction)"


def run_suite(
    suite: PolicyTestSuite, *, now: datetime | None = None, clock: Clock = system_clock
) -> SuiteResult:
    """Evaluate every case of ``suite``.

    The instant of a case is its own ``now``, else ``now`` (``--now``), else
    the file's ``now``, else ``clock()`` read once for the whole file.
    """
    default = now or suite.now or clock()
    results: list[CaseResult] = []
    for case in suite.cases:
        instant = case.now or default
        verdict = evaluate(suite.policy, case_evidence(case, suite.policy, instant), instant)
        results.append(CaseResult(case, instant, verdict, compare(case, verdict)))
    return SuiteResult(suite, tuple(results))


def run_policy_tests(
    paths: Sequence[Path],
    *,
    policy: Path | None = None,
    now: datetime | None = None,
    clock: Clock = system_clock,
) -> PolicyTestRun:
    """Find, load and run every test file under ``paths`` (``gate policy test``).

    ``policy`` replaces the policy each file names (review a changed policy
    against the existing tests); ``now`` the instant of cases that do not fix
    their own. Raises ``InputError`` when no test file is found and
    ``PolicyValidationError`` for bad test files or policies (nothing runs).
    """
    suites = load_suites(find_test_files(paths), policy=policy)
    return PolicyTestRun(tuple(run_suite(s, now=now, clock=clock) for s in suites))
