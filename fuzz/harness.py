"""What the atheris harnesses share: the property, the seed corpus, the run.

Each ``fuzz/fuzz_<target>.py`` defines ``test_one_input(data)`` and calls
``run(...)``. The property is the suite's (``tests/fuzz``): any input gives
a result or a typed ``GateError`` whose message is one line; anything else
propagates, and libFuzzer reports it as a crash with the input that caused
it. Seeds come from the real fixtures (``$GATE_REAL_FIXTURES``, default
``../shared/fixtures/real``) and are copied into a corpus directory outside
the repository (``$GATE_FUZZ_CORPUS/<target>``, default
``/tmp/gate-fuzz/<target>``), which libFuzzer then grows.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

REPO = Path(__file__).resolve().parents[1]
# The harnesses run as scripts (``python fuzz/fuzz_x.py``): make ``gate`` and ``tests`` importable.
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import atheris  # type: ignore[import-untyped]  # noqa: E402 - after the path; ships no type information

from gate.errors import (  # noqa: E402 - after the path
    BackendError,
    GateError,
    InputError,
    PolicyError,
    PolicyValidationError,
    VerificationError,
)

T = TypeVar("T")

#: Seeds larger than this are left out: libFuzzer's inputs grow to the largest seed, and a
#: megabyte-sized report makes every execution slow without finding more.
MAX_SEED_BYTES = 256 * 1024
_TYPED = (PolicyError, InputError, VerificationError, BackendError)


class PropertyViolationError(AssertionError):
    """The input broke the property in a way that is not an exception of the code under test."""


def real_fixtures() -> Path:
    """Where the real-world fixtures are (the same rule as ``tests/support/realdata.py``)."""
    override = os.environ.get("GATE_REAL_FIXTURES")
    return Path(override) if override else REPO.parent / "shared" / "fixtures" / "real"


def check_error(error: GateError) -> None:
    """Raise ``PropertyViolationError`` unless ``error`` is typed and each message is one line."""
    if not isinstance(error, _TYPED):
        raise PropertyViolationError(f"untyped GateError: {error!r}")
    lines = (
        [e.render() for e in error.errors]
        if isinstance(error, PolicyValidationError)
        else [str(error)]
    )
    for line in lines:
        if not line.strip() or "\n" in line or "\r" in line:
            raise PropertyViolationError(
                f"{type(error).__name__} message is not one line: {line!r}"
            )


def outcome(call: Callable[[], T]) -> T | GateError:
    """``call()``'s result or its (checked) ``GateError``; any other exception propagates."""
    try:
        return call()
    except GateError as error:
        check_error(error)
        return error


def seed_files(*parts: str, suffixes: tuple[str, ...] = (".json",)) -> list[Path]:
    """The real fixture files under ``parts`` (recursively) with these suffixes, small ones."""
    root = real_fixtures().joinpath(*parts)
    if not root.exists():
        print(f"warning: no seeds at {root} (set GATE_REAL_FIXTURES)", file=sys.stderr)
        return []
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.name.endswith(suffixes) and p.stat().st_size <= MAX_SEED_BYTES
    )


def _corpus(target: str, seeds: Iterable[Path | bytes]) -> Path:
    base = Path(os.environ.get("GATE_FUZZ_CORPUS", "/tmp/gate-fuzz"))  # noqa: S108 - outside the repo
    corpus = base / target
    corpus.mkdir(parents=True, exist_ok=True)
    for index, seed in enumerate(seeds):
        target_file = corpus / f"seed-{index:04d}"
        if target_file.exists():
            continue
        if isinstance(seed, Path):
            shutil.copyfile(seed, target_file)
        else:
            target_file.write_bytes(seed)
    return corpus


def run(
    target: str, test_one_input: Callable[[bytes], None], seeds: Iterable[Path | bytes]
) -> None:
    """Fuzz ``test_one_input`` with libFuzzer's command line (``-max_total_time=`` ...).

    Without a corpus directory on the command line, the seeds are copied to
    ``$GATE_FUZZ_CORPUS/<target>`` and that directory is used (and grown).
    Giving files instead (``python fuzz/fuzz_x.py crash-123``) replays them.
    """
    argv = list(sys.argv)
    if not [a for a in argv[1:] if not a.startswith("-")]:
        argv.append(str(_corpus(target, seeds)))
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()
