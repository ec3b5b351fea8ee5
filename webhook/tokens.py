"""Bearer tokens of the verdict API: who may read verdicts and who may record them.

The tokens file (``gate serve --tokens FILE``) lists named tokens with their
scopes::

    tokens:
      - name: ci
        token: "a-long-random-secret"
        scopes: [read, write]
      - name: dashboard
        sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
        scopes: [read]

``sha256`` (the hex SHA-256 of the token) may stand instead of ``token`` so the
file need not hold the secret. Only digests are kept in memory, and a
presented token is hashed and compared with ``hmac.compare_digest`` against
every entry, so neither the plaintext nor the comparison time gives it away.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate.errors import InputError, PolicyError
from gate.policy.yamlpos import FieldPath, Mark, load_located


class Scope(enum.StrEnum):
    """What a token may do; ``write`` does not imply ``read``."""

    READ = "read"
    WRITE = "write"


#: Shorter secrets can be guessed; a random 32-character token is the intended kind.
MIN_TOKEN_LENGTH = 16
#: A file bigger than this is not a tokens file (and YAML parsing it would take long).
MAX_TOKENS_FILE_BYTES = 1024 * 1024

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}")
_TOKEN_RE = re.compile(r"[\x21-\x7e]+")  # printable ASCII without spaces: fits in a header
_SHA256_RE = re.compile(r"[0-9a-fA-F]{64}")
_ENTRY_KEYS = frozenset({"name", "token", "sha256", "scopes"})


@dataclass(frozen=True)
class Principal:
    """The caller a token stands for: its name (recorded as the verdict's user) and scopes."""

    name: str
    scopes: frozenset[Scope]

    def may(self, scope: Scope) -> bool:
        """True when this caller holds ``scope``."""
        return scope in self.scopes


@dataclass(frozen=True)
class _Entry:
    principal: Principal
    digest: bytes  # sha256 of the token


@dataclass(frozen=True)
class TokenSet:
    """The tokens the API accepts, held as SHA-256 digests only."""

    entries: tuple[_Entry, ...]

    @classmethod
    def empty(cls) -> TokenSet:
        """No tokens at all: every API request that needs one is refused (401)."""
        return cls(())

    @classmethod
    def of(cls, tokens: Mapping[str, tuple[str, Iterable[Scope | str]]]) -> TokenSet:
        """Tokens from code (tests, embedded setups): ``{name: (token, scopes)}``."""
        entries = []
        for name, (token, scopes) in tokens.items():
            principal = Principal(name, frozenset(Scope(s) for s in scopes))
            entries.append(_Entry(principal, _digest(token)))
        return cls(tuple(entries))

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def names(self) -> tuple[str, ...]:
        """The names of the tokens, in file order (for logs: never the secrets)."""
        return tuple(e.principal.name for e in self.entries)

    def authenticate(self, header_value: str | None) -> Principal | None:
        """The principal of an ``Authorization: Bearer <token>`` header, or None.

        None for a missing header, another scheme, or an unknown token. Every
        entry is compared (no early exit), each in constant time.
        """
        if not header_value:
            return None
        scheme, _, token = header_value.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        presented = _digest(token)
        found: Principal | None = None
        for entry in self.entries:
            if hmac.compare_digest(entry.digest, presented) and found is None:
                found = entry.principal
        return found


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def load_tokens(path: Path) -> TokenSet:
    """Read and validate a tokens file; ``InputError`` naming file, field and reason.

    Unknown keys, duplicate names or tokens, unknown scopes, both or neither of
    ``token``/``sha256``, and tokens shorter than ``MIN_TOKEN_LENGTH`` are all
    refused: a typo in this file must not silently open or close the API.
    """
    source = str(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_TOKENS_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read tokens file: {exc.strerror or exc}", source=source) from exc
    if len(raw) > MAX_TOKENS_FILE_BYTES:
        raise InputError(f"tokens file is larger than {MAX_TOKENS_FILE_BYTES} bytes", source=source)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", source=source) from exc
    if not text.strip():
        raise InputError(
            "empty tokens file: expected a mapping with a 'tokens' list", source=source
        )
    try:
        located = load_located(text, file=source)
    except PolicyError as exc:
        raise InputError(
            exc.reason.replace("policy file", "tokens file"),
            source=_where(source, Mark(exc.line, exc.column or 1) if exc.line else None),
        ) from exc
    if located.problems:
        problem = located.problems[0]
        shown = problem.shown_path if problem.shown_path is not None else problem.path
        raise InputError(
            problem.reason, source=_where(source, problem.mark), field=_field(shown) or None
        )
    return _parse(located.data, source, located.positions.of_value)


def _parse(data: Any, source: str, position: Callable[[FieldPath], Mark | None]) -> TokenSet:
    def fail(path: FieldPath, reason: str) -> InputError:
        return InputError(reason, source=_where(source, position(path)), field=_field(path) or None)

    if not isinstance(data, dict):
        raise fail((), f"expected a mapping with a 'tokens' list, got {_kind(data)}")
    for key in data:
        if key != "tokens":
            raise fail((key,), "unknown key (the file holds only 'tokens')")
    if "tokens" not in data:
        raise fail((), "missing 'tokens'")
    items = data["tokens"]
    if not isinstance(items, list):
        raise fail(("tokens",), f"expected a list, got {_kind(items)}")

    entries: list[_Entry] = []
    names: dict[str, int] = {}
    digests: dict[bytes, int] = {}
    for index, item in enumerate(items):
        here: FieldPath = ("tokens", index)
        if not isinstance(item, dict):
            raise fail(
                here, f"expected a mapping with name, token or sha256, scopes; got {_kind(item)}"
            )
        for key in item:
            if key not in _ENTRY_KEYS:
                raise fail(
                    (*here, key), f"unknown key (expected one of {', '.join(sorted(_ENTRY_KEYS))})"
                )

        name = item.get("name")
        if name is None:
            raise fail(here, "missing 'name'")
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
            raise fail(
                (*here, "name"),
                "must be 1-128 letters, digits, '.', '_', '@' or '-', "
                "starting with a letter or digit",
            )
        if name in names:
            raise fail((*here, "name"), f"duplicate name {name!r} (also tokens[{names[name]}])")
        names[name] = index

        has_token, has_sha = "token" in item, "sha256" in item
        if has_token == has_sha:
            what = "both" if has_token else "neither"
            raise fail(here, f"{what} of 'token' and 'sha256' given; exactly one is required")
        if has_token:
            token = item["token"]
            if not isinstance(token, str):
                raise fail((*here, "token"), f"must be a string (quote it), got {_kind(token)}")
            if not _TOKEN_RE.fullmatch(token):
                raise fail((*here, "token"), "must be printable ASCII without spaces")
            if len(token) < MIN_TOKEN_LENGTH:
                raise fail(
                    (*here, "token"),
                    f"too short ({len(token)} characters, at least {MIN_TOKEN_LENGTH} required)",
                )
            digest = _digest(token)
        else:
            hexdigest = item["sha256"]
            if not isinstance(hexdigest, str) or not _SHA256_RE.fullmatch(hexdigest):
                raise fail(
                    (*here, "sha256"), "must be 64 hexadecimal digits (the SHA-256 of the token)"
                )
            digest = bytes.fromhex(hexdigest)
        if digest in digests:
            raise fail(here, f"same token as tokens[{digests[digest]}]")
        digests[digest] = index

        scopes_value = item.get("scopes")
        if scopes_value is None:
            raise fail(here, "missing 'scopes' (a list of read, write)")
        if not isinstance(scopes_value, list) or not scopes_value:
            raise fail((*here, "scopes"), "must be a non-empty list of read, write")
        scopes: set[Scope] = set()
        for scope_index, scope in enumerate(scopes_value):
            try:
                scopes.add(Scope(scope))
            except ValueError:
                raise fail(
                    (*here, "scopes", scope_index),
                    f"unknown scope {scope!r} (expected read or write)",
                ) from None
        entries.append(_Entry(Principal(name, frozenset(scopes)), digest))
    return TokenSet(tuple(entries))


def _field(path: FieldPath) -> str:
    """``("tokens", 2, "scopes", 0)`` -> ``tokens[2].scopes[0]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def _where(source: str, mark: Mark | None) -> str:
    return f"{source}:{mark.line}:{mark.column}" if mark is not None else source


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
