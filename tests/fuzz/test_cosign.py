"""cosign: simple-signing payloads (``parse_payload``) and whole ``.sig`` manifests.

The payload parser turns any bytes into a payload or a one-line
``InputError``. The signature check (``verify_signature_manifest``) runs on
connaisseur's real signature of its test image by alice's key, served as a
registry would (blobs re-hashed): whatever is mutated (manifest bytes or
structure, payload blob, signature), the authority is only satisfied while
the manifest still carries the original payload and the original signature.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gate.errors import BackendError, GateError, InputError
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.signatures.cosign import SIGNATURE_ANNOTATION, clear_parse_memo, verify_signature_manifest
from gate.signatures.evidence import AuthorityResult
from gate.signatures.keys import load_public_key
from gate.signatures.simplesigning import (
    SimpleSigningPayload,
    build_payload,
    parse_payload,
)
from gate.signatures.trust import TrustAuthority
from tests.fuzz.support import (
    NASTY_STRINGS,
    examples,
    gate_outcome,
    json_values,
    mutated_bytes,
    mutated_json,
    serialised,
)
from tests.support.realdata import real_fixtures

ALICE_ONLY = Digest.parse("sha256:071bf7a986f1ca9cb2a1f0bc8392822a7777f90d58f2d2c6f271913e08de7c81")
PAYLOAD_KEYS = (
    "critical",
    "optional",
    "identity",
    "image",
    "type",
    "docker-reference",
    "docker-manifest-digest",
    "Critical",
    "TYPE",
)


class Signed:
    """connaisseur's alice-signed test image: its .sig manifest, blobs and alice's authority."""

    def __init__(
        self, manifest: bytes, blobs: dict[Digest, bytes], authority: TrustAuthority
    ) -> None:
        self.manifest = manifest
        self.blobs = blobs
        self.authority = authority

    def __repr__(self) -> str:
        # Short in hypothesis' failure reports (a dataclass would be printed field by field).
        return "Signed(connaisseur multi-cosigned-alice)"

    @property
    def layer(self) -> dict[str, Any]:
        """The manifest's one signature layer."""
        layer: dict[str, Any] = json.loads(self.manifest)["layers"][0]
        return layer


@pytest.fixture(scope="module")
def signed() -> Signed:
    """The real signature data, read once."""
    base = real_fixtures("signatures", "cosign", "connaisseur-testimage")
    dump = base / "registry" / "securesystemsengineering" / "testimage"
    manifest = (dump / "manifests" / f"sha256-{ALICE_ONLY.hex}.sig.json").read_bytes()
    blobs = {
        Digest.parse(path.name.removesuffix(".json")): path.read_bytes()
        for path in sorted((dump / "blobs").glob("*.json"))
    }
    key = load_public_key((base / "keys" / "alice.pub").read_bytes(), label="alice.pub")
    return Signed(manifest, blobs, TrustAuthority("alice", (key,)))


def _fetcher(blobs: dict[Digest, bytes]) -> Any:
    """A blob fetcher that behaves like the registry client: unknown is an error, re-hashed."""

    def fetch(digest: Digest, max_size: int) -> bytes:
        data = blobs.get(digest)
        if data is None:
            raise BackendError(f"blob {digest} unknown (404)")
        if len(data) > max_size:
            raise BackendError(f"blob {digest} larger than {max_size} bytes")
        digest.check(data, what=str(digest))
        return data

    return fetch


def _verify(signed: Signed, manifest: bytes, blobs: dict[Digest, bytes]) -> AuthorityResult:
    clear_parse_memo()  # every example must be read afresh, not from an earlier one's memo
    result = gate_outcome(
        lambda: verify_signature_manifest(manifest, _fetcher(blobs), ALICE_ONLY, signed.authority)
    )
    assert isinstance(result, AuthorityResult), f"raised {result!r}"
    for sentence in (*result.rejections, *result.notes, result.error or ""):
        assert "\n" not in sentence, repr(sentence)
    return result


def _decoded(text: object) -> bytes | None:
    if not isinstance(text, str):
        return None
    try:
        return base64.b64decode(text)
    except (binascii.Error, ValueError):
        return None


def _carries(layer: object, original: dict[str, Any]) -> bool:
    """Is ``layer`` the original payload digest with the original signature (leniently)?"""
    if not isinstance(layer, dict) or not isinstance(layer.get("annotations"), dict):
        return False
    wanted = _decoded(original["annotations"][SIGNATURE_ANNOTATION])
    return bool(
        layer.get("digest") == original["digest"]
        and _decoded(layer["annotations"].get(SIGNATURE_ANNOTATION)) == wanted
    )


def _still_carries_the_signature(manifest: bytes, signed: Signed) -> bool:
    """Leniently: does ``manifest`` hold a layer with the original payload and signature?"""
    try:
        layers = json.loads(manifest)["layers"]
    except (ValueError, KeyError, TypeError, IndexError):
        return False
    return isinstance(layers, list) and any(_carries(layer, signed.layer) for layer in layers)


