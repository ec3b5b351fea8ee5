"""The semantic pass for ``spec.evidenceSources``: servers asked for scan reports by digest.

Each entry names one server, ``{harbor: {url, credentialsFile, caFile,
timeout}}`` or ``{clair: {url, caFile, timeout}}``. Nothing is contacted when
the policy loads; the credentials file is read and checked then, so a
broken one is a policy error at its line rather than a failed admission.
Every problem is reported to the file's ``Diagnostics`` with its field.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from gate.errors import InputError
from gate.evidence_sources.spec import (
    BasicCredentials,
    EvidenceSourceSpec,
    SourceKind,
    load_credentials_file,
    source_url_problem,
)
from gate.policy.diagnostics import Diagnostics
from gate.policy.schema import describe_value
from gate.policy.yamlpos import FieldPath

#: The fields each kind of source accepts.
SOURCE_FIELDS: dict[SourceKind, frozenset[str]] = {
    SourceKind.HARBOR: frozenset({"url", "credentialsFile", "caFile", "timeout"}),
    SourceKind.CLAIR: frozenset({"url", "caFile", "timeout"}),
}
#: The longest per-read timeout a source may be given, in seconds (as for registries).
MAX_SOURCE_TIMEOUT = 3600.0
_KINDS = ", ".join(kind.value for kind in SourceKind)


def build_evidence_sources(
    raw: Any, path: FieldPath, diagnostics: Diagnostics, base_dir: Path
) -> tuple[EvidenceSourceSpec, ...]:
    """The sources listed at ``path`` (``spec.evidenceSources``); problems go to ``diagnostics``.

    Files (credentials, CA) are relative to ``base_dir``, the policy's
    directory. An entry with a problem is left out, and the problem reported,
    so the policy as a whole does not load.
    """
    if raw is None:
        return ()
    if not isinstance(raw, list):
        diagnostics.error(path, f"expected a list of sources, got {describe_value(raw)}")
        return ()
    specs: list[EvidenceSourceSpec] = []
    first: dict[tuple[SourceKind, str], int] = {}
    for index, entry in enumerate(raw):
        spec = _entry(entry, (*path, index), diagnostics, base_dir)
        if spec is None:
            continue
        key = (spec.kind, spec.url)
        if key in first:
            diagnostics.error(
                (*path, index, spec.kind.value, "url"),
                f"{spec.label} is listed twice (also evidenceSources[{first[key]}])",
            )
            continue
        first[key] = index
        specs.append(spec)
    return tuple(specs)


def _entry(
    raw: Any, path: FieldPath, diagnostics: Diagnostics, base_dir: Path
) -> EvidenceSourceSpec | None:
    if not isinstance(raw, dict) or len(raw) != 1:
        diagnostics.error(path, f"give exactly one of {_KINDS}")
        return None
    ((name, body),) = raw.items()
    try:
        kind = SourceKind(name)
    except ValueError:
        diagnostics.error(
            (*path, name), f'unknown source kind "{name}" (expected one of {_KINDS})', at_key=True
        )
        return None
    path = (*path, name)
    if not isinstance(body, dict):
        diagnostics.error(path, f"expected a mapping with url, got {describe_value(body)}")
        return None
    ok = True
    for key in body:
        if key not in SOURCE_FIELDS[kind]:
            known = ", ".join(sorted(SOURCE_FIELDS[kind]))
            diagnostics.error(
                (*path, key), f'unknown field "{key}" (expected one of {known})', at_key=True
            )
            ok = False
    url = body.get("url")
    if not isinstance(url, str):
        if "url" in body:
            diagnostics.error((*path, "url"), f"expected a URL, got {describe_value(url)}")
        else:
            # Where the schema reports it too, so the problem is listed once.
            diagnostics.error((*path, "url"), 'missing required field "url"', shown_path=path)
        ok = False
    else:
        problem = source_url_problem(url)
        if problem is not None:
            diagnostics.error((*path, "url"), problem)
            ok = False
    credentials_ok, credentials = _credentials(body, path, diagnostics, base_dir)
    ca_ok, ca_file = _ca_file(body, path, diagnostics, base_dir)
    ok = ok and credentials_ok and ca_ok
    timeout = body.get("timeout")
    if timeout is not None and (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not math.isfinite(timeout)
        or not 0 < timeout <= MAX_SOURCE_TIMEOUT
    ):
        diagnostics.error(
            (*path, "timeout"),
            f"must be a number of seconds above 0 and at most {MAX_SOURCE_TIMEOUT:g}",
        )
        ok = False
    if not ok or not isinstance(url, str):
        return None
    return EvidenceSourceSpec(
        kind=kind,
        url=url.rstrip("/"),
        credentials=credentials,
        ca_file=ca_file,
        timeout=float(timeout) if timeout is not None else None,
    )


def _file(
    body: dict[str, Any], key: str, path: FieldPath, diagnostics: Diagnostics, base_dir: Path
) -> tuple[bool, Path | None]:
    """(valid, the file ``body[key]`` names relative to ``base_dir``, or None when absent)."""
    value = body.get(key)
    if value is None and key not in body:
        return True, None
    if not isinstance(value, str) or not value.strip():
        diagnostics.error((*path, key), f"expected a file path, got {describe_value(value)}")
        return False, None
    file = Path(value)
    return True, file if file.is_absolute() else base_dir / file


def _credentials(
    body: dict[str, Any], path: FieldPath, diagnostics: Diagnostics, base_dir: Path
) -> tuple[bool, BasicCredentials | None]:
    """(valid, the credentials read from ``credentialsFile``, or None when there is none)."""
    ok, file = _file(body, "credentialsFile", path, diagnostics, base_dir)
    if file is None:
        return ok, None
    try:
        return True, load_credentials_file(file, str(body["credentialsFile"]))
    except InputError as exc:
        diagnostics.error((*path, "credentialsFile"), str(exc))
        return False, None


def _ca_file(
    body: dict[str, Any], path: FieldPath, diagnostics: Diagnostics, base_dir: Path
) -> tuple[bool, Path | None]:
    """(valid, the ``caFile``, or None when there is none); the file must exist."""
    ok, file = _file(body, "caFile", path, diagnostics, base_dir)
    if file is None:
        return ok, None
    if not file.is_file():
        what = "is not a file" if file.exists() else "not found"
        diagnostics.error((*path, "caFile"), f"CA file {body['caFile']} {what} (looked at {file})")
        return False, None
    return True, file
