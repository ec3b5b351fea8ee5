"""The server side of ``POST /api/v1/policy/preview``: the impact preview on this webhook's history.

The old policy is the one the webhook runs unless the request names one;
evidence is read from the verdict store as at admission, signature results
from this process's verification cache and otherwise from the recorded
verdicts (``gate.preview``). No registry is read. A posted policy's key
files are read relative to the directory of the policy the webhook runs.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from gate.check import EvidenceProvider
from gate.clock import Clock, system_clock
from gate.policy.loader import load_policy_text
from gate.preview import (
    SignatureLookup,
    parse_since,
    preview_policy_change,
    preview_to_dict,
    window,
)
from gate.store.model import VerdictStore
from webhook.policy_holder import PolicyHolder

#: The window when the request gives none.
DEFAULT_SINCE = timedelta(days=7)


class PreviewService:
    """Runs previews against one webhook's policy, store, evidence reader and cache."""

    def __init__(
        self,
        holder: PolicyHolder,
        store: VerdictStore,
        *,
        evidence: EvidenceProvider,
        lookup: SignatureLookup | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self._holder = holder
        self._store = store
        self._evidence = evidence
        self._lookup = lookup
        self._clock = clock

    def __call__(
        self,
        policy_text: str,
        *,
        old_policy_text: str | None = None,
        since: str | None = None,
        all_images: bool = False,
    ) -> dict[str, Any]:
        """The preview document (``preview_to_dict``); ``PolicyError``, ``InputError`` if bad."""
        current = self._holder.policy
        directory = current.source.parent
        new = load_policy_text(policy_text, directory / "preview-new.yaml")
        old = (
            current
            if old_policy_text is None
            else load_policy_text(old_policy_text, directory / "preview-old.yaml")
        )
        now = self._clock()
        start = parse_since(since, now) if since is not None else None
        begin, end = window(start, now, DEFAULT_SINCE)
        preview = preview_policy_change(
            self._store,
            old,
            new,
            since=begin,
            until=end,
            evidence=self._evidence,
            now=now,
            lookup=self._lookup,
        )
        return preview_to_dict(preview, all_images=all_images)
