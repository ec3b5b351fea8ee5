"""The simple signing payload: cosign-identical bytes, strict parsing."""

from __future__ import annotations

import pytest

from gate.errors import InputError
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.signatures.simplesigning import (
    COSIGN_SIGNATURE_TYPE,
    build_payload,
    docker_reference,
    parse_payload,
    reference_matches,
)

DIGEST = Digest.parse("sha256:" + "ab" * 32)
GOOD = (
    '{"critical":{"identity":{"docker-reference":"index.docker.io/x/y"},'
    '"image":{"docker-manifest-digest":"sha256:' + "ab" * 32 + '"},'
    '"type":"cosign container image signature"},"optional":null}'
)


def test_build_payload_is_cosigns_compact_form() -> None:
    assert build_payload(DIGEST, "index.docker.io/x/y").decode() == GOOD


def test_build_payload_with_annotations_sorts_and_escapes_like_go() -> None:
    payload = build_payload(DIGEST, "r.example/a", {"z": "1", "b": "<&>"})
    assert payload.endswith(b'"optional":{"b":"\\u003c\\u0026\\u003e","z":"1"}}')
    assert parse_payload(payload).optional == {"b": "<&>", "z": "1"}


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("alpine", "index.docker.io/library/alpine"),
        ("docker.io/x/y:1", "index.docker.io/x/y"),
        ("ghcr.io/o/r@sha256:" + "ab" * 32, "ghcr.io/o/r"),
        ("localhost:5000/app", "localhost:5000/app"),
    ],
)
def test_docker_reference_as_go_containerregistry_names_it(reference: str, expected: str) -> None:
    assert docker_reference(ImageReference.parse(reference)) == expected


def test_parse_returns_fields() -> None:
    payload = parse_payload(GOOD.encode())
    assert payload.image_digest == DIGEST
    assert payload.docker_reference == "index.docker.io/x/y"
    assert payload.optional is None


def test_parse_reads_fields_case_insensitively_like_go() -> None:
    text = GOOD.replace('"docker-manifest-digest"', '"Docker-manifest-digest"').replace(
        '"critical"', '"Critical"'
    )
    assert parse_payload(text.encode()).image_digest == DIGEST


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        (GOOD.replace('"optional":null', '"optional":null,"optional":{}'), None, "duplicate"),
        (
            GOOD.replace('"type":', '"Type":"x","type":'),
            "critical.type",
            "different letter case",
        ),
        (
            GOOD.replace('"docker-reference"', '"doc\u212aer-reference"'),
            "critical.identity.doc\u212aer-reference",
            "non-ASCII",
        ),
        (GOOD.replace('"type":', '"extra":1,"type":'), "critical.extra", "unknown field"),
        (GOOD.replace('"optional":null', '"optional":null,"x":1'), "x", "unknown field"),
        (
            GOOD.replace("cosign container image signature", "atomic container signature"),
            "critical.type",
            "expected 'cosign container image signature'",
        ),
        (
            GOOD.replace('"cosign container image signature"', "1"),
            "critical.type",
            "must be a string",
        ),
        (
            GOOD.replace('"sha256:' + "ab" * 32 + '"', '"sha256:ab"'),
            "docker-manifest-digest",
            "not a valid digest",
        ),
        (
            GOOD.replace("ab" * 32 + '"', "ab" * 32 + '\\n"'),
            "docker-manifest-digest",
            "not a valid digest",
        ),
        (GOOD.replace('"index.docker.io/x/y"', '""'), "docker-reference", "is empty"),
        (GOOD.replace('"optional":null', '"optional":"x"'), "optional", "object or null"),
        ('{"optional":null}', "critical", "missing"),
        ('{"critical":null}', "critical", "must be a JSON object"),
        (
            '{"critical":{"image":{"docker-manifest-digest":"sha256:' + "ab" * 32 + '"},'
            '"type":"cosign container image signature"}}',
            "critical.identity",
            "missing",
        ),
        (
            '{"critical":{"identity":{"docker-reference":"a/b"},'
            '"type":"cosign container image signature"}}',
            "critical.image",
            "missing",
        ),
        (
            '{"critical":{"identity":{},"image":{"docker-manifest-digest":"sha256:'
            + "ab" * 32
            + '"},"type":"cosign container image signature"}}',
            "critical.identity.docker-reference",
            "missing",
        ),
        (
            '{"critical":{"identity":{"docker-reference":"a/b"},"image":{}}}',
            "critical.type",
            "missing",
        ),
        ("[]", None, "must be a JSON object"),
        ("not json", None, "not valid JSON"),
        ('{"critical":NaN}', None, "NaN"),
    ],
)
def test_parse_rejects(text: str, field: str | None, reason: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_payload(text.encode())
    message = str(caught.value)
    assert "\n" not in message
    assert reason in message
    if field is not None:
        assert field in message


def test_parse_rejects_invalid_utf8_and_deep_nesting() -> None:
    with pytest.raises(InputError, match="not UTF-8"):
        parse_payload(b'{"critical":"\xff"}')
    with pytest.raises(InputError, match="nested too deeply"):
        parse_payload(b'{"optional":' + b"[" * 100_000)


def test_payload_type_constant() -> None:
    assert COSIGN_SIGNATURE_TYPE == "cosign container image signature"


@pytest.mark.parametrize(
    ("claimed", "repository", "expected"),
    [
        ("index.docker.io/x/y", "docker.io/x/y", True),
        ("index.docker.io/x/y:tag", "x/y", True),
        ("ghcr.io/x/y", "docker.io/x/y", False),
        ("not a reference", "docker.io/x/y", False),
    ],
)
def test_reference_matches(claimed: str, repository: str, expected: bool) -> None:
    assert reference_matches(claimed, ImageReference.parse(repository)) is expected
