"""The sbom check: required SBOMs, denied licenses in expressions, denied purls."""

from __future__ import annotations

from gate.policy.model import SbomPolicy
from gate.policy.sbom_check import check_sbom
from gate.policy.verdict import Outcome
from gate.purl import PackageUrl
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
        "(pkg:pypi/CTX@0.2.6); 1 component has no usable purl and was checked against "
        "deniedPackages by name only: vendored@1"
    )
    assert check.details["withoutPurl"] == 1
    assert check.details["checkedByName"] == ["vendored@1"]
    assert check.details["deniedPackages"][1]["denied"] == ["pkg:pypi/ctx"]


def test_components_without_purl_are_named_even_when_passing() -> None:
    policy = SbomPolicy(denied_packages=(PackageUrl.parse("pkg:npm/nothing"),))
    check = check_sbom(policy, evidence(sboms=(sbom(*COMPONENTS),)))
    assert check.outcome is Outcome.PASS
    assert check.reason == (
        "7 components in 1 SBOM: no denied license or package; 1 component has no usable purl "
        "and was checked against deniedPackages by name only: vendored@1"
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


def test_components_without_purl_are_matched_by_name() -> None:
    # A component that drops its purl must not slip past deniedPackages.
    components = (
        Component("event-stream", "3.3.6"),
        Component("@babel/core", "7.0.0", "not a purl"),
        Component("org.apache.logging.log4j:log4j-core", "2.14.1"),
        Component("left-pad", "1.3.0"),  # denied only at another version
        Component("@other/event-stream", "3.3.6"),  # another namespace: another package
    )
    policy = SbomPolicy(
        denied_packages=(
            PackageUrl.parse("pkg:npm/event-stream@3.3.6"),
            PackageUrl.parse("pkg:npm/%40babel/core"),
            PackageUrl.parse("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"),
            PackageUrl.parse("pkg:npm/left-pad@9.9.9"),
        )
    )
    check = check_sbom(policy, evidence(sboms=(sbom(*components),)))
    assert check.outcome is Outcome.FAIL
    assert check.reason == (
        "3 denied packages: event-stream@3.3.6 (matched pkg:npm/event-stream@3.3.6 by name: no "
        "usable purl), @babel/core@7.0.0 (matched pkg:npm/@babel/core by name: no usable purl), "
        "org.apache.logging.log4j:log4j-core@2.14.1 (matched "
        "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1 by name: no usable purl); "
        "5 components have no usable purl and were checked against deniedPackages by name only: "
        "event-stream@3.3.6, @babel/core@7.0.0, org.apache.logging.log4j:log4j-core@2.14.1, "
        "and 2 more"
    )
    rows = check.details["deniedPackages"]
    assert [row["matchedBy"] for row in rows] == ["name", "name", "name"]


def test_name_match_with_unknown_version_fails_closed() -> None:
    policy = SbomPolicy(denied_packages=(PackageUrl.parse("pkg:npm/event-stream@3.3.6"),))
    check = check_sbom(policy, evidence(sboms=(sbom(Component("event-stream")),)))
    assert check.outcome is Outcome.FAIL
    assert check.reason.startswith(
        "1 denied package: event-stream (matched pkg:npm/event-stream@3.3.6 by name: no usable "
        "purl; version unknown)"
    )


def test_components_that_cannot_be_checked_are_named() -> None:
    policy = SbomPolicy(denied_packages=(PackageUrl.parse("pkg:npm/event-stream"),))
    components = (Component("", "1.0", bom_ref="ref-1"), Component(" ", None))
    check = check_sbom(policy, evidence(sboms=(sbom(*components),)))
    assert check.outcome is Outcome.PASS
    assert check.reason == (
        "2 components in 1 SBOM: no denied license or package; 2 components have neither a "
        "usable purl nor a name and could not be checked against deniedPackages: bom-ref ref-1, "
        "unnamed component #2"
    )
    assert check.details["unchecked"] == ["bom-ref ref-1", "unnamed component #2"]


def test_malformed_license_expression_cannot_hide_a_denied_license() -> None:
    components = (
        Component("a", "1", "pkg:npm/a@1", ("MIT, AGPL-3.0-only",)),
        Component("b", "1", "pkg:npm/b@1", ("(MIT OR AGPL-3.0-only",)),
        Component("c", "1", "pkg:npm/c@1", ("AGPL-3.0-only;MIT",)),
    )
    policy = SbomPolicy(denied_licenses=("AGPL-3.0-only",))
    check = check_sbom(policy, evidence(sboms=(sbom(*components),)))
    assert check.outcome is Outcome.FAIL
    assert check.reason == (
        "3 components carry denied licenses: a@1 (AGPL-3.0-only), b@1 (AGPL-3.0-only), "
        "c@1 (AGPL-3.0-only)"
    )
