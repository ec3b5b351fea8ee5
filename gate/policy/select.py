"""Choosing the rule for an image, and what the caller must verify before evaluating.

Rules are tried in policy order; the first whose match selects the image
decides it. The caller asks ``required_authorities`` which trust authorities
to verify (and ``attestation_authorities`` whose attestations to read),
gathers the evidence, then calls ``evaluate``.
"""

from __future__ import annotations

from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.policy.model import Match, Policy, Rule
from gate.signatures.trust import TrustAuthority


def matches(
    match: Match, reference: ImageReference, namespace: str | None, digest: Digest | None = None
) -> bool:
    """True when ``match`` selects ``reference`` (resolved to ``digest``) in ``namespace``.

    With both images and namespaces, both must match; a rule constrained by
    namespaces never matches when no namespace is known. A tag written next
    to a digest is ignored (see ``gate.policy.glob.reference_forms``).
    """
    if match.images and not any(g.matches_reference(reference, digest) for g in match.images):
        return False
    if match.namespaces:
        if namespace is None:
            return False
        if not any(g.matches(namespace) for g in match.namespaces):
            return False
    return bool(match.images or match.namespaces)


def select_rule(
    policy: Policy,
    reference: ImageReference,
    namespace: str | None,
    *,
    digest: Digest | None = None,
) -> Rule | None:
    """The first rule of ``policy`` that selects ``reference`` (in ``namespace``), or None.

    Pass the reference as the user gave it and, for a reference by tag, the
    digest the registry resolved it to as ``digest``: globs then see
    ``name:tag`` as well as ``name@digest``. A reference that carries its
    own digest is matched by name and digest only, never by the tag written
    next to it (that tag is not verified). ``evaluate`` calls this with
    ``evidence.reference`` and ``digest=evidence.digest``, so the caller
    should do the same to get the same rule.
    """
    for rule in policy.rules:
        if matches(rule.match, reference, namespace, digest):
            return rule
    return None


def rule_before_resolution(
    policy: Policy, reference: ImageReference, namespace: str | None
) -> Rule | None:
    """The rule that would select ``reference`` whatever digest it resolves to, or None.

    For an image that could not be resolved (so its ``onError`` can apply):
    the first rule that selects the reference as written. None, failing
    closed, when an earlier rule has an image glob naming a digest (``@``):
    that rule might have selected the image had its digest been known.
    """
    for rule in policy.rules:
        if matches(rule.match, reference, namespace, None):
            return rule
        if any("@" in glob.pattern for glob in rule.match.images):
            return None
    return None


def required_authorities(rule: Rule) -> tuple[TrustAuthority, ...]:
    """The trust authorities whose signatures the caller must verify for ``rule``.

    Empty when the rule has no signature requirement (or decides by action).
    """
    if rule.signatures is None:
        return ()
    return rule.signatures.authorities


def attestation_authorities(rule: Rule) -> tuple[TrustAuthority, ...]:
    """The trust authorities whose attestations the caller must read for ``rule``, once each.

    Those named by ``sbom.fromAttestation``, ``vulnerabilities.fromAttestation``
    and ``attestations[].signedBy``; empty when the rule needs no attestations
    (or decides by action), so nothing is fetched for it.
    """
    if rule.action is not None:
        return ()
    named: dict[str, TrustAuthority] = {}
    groups = [requirement.signed_by for requirement in rule.attestations or ()]
    if rule.sbom is not None:
        groups.append(rule.sbom.from_attestation)
    if rule.scan is not None:
        groups.append(rule.scan.from_attestation)
    for group in groups:
        for authority in group:
            named.setdefault(authority.name, authority)
    return tuple(named.values())
