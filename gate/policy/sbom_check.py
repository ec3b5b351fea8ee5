"""The "sbom" check: is there an SBOM, and does any component carry a denied license or purl?"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from gate.policy.evidence import ImageEvidence
from gate.policy.licenses import canonical_license_id, license_ids
from gate.policy.model import SbomPolicy
from gate.policy.purl import PackageUrl, PurlError
from gate.policy.verdict import CheckResult, Outcome
from gate.sbom.component import Component, Sbom

CHECK = "sbom"
_SHOWN = 3


def check_sbom(policy: SbomPolicy | None, evidence: ImageEvidence) -> CheckResult:
    """Require an SBOM if asked, and deny components with denied licenses or package URLs.

    Components without a purl (or with one that does not parse) cannot be
    checked against ``deniedPackages``; they are counted in the details and
    named in the reason, never silently passed over.
    """
    if policy is None:
        return CheckResult(CHECK, Outcome.SKIP, "rule has no sbom section")
    if not evidence.sboms:
        if policy.require:
            return CheckResult(CHECK, Outcome.FAIL, f"no SBOM for {evidence.digest}")
        return CheckResult(
            CHECK, Outcome.SKIP, f"no SBOM for {evidence.digest}; not required (require is false)"
        )
    components = _unique(evidence.sboms)
    denied_licenses = {canonical_license_id(entry): entry for entry in policy.denied_licenses}
    license_hits: list[dict[str, Any]] = []
    package_hits: list[dict[str, Any]] = []
    unchecked: list[str] = []
    for component in components:
        if denied_licenses:
            mentioned: set[str] = set()
            for expression in component.licenses:
                mentioned |= license_ids(expression)
            hits = sorted({denied_licenses[i] for i in mentioned if i in denied_licenses})
            if hits:
                license_hits.append(
                    {
                        **_component_row(component),
                        "licenses": list(component.licenses),
                        "denied": hits,
                    }
                )
        if policy.denied_packages:
            purl = _parse(component.purl)
            if purl is None:
                unchecked.append(_display(component))
                continue
            matched = [str(p) for p in policy.denied_packages if p.matches(purl)]
            if matched:
                package_hits.append({**_component_row(component), "denied": matched})
    details = MappingProxyType(
        {
            "sboms": [s.source for s in evidence.sboms],
            "components": len(components),
            "deniedLicenses": license_hits,
            "deniedPackages": package_hits,
            "withoutPurl": len(unchecked),
        }
    )
    parts: list[str] = []
    if license_hits:
        noun = "component carries" if len(license_hits) == 1 else "components carry"
        shown = ", ".join(
            f"{row['display']} ({', '.join(row['denied'])})" for row in license_hits[:_SHOWN]
        )
        parts.append(f"{len(license_hits)} {noun} denied licenses: {shown}{_more(license_hits)}")
    if package_hits:
        noun = "denied package" if len(package_hits) == 1 else "denied packages"
        shown = ", ".join(f"{row['display']} ({row['purl']})" for row in package_hits[:_SHOWN])
        parts.append(f"{len(package_hits)} {noun}: {shown}{_more(package_hits)}")
    note = ""
    if unchecked:
        noun = "component has" if len(unchecked) == 1 else "components have"
        note = (
            f"; {len(unchecked)} {noun} no usable purl and could not be checked against "
            "deniedPackages"
        )
    if parts:
        return CheckResult(CHECK, Outcome.FAIL, "; ".join(parts) + note, details)
    count = len(evidence.sboms)
    reason = (
        f"{len(components)} components in {count} {'SBOM' if count == 1 else 'SBOMs'}: "
        f"no denied license or package{note}"
    )
    return CheckResult(CHECK, Outcome.PASS, reason, details)


def _unique(sboms: tuple[Sbom, ...]) -> list[Component]:
    seen: set[tuple[str | None, str, str | None, tuple[str, ...]]] = set()
    result: list[Component] = []
    for sbom in sboms:
        for component in sbom.components:
            key = (component.purl, component.name, component.version, component.licenses)
            if key not in seen:
                seen.add(key)
                result.append(component)
    return result


def _parse(text: str | None) -> PackageUrl | None:
    if not text:
        return None
    try:
        return PackageUrl.parse(text)
    except PurlError:
        return None


def _display(component: Component) -> str:
    return f"{component.name}@{component.version}" if component.version else component.name


def _component_row(component: Component) -> dict[str, Any]:
    return {
        "display": _display(component),
        "name": component.name,
        "version": component.version,
        "purl": component.purl,
    }


def _more(rows: list[dict[str, Any]]) -> str:
    more = len(rows) - _SHOWN
    return f", and {more} more" if more > 0 else ""
