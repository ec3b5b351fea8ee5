"""Verdicts the store could not take, kept on local disk until it can.

When the database is down, the recorder writes each batch here instead of
holding it in memory, so a long outage or a restart of the process loses
nothing while the spool has room. Each batch is one file, written to a
temporary name, synced and renamed into place, so a crash leaves either a
whole batch or none. Every worker of a pod may share the directory: a worker
claims a file by renaming it before writing it to the store, so no two
workers write the same batch, and a claim left by a dead process is given
back when a recorder starts.

File names sort by when they were written: ``<ns>-<pid>-<seq>-<count>.jsonl``.
A file that cannot be read back is moved to ``bad/`` (and logged), never
deleted, so an operator can look at it.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from gate.store.model import CheckRecord, NewVerdict, VerdictSource

log = logging.getLogger(__name__)

_SUFFIX = ".jsonl"
_CLAIM = ".claim-"
_FIELDS = (
    "source",
    "reference",
    "digest",
    "decision",
    "mode",
    "policy_name",
    "policy_digest",
    "rule",
    "reason",
    "namespace",
    "workload_kind",
    "workload_name",
    "user",
    "duration_ms",
    "decided",
)


class SpoolError(Exception):
    """A spooled file could not be read back as verdicts."""


@dataclass(frozen=True)
class Segment:
    """One claimed spool file and the verdicts it holds."""

    path: Path
    name: str  # the unclaimed file name
    verdicts: tuple[NewVerdict, ...]


def _plain(value: Any) -> Any:
    """JSON-ready check details (as the store itself serialises them)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return str(getattr(value, "value", value))


def _encode(verdict: NewVerdict) -> str:
    record: dict[str, Any] = {name: getattr(verdict, name) for name in _FIELDS}
    record["source"] = str(verdict.source)
    record["time"] = verdict.time.isoformat()
    record["checks"] = [
        {
            "check": c.check,
            "outcome": str(c.outcome),
            "reason": c.reason,
            "details": _plain(c.details),
        }
        for c in verdict.checks
    ]
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _decode(line: str) -> NewVerdict:
    record = json.loads(line)
    if not isinstance(record, dict):
        raise SpoolError("a line is not a JSON object")
    try:
        checks = tuple(
            CheckRecord(c["check"], c["outcome"], c["reason"], c.get("details") or {})
            for c in record["checks"]
        )
        values = {name: record[name] for name in _FIELDS}
        values["source"] = VerdictSource(values["source"])
        return NewVerdict(time=datetime.fromisoformat(record["time"]), checks=checks, **values)
    except (KeyError, TypeError, ValueError) as exc:
        raise SpoolError(f"a verdict is incomplete or malformed ({exc})") from None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class VerdictSpool:
    """A bounded directory of verdict batches waiting for the store."""

    def __init__(self, directory: Path, *, max_bytes: int) -> None:
        """Use ``directory`` (created if missing), holding at most ``max_bytes`` of batches."""
        self._dir = directory
        self._bad = directory / "bad"
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._sequence = itertools.count()
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def directory(self) -> Path:
        """Where the batches are kept."""
        return self._dir

    def _files(self) -> Iterator[os.DirEntry[str]]:
        with os.scandir(self._dir) as entries:
            yield from (e for e in entries if e.is_file() and _SUFFIX in e.name)

    def size(self) -> tuple[int, int]:
        """(verdicts, bytes) waiting, claimed files included."""
        verdicts = size = 0
        for entry in self._files():
            base = entry.name.split(_SUFFIX, 1)[0]
            count = base.rsplit("-", 1)[-1]
            verdicts += int(count) if count.isdigit() else 0
            try:
                size += entry.stat().st_size
            except FileNotFoundError:  # taken by another worker meanwhile
                continue
        return verdicts, size

    def put(self, verdicts: Sequence[NewVerdict]) -> bool:
        """Keep ``verdicts`` as one batch; False (nothing written) when the spool is full.

        Raises ``OSError`` when the disk refuses the write.
        """
        if not verdicts:
            return True
        data = ("\n".join(_encode(v) for v in verdicts) + "\n").encode("utf-8")
        with self._lock:
            if self.size()[1] + len(data) > self._max_bytes:
                return False
            name = f"{time.time_ns():020d}-{os.getpid()}-{next(self._sequence)}-{len(verdicts)}"
            final = self._dir / f"{name}{_SUFFIX}"
            temporary = self._dir / f".{name}.tmp"
            with open(temporary, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, final)
        return True

    def take(self) -> Segment | None:
        """Claim the oldest batch and read it; None when there is none.

        A batch that cannot be read is moved to ``bad/`` and the next one is tried.
        """
        names = sorted(e.name for e in self._files() if e.name.endswith(_SUFFIX))
        for name in names:
            claimed = self._dir / f"{name}{_CLAIM}{os.getpid()}"
            try:
                os.rename(self._dir / name, claimed)
            except FileNotFoundError:  # another worker claimed it first
                continue
            try:
                text = claimed.read_text(encoding="utf-8")
                verdicts = tuple(_decode(line) for line in text.splitlines() if line.strip())
            except (OSError, UnicodeDecodeError, json.JSONDecodeError, SpoolError) as exc:
                self._set_aside(claimed, name, exc)
                continue
            return Segment(claimed, name, verdicts)
        return None

    def done(self, segment: Segment) -> None:
        """The batch is in the store: forget it."""
        segment.path.unlink(missing_ok=True)

    def release(self, segment: Segment) -> None:
        """The batch could not be written: give it back for a later try."""
        os.replace(segment.path, self._dir / segment.name)

    def reclaim(self) -> int:
        """Give back the batches claimed by processes that no longer run; how many."""
        given = 0
        for entry in self._files():
            name, _, pid = entry.name.partition(_CLAIM)
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                try:
                    os.replace(entry.path, self._dir / name)
                except FileNotFoundError:
                    continue
                given += 1
        return given

    def _set_aside(self, path: Path, name: str, exc: BaseException) -> None:
        self._bad.mkdir(exist_ok=True)
        os.replace(path, self._bad / name)
        log.error("spooled verdicts %s cannot be read, moved to %s: %s", name, self._bad, exc)
