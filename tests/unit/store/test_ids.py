"""Record ids: the ULID layout, Crockford digits, time order."""

from __future__ import annotations

import random

import pytest

from gate.store import ids

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _reference(value: int) -> str:
    """The id of a 128-bit value, five bits at a time from the right."""
    digits = []
    for _ in range(26):
        digits.append(_CROCKFORD[value & 0x1F])
        value >>= 5
    return "".join(reversed(digits))


@pytest.mark.parametrize("seed", range(5))
def test_digits_are_the_value_in_crockford_base32(seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311 - test values, not secrets
    for _ in range(200):
        value = rng.getrandbits(128)
        assert ids.encode(value) == _reference(value)


def test_extremes() -> None:
    assert ids.encode(0) == "0" * 26
    assert ids.encode((1 << 128) - 1) == "7" + "Z" * 25


def test_ids_look_like_ids_and_start_with_the_time() -> None:
    first = ids.new_id()
    second = ids.new_id()
    assert ids.looks_like_id(first)
    assert first != second
    assert first[:10] <= second[:10]  # 48 bits of milliseconds, then randomness
    assert not ids.looks_like_id(first.lower())
    assert not ids.looks_like_id(first[:-1])
