"""YAML with positions: the policy's plain data plus the line and column of every node.

PyYAML's ``safe_load`` forgets where values came from and silently keeps the
last of two equal keys. Here the document is composed into nodes with the
safe loader, walked once, and turned into plain data (dicts, lists, scalars)
while every value's and every key's position is recorded by its field path.
Duplicate keys, non-string keys, unknown tags and several documents are
reported instead of being glossed over.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import yaml

from gate.errors import PolicyError

#: A field path from the document root, e.g. ``("spec", "rules", 0, "name")``.
FieldPath = tuple[str | int, ...]

# Aliases can make a small file expand into a huge tree ("billion laughs");
# no honest policy comes anywhere near this many nodes.
MAX_NODES = 100_000
MAX_FLOW_DEPTH = 100

_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"


@dataclass(frozen=True)
class Mark:
    """A 1-based line and column in the policy file."""

    line: int
    column: int


def _mark(node: yaml.Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


@dataclass
class Positions:
    """Where each value (and each mapping key) of the document is, by field path."""

    values: dict[FieldPath, Mark] = field(default_factory=dict)
    keys: dict[FieldPath, Mark] = field(default_factory=dict)

    def of_value(self, path: FieldPath) -> Mark | None:
        """The position of the value at ``path``, or of its nearest known ancestor."""
        return self._nearest(self.values, path)

    def of_key(self, path: FieldPath) -> Mark | None:
        """The position of the key naming ``path`` (its value's position for list items)."""
        if path in self.keys:
            return self.keys[path]
        return self._nearest(self.values, path)

    @staticmethod
    def _nearest(table: dict[FieldPath, Mark], path: FieldPath) -> Mark | None:
        for end in range(len(path), -1, -1):
            mark = table.get(path[:end])
            if mark is not None:
                return mark
        return None


@dataclass(frozen=True)
class YamlProblem:
    """A problem found while reading the YAML, with where it is."""

    path: FieldPath
    mark: Mark | None
    reason: str
    shown_path: FieldPath | None = None  # the field printed, when not ``path`` itself


@dataclass(frozen=True)
class LocatedDocument:
    """The document as plain data, where its parts are, and what was wrong with it."""

    data: Any
    positions: Positions
    problems: tuple[YamlProblem, ...]


class _TooManyNodesError(Exception):
    """Raised inside the walk when alias expansion exceeds ``MAX_NODES``."""


def load_located(text: str, *, file: str) -> LocatedDocument:
    """Parse ``text`` as one YAML document and keep every value's position.

    Raises ``PolicyError`` (naming ``file``) when the text is not YAML at all,
    is empty, or holds several documents; smaller problems (duplicate or
    non-string keys, unknown tags) are returned in ``problems`` so they are
    reported together with the schema and semantic errors.
    Dates and timestamps arrive as ISO 8601 strings, so JSON Schema can check them.
    """
    _check_flow_depth(text, file)
    try:
        # The reader refuses non-printable characters already when it is made.
        loader = yaml.SafeLoader(text)
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, file) from exc
    except yaml.reader.ReaderError as exc:
        raise _reader_error(exc, text, file) from exc
    except yaml.YAMLError as exc:
        raise PolicyError(f"invalid YAML: {' '.join(str(exc).split())}", file=file) from exc
    except RecursionError as exc:
        raise PolicyError("invalid YAML: nested too deeply", file=file) from exc
    if node is None:
        raise PolicyError("empty policy file: expected a Policy document", file=file)
    walker = _Walker(loader)
    try:
        data = walker.walk(node, ())
    except _TooManyNodesError as exc:
        raise PolicyError(
            f"YAML expands to more than {MAX_NODES} nodes (aliases?); refusing to read it",
            file=file,
        ) from exc
    except RecursionError as exc:
        raise PolicyError("invalid YAML: nested too deeply", file=file) from exc
    finally:
        loader.dispose()
    return LocatedDocument(data, walker.positions, tuple(walker.problems))


def _check_flow_depth(text: str, file: str) -> None:
    """Refuse deeply nested ``[``/``{`` before PyYAML sees them.

    PyYAML's pure-Python scanner is quadratic in flow nesting depth, so a
    megabyte of brackets would take seconds to reject. Brackets inside
    quoted strings are counted too; no real policy nests anywhere near the cap.
    """
    depth = 0
    for line_number, line in enumerate(text.splitlines(), start=1):
        for column, char in enumerate(line, start=1):
            if char in "[{":
                depth += 1
                if depth > MAX_FLOW_DEPTH:
                    raise PolicyError(
                        f"invalid YAML: [ and {{ nested more than {MAX_FLOW_DEPTH} levels deep",
                        file=file,
                        line=line_number,
                        column=column,
                    )
            elif char in "]}" and depth > 0:
                depth -= 1


