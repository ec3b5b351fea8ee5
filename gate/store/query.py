"""Pure helpers for listing verdicts: image globs as regular expressions, opaque cursors.

Kept apart from the SQL so that both can be tested without a database and
the same translation serves SQLite (Python ``re``) and PostgreSQL (``~``).
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime

from gate.errors import InputError
from gate.store.ids import looks_like_id

_CURSOR_VERSION = 1


def glob_to_regex(glob: str) -> str:
    """An anchored regular expression matching exactly the references ``glob`` matches.

    ``**`` is any run of characters, ``*`` any run without ``/``, ``?`` one
    character other than ``/``; everything else is literal. The output uses
    only syntax that Python ``re`` and PostgreSQL's regular expressions read
    the same way: ``[^/]``, ``.``, ``*``, anchors and backslash before an ASCII
    punctuation character (a literal in both). ``(?s)`` lets ``.`` cross
    newlines in both, so ``**`` really is any run.
    """
    parts: list[str] = ["(?s)^"]
    index = 0
    while index < len(glob):
        char = glob[index]
        if char == "*":
            if glob.startswith("**", index):
                parts.append(".*")
                index += 2
                continue
            parts.append("[^/]*")
        elif char == "?":
            parts.append("[^/]")
        elif char.isascii() and not char.isalnum():
            parts.append("\\" + char)
        else:
            parts.append(char)
        index += 1
    parts.append("$")
    return "".join(parts)


#: Tokens of a compiled glob: a literal character, or one of the three wildcards.
_ONE, _STAR, _DOUBLE_STAR = "?", "*", "**"


def _glob_tokens(glob: str) -> tuple[str, ...]:
    tokens: list[str] = []
    index = 0
    while index < len(glob):
        if glob.startswith("**", index):
            tokens.append(_DOUBLE_STAR)
            index += 2
            continue
        tokens.append(_STAR if glob[index] == "*" else _ONE if glob[index] == "?" else glob[index])
        index += 1
    return tuple(tokens)


def _literal(token: str) -> bool:
    return token not in (_ONE, _STAR, _DOUBLE_STAR)


def glob_matches(glob: str, text: str) -> bool:
    """Whether ``text`` matches ``glob`` (the semantics of ``glob_to_regex``), in linear time.

    A set-of-states simulation of the pattern (Thompson's construction):
    O(len(text) x len(glob)) whatever the wildcards, unlike a backtracking
    regex engine, for which ``**a**a**a**a`` on a long reference takes
    seconds. SQLite runs the image filter through this function.
    """
    tokens = _glob_tokens(glob)
    end = len(tokens)

    def closure(states: set[int]) -> set[int]:
        # A star may match nothing: its state also stands at the next token.
        result = set(states)
        pending = list(states)
        while pending:
            state = pending.pop()
            if state < end and tokens[state] in (_STAR, _DOUBLE_STAR) and state + 1 not in result:
                result.add(state + 1)
                pending.append(state + 1)
        return result

    states = closure({0})
    for char in text:
        following: set[int] = set()
        for state in states:
            if state == end:
                continue
            token = tokens[state]
            if token == _DOUBLE_STAR or (token == _STAR and char != "/"):
                following.add(state)
            elif (token == _ONE and char != "/") or (_literal(token) and token == char):
                following.add(state + 1)
        if not following:
            return False
        states = closure(following)
    return end in states


def encode_cursor(time: datetime, verdict_id: str) -> str:
    """The opaque cursor after the verdict at (``time``, ``verdict_id``)."""
    payload = {"v": _CURSOR_VERSION, "t": time.astimezone(UTC).isoformat(), "i": verdict_id}
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (time, id) position a cursor encodes; ``InputError("invalid cursor")`` otherwise."""
    invalid = InputError("invalid cursor")
    if not isinstance(cursor, str) or not cursor or len(cursor) > 512:
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid from None
    if not isinstance(payload, dict) or set(payload) != {"v", "t", "i"}:
        raise invalid
    version, stamp, verdict_id = payload["v"], payload["t"], payload["i"]
    if version != _CURSOR_VERSION or not isinstance(stamp, str) or not isinstance(verdict_id, str):
        raise invalid
    if not looks_like_id(verdict_id):
        raise invalid
    try:
        time = datetime.fromisoformat(stamp)
    except ValueError:
        raise invalid from None
    if time.tzinfo is None or time.utcoffset() is None:
        raise invalid
    return time.astimezone(UTC), verdict_id


def check_limit(limit: object) -> int:
    """``limit`` if it is an integer in 1..1000, else ``InputError``."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise InputError("must be an integer between 1 and 1000", field="limit")
    return limit


def check_aware(value: datetime | None, field: str) -> datetime | None:
    """``value`` in UTC; a naive datetime is an ``InputError`` (its zone is unknown)."""
    if value is None:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InputError("must be a timezone-aware datetime", field=field)
    return value.astimezone(UTC)
