"""Exceptions as data: time-boxed acceptances of a finding, kept outside the policy file.

An exception names a finding id (matched against a finding's id and
aliases, case-insensitively), a package URL (a purl without a version
covers every version), or both (that id in that package); it may be
limited to images and namespaces by glob; it always has an owner, a
ticket, a reason and an expiry no further away than the policy allows
(``spec.exceptions.maxDays``, 90 days when not set).

This module is the record and its validation; ``gate.policy.exception_match``
applies compiled records to findings; the verdict store keeps them
(``gate.store.exceptions``) and the webhook serves them (``webhook.exceptions_api``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from gate.errors import InputError
from gate.policy.glob import GlobError, ImageGlob, NamespaceGlob
from gate.purl import PackageUrl, PurlError

__all__ = [
    "DEFAULT_MAX_DAYS",
    "CompiledException",
    "ExceptionRecord",
    "NewException",
    "exception_to_dict",
    "load_exceptions_file",
    "parse_expires",
    "parse_new_exception",
]

#: The longest an exception may last when the policy does not say (``spec.exceptions.maxDays``).
DEFAULT_MAX_DAYS = 90
_MAX_TEXT = 2048
_MAX_GLOBS = 64
_FINDING_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+-]{0,199}")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_FIELDS = frozenset(
    {"findingId", "finding", "purl", "images", "namespaces", "owner", "ticket", "reason", "expires"}
)


@dataclass(frozen=True)
class NewException:
    """A validated request for an exception, before the store gives it an id."""

    finding_id: str | None
    purl: str | None  # normalised (``str(PackageUrl.parse(...))``)
    images: tuple[str, ...]
    namespaces: tuple[str, ...]
    owner: str
    ticket: str
    reason: str
    expires: datetime  # exclusive: the exception applies while ``now < expires``


@dataclass(frozen=True)
class ExceptionRecord(NewException):
    """A stored exception: the request plus who made it, when, and whether it was revoked."""

    id: str = ""
    created: datetime | None = None
    created_by: str | None = None
    revoked: bool = False
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    #: When an evaluation first found it expired but otherwise matching (audited once).
    expired_noticed_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        """Not revoked and not expired at ``now``."""
        return not self.revoked and now < self.expires

    def allowed_by(self, max_days: int) -> bool:
        """Whether a policy allowing at most ``max_days`` accepts this exception's lifetime.

        ``max_days`` 0 accepts none. The lifetime is counted from creation (a
        record from a file without ``created`` counts from now, in the caller).
        """
        if max_days <= 0:
            return False
        if self.created is None:
            return True
        return self.expires - self.created <= timedelta(days=max_days)

    def compile(self) -> CompiledException:
        """The record with its globs and purl parsed once, ready for matching."""
        return CompiledException(self)


class CompiledException:
    """An ``ExceptionRecord`` with its globs, purl and id prepared for matching findings."""

    __slots__ = ("__dict__", "finding_id", "images", "namespaces", "purl", "record")

    def __init__(self, record: ExceptionRecord) -> None:
        """Compile ``record``; its fields were validated when it was made."""
        self.record = record
        self.finding_id = record.finding_id.casefold() if record.finding_id else None
        self.purl = PackageUrl.parse(record.purl) if record.purl else None
        self.images = tuple(ImageGlob.compile(g) for g in record.images)
        self.namespaces = tuple(NamespaceGlob.compile(g) for g in record.namespaces)

    @cached_property
    def summary(self) -> dict[str, Any]:
        """What a verdict lists for this exception: id, owner, ticket, expiry and scope."""
        record = self.record
        return {
            "id": record.id,
            "findingId": record.finding_id,
            "purl": record.purl,
            "owner": record.owner,
            "ticket": record.ticket,
            "expires": record.expires.isoformat(),
        }


def parse_expires(value: object, *, field: str = "expires", source: str | None = None) -> datetime:
    """An RFC 3339 time, or a date meaning the end of that day in UTC, as an aware instant.

    The result is exclusive: a date ``D`` becomes ``D+1T00:00:00Z``.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC) + timedelta(days=1)
    elif isinstance(value, str) and _DATE_RE.fullmatch(value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise InputError(f"not a date: {value!r}", source=source, field=field) from None
        return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    elif isinstance(value, str) and len(value) <= 64:
        text = value[:-1] + "+00:00" if value[-1:] in ("Z", "z") else value
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise InputError(
                f"not an RFC 3339 time or a date (YYYY-MM-DD): {value!r}",
                source=source,
                field=field,
            ) from None
    else:
        raise InputError(
            "required: an RFC 3339 time or a date (YYYY-MM-DD)", source=source, field=field
        )
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InputError(
            f"time {value!s} has no UTC offset (write Z or +hh:mm)", source=source, field=field
        )
    return moment.astimezone(UTC)


def parse_new_exception(
    obj: object,
    *,
    now: datetime,
    max_days: int = DEFAULT_MAX_DAYS,
    source: str | None = None,
    where: str = "",
    check_expiry: bool = True,
) -> NewException:
    """Validate one exception request (the API's JSON body or a file entry).

    Raises ``InputError`` naming the field and the reason: unknown fields,
    neither ``findingId`` nor ``purl``, a bad glob or purl, an empty
    ``owner``/``ticket``/``reason``, or an ``expires`` in the past or more
    than ``max_days`` days after ``now`` (``max_days`` 0: no exception may
    be made). ``check_expiry`` False skips the time checks (a file of
    exceptions read for CI keeps its expired entries so they are reported).
    """

    def bad(field: str, reason: str) -> InputError:
        return InputError(reason, source=source, field=f"{where}{field}")

    if not isinstance(obj, Mapping):
        raise (
            bad("", "an exception must be an object")
            if where
            else InputError("an exception must be a JSON object", source=source, field="body")
        )
    unknown = sorted(str(k) for k in obj if k not in _FIELDS)
    if unknown:
        raise bad(unknown[0], f"unknown field (expected {', '.join(sorted(_FIELDS))})")
    finding_id = obj.get("findingId", obj.get("finding"))
    if finding_id is not None and (
        not isinstance(finding_id, str) or not _FINDING_ID_RE.fullmatch(finding_id)
    ):
        raise bad("findingId", "must be a vulnerability id such as CVE-2024-1234 or GHSA-...")
    purl_text = obj.get("purl")
    purl: str | None = None
    if purl_text is not None:
        if not isinstance(purl_text, str) or len(purl_text) > _MAX_TEXT:
            raise bad("purl", "must be a package URL (pkg:type/namespace/name[@version])")
        try:
            purl = str(PackageUrl.parse(purl_text))
        except PurlError as exc:
            raise bad("purl", f"not a package URL: {exc}") from None
    if finding_id is None and purl is None:
        raise bad("findingId", "findingId or purl is required (both: that id in that package)")
    images = _globs(obj.get("images"), "images", bad, image=True)
    namespaces = _globs(obj.get("namespaces"), "namespaces", bad, image=False)
    texts = {name: _text(obj.get(name), name, bad) for name in ("owner", "ticket", "reason")}
    if "expires" not in obj or obj["expires"] is None:
        raise bad("expires", "required: exceptions are time-boxed (RFC 3339 time or YYYY-MM-DD)")
    expires = parse_expires(obj["expires"], field=f"{where}expires", source=source)
    if check_expiry:
        if max_days <= 0:
            raise bad("expires", "the policy allows no exceptions (spec.exceptions.maxDays is 0)")
        if expires <= now:
            raise bad("expires", f"{expires.isoformat()} is not in the future")
        limit = now + timedelta(days=max_days)
        if expires > limit:
            raise bad(
                "expires",
                f"{expires.isoformat()} is more than {max_days} days away (the policy's "
                f"spec.exceptions.maxDays); the latest allowed is {limit.isoformat()}",
            )
    return NewException(
        finding_id=finding_id,
        purl=purl,
        images=images,
        namespaces=namespaces,
        owner=texts["owner"],
        ticket=texts["ticket"],
        reason=texts["reason"],
        expires=expires,
    )


def _text(value: object, name: str, bad: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise bad(name, "required, a non-empty string")
    if len(value) > _MAX_TEXT or any(not c.isprintable() for c in value):
        raise bad(name, f"at most {_MAX_TEXT} printable characters")
    return value.strip()


def _globs(value: object, name: str, bad: Any, *, image: bool) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise bad(name, "must be a list of globs")
    if len(items) > _MAX_GLOBS:
        raise bad(name, f"at most {_MAX_GLOBS} globs")
    for item in items:
        try:
            ImageGlob.compile(item) if image else NamespaceGlob.compile(item)
        except GlobError as exc:
            raise bad(name, str(exc)) from None
    return tuple(items)


def exception_to_dict(record: ExceptionRecord) -> dict[str, Any]:
    """The API's JSON form of a record (the dashboard reads the same shape)."""

    def iso(moment: datetime | None) -> str | None:
        return None if moment is None else moment.isoformat()

    return {
        "id": record.id,
        "findingId": record.finding_id,
        "purl": record.purl,
        "images": list(record.images),
        "namespaces": list(record.namespaces),
        "owner": record.owner,
        "ticket": record.ticket,
        "reason": record.reason,
        "expires": record.expires.isoformat(),
        "created": iso(record.created),
        "createdBy": record.created_by,
        "revoked": record.revoked,
        "revokedAt": iso(record.revoked_at),
        "revokedBy": record.revoked_by,
        "expiredNoticedAt": iso(record.expired_noticed_at),
    }


def load_exceptions_file(path: Path, *, now: datetime) -> tuple[ExceptionRecord, ...]:
    """Exceptions from a YAML or JSON file: a list of records as the API takes them.

    For ``gate check --exceptions FILE`` in CI. Each entry may carry an
    ``id`` (default ``file-N``); ``created`` is not read, so an entry's
    lifetime is not measured against ``maxDays`` (the file is reviewed like
    the policy is). Expired entries are kept so the verdict reports them.
    """
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read: {exc}", source=source) from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise InputError(f"not YAML or JSON: {reason}", source=source) from None
    if isinstance(data, Mapping) and "items" in data:
        data = data["items"]
    if not isinstance(data, list):
        raise InputError("expected a list of exceptions", source=source)
    records: list[ExceptionRecord] = []
    for index, entry in enumerate(data):
        where = f"[{index}]."
        ident = f"file-{index + 1}"
        if isinstance(entry, Mapping) and "id" in entry:
            ident = entry["id"]
            if not isinstance(ident, str) or not ident.strip():
                raise InputError("must be a non-empty string", source=source, field=f"{where}id")
        fields = (
            {k: v for k, v in entry.items() if k != "id"} if isinstance(entry, Mapping) else entry
        )
        new = parse_new_exception(fields, now=now, source=source, where=where, check_expiry=False)
        records.append(ExceptionRecord(**vars(new), id=ident))
    return tuple(records)


def compile_all(records: Sequence[ExceptionRecord]) -> tuple[CompiledException, ...]:
    """Every record compiled, in order."""
    return tuple(r.compile() for r in records)
