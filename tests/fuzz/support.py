"""What every fuzz property shares: the outcome check, mutation strategies, the seed corpora.

The property of every parser and verifier of the gate is the same: any input
gives a result or a typed ``GateError`` whose message is one line, never
another exception. ``gate_outcome`` runs a call and enforces exactly that
(any other exception propagates and fails the test, with hypothesis' minimal
example). The strategies here mutate real documents three ways (bytes:
flips, truncations, insertions, deletions; JSON: a node deleted, replaced,
retyped, emptied or wrapped; text: lines dropped or repeated) so the parsers
see inputs that are almost right, which is where parsers break.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import strategies as st

from gate.errors import (
    BackendError,
    GateError,
    InputError,
    PolicyError,
    PolicyValidationError,
    VerificationError,
)
from tests.support.realdata import real_fixtures

T = TypeVar("T")

#: Examples per property in a normal run; ``GATE_FUZZ_EXAMPLES`` raises it for longer runs.
BASE_EXAMPLES = int(os.environ.get("GATE_FUZZ_EXAMPLES", "200"))
#: ``GATE_FUZZ_RANDOM=1``: random exploration instead of the reproducible derandomized run.
RANDOM_SEARCH = os.environ.get("GATE_FUZZ_RANDOM") == "1"
#: Real documents larger than this are left to the atheris harnesses (cost of each example).
MAX_SEED_BYTES = 64 * 1024
#: JSON nodes considered for a structural mutation, per document.
_MAX_PATHS = 4000

_TYPED_ERRORS = (PolicyError, InputError, VerificationError, BackendError)


def examples(fraction: float) -> int:
    """The example count of a costlier property: ``fraction`` of the base count, at least 10."""
    return max(10, int(BASE_EXAMPLES * fraction))


def error_lines(error: GateError) -> tuple[str, ...]:
    """The lines an error renders: one, or one per problem of a ``PolicyValidationError``."""
    if isinstance(error, PolicyValidationError):
        return tuple(problem.render() for problem in error.errors)
    return (str(error),)


def assert_one_line(error: GateError) -> None:
    """``error`` is of a typed subclass and each of its messages is one non-empty line."""
    assert isinstance(error, _TYPED_ERRORS), f"untyped GateError: {error!r}"
    for line in error_lines(error):
        assert line.strip(), f"{type(error).__name__} with an empty message"
        spans = "\n" in line or "\r" in line
        assert not spans, f"{type(error).__name__} message spans lines: {line!r}"


def gate_outcome(call: Callable[[], T]) -> T | GateError:
    """``call()``'s result, or the ``GateError`` it raised (checked by ``assert_one_line``).

    Any other exception propagates: that is the failure the fuzz tests look for.
    """
    try:
        return call()
    except GateError as error:
        assert_one_line(error)
        return error


# -- generated values -------------------------------------------------------------------------

#: Strings that have broken parsers before: separators, control and bidi characters, huge
#: numbers as text, lone surrogates (written escaped by json.dumps), digests, paths.
NASTY_STRINGS: tuple[str, ...] = (
    "",
    " ",
    "\n",
    "a\nb",
    "a\r\nb",
    "\x00",
    "\t",
    "\u2028",
    "\u202e",
    "\ufeff",
    "\ud800",
    "é",
    "İ",
    "K",  # KELVIN SIGN: folds to "k" in Go's case-insensitive matching
    "null",
    "-1",
    "1e999",
    "NaN",
    "0x10",
    "99999999999999999999999999",
    "%s%n",
    "../../etc/passwd",
    "sha256:",
    "sha256:" + "0" * 64,
    "sha256:" + "G" * 64,
    "sha512:" + "a" * 128,
    "2024-02-30T25:61:61Z",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59+14:00",
    "A" * 5000,
)

json_scalars: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=24),
    st.sampled_from(NASTY_STRINGS),
)

#: Any JSON value, small.
json_values: st.SearchStrategy[Any] = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=10), children, max_size=4),
    ),
    max_leaves=12,
)


def json_objects_with(keys: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    """JSON objects whose keys are mostly the ones a format knows, with any values."""
    key = st.one_of(st.sampled_from(keys), st.text(max_size=10))
    return st.dictionaries(key, json_values, max_size=len(keys) + 2)


# -- byte and text mutations ------------------------------------------------------------------


#: Positions are drawn from a fixed range and reduced modulo the input's length, so the
#: same example draws the same choices even when the input's length differs between runs
#: (a fresh ECDSA signature is 70 to 72 bytes): hypothesis requires that.
_ANYWHERE = st.integers(min_value=0, max_value=2**20)


@st.composite
def mutated_bytes(draw: st.DrawFn, data: bytes, max_edits: int = 4) -> bytes:
    """``data`` with 1..``max_edits`` edits: bit flips, byte sets, cuts, inserts, truncation."""
    buffer = bytearray(data)
    for _ in range(draw(st.integers(min_value=1, max_value=max_edits))):
        operation = draw(st.sampled_from(("flip", "set", "delete", "insert", "truncate")))
        at = draw(_ANYWHERE)
        if not buffer:
            operation = "insert"
        at %= max(1, len(buffer))
        if operation == "flip":
            buffer[at] ^= 1 << draw(st.integers(min_value=0, max_value=7))
        elif operation == "set":
            buffer[at] = draw(st.sampled_from(b'\x00\xff"\\{}[],:0-e.\n '))
        elif operation == "delete":
            length = draw(st.integers(min_value=1, max_value=16))
            del buffer[at : at + length]
        elif operation == "insert":
            buffer[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:
            del buffer[at:]
    return bytes(buffer)


@st.composite
def mutated_lines(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` (a line-based text) with lines dropped, repeated, swapped or cut short."""
    lines = data.split(b"\n")
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        operation = draw(st.sampled_from(("drop", "repeat", "swap", "cut", "value")))
        at, other = draw(_ANYWHERE), draw(_ANYWHERE)
        if not lines:
            break
        at %= len(lines)
        if operation == "drop":
            del lines[at]
        elif operation == "repeat":
            lines.insert(at, lines[at])
        elif operation == "swap":
            other %= len(lines)
            lines[at], lines[other] = lines[other], lines[at]
        elif operation == "cut":
            lines[at] = lines[at][: other % (len(lines[at]) + 1)]
        else:
            head, _, _ = lines[at].partition(b":")
            value = draw(st.sampled_from(NASTY_STRINGS)).encode("utf-8", "surrogatepass")
            lines[at] = head + b": " + value
    return b"\n".join(lines)


