"""Which finding ids a verdict was failed for, read from its stored checks.

The dashboard counts the findings that broke the vulnerability limits most
often. Counting them from the checks JSON at query time would parse every
stored verdict of the window (hundreds of kilobytes each for an image with
many findings), so the ids are extracted once, when a verdict is recorded (and
by the migration that added them, for older verdicts), into the
``verdict_findings`` table. This module is the one place that says which ids
those are; it is pure so the record path, the migration and the tests agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: The check whose failing violations are counted (``gate.policy.vulnerability_check``).
VULNERABILITIES_CHECK = "vulnerabilities"
#: At most this many ids are kept per verdict (the policy lists at most 1000 violations).
MAX_FINDINGS_PER_VERDICT = 1000
#: A longer "id" is not a vulnerability identifier; it is not counted.
MAX_FINDING_ID_LENGTH = 200


def failed_finding_ids(checks: Iterable[tuple[object, object, Any]]) -> tuple[str, ...]:
    """The distinct finding ids of the failing ``vulnerabilities`` checks, in order.

    ``checks`` yields ``(check, outcome, details)`` of each check. Only a
    ``fail`` outcome counts (a warning or an excepted finding did not fail the
    image), and only the ids listed under ``details.violations``: malformed
    entries (CI clients post their own details) are skipped, not guessed at.
    """
    seen: dict[str, None] = {}
    for name, outcome, details in checks:
        if name != VULNERABILITIES_CHECK or outcome != "fail":
            continue
        if not isinstance(details, Mapping):
            continue
        violations = details.get("violations")
        if not isinstance(violations, list | tuple):
            continue
        for violation in violations:
            # A plain dict first: the ABC check costs more than the rest of the loop.
            if type(violation) is not dict and not isinstance(violation, Mapping):
                continue
            finding_id = violation.get("id")
            if (
                isinstance(finding_id, str)
                and finding_id
                and len(finding_id) <= MAX_FINDING_ID_LENGTH
                and finding_id not in seen
            ):
                seen[finding_id] = None
                if len(seen) >= MAX_FINDINGS_PER_VERDICT:
                    return tuple(seen)
    return tuple(seen)


def failed_finding_ids_of_json(items: Any) -> tuple[str, ...]:
    """``failed_finding_ids`` of checks as stored (the parsed JSON list of the checks column)."""
    if not isinstance(items, list):
        return ()
    return failed_finding_ids(
        (item.get("check"), item.get("outcome"), item.get("details"))
        for item in items
        if isinstance(item, Mapping)
    )
