"""Renderers of a ``Verdict``: text for people, JSON, SARIF and JUnit for machines."""

from __future__ import annotations

import enum
from collections.abc import Callable

from gate.policy.verdict import Verdict
from gate.report.json_report import render_json
from gate.report.junit import render_junit
from gate.report.sarif import render_sarif
from gate.report.text import render_text


class ReportFormat(enum.StrEnum):
    """The ``--format`` choices."""

    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"
    JUNIT = "junit"


RENDERERS: dict[ReportFormat, Callable[[Verdict], str]] = {
    ReportFormat.TEXT: render_text,
    ReportFormat.JSON: render_json,
    ReportFormat.SARIF: render_sarif,
    ReportFormat.JUNIT: render_junit,
}


def render(verdict: Verdict, report_format: ReportFormat) -> str:
    """Render ``verdict`` in ``report_format``."""
    return RENDERERS[report_format](verdict)
