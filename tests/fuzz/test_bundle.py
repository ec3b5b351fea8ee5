"""Sigstore bundles (``gate.signatures.keyless.bundle.check_bundle``), real ones mutated.

Seeds are conformance-suite bundles that verify (v0.1, v0.2, v0.3, DSSE,
Rekor v2, an intoto/0.0.2 entry and a managed key, so both engines run).
Any bytes give a verification or a one-line ``GateError``. A mutated bundle
that still verifies must vouch for what the original did (signer, log entry,
statement; its signing times a subset of the original's, since a tampered
timestamp is left out rather than believed, and its integrated time the
original's or unknown, when removed), and its signed material
(signature, message digest, envelope, certificate, log entry body) must be
unchanged; a managed key's ``hint`` is neither signed nor used.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from gate.errors import GateError
from gate.oci.digest import Digest
from gate.signatures.keyless.bundle import BundleVerification, check_bundle
from gate.signatures.keyless.trusted_root import SigstoreTrustRoot, load_trusted_root
from gate.signatures.keys import PublicKey, load_public_key
from tests.fuzz.support import (
    examples,
    gate_outcome,
    json_values,
    mutated_bytes,
    mutated_json,
    serialised,
)
from tests.support.realdata import real_fixtures

CASES = (
    "happy-path-v0.1",
    "happy-path-v0.2",
    "happy-path-v0.3",
    "happy-path-intoto-in-dsse-v3",
    "rekor2-happy-path",
    "intoto-with-custom-trust-root",
    "managed-key-happy-path",
)
BUNDLE_KEYS = (
    "mediaType",
    "verificationMaterial",
    "certificate",
    "x509CertificateChain",
    "certificates",
    "rawBytes",
    "publicKey",
    "hint",
    "tlogEntries",
    "logIndex",
    "logId",
    "keyId",
    "kindVersion",
    "kind",
    "version",
    "integratedTime",
    "inclusionPromise",
    "signedEntryTimestamp",
    "inclusionProof",
    "rootHash",
    "treeSize",
    "hashes",
    "checkpoint",
    "envelope",
    "canonicalizedBody",
    "timestampVerificationData",
    "rfc3161Timestamps",
    "signedTimestamp",
    "messageSignature",
    "messageDigest",
    "algorithm",
    "digest",
    "signature",
    "dsseEnvelope",
    "payload",
    "payloadType",
    "signatures",
    "sig",
    "keyid",
)


class Case:
    """One conformance bundle that verifies: bytes, artifact, trust root, key, and its result."""

    def __init__(
        self,
        name: str,
        data: bytes,
        artifact: Digest,
        root: SigstoreTrustRoot,
        key: PublicKey | None,
    ) -> None:
        self.name = name
        self.data = data
        self.artifact = artifact
        self.root = root
        self.key = key
        result = self.check(data)
        assert isinstance(result, BundleVerification), f"{name}: {result}"
        self.result: BundleVerification = result

    def __repr__(self) -> str:
        return f"Case({self.name!r})"

    def check(self, data: bytes) -> BundleVerification | GateError:
        """``check_bundle`` of ``data`` for this case's artifact, root and key."""
        return gate_outcome(lambda: check_bundle(data, self.artifact, self.root, key=self.key))


@pytest.fixture(scope="module")
def cases() -> tuple[Case, ...]:
    """The seeds, each verified once as the reference result."""
    sigstore = real_fixtures("signatures", "sigstore")
    default_artifact = Digest.of((sigstore / "conformance" / "a.txt").read_bytes())
    production = load_trusted_root(None)
    loaded: list[Case] = []
    for name in CASES:
        folder: Path = sigstore / "conformance" / "bundle-verify" / name
        artifact = (
            Digest.of((folder / "artifact").read_bytes())
            if (folder / "artifact").exists()
            else default_artifact
        )
        root_file = folder / "trusted_root.json"
        root = load_trusted_root(root_file) if root_file.exists() else production
        key_file = folder / "key.pub"
        key = load_public_key(key_file.read_bytes(), label=name) if key_file.exists() else None
        data = (folder / "bundle.sigstore.json").read_bytes()
        loaded.append(Case(name, data, artifact, root, key))
    return tuple(loaded)


