"""The "sbom" check: is there an SBOM, and does any component carry a denied license or purl?"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from gate.policy.evidence import ImageEvidence
from gate.policy.licenses import canonical_license_id, license_ids
from gate.policy.model import SbomPolicy
from gate.policy.verdict import CheckResult, Outcome
from gate.purl import PackageUrl, PurlError
from gate.sbom.component import Component, Sbom

CHECK = "sbom"
_SHOWN = 3


def check_sbom(policy: SbomPolicy | None, evidence: ImageEvidence) -> CheckResult:
    """Require an SBOM if asked, and deny components with denied licenses or package URLs.

    Components without a usable purl (none, or one that does not parse) are
    matched against ``deniedPackages`` by name and version instead
    (``PackageUrl.matches_name``), and a hit says it was by name. A component
    with neither a usable purl nor a name cannot be checked at all: it is
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
    by_name: list[str] = []
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
            if purl is not None:
                matched = [str(p) for p in policy.denied_packages if p.matches(purl)]
                if matched:
                    package_hits.append(
                        {**_component_row(component), "denied": matched, "matchedBy": "purl"}
                    )
                continue
            if not component.name.strip():
                unchecked.append(_unnamed(component, len(unchecked)))
                continue
            by_name.append(_display(component))
            matched = [
                str(p)
                for p in policy.denied_packages
                if p.matches_name(component.name, component.version)
            ]
            if matched:
                package_hits.append(
                    {**_component_row(component), "denied": matched, "matchedBy": "name"}
                )
    details = MappingProxyType(
        {
            "sboms": [s.source for s in evidence.sboms],
            "components": len(components),
            "deniedLicenses": license_hits,
            "deniedPackages": package_hits,
            "withoutPurl": len(by_name) + len(unchecked),
            "checkedByName": by_name,
            "unchecked": unchecked,
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
        shown = ", ".join(_package_hit(row) for row in package_hits[:_SHOWN])
        parts.append(f"{len(package_hits)} {noun}: {shown}{_more(package_hits)}")
    note = ""
    if by_name:
        noun = "component has" if len(by_name) == 1 else "components have"
        note += (
            f"; {len(by_name)} {noun} no usable purl and {'was' if len(by_name) == 1 else 'were'} "
            f"checked against deniedPackages by name only: {_listed(by_name)}"
        )
    if unchecked:
        noun = "component has" if len(unchecked) == 1 else "components have"
        note += (
            f"; {len(unchecked)} {noun} neither a usable purl nor a name and could not be "
            f"checked against deniedPackages: {_listed(unchecked)}"
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


def _unnamed(component: Component, index: int) -> str:
    if component.bom_ref:
        return f"bom-ref {component.bom_ref}"
    return f"unnamed component #{index + 1}" + (
        f" (version {component.version})" if component.version else ""
    )


def _package_hit(row: dict[str, Any]) -> str:
    if row["matchedBy"] == "purl":
        return f"{row['display']} ({row['purl']})"
    version = "" if row["version"] else "; version unknown"
    denied = ", ".join(row["denied"])
    return f"{row['display']} (matched {denied} by name: no usable purl{version})"


def _listed(names: list[str]) -> str:
    more = len(names) - _SHOWN
    return ", ".join(names[:_SHOWN]) + (f", and {more} more" if more > 0 else "")


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
