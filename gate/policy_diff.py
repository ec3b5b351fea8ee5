"""``gate policy diff OLD NEW``: the impact preview from the command line.

Two ways to reach the history: ``--db URL`` opens the verdict store itself
(no webhook, so no verification cache: signature results are the ones
recorded in the stored verdicts, and no registry is read), ``--server URL``
asks a running gate (``POST /api/v1/policy/preview``), which also uses its
verification cache. Exit codes: 0 nothing would change, 1 some image's
decision would change, 2 the preview could not be made.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from gate.api_client import ApiClient
from gate.errors import InputError
from gate.policy.loader import MAX_POLICY_BYTES, load_policy
from gate.preview import (
    parse_since,
    preview_policy_change,
    preview_to_dict,
    render_preview_text,
    window,
)

EXIT_UNCHANGED = 0
EXIT_CHANGED = 1
#: The window when none is given.
DEFAULT_WINDOW = timedelta(days=7)


def _policy_text(path: Path) -> str:
    try:
        data = path.read_bytes()[: MAX_POLICY_BYTES + 1]
    except OSError as exc:
        raise InputError(
            f"cannot read policy file: {exc.strerror or exc}", source=str(path)
        ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("policy file is not UTF-8", source=str(path)) from None


def diff_with_store(
    old: Path,
    new: Path,
    *,
    since: str,
    db_url: str,
    now: datetime,
    output_format: str,
    all_images: bool,
    out: TextIO,
) -> int:
    """Preview ``old`` -> ``new`` on the store at ``db_url``; print it; return the exit code."""
    # Imported here: the store needs SQLAlchemy, the evidence reader the webhook's caches.
    from gate.store.sql import SqlVerdictStore  # noqa: PLC0415
    from webhook.checker import StoreEvidence, TtlCache  # noqa: PLC0415

    old_policy = load_policy(old)
    new_policy = load_policy(new)
    start = parse_since(since, now)
    store = SqlVerdictStore.from_url(db_url)
    try:
        begin, end = window(start, now, DEFAULT_WINDOW)
        preview = preview_policy_change(
            store,
            old_policy,
            new_policy,
            since=begin,
            until=end,
            evidence=StoreEvidence(store, TtlCache(300.0, 4096)),
            now=now,
        )
    finally:
        store.close()
    if output_format == "json":
        out.write(json.dumps(preview_to_dict(preview, all_images=all_images), indent=2) + "\n")
    else:
        out.write(render_preview_text(preview))
    return EXIT_CHANGED if preview.changes else EXIT_UNCHANGED


def diff_with_server(
    old: Path,
    new: Path,
    *,
    since: str,
    client: ApiClient,
    output_format: str,
    all_images: bool,
    out: TextIO,
) -> int:
    """Ask the gate server for the preview of ``old`` -> ``new``; print it; return the exit code.

    Both files are checked locally first, so a typo is reported with its line
    here rather than as a 400 from the server. Key files they name are read
    by the server relative to its own policy's directory.
    """
    load_policy(old)
    load_policy(new)
    document = client.preview_policy(
        _policy_text(new), old_policy=_policy_text(old), since=since, all_images=all_images
    )
    if output_format == "json":
        out.write(json.dumps(document, indent=2) + "\n")
    else:
        out.write(render_document_text(document))
    counts = document.get("counts")
    changed = counts.get("changed") if isinstance(counts, dict) else None
    if not isinstance(changed, int):
        raise InputError("the server's preview has no count of changes")
    return EXIT_CHANGED if changed else EXIT_UNCHANGED


def render_document_text(document: dict[str, Any]) -> str:
    """The text report of a preview received as JSON (``preview_to_dict``)."""
    counts = document.get("counts") or {}
    old, new = document.get("old") or {}, document.get("new") or {}
    lines = [
        f"policy {old.get('policy')} -> {new.get('policy')}",
        f"window {document.get('since')} .. {document.get('until')}: "
        f"{counts.get('images', 0)} images, {counts.get('changed', 0)} would change decision",
    ]
    for change in document.get("changes") or ():
        before, after = change.get("old") or {}, change.get("new") or {}
        where = f"namespace {change.get('namespace') or '-'}"
        if change.get("workloadName"):
            where += f", {change.get('workloadKind') or '?'}/{change.get('workloadName')}"
        lines += [
            "",
            f"{before.get('decision')} -> {after.get('decision')}  "
            f"{change.get('reference')}@{str(change.get('digest'))[:19]}",
            f"  where: {where}; signatures: {change.get('signatures')}",
            f"  old: rule {before.get('rule') or '-'}: {before.get('reason')}",
            f"  new: rule {after.get('rule') or '-'}: {after.get('reason')}",
        ]
    for title, key in (("by decision", "transitions"), ("by namespace", "namespaces")):
        values = counts.get(key) or {}
        if values:
            lines.append(f"{title}: " + ", ".join(f"{k}: {v}" for k, v in values.items()))
    sources = counts.get("signatureSources") or {}
    lines.append(
        "signature results used: " + (", ".join(f"{k}: {v}" for k, v in sources.items()) or "none")
    )
    return "\n".join(lines) + "\n"
