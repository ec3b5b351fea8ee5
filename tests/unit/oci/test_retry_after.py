"""``Retry-After`` as the registry transport reads it: seconds or an HTTP-date, else unusable."""

from __future__ import annotations

import pytest

from gate.oci.transport import parse_retry_after

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("0", 0.0),
        ("7", 7.0),
        (" 30 ", 30.0),
        ("Tue, 14 Nov 2023 22:13:50 GMT", 30.0),
        ("Tue, 14 Nov 2023 22:00:00 GMT", 0.0),  # in the past: now
        ("99999999999", 86400.0),  # capped
    ],
)
def test_usable_values(value: str, seconds: float) -> None:
    assert parse_retry_after(value, NOW) == pytest.approx(seconds)


@pytest.mark.parametrize("value", [None, "", "-1", "1.5", "soon", "Tue, 14 Nov 2023 22:13:50"])
def test_unusable_values(value: str | None) -> None:
    assert parse_retry_after(value, NOW) is None
