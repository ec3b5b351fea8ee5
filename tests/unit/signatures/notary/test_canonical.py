"""Canonical JSON as Notary signs it (Go docker/go canonical/json)."""

from __future__ import annotations

import hashlib

import pytest

from gate.signatures.notary.canonical import (
    CanonicalJSONError,
    canonical_string,
    encode_canonical,
)
from gate.signatures.notary.tuf_keys import tuf_key_id


def test_compact_with_sorted_keys() -> None:
    value = {"b": [1, {"z": None, "a": True}], "a": False, "_type": "Root", "B": "x"}
    assert (
        encode_canonical(value) == b'{"B":"x","_type":"Root","a":false,"b":[1,{"a":true,"z":null}]}'
    )


def test_keys_sort_by_code_point() -> None:
    # byte-wise on UTF-8 (Go) and by code point (Python) agree; uppercase before lowercase
    value = {"é": 1, "z": 2, "Z": 3, "\U0001f600": 4, "\uff41": 5}
    assert encode_canonical(value) == '{"Z":3,"z":2,"é":1,"\uff41":5,"\U0001f600":4}'.encode()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('say "hi"', r'"say \"hi\""'),
        ("back\\slash", r'"back\\slash"'),
        ("<tag>&amp;", '"<tag>&amp;"'),  # no HTML escaping, unlike Go's encoding/json
        ("line\nfeed\ttab\x00nul", '"line\nfeed\ttab\x00nul"'),  # control characters raw
        ("\u2028\u2029", r'"\u2028\u2029"'),
        ("ünïcødé ✓", '"ünïcødé ✓"'),
        ("/slash", '"/slash"'),
    ],
)
def test_string_escaping(text: str, expected: str) -> None:
    assert canonical_string(text) == expected
    assert encode_canonical(text) == expected.encode("utf-8")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, b"0"),
        (-5, b"-5"),
        (2420, b"2420"),
        (1_000_000, b"1000000"),
        (2**53, b"9007199254740992"),
    ],
)
def test_integers_are_plain_decimals(value: int, expected: bytes) -> None:
    assert encode_canonical(value) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (1.5, "number 1.5 is not an integer"),
        (1.0, "number 1.0 is not an integer"),
        (2**53 + 1, "too large"),
        (-(2**53) - 1, "too large"),
        ("\ud800", "lone UTF-16 surrogate"),
        ({1: "x"}, "object key 1 is not a string"),
        ({"\udc00": 1}, "lone UTF-16 surrogate"),
        (b"bytes", "cannot write bytes"),
        ({"set": {1, 2}}, "cannot write set"),
    ],
)
def test_values_notary_could_not_have_signed(value: object, reason: str) -> None:
    with pytest.raises(CanonicalJSONError, match=reason):
        encode_canonical(value)


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    value: object = "leaf"
    for _ in range(5000):
        value = [value]
    with pytest.raises(CanonicalJSONError, match="nested too deeply"):
        encode_canonical(value)


def test_tuples_are_arrays() -> None:
    assert encode_canonical({"k": ("a", 1)}) == b'{"k":["a",1]}'


def test_key_id_is_the_hash_of_the_canonical_key() -> None:
    public = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"
    document = '{"keytype":"ecdsa","keyval":{"private":null,"public":"' + public + '"}}'
    assert tuf_key_id("ecdsa", public) == hashlib.sha256(document.encode()).hexdigest()
