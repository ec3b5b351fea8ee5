"""The tokens file and bearer authentication of the API."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from gate.errors import InputError
from webhook.tokens import Principal, Scope, TokenSet, load_tokens

SECRET = "s3cret-token-for-ci-0123456789"
OTHER = "another-token-for-the-dashboard"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tokens.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(InputError) as excinfo:
        load_tokens(path)
    message = str(excinfo.value)
    assert "\n" not in message
    return message.replace(str(path), "tokens.yaml")


def test_plain_and_hashed_tokens_authenticate_with_their_scopes(tmp_path: Path) -> None:
    digest = hashlib.sha256(OTHER.encode()).hexdigest()
    tokens = load_tokens(
        write(
            tmp_path,
            f"""
tokens:
  - name: ci
    token: "{SECRET}"
    scopes: [read, write]
  - name: dashboard
    sha256: {digest.upper()}
    scopes: [read]
""",
        )
    )
    assert tokens.names == ("ci", "dashboard")
    assert tokens.authenticate(f"Bearer {SECRET}") == Principal(
        "ci", frozenset({Scope.READ, Scope.WRITE})
    )
    dashboard = tokens.authenticate(f"bearer   {OTHER}  ")
    assert dashboard is not None
    assert dashboard.name == "dashboard"
    assert dashboard.may(Scope.READ)
    assert not dashboard.may(Scope.WRITE)


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer ", f"Basic {SECRET}", SECRET, f"Bearer {SECRET}x", "Bearer x"],
)
def test_anything_but_a_known_bearer_token_is_nobody(header: str | None) -> None:
    tokens = TokenSet.of({"ci": (SECRET, ["read"])})
    assert tokens.authenticate(header) is None


def test_the_empty_set_knows_nobody() -> None:
    assert TokenSet.empty().authenticate(f"Bearer {SECRET}") is None
    assert len(TokenSet.empty()) == 0


def test_an_empty_list_is_allowed(tmp_path: Path) -> None:
    assert len(load_tokens(write(tmp_path, "tokens: []\n"))) == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            f"tokens:\n  - name: ci\n    token: '{SECRET}'\n    scopes: [read, admin]\n",
            "tokens.yaml:4:20: tokens[0].scopes[1]: unknown scope 'admin' (expected read or write)",
        ),
        (
            f"tokens:\n  - name: a\n    token: '{SECRET}'\n    scopes: [read]\n"
            f"  - name: b\n    token: '{OTHER}'\n    scopes: [read]\n"
            f"  - name: c\n    token: '{OTHER}x'\n    scopes: [read, write, nope]\n",
            "tokens.yaml:10:27: tokens[2].scopes[2]: unknown scope 'nope' (expected read or write)",
        ),
        (
            f"tokens:\n  - name: ci\n    token: '{SECRET}'\n    scopes: [read]\n"
            f"  - name: ci\n    token: '{OTHER}'\n    scopes: [read]\n",
            "tokens.yaml:5:11: tokens[1].name: duplicate name 'ci' (also tokens[0])",
        ),
        (
            f"tokens:\n  - name: ci\n    token: '{SECRET}'\n    sha256: {'ab' * 32}\n"
            "    scopes: [read]\n",
            "tokens.yaml:2:5: tokens[0]: both of 'token' and 'sha256' given; "
            "exactly one is required",
        ),
        (
            "tokens:\n  - name: ci\n    scopes: [read]\n",
            "tokens.yaml:2:5: tokens[0]: neither of 'token' and 'sha256' given; "
            "exactly one is required",
        ),
        (
            "tokens:\n  - name: ci\n    token: short\n    scopes: [read]\n",
            "tokens.yaml:3:12: tokens[0].token: too short (5 characters, at least 16 required)",
        ),
        (
            "tokens:\n  - name: ci\n    sha256: abc\n    scopes: [read]\n",
            "tokens.yaml:3:13: tokens[0].sha256: must be 64 hexadecimal digits "
            "(the SHA-256 of the token)",
        ),
        (
            f"tokens:\n  - name: a\n    token: '{SECRET}'\n    scopes: [read]\n"
            f"  - name: b\n    token: '{SECRET}'\n    scopes: [write]\n",
            "tokens.yaml:5:5: tokens[1]: same token as tokens[0]",
        ),
        (
            f"tokens:\n  - name: ci\n    token: '{SECRET}'\n    scope: [read]\n",
            "tokens.yaml:4:12: tokens[0].scope: unknown key "
            "(expected one of name, scopes, sha256, token)",
        ),
        (
            f"tokens:\n  - name: ci\n    token: '{SECRET}'\n",
            "tokens.yaml:2:5: tokens[0]: missing 'scopes' (a list of read, write)",
        ),
        (
            f"tokens:\n  - name: ci\n    token: '{SECRET}'\n    scopes: []\n",
            "tokens.yaml:4:13: tokens[0].scopes: must be a non-empty list of read, write",
        ),
        (
            "tokens:\n  - name: ci\n    token: 12345678901234567890\n    scopes: [read]\n",
            "tokens.yaml:3:12: tokens[0].token: must be a string (quote it), got a number",
        ),
        (
            f"tokens:\n  - name: 'has space'\n    token: '{SECRET}'\n    scopes: [read]\n",
            "tokens.yaml:2:11: tokens[0].name: must be 1-128 letters, digits, '.', '_', '@' "
            "or '-', starting with a letter or digit",
        ),
        (
            f"tokens:\n  - token: '{SECRET}'\n    scopes: [read]\n",
            "tokens.yaml:2:5: tokens[0]: missing 'name'",
        ),
        (
            f"tokens:\n  - name: ci\n    token: '{SECRET}'\n    token: '{OTHER}'\n"
            "    scopes: [read]\n",
            'tokens.yaml:4:5: tokens[0]: duplicate key "token" (first defined at line 3)',
        ),
        ("tokens: {}\n", "tokens.yaml:1:9: tokens: expected a list, got a mapping"),
        ("- a\n", "tokens.yaml:1:1: expected a mapping with a 'tokens' list, got a list"),
        ("users: []\n", "tokens.yaml:1:8: users: unknown key (the file holds only 'tokens')"),
        ("{}\n", "tokens.yaml:1:1: missing 'tokens'"),
        ("   \n", "tokens.yaml: empty tokens file: expected a mapping with a 'tokens' list"),
        ("tokens: [\n", "tokens.yaml:2:1: invalid YAML"),
        ("tokens:\n  - oops\n", "tokens.yaml:2:5: tokens[0]: expected a mapping"),
    ],
)
def test_bad_files_name_file_line_field_and_reason(tmp_path: Path, text: str, message: str) -> None:
    assert error_of(tmp_path, text).startswith(message)


def test_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"absent\.yaml: cannot read tokens file"):
        load_tokens(tmp_path / "absent.yaml")


def test_the_secret_is_not_kept(tmp_path: Path) -> None:
    tokens = load_tokens(
        write(tmp_path, f"tokens:\n  - name: ci\n    token: '{SECRET}'\n    scopes: [read]\n")
    )
    assert SECRET not in repr(tokens)
