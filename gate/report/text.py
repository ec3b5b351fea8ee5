"""The text report: what a person reads in a CI log."""

from __future__ import annotations

from gate.policy.verdict import Outcome, Verdict

_MARK = {
    Outcome.PASS: "ok  ",
    Outcome.FAIL: "FAIL",
    Outcome.WARN: "warn",
    Outcome.SKIP: "skip",
    Outcome.ERROR: "ERR ",
}


def render_text(verdict: Verdict) -> str:
    """One block per image: decision, digest, deciding rule, then one line per check."""
    lines: list[str] = []
    for image in verdict.images:
        lines.append(f"{image.decision.value.upper():5} {image.reference}")
        if image.digest:
            lines.append(f"      digest: {image.digest}")
        rule = image.rule if image.rule is not None else "(no rule matched)"
        lines.append(f"      rule:   {rule} (mode {image.mode})")
        lines.append(f"      reason: {image.reason}")
        for check in image.checks:
            lines.append(f"      [{_MARK[check.outcome]}] {check.check}: {check.reason}")
        lines.extend(f"      note:   {note}" for note in image.notes)
        lines.append("")
    for error in verdict.errors:
        lines.append(f"could not decide: {error}")
    undecided = "" if verdict.decided else ", UNDECIDED"
    lines.append(
        f"decision: {verdict.decision.value} "
        f"({len(verdict.images)} image(s), policy {verdict.policy}{undecided})"
    )
    return "\n".join(lines) + "\n"
