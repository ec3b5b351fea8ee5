"""The sbom check: required SBOMs, denied licenses in expressions, denied purls."""

from __future__ import annotations

from gate.policy.model import SbomPolicy
from gate.policy.purl import PackageUrl
from gate.policy.sbom_check import check_sbom
from gate.policy.verdict import Outcome
from gate.sbom.component import Component
from tests.unit.policy.support import DIGEST, evidence, sbom

COMPONENTS = (
    Component("left-pad", "1.3.0", "pkg:npm/left-pad@1.3.0", ("MIT",)),
    Component("mongo-driver", "4.0", "pkg:npm/mongo-driver@4.0", ("(MIT OR SSPL-1.0)",)),
    Component("gpl-lib", "2.1", "pkg:generic/gpl-lib@2.1", ("GPL-2.0+",)),
    Component("old-agpl", "1.0", "pkg:npm/old-agpl@1.0", ("AGPL-3.0",)),
    Component("event-stream", "3.3.6", "pkg:npm/event-stream@3.3.6", ("MIT",)),
    Component("ctx", "0.2.6", "pkg:pypi/CTX@0.2.6", ()),
    Component("vendored", "1", None, ("LicenseRef-acme",)),
)


def test_no_section() -> None:
    check = check_sbom(None, evidence())
    assert (check.check, check.outcome) == ("sbom", Outcome.SKIP)


def test_required_and_missing() -> None:
    check = check_sbom(SbomPolicy(require=True), evidence())
    assert (check.outcome, check.reason) == (Outcome.FAIL, f"no SBOM for {DIGEST}")


def test_not_required_and_missing() -> None:
    check = check_sbom(SbomPolicy(require=False, denied_licenses=("MIT",)), evidence())
    assert check.outcome is Outcome.SKIP
    assert check.reason == f"no SBOM for {DIGEST}; not required (require is false)"


def test_clean_sbom_passes() -> None:
    check = check_sbom(
        SbomPolicy(denied_licenses=("BUSL-1.1",)), evidence(sboms=(sbom(*COMPONENTS),))
    )
    assert check.outcome is Outcome.PASS
    assert check.reason == "7 components in 1 SBOM: no denied license or package"


def test_denied_licenses_inside_expressions_and_old_ids() -> None:
    policy = SbomPolicy(denied_licenses=("sspl-1.0", "AGPL-3.0-only", "GPL-2.0-only"))
    check = check_sbom(policy, evidence(sboms=(sbom(*COMPONENTS),)))
    assert check.outcome is Outcome.FAIL
    assert check.reason == (
        "3 components carry denied licenses: mongo-driver@4.0 (sspl-1.0), gpl-lib@2.1 "
        "(GPL-2.0-only), old-agpl@1.0 (AGPL-3.0-only)"
    )
    rows = check.details["deniedLicenses"]
    assert rows[0]["licenses"] == ["(MIT OR SSPL-1.0)"]
    assert rows[0]["purl"] == "pkg:npm/mongo-driver@4.0"


def test_license_ref_can_be_denied() -> None:
    check = check_sbom(
        SbomPolicy(denied_licenses=("LicenseRef-acme",)), evidence(sboms=(sbom(*COMPONENTS),))
    )
    assert check.outcome is Outcome.FAIL
    assert "vendored@1 (LicenseRef-acme)" in check.reason


def test_denied_packages() -> None:
    policy = SbomPolicy(
        denied_packages=(
            PackageUrl.parse("pkg:npm/event-stream@3.3.6"),
            PackageUrl.parse("pkg:pypi/ctx"),
            PackageUrl.parse("pkg:npm/left-pad@9.9.9"),
        )
    )
    check = check_sbom(policy, evidence(sboms=(sbom(*COMPONENTS),)))
    assert check.outcome is Outcome.FAIL
    assert check.reason == (
        "2 denied packages: event-stream@3.3.6 (pkg:npm/event-stream@3.3.6), ctx@0.2.6 "
        "(pkg:pypi/CTX@0.2.6); 1 component has no usable purl and could not be checked against "
        "deniedPackages"
    )
    assert check.details["withoutPurl"] == 1
    assert check.details["deniedPackages"][1]["denied"] == ["pkg:pypi/ctx"]


def test_components_without_purl_are_named_even_when_passing() -> None:
    policy = SbomPolicy(denied_packages=(PackageUrl.parse("pkg:npm/nothing"),))
    check = check_sbom(policy, evidence(sboms=(sbom(*COMPONENTS),)))
    assert check.outcome is Outcome.PASS
    assert check.reason == (
        "7 components in 1 SBOM: no denied license or package; 1 component has no usable purl "
        "and could not be checked against deniedPackages"
    )


def test_both_kinds_and_many_hits_are_summarised() -> None:
    many = tuple(Component(f"c{i}", "1", f"pkg:npm/c{i}@1", ("AGPL-3.0-only",)) for i in range(5))
    policy = SbomPolicy(
        denied_licenses=("AGPL-3.0-only",), denied_packages=(PackageUrl.parse("pkg:npm/c0"),)
    )
    check = check_sbom(policy, evidence(sboms=(sbom(*many), sbom(*many, source="dup.json"))))
    assert check.reason == (
        "5 components carry denied licenses: c0@1 (AGPL-3.0-only), c1@1 (AGPL-3.0-only), c2@1 "
        "(AGPL-3.0-only), and 2 more; 1 denied package: c0@1 (pkg:npm/c0@1)"
    )
    assert check.details["components"] == 5