def test_the_real_signature_verifies(signed: Signed) -> None:
    assert _verify(signed, signed.manifest, signed.blobs).satisfied


@given(data=st.data())
def test_a_mutated_signature_manifest_only_verifies_with_the_signature_intact(
    signed: Signed, data: st.DataObject
) -> None:
    if data.draw(st.booleans()):
        manifest = data.draw(mutated_bytes(signed.manifest))
    else:
        manifest = data.draw(serialised(data.draw(mutated_json(json.loads(signed.manifest)))))
    result = _verify(signed, manifest, signed.blobs)
    if result.satisfied:
        assert _still_carries_the_signature(manifest, signed), manifest


@settings(max_examples=examples(0.5))
@given(data=st.data())
def test_a_mutated_payload_never_verifies(signed: Signed, data: st.DataObject) -> None:
    layer = signed.layer
    original = signed.blobs[Digest.parse(layer["digest"])]
    if data.draw(st.booleans()):
        payload = data.draw(mutated_bytes(original))
    else:
        payload = data.draw(serialised(data.draw(mutated_json(json.loads(original)))))
    assume(payload != original)
    # The manifest names the new blob, as an attacker re-pushing the payload would.
    document = json.loads(signed.manifest)
    document["layers"][0] = {**layer, "digest": str(Digest.of(payload)), "size": len(payload)}
    blobs = {**signed.blobs, Digest.of(payload): payload}
    assert not _verify(signed, json.dumps(document).encode(), blobs).satisfied


@settings(max_examples=examples(0.5))
@given(data=st.data())
def test_a_mutated_signature_never_verifies(signed: Signed, data: st.DataObject) -> None:
    layer = signed.layer
    signature = base64.b64decode(layer["annotations"][SIGNATURE_ANNOTATION])
    mutated = data.draw(mutated_bytes(signature))
    assume(mutated != signature)
    document = json.loads(signed.manifest)
    annotations = {**layer["annotations"], SIGNATURE_ANNOTATION: base64.b64encode(mutated).decode()}
    document["layers"][0] = {**layer, "annotations": annotations}
    assert not _verify(signed, json.dumps(document).encode(), signed.blobs).satisfied


# -- the payload parser -----------------------------------------------------------------------


def _check_payload(data: bytes) -> None:
    result = gate_outcome(lambda: parse_payload(data, source="fuzz payload"))
    if isinstance(result, GateError):
        assert isinstance(result, InputError)
    else:
        assert isinstance(result, SimpleSigningPayload)


@settings(max_examples=examples(0.5))
@given(data=st.data())
def test_mutated_real_payloads_parse_or_fail_with_one_line(
    signed: Signed, data: st.DataObject
) -> None:
    original = data.draw(st.sampled_from(sorted(signed.blobs.values())))
    if data.draw(st.booleans()):
        _check_payload(data.draw(mutated_bytes(original)))
    else:
        _check_payload(data.draw(serialised(data.draw(mutated_json(json.loads(original))))))


def _payload_like() -> st.SearchStrategy[Any]:
    leaves = st.one_of(json_values, st.sampled_from(("cosign container image signature",)))
    return st.recursive(
        leaves,
        lambda children: st.dictionaries(st.sampled_from(PAYLOAD_KEYS), children, max_size=4),
        max_leaves=10,
    )


@settings(max_examples=examples(0.25))
@given(document=_payload_like(), data=st.data())
def test_generated_payloads_parse_or_fail_with_one_line(document: Any, data: st.DataObject) -> None:
    _check_payload(data.draw(serialised(document)))


@settings(max_examples=examples(0.25))
@given(blob=st.binary(max_size=300))
def test_arbitrary_bytes_are_no_payload(blob: bytes) -> None:
    _check_payload(blob)


@settings(max_examples=examples(0.25))
@given(
    digest=st.binary(min_size=1, max_size=8).map(Digest.of),
    # No lone surrogates: Go (and gojson) write them as U+FFFD, so they cannot round-trip.
    reference=st.one_of(
        st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40),
        st.sampled_from([s for s in NASTY_STRINGS if s and s != "\ud800"]),
    ),
    annotations=st.none()
    | st.dictionaries(
        st.text(st.characters(exclude_categories=["Cs"]), max_size=8),
        st.text(st.characters(exclude_categories=["Cs"]), max_size=8),
        max_size=3,
    ),
)
def test_built_payloads_parse_back_to_what_was_signed(
    digest: Digest, reference: str, annotations: dict[str, str] | None
) -> None:
    payload = parse_payload(build_payload(digest, reference, annotations))
    assert payload.image_digest == digest
    assert payload.docker_reference == reference
    assert payload.optional == (annotations or None)


def test_the_repository_reference_of_the_real_payload(signed: Signed) -> None:
    original = signed.blobs[Digest.parse(signed.layer["digest"])]
    payload = parse_payload(original)
    assert payload.image_digest == ALICE_ONLY
    assert ImageReference.parse(payload.docker_reference).repository == (
        "securesystemsengineering/testimage"
    )