# -- JSON structure mutations -----------------------------------------------------------------

Path_ = tuple[str | int, ...]
_DELETE = object()


def json_paths(document: Any, limit: int = _MAX_PATHS) -> tuple[Path_, ...]:
    """Paths to the nodes of ``document`` (root first, breadth first), at most ``limit``."""
    found: list[Path_] = []
    queue: list[tuple[Path_, Any]] = [((), document)]
    while queue and len(found) < limit:
        path, node = queue.pop(0)
        found.append(path)
        children: Iterator[tuple[str | int, Any]]
        if isinstance(node, dict):
            children = iter(node.items())
        elif isinstance(node, list):
            children = iter(enumerate(node))
        else:
            continue
        queue.extend(((*path, key), child) for key, child in children)
    return tuple(found)


def _update(node: Any, path: Path_, change: Callable[[Any], Any]) -> Any:
    """``node`` with the value at ``path`` replaced by ``change(value)``, copying only the path."""
    if not path:
        return change(node)
    key, rest = path[0], path[1:]
    copy: Any = dict(node) if isinstance(node, dict) else list(node)
    new = _update(copy[key], rest, change)
    if new is _DELETE:
        del copy[key]
    else:
        copy[key] = new
    return copy


def _other_type(value: Any) -> list[Any]:
    """Values of every JSON type but ``value``'s (the classic confusion of a parser)."""
    candidates: list[Any] = [
        None,
        True,
        0,
        -1,
        2**64,
        1.5,
        "",
        "text",
        [],
        {},
        [value],
        {"": value},
    ]
    return [c for c in candidates if type(c) is not type(value)]


def mutated_seed(seed: Seed) -> st.SearchStrategy[Any]:
    """``seed``'s parsed document after 1..3 structural edits (see ``mutated_json``)."""
    return mutated_json(seed.document, _Paths(seed.paths))


class _Paths(tuple[Path_, ...]):
    """Precomputed ``json_paths``, with a short repr for hypothesis' failure reports."""

    def __repr__(self) -> str:
        return f"<{len(self)} paths>"


_OPERATIONS = ("delete", "replace", "retype", "nasty", "empty", "wrap", "add", "repeat")


def _edited(operation: str, extra: Any, value: Any) -> Any:
    """``value`` after ``operation``; ``extra`` is the drawn material the operation needs."""
    if operation == "delete":
        return _DELETE
    if operation in {"replace", "nasty"}:
        return extra
    if operation == "retype":
        others = _other_type(value)
        return others[extra % len(others)]
    if operation == "empty":
        return type(value)() if isinstance(value, dict | list | str) else None
    if operation == "wrap":
        return [value]
    if operation == "add":
        key, new = extra
        if isinstance(value, dict):
            return {**value, key: new}
        return [*value, new] if isinstance(value, list) else value
    # "repeat": list items twice; object members again under upper-case keys.
    if isinstance(value, list):
        return [*value, *value]
    if isinstance(value, dict):
        return {**value, **{k.upper(): v for k, v in value.items()}}
    return value


