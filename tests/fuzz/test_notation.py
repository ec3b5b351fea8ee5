"""Notation envelopes (``gate.signatures.notation.envelope``): real JWS and COSE, mutated.

Seeds are the real envelopes of notation-go's tests and connaisseur's
registry. Mutations reach every layer: the envelope bytes, its JSON or CBOR
structure, and the protected header inside it (decoded, mutated, encoded
again, so the header checks see odd values rather than broken base64).
``parse_envelope`` gives an envelope or a one-line ``NotationError``; an
envelope whose signature still verifies (``open_envelope``) must carry
exactly the signed bytes and payload of its original.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gate.errors import GateError
from gate.signatures.notation.envelope import (
    COSE_MEDIA_TYPE,
    JWS_MEDIA_TYPE,
    NotationError,
    SignatureEnvelope,
    open_envelope,
    parse_envelope,
)
from tests.fuzz.support import (
    examples,
    gate_outcome,
    json_values,
    mutated_bytes,
    mutated_json,
    serialised,
)
from tests.support.realdata import real_fixtures

#: Protected header names and values of both formats, drawn into generated headers.
HEADER_KEYS: tuple[Any, ...] = (
    "alg",
    "cty",
    "crit",
    "io.cncf.notary.signingScheme",
    "io.cncf.notary.signingTime",
    "io.cncf.notary.authenticSigningTime",
    "io.cncf.notary.expiry",
    1,
    2,
    3,
    33,
    "x5c",
)


class Envelope:
    """One real envelope: its bytes, media type and what it opens to."""

    def __init__(self, name: str, data: bytes) -> None:
        self.name = name
        self.data = data
        self.media_type = JWS_MEDIA_TYPE if data.lstrip().startswith(b"{") else COSE_MEDIA_TYPE
        self.opened = open_envelope(data, self.media_type)

    def __repr__(self) -> str:
        return f"Envelope({self.name!r})"


@pytest.fixture(scope="module")
def envelopes() -> tuple[Envelope, ...]:
    """Every real envelope whose signature verifies (JWS and COSE)."""
    notation = real_fixtures("signatures", "notation")
    files = [
        *sorted((notation / "notation-go-mock" / "envelopes").glob("*valid_sig_env.json")),
        *sorted((notation / "notation-go-timestamp" / "envelopes").glob("*.sig")),
        *sorted((notation / "notation-go-oci-layout").glob("*.sig")),
        *sorted((notation / "connaisseur-registry").rglob("blobs/*.json")),
    ]
    found: list[Envelope] = []
    for path in files:
        if "invalid" in path.name:
            continue
        found.append(Envelope(path.name, path.read_bytes()))
    return tuple(found)


def test_both_formats_are_seeded(envelopes: tuple[Envelope, ...]) -> None:
    assert {e.media_type for e in envelopes} == {JWS_MEDIA_TYPE, COSE_MEDIA_TYPE}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@st.composite
def _mutated_jws(draw: st.DrawFn, data: bytes) -> bytes:
    document = json.loads(data)
    if draw(st.booleans()) and isinstance(document.get("protected"), str):
        header = json.loads(_unb64url(document["protected"]))
        header = draw(mutated_json(header))
        encoded = json.dumps(header).encode()
        return json.dumps({**document, "protected": _b64url(encoded)}).encode()
    return draw(serialised(draw(mutated_json(document))))


def _cbor_value() -> st.SearchStrategy[Any]:
    return st.one_of(
        json_values,
        st.binary(max_size=16),
        st.builds(cbor2.CBORTag, st.sampled_from((0, 1, 18, 24, 55799)), json_values),
    )


@st.composite
def _mutated_map(draw: st.DrawFn, mapping: dict[Any, Any]) -> dict[Any, Any]:
    changed = dict(mapping)
    keys = sorted(changed, key=repr)
    operation = draw(st.sampled_from(("delete", "replace", "add")))
    if keys and operation in {"delete", "replace"}:
        key = keys[draw(st.integers(min_value=0, max_value=2**16)) % len(keys)]
        if operation == "delete":
            del changed[key]
        else:
            changed[key] = draw(_cbor_value())
    else:
        changed[draw(st.sampled_from(HEADER_KEYS))] = draw(_cbor_value())
    return changed


@st.composite
def _mutated_cose(draw: st.DrawFn, data: bytes) -> bytes:
    message = cbor2.loads(data)
    protected, unprotected, payload, signature = message.value
    part = draw(st.sampled_from(("protected", "unprotected", "payload", "signature", "shape")))
    if part == "protected":
        header = cbor2.loads(protected)
        protected = cbor2.dumps(draw(_mutated_map(header)))
    elif part == "unprotected":
        unprotected = draw(_mutated_map(unprotected))
    elif part == "payload":
        payload = draw(mutated_bytes(payload))
    elif part == "signature":
        signature = draw(mutated_bytes(signature))
    else:
        items = [protected, unprotected, payload, signature]
        shape = draw(st.sampled_from(("drop", "extra", "untagged", "retag")))
        if shape == "drop":
            del items[draw(st.integers(min_value=0, max_value=3))]
        elif shape == "extra":
            items.append(draw(_cbor_value()))
        elif shape == "untagged":
            return cbor2.dumps(items)
        return cbor2.dumps(cbor2.CBORTag(draw(st.sampled_from((18, 98, 17))), items))
    return cbor2.dumps(cbor2.CBORTag(18, [protected, unprotected, payload, signature]))


def _opened(envelope: Envelope, data: bytes) -> SignatureEnvelope | GateError:
    result = gate_outcome(lambda: open_envelope(data, envelope.media_type, source="fuzz"))
    if isinstance(result, GateError):
        assert isinstance(result, NotationError), f"{type(result).__name__}: {result}"
    return result


def _check(envelope: Envelope, data: bytes) -> None:
    parsed = gate_outcome(lambda: parse_envelope(data, envelope.media_type, source="fuzz"))
    if isinstance(parsed, GateError):
        assert isinstance(parsed, NotationError), f"{type(parsed).__name__}: {parsed}"
    opened = _opened(envelope, data)
    if isinstance(opened, GateError):
        return
    original = envelope.opened
    assert opened.signed_bytes == original.signed_bytes, envelope.name
    assert opened.payload == original.payload
    assert opened.target == original.target
    assert opened.signing_time == original.signing_time
    assert opened.expiry == original.expiry


@settings(max_examples=examples(0.5))
@given(data=st.data())
def test_an_envelope_mutated_as_bytes_only_opens_unchanged(
    envelopes: tuple[Envelope, ...], data: st.DataObject
) -> None:
    envelope = data.draw(st.sampled_from(envelopes))
    _check(envelope, data.draw(mutated_bytes(envelope.data)))


@settings(max_examples=examples(0.5))
@given(data=st.data())
def test_an_envelope_mutated_in_structure_only_opens_unchanged(
    envelopes: tuple[Envelope, ...], data: st.DataObject
) -> None:
    envelope = data.draw(st.sampled_from(envelopes))
    if envelope.media_type == JWS_MEDIA_TYPE:
        mutated = data.draw(_mutated_jws(envelope.data))
    else:
        mutated = data.draw(_mutated_cose(envelope.data))
    _check(envelope, mutated)


@settings(max_examples=examples(0.25))
@given(
    blob=st.one_of(
        st.binary(max_size=300),
        st.builds(cbor2.dumps, _cbor_value()),
        st.builds(lambda v: json.dumps(v).encode(), json_values),
    ),
    media_type=st.sampled_from((JWS_MEDIA_TYPE, COSE_MEDIA_TYPE, "application/json", "")),
)
def test_arbitrary_bytes_are_no_envelope(blob: bytes, media_type: str) -> None:
    result = gate_outcome(lambda: parse_envelope(blob, media_type))
    assert isinstance(result, NotationError), result
