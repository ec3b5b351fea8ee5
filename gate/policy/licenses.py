"""SPDX license expressions split into the license ids they mention, for deny lists.

``(MIT OR AGPL-3.0-only)`` mentions ``MIT`` and ``AGPL-3.0-only``; a deny list
hits a component when any id it mentions is denied, even inside an ``OR``
choice (the gate does not pick a license for the user). Ids compare
case-insensitively, as SPDX says they do. ``X+`` ("X or any later version")
and ``X-or-later`` also mention ``X``, and the deprecated GNU ids
(``GPL-2.0``, ``GPL-2.0+``) are the same licenses as ``GPL-2.0-only`` and
``GPL-2.0-or-later``, so a policy denying ``AGPL-3.0-only`` also catches a
component labelled with the old ``AGPL-3.0``. ``LicenseRef-*`` ids are kept.
Debian's copyright-format short names, which scanners pass through from
``/usr/share/doc/*/copyright`` (``AGPL-3``, ``GPL-2+``, ``LGPL-2.1``,
``Expat``), are read as the SPDX ids they stand for.

Text that is not a well-formed expression (``MIT, AGPL-3.0-only``,
``MIT/AGPL-3.0-only``, ``(MIT OR AGPL-3.0-only``, a license name) is never
taken as one opaque id, which would let a denied id hide behind a comma:
it is split on everything that cannot be part of an id, and every piece
counts (as does the whole text, so license names can still be denied).
"""

from __future__ import annotations

import re

_OPERATORS = frozenset({"and", "or", "with"})
_TOKEN_RE = re.compile(r"\(|\)|[^\s()]+")
# Anything that cannot occur in a license id (letters, digits, '.', '-', the
# ':' of DocumentRef-..: and a trailing '+') separates ids in malformed text:
# whitespace , ; / | & parentheses, quotes, ...
_SEPARATOR_RE = re.compile(r"[^A-Za-z0-9.:+-]+")
_INNER_SEPARATOR_RE = re.compile(r":|\+(?!$)")
_LICENSE_ID_RE = re.compile(r"^(?:DocumentRef-[A-Za-z0-9.-]+:)?[A-Za-z0-9][A-Za-z0-9.-]*\+?$")

# The GNU families whose bare ids were deprecated in SPDX 3.0 in favour of
# explicit -only / -or-later forms.
_GNU_DEPRECATED = frozenset(
    {
        "gpl-1.0",
        "gpl-2.0",
        "gpl-3.0",
        "lgpl-2.0",
        "lgpl-2.1",
        "lgpl-3.0",
        "agpl-1.0",
        "agpl-3.0",
        "gfdl-1.1",
        "gfdl-1.2",
        "gfdl-1.3",
    }
)


# Debian copyright-format (DEP-5) short names that differ from their SPDX ids.
_DEBIAN_SHORT_NAMES = {
    "gpl-1": "gpl-1.0",
    "gpl-2": "gpl-2.0",
    "gpl-3": "gpl-3.0",
    "lgpl-2": "lgpl-2.0",
    "lgpl-3": "lgpl-3.0",
    "agpl-1": "agpl-1.0",
    "agpl-3": "agpl-3.0",
    "gfdl-1": "gfdl-1.1",
    "apache-1": "apache-1.0",
    "apache-2": "apache-2.0",
    "mpl-1": "mpl-1.0",
    "mpl-2": "mpl-2.0",
    "expat": "mit",
}


def is_license_id(text: str) -> bool:
    """True when ``text`` is one license id (``MIT``, ``GPL-2.0+``, ``LicenseRef-x``)."""
    return bool(_LICENSE_ID_RE.match(text))


def canonical_license_id(license_id: str) -> str:
    """The comparison form of one id: case-folded, deprecated GNU ids made explicit."""
    folded = license_id.strip().casefold()
    if folded.endswith("+"):
        folded = _DEBIAN_SHORT_NAMES.get(folded[:-1], folded[:-1]) + "+"
    else:
        folded = _DEBIAN_SHORT_NAMES.get(folded, folded)
    if folded in _GNU_DEPRECATED:
        return f"{folded}-only"
    if folded.endswith("+") and folded[:-1] in _GNU_DEPRECATED:
        return f"{folded[:-1]}-or-later"
    return folded


def license_ids(expression: str) -> frozenset[str]:
    """Every license id ``expression`` mentions, in canonical form.

    Operators (``AND``, ``OR``, ``WITH``, any case) and parentheses are
    dropped; the exception after ``WITH`` is kept as an id too, so a policy
    may deny it. Text that is not a well-formed expression is split on every
    character that cannot be part of an id, and yields the ids of all its
    pieces plus the whole text (so a license *name* such as
    ``Apache License 2.0`` still matches itself).
    """
    tokens = _TOKEN_RE.findall(expression)
    if not tokens:
        return frozenset()
    if not _well_formed(tokens):
        return _ids_of_malformed(expression)
    ids: set[str] = set()
    for token in tokens:
        if token in "()" or token.casefold() in _OPERATORS:
            continue
        ids |= _ids_of_token(token)
    return frozenset(ids)


def _ids_of_malformed(text: str) -> frozenset[str]:
    ids = {canonical_license_id(text)}
    for piece in _SEPARATOR_RE.split(text):
        # ':' (DocumentRef-x:LicenseRef-y) and '+' (GPL-2.0+) belong to ids,
        # but "MIT:AGPL-3.0-only" or "MIT+AGPL-3.0-only" must not hide the
        # second id: the piece counts whole and split. More ids only ever
        # make a deny list catch more.
        for part in (piece, *_INNER_SEPARATOR_RE.split(piece)):
            token = part.strip(":").lstrip("+")
            if token and token.casefold() not in _OPERATORS:
                ids |= _ids_of_token(token)
    return frozenset(ids)


def _ids_of_token(token: str) -> set[str]:
    canonical = canonical_license_id(token)
    ids = {canonical}
    # "X or any later version" lets the licensee choose X itself.
    if canonical.endswith("-or-later"):
        ids.add(canonical.removesuffix("-or-later") + "-only")
    elif canonical.endswith("+"):
        ids.add(canonical[:-1])
    return ids


def _well_formed(tokens: list[str]) -> bool:
    """A small recogniser for ``term ((AND|OR) term)*`` with ``WITH`` and parentheses."""
    position = 0

    def expression() -> bool:
        nonlocal position
        if not term():
            return False
        while position < len(tokens) and tokens[position].casefold() in ("and", "or"):
            position += 1
            if not term():
                return False
        return True

    def term() -> bool:
        nonlocal position
        if position >= len(tokens):
            return False
        token = tokens[position]
        if token == "(":
            position += 1
            if not expression() or position >= len(tokens) or tokens[position] != ")":
                return False
            position += 1
            return True
        if token == ")" or token.casefold() in _OPERATORS or not is_license_id(token):
            return False
        position += 1
        if position < len(tokens) and tokens[position].casefold() == "with":
            position += 1
            if position >= len(tokens) or not is_license_id(tokens[position]):
                return False
            position += 1
        return True

    return expression() and position == len(tokens)