def _reader_error(exc: yaml.reader.ReaderError, text: str, file: str) -> PolicyError:
    """A character YAML does not allow (NUL, most control characters), at its line and column."""
    line = text.count("\n", 0, exc.position) + 1
    column = exc.position - text.rfind("\n", 0, exc.position)
    return PolicyError(
        f"invalid YAML: character U+{exc.character:04X} is not allowed in a YAML file",
        file=file,
        line=line,
        column=column,
    )


def _syntax_error(exc: yaml.MarkedYAMLError, file: str) -> PolicyError:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    column = mark.column + 1 if mark is not None else None
    if exc.problem == "but found another document":
        reason = "the file holds more than one YAML document; a policy file holds exactly one"
    else:
        words = [part for part in (exc.context, exc.problem) if part]
        reason = "invalid YAML: " + (", ".join(words) or "cannot parse")
    return PolicyError(reason, file=file, line=line, column=column)


class _Walker:
    """Turns composed nodes into plain data, recording positions and problems."""

    def __init__(self, loader: yaml.SafeLoader) -> None:
        self._loader = loader
        self._count = 0
        self._active: set[int] = set()  # collections on the current path, to catch cycles
        self.positions = Positions()
        self.problems: list[YamlProblem] = []

    def walk(self, node: yaml.Node, path: FieldPath) -> Any:
        self._count += 1
        if self._count > MAX_NODES:
            raise _TooManyNodesError
        self.positions.values.setdefault(path, _mark(node))
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        if id(node) in self._active:
            self._problem(path, _mark(node), "recursive YAML alias (a node that contains itself)")
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                self._check_collection_tag(node, _SEQ_TAG, path)
                return [self.walk(child, (*path, i)) for i, child in enumerate(node.value)]
            if isinstance(node, yaml.MappingNode):
                self._check_collection_tag(node, _MAP_TAG, path)
                return self._mapping(node, path)
        finally:
            self._active.discard(id(node))
        self._problem(path, _mark(node), f"unsupported YAML node {type(node).__name__}")
        return None

    def _scalar(self, node: yaml.ScalarNode, path: FieldPath) -> Any:
        try:
            value = self._loader.construct_object(node, deep=True)
        except ValueError:
            # An implicit timestamp that is not a real date (2027-02-30): keep the
            # text so the semantic pass can say exactly what is wrong with it.
            return node.value
        except yaml.constructor.ConstructorError as exc:
            self._problem(path, _mark(node), f"unsupported YAML tag {node.tag!r} ({exc.problem})")
            return node.value
        if isinstance(value, datetime | date):
            return value.isoformat()
        return value

    def _check_collection_tag(self, node: yaml.Node, expected: str, path: FieldPath) -> None:
        if node.tag != expected:
            self._problem(path, _mark(node), f"unsupported YAML tag {node.tag!r}")

    def _mapping(self, node: yaml.MappingNode, path: FieldPath) -> dict[str, Any]:
        seen: dict[str, Mark] = {}
        for key_node, _value in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self._key(key_node, path)
            if key is None:
                continue
            if key in seen:
                first = seen[key]
                self._problem(
                    (*path, key),
                    _mark(key_node),
                    f'duplicate key "{key}" (first defined at line {first.line})',
                    shown_path=path,
                )
            else:
                seen[key] = _mark(key_node)
        # Merge keys ("<<: *defaults") are resolved the way PyYAML does it:
        # explicit keys override merged ones.
        try:
            self._loader.flatten_mapping(node)
        except yaml.constructor.ConstructorError as exc:
            mark = exc.problem_mark
            where = Mark(mark.line + 1, mark.column + 1) if mark is not None else _mark(node)
            self._problem(path, where, f"invalid merge key: {exc.problem}")
            return {}
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node, path, report=False)
            if key is None:
                continue
            child = (*path, key)
            # The last occurrence wins as in PyYAML; its position is the one kept.
            self.positions.keys[child] = _mark(key_node)
            self.positions.values[child] = _mark(value_node)
            result[key] = self.walk(value_node, child)
        return result

    def _key(self, node: yaml.Node, path: FieldPath, *, report: bool = True) -> str | None:
        if isinstance(node, yaml.ScalarNode) and node.tag == _STR_TAG:
            return str(node.value)
        if report:
            shown = node.value if isinstance(node, yaml.ScalarNode) else "a collection"
            self._problem(
                (*path, f"<key {shown}>"),
                _mark(node),
                f"mapping keys must be strings, got {shown!r} ({_tag_name(node.tag)}); "
                "quote the key",
                shown_path=path,
            )
        return None

    def _problem(
        self,
        path: FieldPath,
        mark: Mark | None,
        reason: str,
        *,
        shown_path: FieldPath | None = None,
    ) -> None:
        self.problems.append(YamlProblem(path, mark, reason, shown_path))


def _tag_name(tag: str) -> str:
    return tag.rsplit(":", 1)[-1] if tag.startswith("tag:yaml.org,2002:") else tag
