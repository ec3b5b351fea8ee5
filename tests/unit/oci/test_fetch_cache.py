"""The per-digest fetch cache the signature, keyless and attestation verifiers share."""

from __future__ import annotations

import threading
import time

from gate.oci.fetch_cache import FetchCache


def _never_failed(_value: str) -> bool:
    return False


def test_a_value_is_fetched_once_and_kept() -> None:
    cache: FetchCache[str] = FetchCache(size=4, ttl=60, failure_ttl=0)
    calls: list[str] = []

    def fetch() -> str:
        calls.append("a")
        return "A"

    for _ in range(3):
        assert cache.get("a", fetch, _never_failed) == "A"
    assert calls == ["a"]


def test_a_failed_fetch_is_kept_for_the_failure_ttl_only() -> None:
    cache: FetchCache[str] = FetchCache(size=4, ttl=60, failure_ttl=0.05)
    answers = iter(["error", "ok"])
    assert cache.get("a", lambda: next(answers), lambda value: value == "error") == "error"
    assert cache.get("a", lambda: "unused", lambda value: value == "error") == "error"
    time.sleep(0.1)
    assert cache.get("a", lambda: next(answers), lambda value: value == "error") == "ok"


def test_entries_expire_and_the_least_recently_used_go_first() -> None:
    cache: FetchCache[str] = FetchCache(size=2, ttl=0.05, failure_ttl=0.05)
    cache.get("a", lambda: "A", _never_failed)
    cache.get("b", lambda: "B", _never_failed)
    cache.get("a", lambda: "A2", _never_failed)  # a is the most recent now
    cache.get("c", lambda: "C", _never_failed)  # b goes
    assert cache.get("a", lambda: "A3", _never_failed) == "A"
    assert cache.get("b", lambda: "B2", _never_failed) == "B2"
    time.sleep(0.1)
    assert cache.get("a", lambda: "A4", _never_failed) == "A4"
    cache.clear()
    assert cache.get("a", lambda: "A5", _never_failed) == "A5"


def test_concurrent_checks_of_one_key_wait_for_a_single_fetch() -> None:
    cache: FetchCache[str] = FetchCache(size=4, ttl=60, failure_ttl=0)
    started = threading.Event()
    release = threading.Event()
    calls: list[int] = []

    def slow() -> str:
        calls.append(1)
        started.set()
        release.wait(5)
        return "slow"

    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get("a", slow, _never_failed)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    assert started.wait(5)
    # Another key is not held up by the slow fetch.
    assert cache.get("b", lambda: "fast", _never_failed) == "fast"
    release.set()
    for thread in threads:
        thread.join(5)
    assert results == ["slow"] * 4
    assert calls == [1]
