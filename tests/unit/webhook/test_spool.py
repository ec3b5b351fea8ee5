"""The disk spool for verdicts the store could not take, and the recorder using it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gate.errors import BackendError
from gate.store.model import CheckRecord, NewVerdict, VerdictSource
from webhook.metrics import Metrics
from webhook.recorder import VerdictRecorder
from webhook.spool import VerdictSpool


def _verdict(reference: str, **fields: object) -> NewVerdict:
    values: dict[str, object] = {
        "time": datetime(2026, 11, 22, 12, 0, 0, 123456, tzinfo=UTC),
        "source": VerdictSource.ADMISSION,
        "reference": reference,
        "digest": "sha256:" + "a" * 64,
        "decision": "deny",
        "mode": "enforce",
        "policy_name": "p",
        "policy_digest": "sha256:" + "0" * 64,
        "rule": "prod",
        "reason": "unsigned",
        **fields,
    }
    return NewVerdict(**values)  # type: ignore[arg-type]  # the test's own field values


class _Store:
    """Records into a list; fails while ``failing`` is set."""

    def __init__(self, *, failing: bool = True) -> None:
        self.failing = failing
        self.recorded: list[NewVerdict] = []
        self.attempts = 0
        self.lock = threading.Lock()

    def record(self, verdicts: Sequence[NewVerdict]) -> tuple[str, ...]:
        with self.lock:
            self.attempts += 1
            if self.failing:
                raise BackendError("database is down")
            self.recorded.extend(verdicts)
            return tuple(str(i) for i in range(len(verdicts)))


def _recorder(store: _Store, spool: VerdictSpool, **options: float) -> VerdictRecorder:
    return VerdictRecorder(
        store,  # type: ignore[arg-type]  # only record() is used
        Metrics(),
        capacity=100,
        first_retry_delay=options.get("delay", 0.01),
        linger=0,
        spool=spool,
    )


def test_a_batch_comes_back_as_it_went_in(tmp_path: Path) -> None:
    spool = VerdictSpool(tmp_path, max_bytes=1 << 20)
    verdict = _verdict(
        "r",
        checks=(CheckRecord("vulnerabilities", "fail", "2 critical", {"ids": ["CVE-1", "CVE-2"]}),),
        namespace="prod",
        workload_kind="Deployment",
        workload_name="web",
        user="alice",
        duration_ms=1.5,
        decided=False,
    )
    assert spool.put([verdict, _verdict("second")])
    assert spool.size()[0] == 2
    segment = spool.take()
    assert segment is not None
    assert segment.verdicts[0] == verdict
    assert segment.verdicts[1].reference == "second"
    assert spool.take() is None  # claimed
    spool.release(segment)
    again = spool.take()
    assert again is not None
    spool.done(again)
    assert spool.size() == (0, 0)
    assert not [p for p in tmp_path.iterdir() if p.is_file()]


def test_batches_come_back_oldest_first_and_a_full_spool_refuses(tmp_path: Path) -> None:
    spool = VerdictSpool(tmp_path, max_bytes=1500)
    assert spool.put([_verdict("one")])
    assert spool.put([_verdict("two")])
    assert not spool.put([_verdict("three" * 300)])
    first, second = spool.take(), spool.take()
    assert first is not None
    assert second is not None
    assert (first.verdicts[0].reference, second.verdicts[0].reference) == ("one", "two")


def test_an_unreadable_batch_is_set_aside_not_deleted(tmp_path: Path) -> None:
    spool = VerdictSpool(tmp_path, max_bytes=1 << 20)
    (tmp_path / "00000000000000000001-1-0-1.jsonl").write_text('{"reference": "half"\n')
    assert spool.put([_verdict("good")])
    segment = spool.take()
    assert segment is not None
    assert segment.verdicts[0].reference == "good"
    assert (tmp_path / "bad" / "00000000000000000001-1-0-1.jsonl").exists()


def test_claims_of_dead_processes_are_given_back(tmp_path: Path) -> None:
    spool = VerdictSpool(tmp_path, max_bytes=1 << 20)
    assert spool.put([_verdict("orphan")])
    name = next(p.name for p in tmp_path.iterdir() if p.suffix == ".jsonl")
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    pid = int(dead.stdout)
    os.rename(tmp_path / name, tmp_path / f"{name}.claim-{pid}")
    assert spool.take() is None
    assert spool.reclaim() == 1
    segment = spool.take()
    assert segment is not None
    assert segment.verdicts[0].reference == "orphan"


def test_verdicts_wait_on_disk_while_the_store_is_down(tmp_path: Path) -> None:
    store = _Store()
    spool = VerdictSpool(tmp_path, max_bytes=1 << 20)
    recorder = _recorder(store, spool, delay=0.05)
    for index in range(10):
        recorder.submit([_verdict(f"r{index}")])
    for _ in range(200):
        if recorder.spooled == 10:
            break
        time.sleep(0.01)
    assert recorder.spooled == 10
    assert recorder.pending == 10
    assert spool.size()[0] == 10
    assert recorder.last_error == "database is down"
    store.failing = False
    assert recorder.flush(30)
    assert sorted(v.reference for v in store.recorded) == [f"r{i}" for i in range(10)]
    assert spool.size() == (0, 0)
    assert recorder.last_error is None
    recorder.close()


def test_a_steady_load_does_not_starve_the_retry(tmp_path: Path) -> None:
    store = _Store()
    spool = VerdictSpool(tmp_path, max_bytes=1 << 22)
    recorder = _recorder(store, spool, delay=0.01)
    stop = threading.Event()

    def load() -> None:
        index = 0
        while not stop.is_set():
            recorder.submit([_verdict(f"load{index}")])
            index += 1
            time.sleep(0.0005)

    worker = threading.Thread(target=load)
    worker.start()
    try:
        time.sleep(0.2)
        store.failing = False
        for _ in range(500):
            if recorder.spooled == 0 and store.recorded:
                break
            time.sleep(0.01)
    finally:
        stop.set()
        worker.join()
    assert recorder.flush(30)
    assert spool.size() == (0, 0)
    references = [v.reference for v in store.recorded]
    assert len(references) == len(set(references))
    recorder.close()


def test_what_is_left_at_shutdown_is_written_by_the_next_start(tmp_path: Path) -> None:
    down = _Store()
    spool = VerdictSpool(tmp_path, max_bytes=1 << 20)
    recorder = _recorder(down, spool, delay=10)
    recorder.submit([_verdict("a"), _verdict("b")])
    recorder.close(timeout=0.5)
    assert spool.size()[0] == 2

    up = _Store(failing=False)
    restarted = _recorder(up, VerdictSpool(tmp_path, max_bytes=1 << 20))
    assert restarted.flush(30)
    assert [v.reference for v in up.recorded] == ["a", "b"]
    restarted.close()


@pytest.mark.parametrize("value", ["off", "OFF"])
def test_the_spool_can_be_switched_off(value: str) -> None:
    from webhook.settings import Settings  # noqa: PLC0415

    settings = Settings.from_env({"GATE_POLICY": "p.yaml", "GATE_SPOOL_DIR": value})
    assert settings.spool_dir is None


def test_each_database_has_its_own_spool(tmp_path: Path) -> None:
    from webhook.settings import Settings  # noqa: PLC0415

    def spool_of(url: str) -> Path | None:
        return Settings.from_env(
            {"GATE_POLICY": "p.yaml", "GATE_STATE_DIR": str(tmp_path), "GATE_DB_URL": url}
        ).spool_dir

    first = spool_of("postgresql://gate@db-a/gate")
    assert first is not None
    assert first.parent == tmp_path / "spool"
    assert first != spool_of("postgresql://gate@db-b/gate")
