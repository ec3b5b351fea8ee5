"""Does one attestation count for one trust authority on one image digest?

In this order, each step a reason to reject:

1. the signature verifies against the authority: a cosign key (DSSE over
   PAE(payloadType, payload), ``gate.signatures.dsse``), or for keyless
   attestations the certificate chain, transparency-log entry and identity
   (``gate.signatures.keyless``: the legacy ``.att`` annotations or a
   Sigstore bundle). A key authority does not count keyless attestations
   and a keyless identity does not count key-signed ones;
2. the payload type is in-toto's and the verified payload is an in-toto
   Statement (read from the verified bytes, never re-read from the envelope);
3. one subject digest is the image digest being checked (otherwise the
   attestation was copied from another image).

The predicate is read afterwards (``predicates.py``). Nothing here raises
for a bad attestation: the result is the verified statement or the sentence
saying why it does not count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from gate.attestations.candidate import Candidate
from gate.errors import GateError, InputError, VerificationError
from gate.oci.digest import Digest
from gate.signatures.dsse import verify_envelope
from gate.signatures.intoto import (
    Statement,
    binds,
    parse_statement,
    statement_from_envelope,
    subject_digests,
)
from gate.signatures.trust import TrustAuthority

if TYPE_CHECKING:
    from gate.signatures.keyless.authority import KeylessTrust
    from gate.signatures.keyless.trusted_root import SigstoreTrustRoot


@dataclass(frozen=True)
class Checked:
    """A statement that verified for an authority: who signed it, and what it says."""

    statement: Statement
    signer: str
    signer_label: str


def verify_candidate(
    candidate: Candidate,
    digest: Digest,
    authority: TrustAuthority,
    *,
    root: SigstoreTrustRoot | None,
    now: datetime,
) -> Checked | str:
    """Check ``candidate`` for ``authority`` on ``digest``: the verified statement, or why not.

    ``root`` is the authority's loaded Sigstore trusted root (None when it
    has no keyless identity); ``now`` is only used for keyless attestations
    without a transparency-log entry when the authority does not require one.
    """
    name = authority.name
    try:
        if candidate.keyless:
            if authority.keyless is None or root is None:
                return (
                    "signed with a certificate (keyless), which counts only for keyless "
                    f"identities; authority '{name}' trusts keys"
                )
            checked = _keyless(candidate, digest, authority.keyless, root=root, now=now, name=name)
        else:
            if not authority.cosign_keys:
                return (
                    "signed with a key, not a certificate; authority "
                    f"'{name}' trusts a keyless identity, not keys"
                )
            checked = _with_keys(candidate, authority)
    except GateError as exc:
        return str(exc)
    except Exception as exc:
        # Fail closed and say so: an input no check anticipated rejects the attestation.
        return f"could not be verified ({type(exc).__name__}: {exc})"
    if isinstance(checked, str):
        return checked
    if not binds(checked.statement, digest):
        named = ", ".join(str(d) for d in subject_digests(checked.statement))
        return (
            f"signed by {checked.signer_label}, but the statement is about "
            f"{named or 'no sha256/sha512 digest'}, not this image {digest} "
            "(attestation copied from another image)"
        )
    return checked


def _with_keys(candidate: Candidate, authority: TrustAuthority) -> Checked | str:
    envelope = candidate.envelope
    if envelope is None:
        return "holds no DSSE envelope"
    try:
        signers = verify_envelope(envelope, authority.cosign_keys, source="DSSE envelope")
    except VerificationError:
        return (
            f"DSSE signature does not verify with any key authority '{authority.name}' trusts "
            "(signed by another key, or altered)"
        )
    key = signers[0]
    # Only now is the payload trusted enough to be parsed (payload type first).
    try:
        statement = statement_from_envelope(envelope)
    except InputError as exc:
        return f"signed by {key.label}, but {exc}"
    return Checked(statement, key.fingerprint, key.label)


def _keyless(
    candidate: Candidate,
    digest: Digest,
    trust: KeylessTrust,
    *,
    root: SigstoreTrustRoot,
    now: datetime,
    name: str,
) -> Checked | str:
    # Imported here: keyless verification pulls in sigstore-python (see gate.signatures.lazy).
    from gate.signatures.keyless.bundle import check_bundle  # noqa: PLC0415
    from gate.signatures.keyless.legacy import verify_legacy_attestation  # noqa: PLC0415

    if candidate.bundle is not None:
        result = check_bundle(
            candidate.bundle, digest, root, now=now, require_tlog=trust.require_tlog
        )
        if result.envelope is None:
            return "a Sigstore message-signature bundle, not an attestation (no DSSE envelope)"
        if result.identity is None:
            return "signed with a managed key, not a keyless certificate"
        identity = result.identity
        payload = result.envelope.payload
    else:
        if candidate.certificate is None:
            return "has no signing certificate"
        legacy = verify_legacy_attestation(
            envelope=candidate.raw_envelope,
            certificate=candidate.certificate,
            chain=candidate.chain,
            bundle=candidate.rekor_bundle,
            root=root,
            now=now,
            require_tlog=trust.require_tlog,
        )
        identity = legacy.identity
        payload = legacy.payload
    if not trust.matches(identity.subject, identity.issuer):
        return (
            f"signed by {identity.label}, not by the trusted identity {trust.subject} "
            f"({trust.issuer}) of authority '{name}'"
        )
    try:
        statement = parse_statement(payload)
    except InputError as exc:
        return f"signed by {identity.label}, but {exc}"
    return Checked(statement, trust.signer_id, identity.label)
