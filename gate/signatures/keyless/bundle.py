"""Sigstore bundles (v0.1, v0.2, v0.3): one signature, its certificate or key, its log entry.

``check_bundle`` verifies one bundle over an artifact digest (a message
signature) or over a DSSE in-toto statement whose subjects must include that
digest, against a trusted root, and returns who signed and when.
``verify_bundle`` adds the identity check of a policy's keyless block.

Two engines, one verdict:

- **sigstore-python** (``Verifier.verify_artifact``/``verify_dsse``) checks
  the bundles it supports: a Fulcio certificate and a Rekor entry of kind
  ``hashedrekord`` 0.0.1/0.0.2 or ``dsse`` 0.0.1 with a checkpointed
  inclusion proof. The gate then adds what sigstore-python leaves out or
  gets wrong (CASES.md, last column): the statement subject must name the
  artifact, the certificate chain of a v0.1/v0.2 bundle must not carry a
  root, the Fulcio CA and the Rekor key must have been valid at the signing
  time, TSA validity ends are inclusive (see ``SigstoreTrustRoot``).
- **the gate's own checks** (built from ``legacy.py`` and the trusted root)
  cover what sigstore-python 4.5.1 cannot load or verify: ``intoto`` log
  entries (cosign <= v2 attestations, npm provenance), v0.1 bundles whose
  entry has only an inclusion promise (SET) - accepted, as sigstore-go and
  cosign do, since the SET is the log's signed promise and the legacy cosign
  form rests on exactly that - and managed-key bundles (a public key instead
  of a certificate).

Either way the bundle is first read by a strict parser here (known media
type, one verification material, one log entry, no duplicate JSON keys), so
both engines see only well-formed input, and unknown versions are refused.
Every failure is a ``KeylessVerificationError`` with one line.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from sigstore.errors import Error as SigstoreError
from sigstore.errors import VerificationError as SigstoreVerificationError
from sigstore.hashes import Hashed
from sigstore.models import Bundle
from sigstore_models.common.v1 import HashAlgorithm

from gate.oci.digest import Digest
from gate.signatures import gojson
from gate.signatures.keyless.authority import KeylessTrust
from gate.signatures.keyless.legacy import (
    CertificateIdentity,
    DsseEnvelope,
    RekorEntry,
    SignedContent,
    Statement,
    certificate_identity,
    check_entry_body,
    decoded_now,
    parse_envelope,
    parse_statement,
    signing_key,
    verify_inclusion_promise,
    verify_prehashed,
    verify_raw,
)
from gate.signatures.keyless.trusted_root import (
    KeylessVerificationError,
    LogKey,
    SigstoreTrustRoot,
    VerifyingKey,
    decode_timestamps,
    is_root_certificate,
    load_trusted_root,
)
from gate.signatures.keys import PublicKey

BUNDLE_V01 = "application/vnd.dev.sigstore.bundle+json;version=0.1"
BUNDLE_V02 = "application/vnd.dev.sigstore.bundle+json;version=0.2"
BUNDLE_V03_ALT = "application/vnd.dev.sigstore.bundle+json;version=0.3"
BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
#: The media types a bundle may declare, and the format version each means.
BUNDLE_MEDIA_TYPES: dict[str, tuple[int, int]] = {
    BUNDLE_V01: (0, 1),
    BUNDLE_V02: (0, 2),
    BUNDLE_V03_ALT: (0, 3),
    BUNDLE_V03: (0, 3),
}
#: A signature bundle is a few kilobytes; attestation bundles (SBOMs) can be bigger.
MAX_BUNDLE_SIZE = 16 << 20

ENGINE_SIGSTORE = "sigstore-python"
ENGINE_GATE = "gate"

_HASH_ALGORITHMS = {
    "sha256": HashAlgorithm.SHA2_256,
    "sha384": HashAlgorithm.SHA2_384,
    "sha512": HashAlgorithm.SHA2_512,
}
_MESSAGE_DIGEST_NAMES = {"SHA2_256": "sha256", "SHA2_384": "sha384", "SHA2_512": "sha512"}
_SIGNATURE_LINE = re.compile("\u2014 (\\S+) (\\S+)")


def _fail(reason: str) -> KeylessVerificationError:
    return KeylessVerificationError(reason)


@dataclass(frozen=True)
class BundleVerification:
    """A bundle that verified: who signed (None for a managed key), when, which entry.

    ``signed_times`` are the verified times (TSA and/or Rekor); the
    certificate was valid at each. ``statement`` is set for DSSE bundles.
    ``engine`` says which engine did the cryptographic work.
    """

    media_type: str
    engine: str
    identity: CertificateIdentity | None
    signed_times: tuple[datetime, ...]
    integrated_time: datetime | None = None
    log_index: int | None = None
    statement: Statement | None = None
    #: The verified DSSE envelope of a DSSE bundle: its payload is the exact statement bytes.
    envelope: DsseEnvelope | None = None

    @property
    def predicate_type(self) -> str | None:
        """The in-toto predicate type of a DSSE bundle (None for a message signature)."""
        return self.statement.predicate_type if self.statement is not None else None


# -- strict reading ----------------------------------------------------------------------


def _b64(value: object, what: str) -> bytes:
    """Protobuf JSON ``bytes``: standard or URL-safe base64, padding optional.

    Line breaks are skipped, as Go's decoder (which wrote most bundles) does;
    any other character outside the alphabet is an error.
    """
    if not isinstance(value, str):
        raise _fail(f"bundle {what} is missing or not a base64 string")
    try:
        raw = value.replace("\r", "").replace("\n", "").encode("ascii")
        altchars = b"-_" if b"-" in raw or b"_" in raw else None
        raw += b"=" * (-len(raw) % 4)
        return base64.b64decode(raw, altchars=altchars, validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise _fail(f"bundle {what} is not valid base64") from None


def _uint(value: object, what: str, *, required: bool = True) -> int | None:
    """A protobuf int64 in JSON: a decimal string (or a number), never negative."""
    if value is None and not required:
        return None
    if isinstance(value, bool):
        raise _fail(f"bundle {what} is not an integer")
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,20}", value):
        value = int(value)
    if not isinstance(value, int):
        raise _fail(f"bundle {what} is missing or not an integer")
    if value < 0:
        raise _fail(f"bundle {what} is negative")
    return value


def _object(value: object, what: str, known: frozenset[str]) -> dict[str, object]:
    if not isinstance(value, dict):
        raise _fail(f"bundle {what} is missing or not a JSON object")
    unknown = sorted(set(value) - known)
    if unknown:
        raise _fail(f"bundle {what} has unknown field {unknown[0]!r}")
    return value


@dataclass(frozen=True)
class _InclusionProof:
    log_index: int
    root_hash: bytes
    tree_size: int
    hashes: tuple[bytes, ...]
    checkpoint: str | None


@dataclass(frozen=True)
class _LogEntry:
    log_index: int
    log_id: bytes
    kind: str
    version: str
    integrated_time: int | None
    promise: bytes | None
    proof: _InclusionProof | None
    body: bytes

    @property
    def kind_version(self) -> str:
        """``hashedrekord/0.0.1`` and the like."""
        return f"{self.kind}/{self.version}"

    def rekor_entry(self) -> RekorEntry | None:
        """The SET-covered view of this entry, when it has an inclusion promise."""
        if self.promise is None or not self.integrated_time:
            return None
        return RekorEntry(
            self.body, self.integrated_time, self.log_index, self.log_id, self.promise
        )


@dataclass(frozen=True)
class _Parsed:
    media_type: str
    version: tuple[int, int]
    leaf: x509.Certificate | None  # None: a managed-key bundle
    untrusted: tuple[x509.Certificate, ...]
    signature: bytes
    message_digest: Digest | None  # what messageSignature.messageDigest claims
    envelope: DsseEnvelope | None
    entries: tuple[_LogEntry, ...]
    timestamps: tuple[bytes, ...]


_TOP = frozenset({"mediaType", "verificationMaterial", "messageSignature", "dsseEnvelope"})
_MATERIAL = frozenset(
    {"certificate", "x509CertificateChain", "publicKey", "tlogEntries", "timestampVerificationData"}
)
_ENTRY = frozenset(
    {
        "logIndex",
        "logId",
        "kindVersion",
        "integratedTime",
        "inclusionPromise",
        "inclusionProof",
        "canonicalizedBody",
    }
)


def _certificate(raw: object, what: str) -> x509.Certificate:
    entry = _object(raw, what, frozenset({"rawBytes"}))
    try:
        return decoded_now(
            x509.load_der_x509_certificate(_b64(entry.get("rawBytes"), f"{what}.rawBytes"))
        )
    except ValueError:
        raise _fail(
            f"bundle {what} is not a DER certificate (or its extensions do not decode)"
        ) from None


def _entry(raw: object, index: int) -> _LogEntry:
    where = f"tlogEntries[{index}]"
    entry = _object(raw, where, _ENTRY)
    kind_version = _object(
        entry.get("kindVersion"), f"{where}.kindVersion", frozenset({"kind", "version"})
    )
    kind, version = kind_version.get("kind"), kind_version.get("version")
    if not isinstance(kind, str) or not isinstance(version, str):
        raise _fail(f"bundle {where}.kindVersion is malformed")
    log_id = _b64(
        _object(entry.get("logId"), f"{where}.logId", frozenset({"keyId"})).get("keyId"),
        f"{where}.logId.keyId",
    )
    promise: bytes | None = None
    if entry.get("inclusionPromise") is not None:
        raw_promise = _object(
            entry["inclusionPromise"],
            f"{where}.inclusionPromise",
            frozenset({"signedEntryTimestamp"}),
        )
        promise = _b64(raw_promise.get("signedEntryTimestamp"), f"{where}.inclusionPromise")
    proof: _InclusionProof | None = None
    if entry.get("inclusionProof") is not None:
        raw_proof = _object(
            entry["inclusionProof"],
            f"{where}.inclusionProof",
            frozenset({"logIndex", "rootHash", "treeSize", "hashes", "checkpoint"}),
        )
        hashes = raw_proof.get("hashes", [])
        if not isinstance(hashes, list):
            raise _fail(f"bundle {where}.inclusionProof.hashes is not a list")
        checkpoint: str | None = None
        if raw_proof.get("checkpoint") is not None:
            envelope = _object(
                raw_proof["checkpoint"],
                f"{where}.inclusionProof.checkpoint",
                frozenset({"envelope"}),
            ).get("envelope")
            if not isinstance(envelope, str):
                raise _fail(f"bundle {where}.inclusionProof.checkpoint.envelope is not a string")
            checkpoint = envelope
        proof = _InclusionProof(
            log_index=_uint(raw_proof.get("logIndex"), f"{where}.inclusionProof.logIndex") or 0,
            root_hash=_b64(raw_proof.get("rootHash"), f"{where}.inclusionProof.rootHash"),
            tree_size=_uint(raw_proof.get("treeSize"), f"{where}.inclusionProof.treeSize") or 0,
            hashes=tuple(
                _b64(h, f"{where}.inclusionProof.hashes[{i}]") for i, h in enumerate(hashes)
            ),
            checkpoint=checkpoint,
        )
    return _LogEntry(
        log_index=_uint(entry.get("logIndex"), f"{where}.logIndex") or 0,
        log_id=log_id,
        kind=kind,
        version=version,
        integrated_time=_uint(
            entry.get("integratedTime"), f"{where}.integratedTime", required=False
        ),
        promise=promise,
        proof=proof,
        body=_b64(entry.get("canonicalizedBody"), f"{where}.canonicalizedBody"),
    )


def _parse(data: bytes) -> _Parsed:
    if len(data) > MAX_BUNDLE_SIZE:
        raise _fail(f"bundle of {len(data)} bytes exceeds the {MAX_BUNDLE_SIZE}-byte limit")
    try:
        document = gojson.loads_strict(data)
    except ValueError as exc:
        raise _fail(f"bundle is {exc}") from None
    top = _object(document, "document", _TOP)
    media_type = top.get("mediaType")
    if not isinstance(media_type, str) or media_type not in BUNDLE_MEDIA_TYPES:
        raise _fail(f"unknown or unsupported bundle media type {media_type!r}")
    version = BUNDLE_MEDIA_TYPES[media_type]
    material = _object(top.get("verificationMaterial"), "verificationMaterial", _MATERIAL)
    kinds = [
        k
        for k in ("certificate", "x509CertificateChain", "publicKey")
        if material.get(k) is not None
    ]
    if len(kinds) != 1:
        raise _fail(
            "bundle verificationMaterial must hold exactly one of certificate, "
            f"x509CertificateChain, publicKey (has {len(kinds)})"
        )
    leaf: x509.Certificate | None = None
    untrusted: tuple[x509.Certificate, ...] = ()
    if kinds[0] == "certificate":
        if version < (0, 3):
            raise _fail(f"bundle {media_type} must use x509CertificateChain, not certificate")
        leaf = _certificate(material["certificate"], "verificationMaterial.certificate")
    elif kinds[0] == "x509CertificateChain":
        if version >= (0, 3):
            raise _fail("a v0.3 bundle must hold a single certificate, not x509CertificateChain")
        chain = _object(
            material["x509CertificateChain"], "x509CertificateChain", frozenset({"certificates"})
        )
        raw_certificates = chain.get("certificates")
        if not isinstance(raw_certificates, list) or not raw_certificates:
            raise _fail("bundle x509CertificateChain is empty")
        certificates = [
            _certificate(c, f"x509CertificateChain.certificates[{i}]")
            for i, c in enumerate(raw_certificates)
        ]
        leaf, untrusted = certificates[0], tuple(certificates[1:])
    else:
        _object(material["publicKey"], "verificationMaterial.publicKey", frozenset({"hint"}))
    raw_entries = material.get("tlogEntries", [])
    if not isinstance(raw_entries, list):
        raise _fail("bundle tlogEntries is not a list")
    if len(raw_entries) > 1:
        raise _fail(f"bundle has {len(raw_entries)} log entries; exactly one is expected")
    entries = tuple(_entry(raw, i) for i, raw in enumerate(raw_entries))
    timestamps: tuple[bytes, ...] = ()
    raw_tsv = material.get("timestampVerificationData")
    if raw_tsv is not None:
        tsv = _object(raw_tsv, "timestampVerificationData", frozenset({"rfc3161Timestamps"}))
        raw_stamps = tsv.get("rfc3161Timestamps", [])
        if not isinstance(raw_stamps, list):
            raise _fail("bundle rfc3161Timestamps is not a list")
        timestamps = tuple(
            _b64(
                _object(s, f"rfc3161Timestamps[{i}]", frozenset({"signedTimestamp"})).get(
                    "signedTimestamp"
                ),
                f"rfc3161Timestamps[{i}].signedTimestamp",
            )
            for i, s in enumerate(raw_stamps)
        )
    has_message = top.get("messageSignature") is not None
    has_envelope = top.get("dsseEnvelope") is not None
    if has_message == has_envelope:
        raise _fail("bundle must hold exactly one of messageSignature and dsseEnvelope")
    message_digest: Digest | None = None
    envelope: DsseEnvelope | None = None
    if has_message:
        message = _object(
            top["messageSignature"], "messageSignature", frozenset({"messageDigest", "signature"})
        )
        signature = _b64(message.get("signature"), "messageSignature.signature")
        if message.get("messageDigest") is not None:
            raw_digest = _object(
                message["messageDigest"], "messageDigest", frozenset({"algorithm", "digest"})
            )
            algorithm = _MESSAGE_DIGEST_NAMES.get(str(raw_digest.get("algorithm")))
            if algorithm is None:
                name = raw_digest.get("algorithm")
                raise _fail(f"bundle messageDigest algorithm {name!r} is not supported")
            value = _b64(raw_digest.get("digest"), "messageDigest.digest")
            message_digest = Digest(algorithm, value.hex())
    else:
        envelope = parse_envelope(top["dsseEnvelope"], "bundle dsseEnvelope")
        signature = envelope.signature
    if not signature:
        raise _fail("bundle signature is empty")
    return _Parsed(
        media_type=media_type,
        version=version,
        leaf=leaf,
        untrusted=untrusted,
        signature=signature,
        message_digest=message_digest,
        envelope=envelope,
        entries=entries,
        timestamps=timestamps,
    )


# -- transparency log proofs -------------------------------------------------------------


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _verify_inclusion(proof: _InclusionProof, body: bytes) -> None:
    """RFC 9162 section 2.1.3.2: the audit path leads from the entry's leaf hash to the root."""
    index, size = proof.log_index, proof.tree_size
    if index >= size:
        raise _fail("inclusion proof log index is outside the tree")
    node = hashlib.sha256(b"\x00" + body).digest()
    fn, sn = index, size - 1
    for sibling in proof.hashes:
        if sn == 0:
            raise _fail("inclusion proof has more hashes than the tree is deep")
        if fn & 1 or fn == sn:
            node = _node(sibling, node)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            node = _node(node, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0 or node != proof.root_hash:
        raise _fail(
            "inclusion proof does not lead to its root hash (corrupted or for another entry)"
        )


def _verify_checkpoint(proof: _InclusionProof, log: LogKey) -> None:
    """The signed checkpoint is the log's, and commits to the proof's tree size and root."""
    text = proof.checkpoint or ""
    if not text.endswith("\n") or text.count("\n\n") != 1:
        raise _fail("checkpoint is not a signed note (text, blank line, signatures)")
    note, _, signature_block = text.partition("\n\n")
    lines = note.split("\n")
    if len(lines) < 3 or not lines[0]:
        raise _fail("checkpoint lacks origin, tree size or root hash")
    try:
        size = int(lines[1])
        root_hash = base64.b64decode(lines[2], validate=True)
    except (ValueError, binascii.Error):
        raise _fail("checkpoint tree size or root hash is malformed") from None
    signed = (note + "\n").encode("utf-8")
    verified = False
    for line in signature_block.rstrip("\n").split("\n"):
        match = _SIGNATURE_LINE.fullmatch(line)
        if match is None:
            raise _fail("checkpoint signature line is malformed")
        try:
            blob = base64.b64decode(match.group(2), validate=True)
        except (ValueError, binascii.Error):
            raise _fail("checkpoint signature is not base64") from None
        if len(blob) > 4 and blob[:4] == log.log_id[:4] and log.verify(blob[4:], signed):
            verified = True
            break
    if not verified:
        raise _fail(f"checkpoint is not signed by the log key of {log.name}")
    if size != proof.tree_size or root_hash != proof.root_hash:
        raise _fail(
            "checkpoint does not commit to the inclusion proof's tree (wrong root hash or size)"
        )


# -- time --------------------------------------------------------------------------------


def _establish_times(
    parsed: _Parsed, root: SigstoreTrustRoot
) -> tuple[list[datetime], datetime | None, list[str]]:
    """Verified signing times: RFC 3161 timestamps, then the SET-backed integrated time.

    Returns (times, integrated time, why some timestamps did not count).
    A present but invalid SET is a rejection, not a missing time.
    """
    times: list[datetime] = []
    problems: list[str] = []
    for index, response in enumerate(decode_timestamps(parsed.timestamps)):
        stamped = root.verify_timestamp(response, parsed.signature)
        if stamped is None:
            problems.append(
                f"RFC 3161 timestamp {index} is not vouched for by a TSA of trusted root "
                f"{root.label} (untrusted TSA, other signature, or outside the TSA's validity)"
            )
        else:
            times.append(stamped)
    integrated: datetime | None = None
    if parsed.entries:
        rekor = parsed.entries[0].rekor_entry()
        if rekor is not None:
            integrated = verify_inclusion_promise(rekor, root)
            times.append(integrated)
    return times, integrated, problems


def _signed_log_index(entry: _LogEntry | None, integrated: datetime | None) -> int | None:
    """The entry's log index as something signed it, or None.

    The top-level ``logIndex`` is covered by the inclusion promise (SET) only,
    so it counts when the promise was verified (``integrated`` is its time);
    otherwise the index is the inclusion proof's, checked against the signed
    checkpoint (Rekor v2 entries have no promise: a changed top-level
    ``logIndex`` verified and was reported as if it were the entry's).
    """
    if entry is None:
        return None
    if integrated is not None:
        return entry.log_index
    proof = entry.proof
    return proof.log_index if proof is not None and proof.checkpoint is not None else None


def _no_time(problems: list[str]) -> KeylessVerificationError:
    detail = f": {problems[0]}" if problems else ""
    return _fail(f"no verified signing time (no valid timestamp or log inclusion promise){detail}")


# -- the two engines ---------------------------------------------------------------------


class _CaptureIdentity:
    """A sigstore-python policy that records the certificate identity instead of matching it.

    Matching happens afterwards with ``KeylessTrust.matches`` (anchored
    patterns), so one cryptographic verification serves every authority.
    """

    def __init__(self) -> None:
        self.identity: CertificateIdentity | None = None

    def verify(self, cert: x509.Certificate) -> None:
        """Record the identity; fail (sigstore's way) when the certificate names none clearly."""
        try:
            self.identity = certificate_identity(cert)
        except KeylessVerificationError as exc:
            raise SigstoreVerificationError(str(exc)) from None


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text[:240] + ("..." if len(text) > 240 else "")


def _uses_sigstore_python(parsed: _Parsed) -> bool:
    if parsed.leaf is None or not parsed.entries:
        return False
    entry = parsed.entries[0]
    if entry.kind_version not in {"hashedrekord/0.0.1", "hashedrekord/0.0.2", "dsse/0.0.1"}:
        return False
    # sigstore-python refuses entries without a checkpointed inclusion proof, which a
    # v0.1 bundle need not have (its inclusion promise is enough).
    return entry.proof is not None and entry.proof.checkpoint is not None


def _statement(envelope: DsseEnvelope, artifact: Digest) -> Statement:
    statement = parse_statement(envelope)
    if not statement.covers(artifact):
        raise _fail(
            f"statement subjects do not include {artifact} (an attestation of another artifact)"
        )
    return statement


def _check_message_digest(parsed: _Parsed, artifact: Digest) -> None:
    if parsed.message_digest is not None and parsed.message_digest != artifact:
        raise _fail(
            f"bundle message digest {parsed.message_digest} is not the artifact's {artifact}"
        )


def _with_sigstore(
    data: bytes, parsed: _Parsed, artifact: Digest, root: SigstoreTrustRoot
) -> BundleVerification:
    leaf = parsed.leaf
    if leaf is None:
        raise _fail("a managed-key bundle cannot be checked by sigstore-python")
    capture = _CaptureIdentity()
    verifier = root.sigstore_verifier()
    statement: Statement | None = None
    verified: DsseEnvelope | None = None
    try:
        bundle = Bundle.from_json(data)
        if parsed.envelope is not None:
            payload_type, payload = verifier.verify_dsse(bundle, capture)
            verified = DsseEnvelope(payload_type, payload, parsed.envelope.signature)
            statement = _statement(verified, artifact)
        else:
            algorithm = _HASH_ALGORITHMS.get(artifact.algorithm)
            if algorithm is None:
                raise _fail(f"cannot verify a signature over a {artifact.algorithm} digest")
            _check_message_digest(parsed, artifact)
            hashed = Hashed(algorithm=algorithm, digest=bytes.fromhex(artifact.hex))
            verifier.verify_artifact(hashed, bundle, capture)
    except (SigstoreError, ValueError) as exc:
        raise _fail(_one_line(exc)) from None
    if capture.identity is None:
        raise _fail("sigstore-python did not check the certificate identity")
    # What sigstore-python does not check: the CA (and log key) valid at each signing time.
    times, integrated, problems = _establish_times(parsed, root)
    if not times:
        raise _no_time(problems)
    for instant in times:
        root.fulcio_chain(leaf, parsed.untrusted, instant)
    entry = parsed.entries[0]
    return BundleVerification(
        media_type=parsed.media_type,
        engine=ENGINE_SIGSTORE,
        identity=capture.identity,
        signed_times=tuple(times),
        integrated_time=integrated,
        log_index=_signed_log_index(entry, integrated),
        statement=statement,
        envelope=verified,
    )


def _with_gate(
    parsed: _Parsed,
    *,
    artifact: Digest,
    root: SigstoreTrustRoot,
    key: PublicKey | None,
    now: datetime,
    require_tlog: bool,
) -> BundleVerification:
    times, integrated, problems = _establish_times(parsed, root)
    entry = parsed.entries[0] if parsed.entries else None
    if entry is not None:
        proof = entry.proof
        has_checkpoint = proof is not None and proof.checkpoint is not None
        if parsed.version >= (0, 2) and not has_checkpoint:
            raise _fail(
                f"a v{parsed.version[0]}.{parsed.version[1]} bundle needs an inclusion proof "
                "with a checkpoint"
            )
        if parsed.version < (0, 2) and entry.promise is None:
            raise _fail("a v0.1 bundle needs an inclusion promise (signed entry timestamp)")
        if proof is not None and has_checkpoint:
            log = root.tlog_key(entry.log_id, integrated or (times[0] if times else None))
            _verify_inclusion(proof, entry.body)
            _verify_checkpoint(proof, log)
        # A v0.1 proof without checkpoint proves nothing (its root is unsigned): the SET counts.
    elif require_tlog:
        raise _fail("bundle has no transparency log entry; one is required")
    if not times:
        if entry is not None or parsed.timestamps:
            raise _no_time(problems)
        # No log required and none given: like cosign --insecure-ignore-tlog, the
        # certificate must be valid now.
        times = [now]
    identity: CertificateIdentity | None = None
    verifying: VerifyingKey
    if parsed.leaf is not None:
        root.verify_signing_certificate(parsed.leaf, parsed.untrusted, times)
        verifying = signing_key(parsed.leaf)
        signer: x509.Certificate | VerifyingKey = parsed.leaf
        identity = certificate_identity(parsed.leaf)
    else:
        if key is None:
            raise _fail("bundle is signed with a key, not a certificate, and no key is configured")
        verifying = key.key
        signer = verifying
    statement: Statement | None = None
    if parsed.envelope is not None:
        if not verify_raw(verifying, parsed.signature, parsed.envelope.pae()):
            raise _fail("DSSE signature does not verify with the signing key")
        content = SignedContent(parsed.signature, signer, envelope=parsed.envelope)
        statement = _statement(parsed.envelope, artifact)
    else:
        _check_message_digest(parsed, artifact)
        if not verify_prehashed(verifying, parsed.signature, artifact):
            raise _fail("signature does not verify over the artifact with the signing key")
        content = SignedContent(parsed.signature, signer, digest=artifact)
    if entry is not None:
        check_entry_body(entry.body, content)
    return BundleVerification(
        media_type=parsed.media_type,
        engine=ENGINE_GATE,
        identity=identity,
        signed_times=tuple(times),
        integrated_time=integrated,
        log_index=_signed_log_index(entry, integrated),
        statement=statement,
        envelope=parsed.envelope,
    )


def _check_chain_roots(parsed: _Parsed, root: SigstoreTrustRoot) -> None:
    """Refuse a root certificate in a v0.1/v0.2 chain unless it is a trust anchor of the root.

    The specification forbids roots in the chain: one the trusted root does
    not list is attacker-chosen trust material (``bundle-with-root-cert_fail``).
    Older bundles (cosign, npm) carry the genuine Fulcio chain, root
    included; that copy of a trusted anchor adds nothing and is tolerated,
    as sigstore-go does. Chain certificates are never used as anchors anyway.
    """
    anchors = {ca.certificates[-1] for ca in root.fulcio}
    for certificate in parsed.untrusted:
        if is_root_certificate(certificate) and certificate not in anchors:
            raise _fail(
                "bundle certificate chain contains a root certificate that is not a trust "
                f"anchor of trusted root {root.label}"
            )


# -- public API --------------------------------------------------------------------------


def check_bundle(
    data: bytes,
    artifact: Digest,
    root: SigstoreTrustRoot,
    *,
    key: PublicKey | None = None,
    now: datetime | None = None,
    require_tlog: bool = True,
) -> BundleVerification:
    """Verify a bundle's signature, certificate (or ``key``), log entry and times.

    ``artifact`` is the digest of the signed artifact, or for a DSSE bundle
    the digest one statement subject must name. The certificate identity is
    returned, not judged: ``verify_bundle`` matches it. ``now`` is only used
    when no signing time exists (``require_tlog=False`` and no timestamp).
    """
    parsed = _parse(data)
    _check_chain_roots(parsed, root)
    if key is not None and parsed.leaf is not None:
        raise _fail("bundle is signed with a certificate, not with the configured key")
    if _uses_sigstore_python(parsed):
        return _with_sigstore(data, parsed, artifact, root)
    return _with_gate(
        parsed,
        artifact=artifact,
        root=root,
        key=key,
        now=now or datetime.now(UTC),
        require_tlog=require_tlog,
    )


def verify_bundle(
    data: bytes, artifact: Digest, trust: KeylessTrust, *, now: datetime | None = None
) -> BundleVerification:
    """Verify a bundle against a policy's keyless block: its root, and its identity.

    The SAN and the OIDC issuer must both match (regular expressions match
    the whole value). Raises ``KeylessVerificationError``; a bad trusted
    root file raises ``InputError``.
    """
    root = load_trusted_root(trust.trusted_root)
    result = check_bundle(data, artifact, root, now=now, require_tlog=trust.require_tlog)
    identity = result.identity
    if identity is None or not trust.matches(identity.subject, identity.issuer):
        found = identity.label if identity is not None else "a key, no identity"
        raise _fail(
            f"signed by {found}, not by the trusted identity {trust.subject} ({trust.issuer})"
        )
    return result


def verify_bundle_with_key(
    data: bytes,
    artifact: Digest,
    key: PublicKey,
    *,
    trusted_root: Path | None = None,
    now: datetime | None = None,
) -> BundleVerification:
    """Verify a managed-key bundle (``verificationMaterial.publicKey``) with ``key``.

    The log entry and timestamps are checked against ``trusted_root`` (None:
    public good); there is no certificate and so no identity.
    """
    root = load_trusted_root(trusted_root)
    return check_bundle(data, artifact, root, key=key, now=now)