@st.composite
def mutated_json(draw: st.DrawFn, document: Any, paths: tuple[Path_, ...] | None = None) -> Any:
    """``document`` after 1..3 structural edits (``paths``: its ``json_paths``, if known)."""
    known = paths if paths is not None else json_paths(document)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = known[draw(_ANYWHERE) % len(known)]
        operation = draw(st.sampled_from(_OPERATIONS))
        extra: Any = None
        if operation == "replace":
            extra = draw(json_values)
        elif operation == "retype":
            extra = draw(st.integers(min_value=0, max_value=10))
        elif operation == "nasty":
            extra = draw(st.sampled_from(NASTY_STRINGS))
        elif operation == "add":
            key = draw(st.one_of(st.text(max_size=10), st.sampled_from(NASTY_STRINGS)))
            extra = (key, draw(json_values))
        if operation == "delete" and not path:
            operation, extra = "replace", None
        try:
            document = _update(document, path, functools.partial(_edited, operation, extra))
        except (KeyError, IndexError, TypeError):
            # An earlier edit removed or retyped this path: the edit is skipped.
            continue
    return document


@st.composite
def serialised(draw: st.DrawFn, document: Any) -> bytes:
    """``document`` as JSON bytes, compact or indented, ASCII-escaped or UTF-8."""
    ascii_only = draw(st.booleans())
    indent = draw(st.sampled_from((None, 2)))
    text = json.dumps(document, ensure_ascii=ascii_only, indent=indent)
    return text.encode("utf-8", "surrogatepass")


# -- seed corpora -----------------------------------------------------------------------------


class Seed:
    """One real document: its bytes, parsed JSON (None when not JSON) and JSON node paths.

    A plain class, not a dataclass: hypothesis prints a dataclass argument field by
    field in a failure report, and this one would print the whole document.
    """

    __slots__ = ("data", "document", "path", "paths")

    def __init__(self, path: Path, data: bytes, document: Any, paths: tuple[Path_, ...]) -> None:
        self.path = path
        self.data = data
        self.document = document
        self.paths = paths

    def __repr__(self) -> str:
        return f"Seed({self.path.name!r})"


def _seed(path: Path) -> Seed:
    data = path.read_bytes()
    try:
        document = json.loads(data)
    except ValueError:
        return Seed(path, data, None, ())
    return Seed(path, data, document, json_paths(document))


@functools.cache
def _corpus(parts: tuple[str, ...], suffixes: tuple[str, ...], max_bytes: int) -> tuple[Seed, ...]:
    root = real_fixtures(*parts)
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.name.endswith(suffixes) and p.stat().st_size <= max_bytes
    )
    return tuple(_seed(p) for p in files)


def real_corpus(
    *parts: str,
    suffixes: tuple[str, ...] = (".json",),
    max_bytes: int = MAX_SEED_BYTES,
) -> tuple[Seed, ...]:
    """The real documents under ``real_fixtures(*parts)`` (skips when absent), read once."""
    return _corpus(parts, suffixes, max_bytes)


@st.composite
def document_mutations(draw: st.DrawFn, seeds: tuple[Seed, ...]) -> bytes:
    """A real document, unchanged or mutated as bytes, as lines or (JSON) as a structure."""
    seed = draw(st.sampled_from(seeds))
    kinds = ["bytes", "lines", "same"] + (["json", "json", "json"] if seed.paths else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "bytes":
        return draw(mutated_bytes(seed.data))
    if kind == "lines":
        return draw(mutated_lines(seed.data))
    if kind == "json":
        return draw(serialised(draw(mutated_seed(seed))))
    return seed.data


def _scramble(node: Any, rng: Any, rate: float) -> Any:
    if isinstance(node, dict):
        return {k: _scramble(v, rng, rate) for k, v in node.items() if rng.random() >= rate / 4}
    if isinstance(node, list):
        return [_scramble(v, rng, rate) for v in node if rng.random() >= rate / 4]
    if rng.random() >= rate:
        return node
    pool: list[Any] = [None, True, False, 0, -1, 2**63, 0.5, *NASTY_STRINGS[:20], [], {}]
    return rng.choice(pool)


@st.composite
def scrambled_json(draw: st.DrawFn, document: Any) -> Any:
    """A generated document of ``document``'s shape: leaves replaced and members dropped at a
    drawn rate (cheap for large documents: one random generator, not one draw per leaf)."""
    rate = draw(st.sampled_from((0.02, 0.1, 0.3, 0.7)))
    rng = draw(st.randoms(use_true_random=False))
    return _scramble(document, rng, rate)
