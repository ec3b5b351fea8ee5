"""Risk data files a policy names: a CISA KEV catalog and FIRST's EPSS scores.

Both are read once, when the policy loads, and checked line by line: a file
that cannot be read as what it claims to be is an ``InputError`` naming the
file and the place, never a silently empty set (which would turn a ``kev:
deny`` rule off).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path

from gate.errors import InputError

#: Catalogs and score files are a few MB; far more is not one of them.
MAX_RISK_FILE_BYTES = 64 * 1024 * 1024
_CVE_RE = re.compile(r"CVE-\d{4}-\d{4,}", re.IGNORECASE)


def _read(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_RISK_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", source=str(path)) from None
    if len(data) > MAX_RISK_FILE_BYTES:
        raise InputError(f"larger than {MAX_RISK_FILE_BYTES} bytes", source=str(path))
    return data


def _text(data: bytes, path: Path) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 (byte {exc.start})", source=str(path)) from None


def load_kev_catalog(path: Path) -> frozenset[str]:
    """The CVE ids (case-folded) of a KEV catalog: CISA's JSON, or CSV with a ``cveID`` column."""
    text = _text(_read(path), path)
    stripped = text.lstrip()
    ids: set[str] = set()
    if stripped.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise InputError(f"not JSON ({exc})", source=str(path)) from None
        entries = document.get("vulnerabilities") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise InputError(
                "vulnerabilities: missing or not a list (not a CISA KEV catalog)", source=str(path)
            )
        for index, entry in enumerate(entries):
            cve = entry.get("cveID") if isinstance(entry, dict) else None
            if not isinstance(cve, str) or not _CVE_RE.fullmatch(cve.strip()):
                raise InputError(
                    f"vulnerabilities[{index}].cveID: not a CVE id ({cve!r})", source=str(path)
                )
            ids.add(cve.strip().casefold())
        return frozenset(ids)
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or "cveID" not in reader.fieldnames:
        raise InputError("neither CISA's KEV JSON nor a CSV with a cveID column", source=str(path))
    for line, row in enumerate(reader, start=2):
        cve = (row.get("cveID") or "").strip()
        if not _CVE_RE.fullmatch(cve):
            raise InputError(f"line {line}: cveID {cve!r} is not a CVE id", source=str(path))
        ids.add(cve.casefold())
    return frozenset(ids)


def load_epss_scores(path: Path) -> dict[str, float]:
    """CVE id (case-folded) -> EPSS probability, from FIRST's CSV (``#`` comment lines first)."""
    text = _text(_read(path), path)
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    reader = csv.DictReader(lines)
    if reader.fieldnames is None or not {"cve", "epss"} <= set(reader.fieldnames):
        raise InputError("not an EPSS CSV: expected the columns cve,epss", source=str(path))
    scores: dict[str, float] = {}
    for number, row in enumerate(reader, start=1):
        cve = (row.get("cve") or "").strip()
        raw = (row.get("epss") or "").strip()
        where = f"row {number} ({cve or 'no cve'})"
        if not _CVE_RE.fullmatch(cve):
            raise InputError(f"{where}: {cve!r} is not a CVE id", source=str(path))
        try:
            score = float(raw)
        except ValueError:
            raise InputError(f"{where}: epss {raw!r} is not a number", source=str(path)) from None
        if not math.isfinite(score) or not 0 <= score <= 1:
            raise InputError(f"{where}: epss {raw} is not a probability", source=str(path))
        scores[cve.casefold()] = score
    return scores