def _bytes(value: object) -> object:
    """Base64 text as the bytes it stands for (two spellings of one value compare equal)."""
    if isinstance(value, str):
        try:
            return base64.b64decode(value)
        except (binascii.Error, ValueError):
            return value
    return value


def _signed_core(
    document: Any, original: dict[str, object] | None = None
) -> dict[str, object] | None:
    """What a bundle's signature and log entry vouch for, from its parsed JSON (leniently).

    ``original``: the original's core, whose message digest stands in for an absent one.
    """
    try:
        material = document["verificationMaterial"]
        message = document.get("messageSignature") or {}
        envelope = document.get("dsseEnvelope") or {}
        entries = material.get("tlogEntries") or []
        chain = (material.get("x509CertificateChain") or {}).get("certificates") or [{}]
        return {
            "signature": _bytes(message.get("signature")),
            # Optional and only informative (the spec forbids verifying with it); when
            # present it must still name the artifact, so it counts unless absent.
            "digest": _bytes((message.get("messageDigest") or {}).get("digest"))
            or (original or {}).get("digest"),
            "payload": _bytes(envelope.get("payload")),
            "payloadType": envelope.get("payloadType"),
            "sigs": [_bytes(s.get("sig")) for s in envelope.get("signatures") or []],
            "certificate": _bytes((material.get("certificate") or {}).get("rawBytes")),
            "leaf": _bytes(chain[0].get("rawBytes")),
            "bodies": [_bytes(e.get("canonicalizedBody")) for e in entries],
        }
    except (AttributeError, KeyError, TypeError, IndexError):
        return None


def _vouches_for(result: BundleVerification) -> tuple[object, ...]:
    return (
        result.identity,
        result.log_index,
        result.statement,
    )


def _check_mutation(case: Case, data: bytes) -> None:
    result = case.check(data)
    if isinstance(result, GateError):
        # --hypothesis-show-statistics shows how many mutations still verify.
        event(f"refused: {type(result).__name__}")
        return
    event("still verifies")
    assert _vouches_for(result) == _vouches_for(case.result), case.name
    # A timestamp that no longer verifies is left out (as sigstore-go does), never believed;
    # without its integratedTime an entry still counts by its proof, with no time of its own.
    assert set(result.signed_times) <= set(case.result.signed_times), case.name
    assert result.integrated_time in {None, case.result.integrated_time}, case.name
    try:
        document = json.loads(data)
    except ValueError:
        return
    original = _signed_core(json.loads(case.data))
    assert _signed_core(document, original) == original, case.name


def test_the_seed_bundles_verify(cases: tuple[Case, ...]) -> None:
    assert {c.result.engine for c in cases} == {"sigstore-python", "gate"}


@settings(max_examples=examples(0.5))
@given(data=st.data())
def test_a_bundle_mutated_as_bytes_verifies_only_unchanged(
    cases: tuple[Case, ...], data: st.DataObject
) -> None:
    case = data.draw(st.sampled_from(cases))
    _check_mutation(case, data.draw(mutated_bytes(case.data)))


@settings(max_examples=examples(0.5))
@given(data=st.data())
def test_a_bundle_mutated_as_json_verifies_only_unchanged(
    cases: tuple[Case, ...], data: st.DataObject
) -> None:
    case = data.draw(st.sampled_from(cases))
    document = data.draw(mutated_json(json.loads(case.data)))
    _check_mutation(case, data.draw(serialised(document)))


def _bundle_like() -> st.SearchStrategy[Any]:
    return st.recursive(
        json_values,
        lambda children: st.one_of(
            st.lists(children, max_size=3),
            st.dictionaries(st.sampled_from(BUNDLE_KEYS), children, max_size=5),
        ),
        max_leaves=20,
    )


@settings(max_examples=examples(0.25))
@given(
    document=_bundle_like(),
    media_type=st.sampled_from(
        (
            "application/vnd.dev.sigstore.bundle+json;version=0.1",
            "application/vnd.dev.sigstore.bundle+json;version=0.2",
            "application/vnd.dev.sigstore.bundle.v0.3+json",
        )
    ),
)
def test_generated_bundles_fail_with_one_line(
    cases: tuple[Case, ...], document: Any, media_type: str
) -> None:
    if isinstance(document, dict):
        document = {**document, "mediaType": media_type}
    result = cases[0].check(json.dumps(document).encode())
    assert isinstance(result, GateError)
