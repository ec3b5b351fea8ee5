"""Aggregates of the verdict API for the dashboard: ``/api/v1/stats/decisions`` and ``/top``.

Both are read-only, need a bearer token with the ``read`` scope and answer
errors exactly as the verdict API does (``webhook.api``): JSON ``{"error":
"<one line>"}``, 400 naming the bad parameter, 401/403 with a Bearer
challenge, 503 when the store cannot be reached. The counting is done by the
database (``gate.store.stats``); this module parses parameters, picks default
windows from the injected clock and renders the answer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, jsonify, request

from gate.clock import Clock, system_clock
from gate.store.model import StatsBucket, TopEntry, VerdictStats
from gate.store.stats import DECISIONS, MAX_BUCKETS, MAX_TOP, bucket_count
from webhook.api import (
    API_PREFIX,
    _bad,
    _check_text,
    _reject_unknown,
    _single,
    _time_parameter,
    authenticate,
    register_error_handlers,
)
from webhook.tokens import Scope, TokenSet

__all__ = [
    "DEFAULT_DECISIONS_WINDOW",
    "DEFAULT_TOP_WINDOW",
    "STATS_PREFIX",
    "create_stats_blueprint",
]

STATS_PREFIX = f"{API_PREFIX}/stats"
#: The window of ``/stats/decisions`` when ``since`` is not given, per bucket width.
DEFAULT_DECISIONS_WINDOW = {
    StatsBucket.HOUR: timedelta(hours=24),
    StatsBucket.DAY: timedelta(days=30),
}
#: The window of ``/stats/top`` when ``since`` is not given.
DEFAULT_TOP_WINDOW = timedelta(days=7)
_DEFAULT_TOP_LIMIT = 10

_DECISIONS_PARAMETERS = frozenset({"since", "until", "bucket", "namespace"})
_TOP_PARAMETERS = frozenset({"since", "until", "kind", "namespace", "decision", "limit"})
_KINDS = ("images", "findings")
_LOG = logging.getLogger(__name__)


def create_stats_blueprint(
    stats: VerdictStats, tokens: TokenSet, *, clock: Clock = system_clock
) -> Blueprint:
    """The ``/api/v1/stats`` blueprint over ``stats``, authenticating with ``tokens``.

    ``clock`` supplies "now", the end of a window whose ``until`` is not given.
    """
    blueprint = Blueprint("gate_stats", __name__, url_prefix=STATS_PREFIX)

    @blueprint.before_request
    def require_read() -> None:
        authenticate(tokens, request.headers.get("Authorization"), Scope.READ)

    @blueprint.get("/decisions")
    def decisions() -> Response:
        args = request.args
        _reject_unknown(args, _DECISIONS_PARAMETERS)
        bucket = _bucket(args)
        namespace = _namespace(args)
        since, until = _window(args, DEFAULT_DECISIONS_WINDOW[bucket], clock)
        count = bucket_count(since, until, bucket)
        if count > MAX_BUCKETS:
            hint = "narrow the window" if bucket is StatsBucket.DAY else "use bucket=day"
            raise _bad(
                "since",
                f"the window holds {count} {bucket.value}s, more than {MAX_BUCKETS}; {hint}",
            )
        buckets = stats.decision_counts(since, until, bucket=bucket, namespace=namespace)
        totals = dict.fromkeys(DECISIONS, 0)
        rows = []
        for counts in buckets:
            row: dict[str, Any] = {"start": counts.start.isoformat()}
            for decision in DECISIONS:
                number = getattr(counts, decision)
                row[decision] = number
                totals[decision] += number
            rows.append(row)
        return jsonify(
            {
                "bucket": bucket.value,
                "since": since.isoformat(),
                "until": until.isoformat(),
                "namespace": namespace,
                "buckets": rows,
                "totals": totals,
            }
        )

    @blueprint.get("/top")
    def top() -> Response:
        args = request.args
        _reject_unknown(args, _TOP_PARAMETERS)
        kind = _single(args, "kind")
        if kind is None:
            raise _bad("kind", "required (images or findings)")
        if kind not in _KINDS:
            raise _bad("kind", f"must be images or findings; got {kind[:40]!r}")
        decision = _single(args, "decision") or "deny"
        if decision not in DECISIONS:
            raise _bad("decision", f"must be one of allow, warn, deny; got {decision[:40]!r}")
        limit = _limit(args)
        namespace = _namespace(args)
        since, until = _window(args, DEFAULT_TOP_WINDOW, clock)
        query = stats.top_images if kind == "images" else stats.top_findings
        entries = query(since, until, decision=decision, namespace=namespace, limit=limit)
        key = "reference" if kind == "images" else "id"
        return jsonify(
            {
                "kind": kind,
                "decision": decision,
                "since": since.isoformat(),
                "until": until.isoformat(),
                "namespace": namespace,
                "items": [_entry(entry, key) for entry in entries],
            }
        )

    register_error_handlers(blueprint)
    return blueprint


def _bucket(args: Mapping[str, str]) -> StatsBucket:
    text = _single(args, "bucket") or StatsBucket.HOUR.value
    if text not in (StatsBucket.HOUR.value, StatsBucket.DAY.value):
        raise _bad("bucket", f"must be hour or day; got {text[:40]!r}")
    return StatsBucket(text)


def _namespace(args: Mapping[str, str]) -> str | None:
    namespace = _single(args, "namespace")
    if namespace is not None:
        _check_text("namespace", namespace, 253)
    return namespace


def _window(args: Mapping[str, str], default: timedelta, clock: Clock) -> tuple[datetime, datetime]:
    until = _time_parameter(args, "until")
    since = _time_parameter(args, "since")
    if until is None:
        until = clock()
    if since is None:
        since = until - default
    if since >= until:
        raise _bad("since", "is not before until")
    return since.astimezone(UTC), until.astimezone(UTC)


def _limit(args: Mapping[str, str]) -> int:
    text = _single(args, "limit")
    if text is None:
        return _DEFAULT_TOP_LIMIT
    if not text.isascii() or not text.isdigit() or len(text) > 7:
        raise _bad("limit", f"must be an integer from 1 to {MAX_TOP}; got {text[:40]!r}")
    limit = int(text)
    if not 1 <= limit <= MAX_TOP:
        raise _bad("limit", f"must be from 1 to {MAX_TOP}; got {limit}")
    return limit


def _entry(entry: TopEntry, key: str) -> dict[str, Any]:
    return {key: entry.key, "count": entry.count, "lastSeen": entry.last_seen.isoformat()}
