"""The JSON report: the verdict as data, the reference format every other one follows."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from enum import Enum
from typing import Any

from gate import __version__
from gate.policy.verdict import CheckResult, ImageVerdict, Verdict


def _plain(value: Any) -> Any:
    """Turn details (mappings, tuples, enums, dates) into JSON-ready values."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_plain(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, datetime | date):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def check_to_dict(check: CheckResult) -> dict[str, Any]:
    """One check as a JSON object."""
    return {
        "check": check.check,
        "outcome": check.outcome.value,
        "reason": check.reason,
        "details": _plain(check.details),
    }


def image_to_dict(image: ImageVerdict) -> dict[str, Any]:
    """One image verdict as a JSON object."""
    return {
        "reference": image.reference,
        "digest": image.digest,
        "decision": image.decision.value,
        "rule": image.rule,
        "reason": image.reason,
        "mode": image.mode,
        "namespace": image.namespace,
        "checks": [check_to_dict(c) for c in image.checks],
        "notes": list(image.notes),
    }


def verdict_to_dict(verdict: Verdict) -> dict[str, Any]:
    """The whole verdict as a JSON object (top-level ``decision`` first).

    ``decided`` is false when something could not be decided; ``errors`` says
    what, one line each. Consumers must treat an undecided run as a failure
    even when ``decision`` is allow (audit or warn mode).
    """
    return {
        "decision": verdict.decision.value,
        "decided": verdict.decided,
        "errors": list(verdict.errors),
        "policy": verdict.policy,
        "evaluatedAt": verdict.evaluated_at,
        "gateVersion": __version__,
        "images": [image_to_dict(i) for i in verdict.images],
    }


def render_json(verdict: Verdict) -> str:
    """The JSON report, indented, with a trailing newline."""
    return json.dumps(verdict_to_dict(verdict), indent=2, ensure_ascii=False) + "\n"
