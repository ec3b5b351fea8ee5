"""The CLI's commands that talk to a gate server: list verdicts, push evidence, record a check.

Each takes plain arguments (the CLI reads flags and ``GATE_TOKEN``), returns
an exit code on success, and raises ``GateError`` subclasses for the CLI to map
(``InputError`` for a refused request or a bad file, ``BackendError`` for an
unreachable server or registry).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TextIO

from gate.api_client import ApiClient
from gate.errors import InputError
from gate.files import read_input_file
from gate.oci.client import RegistryClient
from gate.oci.reference import ImageReference
from gate.policy.verdict import Verdict
from gate.report.json_report import verdict_to_dict
from gate.sbom.load import load_sbom
from gate.scanners.load import load_scan_report
from gate.vex.load import load_vex

__all__ = [
    "MAX_EVIDENCE_BYTES",
    "evidence_push",
    "exceptions_add",
    "exceptions_list",
    "exceptions_revoke",
    "record_check",
    "verdicts_list",
]

#: The server's default limit for one evidence document.
MAX_EVIDENCE_BYTES = 64 * 1024 * 1024

#: Filters ``gate verdicts list`` passes to the API.
VERDICT_FILTERS = (
    "image",
    "digest",
    "namespace",
    "decision",
    "source",
    "since",
    "until",
    "limit",
    "cursor",
)

_TABLE_COLUMNS = ("TIME", "DECISION", "IMAGE", "DIGEST", "NAMESPACE", "RULE")


def verdicts_list(
    server: str,
    token: str,
    filters: Mapping[str, str],
    output_format: Literal["table", "json"],
    out: TextIO,
    *,
    ca_cert: Path | None = None,
    timeout: float = 10.0,
    err: TextIO | None = None,
) -> int:
    """Print one page of verdicts matching ``filters`` as a table or as the API's JSON.

    ``filters`` holds the API's query parameters (see ``VERDICT_FILTERS``);
    the server validates them. The JSON form is the API's page object, so
    ``nextCursor`` is there; the table form says on ``err`` (default stderr)
    how to get the next page. Returns 0.
    """
    unknown = sorted(set(filters) - set(VERDICT_FILTERS))
    if unknown:
        raise InputError(
            f"unknown verdict filter {unknown[0]!r} (expected {', '.join(VERDICT_FILTERS)})"
        )
    if output_format not in ("table", "json"):
        raise InputError(f"unknown output format {output_format!r} (expected table or json)")
    with ApiClient(server, token, ca_cert=ca_cert, timeout=timeout) as client:
        page = client.list_verdicts(**dict(filters))
    if output_format == "json":
        out.write(json.dumps(page, indent=2, ensure_ascii=False) + "\n")
        return 0
    out.write(render_verdict_table(page["items"]))
    cursor = page.get("nextCursor")
    if cursor:
        (err if err is not None else sys.stderr).write(
            f"more verdicts: repeat with --cursor {cursor}\n"
        )
    return 0


def render_verdict_table(items: Sequence[Mapping[str, Any]]) -> str:
    """Verdicts as aligned columns: time, decision, image, short digest, namespace, rule."""
    rows = [_TABLE_COLUMNS]
    for item in items:
        rows.append(
            (
                _time_cell(item.get("time")),
                _cell(item.get("decision")) + ("" if item.get("decided", True) else "!"),
                _cell(item.get("reference")),
                _short_digest(item.get("digest")),
                _cell(item.get("namespace")),
                _cell(item.get("rule")),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(_TABLE_COLUMNS))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    if value is None or value == "":
        return "-"
    # Values come from a server; control characters must not reach the terminal.
    return "".join(c if c.isprintable() else "?" for c in str(value))


def _time_cell(value: object) -> str:
    if not isinstance(value, str):
        return "-"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return _cell(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")


def _short_digest(value: object) -> str:
    if not isinstance(value, str) or ":" not in value:
        return _cell(value)
    algorithm, _, hexpart = value.partition(":")
    return _cell(f"{algorithm}:{hexpart[:12]}")


def evidence_push(
    image: str,
    scans: Sequence[Path],
    sboms: Sequence[Path],
    *,
    vex: Sequence[Path] = (),
    server: str,
    token: str,
    registry: RegistryClient,
    ca_cert: Path | None = None,
    timeout: float = 10.0,
    out: TextIO | None = None,
) -> int:
    """Resolve ``image`` to its manifest digest and push each scan report, SBOM and VEX for it.

    Every file is read and validated before anything is sent, so a bad file
    leaves nothing half pushed. One line per pushed document goes to ``out``
    (default stdout). Returns 0.
    """
    if not scans and not sboms and not vex:
        raise InputError("nothing to push: give at least one --scan, --sbom or --vex file")
    documents: list[tuple[str, Path, bytes]] = []
    for path in scans:
        data = _read_evidence(path, "scan report")
        load_scan_report(data, str(path))
        documents.append(("scan", path, data))
    for path in sboms:
        data = _read_evidence(path, "SBOM")
        load_sbom(data, str(path))
        documents.append(("sbom", path, data))
    for path in vex:
        data = _read_evidence(path, "VEX document")
        load_vex(data, str(path))
        documents.append(("vex", path, data))
    reference = ImageReference.parse(image)
    digest = str(registry.resolve(reference).digest)
    stream = out if out is not None else sys.stdout
    with ApiClient(server, token, ca_cert=ca_cert, timeout=timeout) as client:
        for kind, path, data in documents:
            evidence_id = client.push_evidence(digest, kind, path.name, data)
            stream.write(
                f"pushed {kind} {path.name} for {reference.name}@{digest} (id {evidence_id})\n"
            )
    return 0


def _read_evidence(path: Path, what: str) -> bytes:
    return read_input_file(path, what, limit=MAX_EVIDENCE_BYTES)


def record_check(
    server: str,
    token: str,
    verdict: Verdict,
    policy_digest: str,
    *,
    ca_cert: Path | None = None,
    timeout: float = 10.0,
) -> list[str]:
    """Record the verdicts of one ``gate check`` run on the server (source ``ci``); their ids.

    ``policy_digest`` is ``sha256:<hex>`` of the policy file
    (``str(policy.digest)``). The server names the token as the verdicts' user.
    """
    report = verdict_to_dict(verdict)
    report["policyDigest"] = policy_digest
    with ApiClient(server, token, ca_cert=ca_cert, timeout=timeout) as client:
        return client.record_verdict(report)


_EXCEPTION_COLUMNS = ("ID", "FINDING/PURL", "OWNER", "TICKET", "EXPIRES", "STATE")


def exceptions_add(
    server: str,
    token: str,
    exception: Mapping[str, Any],
    out: TextIO,
    *,
    ca_cert: Path | None = None,
    timeout: float = 10.0,
) -> int:
    """Create an exception on ``server`` and print the stored record as JSON; returns 0.

    The server validates (a 400 becomes an ``InputError`` naming the field).
    """
    with ApiClient(server, token, ca_cert=ca_cert, timeout=timeout) as client:
        record = client.add_exception(exception)
    out.write(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    return 0


def exceptions_list(
    server: str,
    token: str,
    filters: Mapping[str, str],
    output_format: Literal["table", "json"],
    out: TextIO,
    *,
    ca_cert: Path | None = None,
    timeout: float = 10.0,
) -> int:
    """Print the exceptions matching ``filters`` (the API's) as a table or JSON; returns 0."""
    with ApiClient(server, token, ca_cert=ca_cert, timeout=timeout) as client:
        items = client.list_exceptions(**dict(filters))
    if output_format == "json":
        out.write(json.dumps({"items": items}, indent=2, ensure_ascii=False) + "\n")
        return 0
    rows = [_EXCEPTION_COLUMNS]
    for item in items:
        state = "revoked" if item.get("revoked") else "active"
        rows.append(
            (
                _cell(item.get("id")),
                _cell(" ".join(str(x) for x in (item.get("findingId"), item.get("purl")) if x)),
                _cell(item.get("owner")),
                _cell(item.get("ticket")),
                _time_cell(item.get("expires")),
                state,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(_EXCEPTION_COLUMNS))]
    out.write(
        "\n".join(
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
        )
        + "\n"
    )
    return 0


def exceptions_revoke(
    server: str,
    token: str,
    exception_id: str,
    out: TextIO,
    *,
    ca_cert: Path | None = None,
    timeout: float = 10.0,
) -> int:
    """Revoke an exception (kept, marked revoked) and print the record as JSON; returns 0."""
    with ApiClient(server, token, ca_cert=ca_cert, timeout=timeout) as client:
        record = client.revoke_exception(exception_id)
    out.write(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    return 0
