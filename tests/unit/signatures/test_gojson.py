"""Go-compatible JSON writing and the strict reader."""

from __future__ import annotations

import pytest

from gate.signatures import gojson


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", '"plain"'),
        ("<a&b>", '"\\u003ca\\u0026b\\u003e"'),
        ("line\u2028sep\u2029", '"line\\u2028sep\\u2029"'),
        ('q"b\\', '"q\\"b\\\\"'),
        ("\b\f\n\r\t", '"\\b\\f\\n\\r\\t"'),
        ("\x01\x1f", '"\\u0001\\u001f"'),
        ("\x7f", '"\x7f"'),
        ("naïve ☃", '"naïve ☃"'),
        ("bad\ud800", '"bad\ufffd"'),
    ],
)
def test_go_string_escapes_like_go(text: str, expected: str) -> None:
    assert gojson.go_string(text) == expected


def test_marshal_keeps_struct_order_and_sorts_maps() -> None:
    value = {"z": 1, "a": [True, False, None], "m": gojson.go_map({"b": "2", "a": "1"})}
    assert gojson.marshal(value) == b'{"z":1,"a":[true,false,null],"m":{"a":"1","b":"2"}}'


def test_marshal_refuses_floats() -> None:
    with pytest.raises(TypeError):
        gojson.marshal({"f": 1.5})


def test_loads_strict_refuses_duplicates() -> None:
    with pytest.raises(ValueError, match="duplicate key 'a'"):
        gojson.loads_strict(b'{"a":1,"b":{"a":2},"a":3}')


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"a":NaN}', "NaN"),
        (b"\xef\xbb\xbf{}", "not valid JSON"),
        (b'{"a":"\xff"}', "not UTF-8"),
        (b"{", "not valid JSON"),
        (b"[" * 100_000, "nested too deeply"),
    ],
)
def test_loads_strict_refuses_doubtful_input(data: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        gojson.loads_strict(data)
