"""Platform parsing and the matching rules used to pick a manifest from an index."""

from __future__ import annotations

import pytest

from gate.errors import InputError
from gate.oci.platform import Platform


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("linux/amd64", Platform("linux", "amd64")),
        ("linux/arm64/v8", Platform("linux", "arm64", "v8")),
        ("Linux/ARM64", Platform("linux", "arm64")),
        ("linux/aarch64", Platform("linux", "arm64")),
        ("linux/x86_64", Platform("linux", "amd64")),
        ("linux/arm/v7", Platform("linux", "arm", "v7")),
        ("windows/amd64", Platform("windows", "amd64")),
    ],
)
def test_parse(text: str, expected: Platform) -> None:
    assert Platform.parse(text) == expected


@pytest.mark.parametrize(
    "text", ["", "linux", "linux/", "/amd64", "linux/amd64/v8/x", "linux amd64"]
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(InputError, match="invalid platform"):
        Platform.parse(text)


@pytest.mark.parametrize(
    ("wanted", "candidate", "matches"),
    [
        ("linux/arm64", Platform("linux", "arm64", "v8"), True),
        ("linux/arm64", Platform("linux", "arm64"), True),
        ("linux/arm64/v8", Platform("linux", "arm64"), True),
        ("linux/arm64/v8", Platform("linux", "arm64", "v8"), True),
        ("linux/arm64", Platform("linux", "arm64", "v9"), False),
        ("linux/arm", Platform("linux", "arm", "v7"), True),
        ("linux/arm", Platform("linux", "arm", "v6"), False),
        ("linux/arm/v6", Platform("linux", "arm", "v6"), True),
        ("linux/amd64", Platform("linux", "amd64"), True),
        ("linux/amd64", Platform("linux", "arm64"), False),
        ("linux/amd64", Platform("windows", "amd64"), False),
        ("linux/amd64", Platform("unknown", "unknown"), False),
    ],
)
def test_matches(wanted: str, candidate: Platform, matches: bool) -> None:
    assert Platform.parse(wanted).matches(candidate) is matches


def test_str() -> None:
    assert str(Platform.parse("linux/arm64/v8")) == "linux/arm64/v8"
    assert str(Platform.parse("linux/amd64")) == "linux/amd64"
