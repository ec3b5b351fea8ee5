"""``spec.trust.<name>.notaryV1``: what loads, and every mistake with its field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from gate.oci.reference import ImageReference
from gate.policy.loader import load_policy
from tests.unit.policy.support import error_lines, policy_text, public_pem, write_policy

RULES = """\
rules:
  - name: all
    match: {images: ["**"]}
    signatures: {anyOf: [dct]}
"""


def _spec(notary: str) -> str:
    return f"trust:\n  dct:\n    notaryV1: {notary}\n" + RULES


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A pinned root public key file ``keys/root.pub``."""
    keys = tmp_path / "keys"
    keys.mkdir()
    path = keys / "root.pub"
    path.write_bytes(public_pem())
    (tmp_path / "ca.pem").write_bytes(b"")
    return path


def test_a_full_notary_block_loads(tmp_path: Path, root: Path) -> None:
    del root
    text = policy_text(
        _spec(
            "{server: 'https://notary.acme.internal:4443/', rootKeys: [keys/root.pub], "
            "delegations: [targets/releases, targets/qa], caFile: ca.pem, "
            "gun: 'acme/{repository}', offlineGrace: 1h}"
        )
    )
    policy = load_policy(write_policy(tmp_path, text))
    authority = policy.trust["dct"]
    notary = authority.notary
    assert notary is not None
    assert authority.kinds == ("notaryV1",)
    assert notary.server == "https://notary.acme.internal:4443"
    assert notary.delegations == ("targets/releases", "targets/qa")
    assert notary.ca_file == tmp_path / "ca.pem"
    assert notary.offline_grace == timedelta(hours=1)
    assert notary.gun(ImageReference.parse("reg.acme.io/team/app:1")) == "acme/team/app"
    assert len(authority.possible_signers) == 1


def test_the_default_gun_is_registry_and_repository(tmp_path: Path, root: Path) -> None:
    del root
    text = policy_text(_spec("{server: 'https://n.example', rootKeys: [keys/root.pub]}"))
    notary = load_policy(write_policy(tmp_path, text)).trust["dct"].notary
    assert notary is not None
    assert notary.gun(ImageReference.parse("alpine:3")) == "docker.io/library/alpine"
    assert notary.offline_grace is None
    assert notary.delegations == ()


@pytest.mark.parametrize(
    ("notary", "expected"),
    [
        ("{rootKeys: [keys/root.pub]}", 'notaryV1: missing required field "server"'),
        ("{server: 'https://n.example'}", "rootKeys"),
        (
            "{server: 'http://notary.example', rootKeys: [keys/root.pub]}",
            'notaryV1.server: "http://notary.example": plain http is only allowed to a loopback',
        ),
        (
            "{server: 'https://n.example/v2/x', rootKeys: [keys/root.pub]}",
            "notaryV1.server",
        ),
        (
            "{server: 'https://n.example', rootKeys: [keys/missing.pub]}",
            "notaryV1.rootKeys[0]: key file keys/missing.pub not found",
        ),
        (
            "{server: 'https://n.example', rootKeys: [keys/root.pub], delegations: [releases]}",
            "notaryV1.delegations[0]",
        ),
        (
            "{server: 'https://n.example', rootKeys: [keys/root.pub], gun: '{host}/{repository}'}",
            'notaryV1.gun: unknown placeholder "{host}"',
        ),
        (
            "{server: 'https://n.example', rootKeys: [keys/root.pub], offlineGrace: 30s}",
            "notaryV1.offlineGrace",
        ),
        (
            "{server: 'https://n.example', rootKeys: [keys/root.pub], caFile: nope.pem}",
            "notaryV1.caFile: CA file nope.pem not found",
        ),
        (
            "{server: 'https://n.example', rootKeys: [keys/root.pub], roots: []}",
            "roots",
        ),
    ],
)
def test_mistakes_name_the_field(tmp_path: Path, root: Path, notary: str, expected: str) -> None:
    del root
    path = write_policy(tmp_path, policy_text(_spec(notary)))
    lines = error_lines(path)
    assert any(expected in line for line in lines), lines
    assert all(line.startswith(f"{path}:") for line in lines), lines


def test_a_root_key_that_is_not_a_key_is_refused(tmp_path: Path, root: Path) -> None:
    root.write_bytes(b"-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n")
    text = policy_text(_spec("{server: 'https://n.example', rootKeys: [keys/root.pub]}"))
    lines = error_lines(write_policy(tmp_path, text))
    assert any("notaryV1.rootKeys[0]: keys/root.pub" in line for line in lines), lines


def test_threshold_counts_a_notary_root_once(tmp_path: Path, root: Path) -> None:
    del root
    text = policy_text(
        "trust:\n  dct:\n    notaryV1: {server: 'https://n.example', rootKeys: [keys/root.pub]}\n"
        "rules:\n  - name: all\n    match: {images: ['**']}\n"
        "    signatures: {threshold: {count: 2, of: [dct]}}\n"
    )
    lines = error_lines(write_policy(tmp_path, text))
    assert any("can never be met" in line and "1 distinct signer" in line for line in lines)
