"""Image globs, cursors and ids, without a database."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from gate.errors import InputError
from gate.store.ids import looks_like_id, new_id
from gate.store.query import (
    check_aware,
    check_limit,
    decode_cursor,
    encode_cursor,
    glob_matches,
    glob_to_regex,
)


@pytest.mark.parametrize(
    ("glob", "reference", "matches"),
    [
        ("a/*/c", "a/b/c", True),
        ("a/*/c", "a/b/x/c", False),
        ("a/**/c", "a/b/x/c", True),
        ("a/**", "a/", True),
        ("a/**", "a", False),
        ("**", "", True),
        ("a?c", "abc", True),
        ("a?c", "a/c", False),
        ("a?c", "ac", False),
        ("a.c", "abc", False),
        ("a+c", "a+c", True),
        ("a+c", "aac", False),
        ("a[b]c", "a[b]c", True),
        ("a[b]c", "abc", False),
        ("a\\d", "a\\d", True),
        ("a\\d", "a1", False),
        ("(a|b)", "(a|b)", True),
        ("(a|b)", "a", False),
        ("$x^", "$x^", True),
        ("a{2}", "a{2}", True),
        ("a{2}", "aa", False),
        ("é*", "éé", True),
        ("x**y", "x/a/b/y", True),
        ("x***y", "x/a/y", True),
    ],
)
def test_glob_to_regex(glob: str, reference: str, matches: bool) -> None:
    assert (re.search(glob_to_regex(glob), reference) is not None) is matches


def test_cursor_round_trip_in_utc() -> None:
    moment = datetime(2024, 3, 4, 5, 6, 7, 890123, tzinfo=timezone(timedelta(hours=-7)))
    verdict_id = new_id()
    cursor = encode_cursor(moment, verdict_id)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", cursor)
    time, decoded_id = decode_cursor(cursor)
    assert time == moment
    assert time.tzinfo is UTC
    assert decoded_id == verdict_id


def test_ids_are_unique_sortable_and_recognised() -> None:
    ids = [new_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert all(looks_like_id(i) for i in ids)
    assert ids[0][:8] <= ids[-1][:8]  # the time part never goes backwards
    assert not looks_like_id("0" * 25)
    assert not looks_like_id("U" * 26)  # not in the Crockford alphabet
    assert not looks_like_id(None)


@pytest.mark.parametrize("limit", [1, 100, 1000])
def test_limit_accepted(limit: int) -> None:
    assert check_limit(limit) == limit


def test_naive_datetime_refused() -> None:
    with pytest.raises(InputError, match="until: must be a timezone-aware datetime"):
        check_aware(datetime(2024, 1, 1), "until")


@pytest.mark.parametrize(
    ("glob", "text"),
    [
        ("**", ""),
        ("**", "a/b/c"),
        ("*", "abc"),
        ("*", "a/b"),
        ("a*c", "abbbc"),
        ("a*c", "ab/c"),
        ("a**c", "ab/c"),
        ("a?c", "abc"),
        ("a?c", "a/c"),
        ("registry.acme.io/prod/**", "registry.acme.io/prod/app:1.0"),
        ("registry.acme.io/*/app*", "registry.acme.io/prod/app:1.0"),
        ("registry.acme.io/*/app*", "registry.acme.io/prod/x/app:1.0"),
        ("*.io/**", "acme.io/x"),
        ("a.b", "aXb"),
        ("", ""),
        ("", "x"),
        ("**a**a**", "xaya"),
        ("*/**/*", "a/b"),
        ("*/**/*", "a/b/c/d"),
    ],
)
def test_linear_glob_matcher_agrees_with_the_regex(glob: str, text: str) -> None:
    expected = re.fullmatch(glob_to_regex(glob), text) is not None
    assert glob_matches(glob, text) is expected


def test_linear_glob_matcher_has_no_catastrophic_backtracking() -> None:
    glob = "**a" * 40 + "**b"
    text = "a" * 1000
    assert glob_matches(glob, text) is False  # would take ages with a backtracking regex
