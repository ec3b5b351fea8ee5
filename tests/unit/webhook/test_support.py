"""The TTL cache, the verdict recorder's retry queue and the policy holder's reload."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from gate.errors import BackendError
from gate.store.model import NewVerdict, VerdictSource
from webhook.checker import TtlCache
from webhook.metrics import Metrics
from webhook.policy_holder import PolicyHolder
from webhook.recorder import VerdictRecorder

POLICY = """\
apiVersion: gate/v1
kind: Policy
metadata: {name: first}
spec:
  rules:
    - name: all
      match: {images: ["**"]}
      action: allow
"""


def test_ttl_cache_expires_and_evicts_the_least_recent() -> None:
    now = [0.0]
    cache: TtlCache[str, int] = TtlCache(10, 2, clock=lambda: now[0])
    cache.put("a", 1)
    cache.put("b", 2, ttl=1)
    assert cache.get("a") == 1
    now[0] = 1.5
    assert cache.get("b") is None
    cache.put("c", 3)
    cache.put("d", 4)
    assert cache.get("a") is None  # evicted: the cache holds two entries
    now[0] = 20
    assert cache.get("c") is None


class _Store:
    """Records into a list; fails while ``failing`` is set."""

    def __init__(self) -> None:
        self.failing = True
        self.recorded: list[NewVerdict] = []
        self.lock = threading.Lock()

    def record(self, verdicts: Sequence[NewVerdict]) -> tuple[str, ...]:
        with self.lock:
            if self.failing:
                raise BackendError("database is down")
            self.recorded.extend(verdicts)
            return tuple(str(i) for i in range(len(verdicts)))


def _verdict(reference: str) -> NewVerdict:
    return NewVerdict(
        time=datetime.now(UTC),
        source=VerdictSource.ADMISSION,
        reference=reference,
        digest=None,
        decision="allow",
        mode="enforce",
        policy_name="p",
        policy_digest="sha256:" + "0" * 64,
        rule=None,
        reason="r",
    )


def test_recorder_keeps_verdicts_while_the_store_is_down() -> None:
    store = _Store()
    metrics = Metrics()
    recorder = VerdictRecorder(store, metrics, capacity=3, first_retry_delay=0.01)  # type: ignore[arg-type]  # only record() is used
    recorder.submit([_verdict("a"), _verdict("b")])
    assert not recorder.flush(0.2)
    assert recorder.last_error == "database is down"
    recorder.submit([_verdict("c"), _verdict("d")])  # over capacity: "a" is dropped
    assert recorder.pending == 3
    store.failing = False
    assert recorder.flush(30)
    assert [v.reference for v in store.recorded] == ["b", "c", "d"]
    assert metrics.store_dropped._value.get() == 1
    assert metrics.store_errors._value.get() >= 1
    assert recorder.last_error is None
    recorder.close()


def test_policy_holder_keeps_the_last_good_policy(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY, encoding="utf-8")
    metrics = Metrics()
    holder = PolicyHolder(path, metrics, interval=0)
    assert holder.policy.name == "first"
    assert not holder.check_now()  # unchanged
    path.write_text(POLICY.replace("first", "second"), encoding="utf-8")
    assert holder.check_now()
    assert holder.policy.name == "second"
    path.write_text("spec: [", encoding="utf-8")
    assert not holder.check_now()
    assert holder.policy.name == "second"
    assert holder.status().reload_error is not None
    assert metrics.policy_reload_errors._value.get() == 1
    assert not holder.check_now()  # the same bad file is counted once
    assert metrics.policy_reload_errors._value.get() == 1
    path.unlink()
    assert not holder.check_now()
    assert "not found" in (holder.status().reload_error or "")
    path.write_text(POLICY.replace("first", "second"), encoding="utf-8")
    holder.check_now()
    assert holder.status().reload_error is None
    assert holder.policy.name == "second"
