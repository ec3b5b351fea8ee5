"""The one interface of an evidence source, the HTTP it shares, and asking sources in order.

A source answers one question: "what scan report do you hold for this image
digest?" -- a ``ScanReport`` bound to that digest, or None when it holds
none (never scanned, never indexed, unknown artifact). Anything else (the
server is down, slow, refuses the credentials, answers garbage, or answers
with a report about another digest) is a ``BackendError``: the gate could
not find out, so the check fails closed.

Every request goes through ``gate.oci.transport.Transport``, the registry
client's HTTP stack: the same TLS trust (system store, ``certs.d``, the
source's ``caFile``), per-read timeout, whole-request deadline, size cap and
one-line errors.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

from gate.errors import BackendError, InputError
from gate.evidence_sources.spec import EvidenceSourceSpec, SourceKind
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.oci.transport import HttpResponse, Transport
from gate.scanners.finding import ScanReport
from gate.scanners.load import load_scan_report

if TYPE_CHECKING:
    from gate.clock import Clock
    from gate.oci.client import RegistryClient

#: The largest report a source may send; the cap ``gate check --scan`` puts on files.
MAX_REPORT_BYTES = 128 * 1024 * 1024
#: ``ScanReport.metadata`` key naming the source a report came from.
SOURCE_METADATA = "evidence_source"
#: ``ScanReport.metadata`` key holding the digest the source was asked about.
QUERIED_DIGEST_METADATA = "queried_digest"
_EMPTY_OBJECT = re.compile(rb"\s*\{\s*\}\s*")
_USER_AGENT_SUFFIX = " (evidence source)"


class ScanSource(Protocol):
    """A server that holds scan reports by image digest (Harbor, Clair v4)."""

    @property
    def label(self) -> str:
        """How verdicts and errors name the source: ``kind url``."""
        ...

    def fetch(self, image: ImageReference, digest: Digest) -> ScanReport | None:
        """The report the source holds for ``digest`` of ``image``, or None when it has none.

        The report is bound to ``digest``; ``BackendError`` when the source
        could not be asked or answered something unusable.
        """
        ...

    def close(self) -> None:
        """Release pooled connections."""
        ...


@dataclass(frozen=True)
class SourceOptions:
    """How sources are reached when the policy does not say: the registry client's settings."""

    cert_dirs: tuple[Path, ...] = ()
    timeout: float = 10.0
    deadline: float | None = None
    user_agent: str = "gate"
    max_report_bytes: int = MAX_REPORT_BYTES
    #: ``http_proxy``-style settings; None reads the process environment once.
    proxies: Mapping[str, str] | None = None

    @classmethod
    def from_registry(cls, registry: RegistryClient) -> SourceOptions:
        """The TLS directories, timeouts and user agent ``registry`` uses."""
        options = registry.options
        return cls(
            cert_dirs=registry.cert_dirs,
            timeout=options.timeout,
            deadline=options.deadline,
            user_agent=options.user_agent,
        )


class SourceHttp:
    """GET requests to one source, through a ``Transport`` of its own (TLS trust, timeouts)."""

    def __init__(self, spec: EvidenceSourceSpec, options: SourceOptions) -> None:
        self.spec = spec
        self.label = spec.label
        self._max_body = options.max_report_bytes
        timeout = options.timeout if spec.timeout is None else spec.timeout
        self._transport = Transport(
            cert_dirs=options.cert_dirs,
            insecure_registries=(),
            timeout=timeout,
            # A policy timeout longer than the caller's deadline must not stretch it.
            deadline=options.deadline,
            user_agent=options.user_agent + _USER_AGENT_SUFFIX,
            proxies=options.proxies,
            ca_files=() if spec.ca_file is None else (spec.ca_file,),
        )

    def get(self, path: str, headers: Mapping[str, str]) -> HttpResponse:
        """``GET url+path``; a transport failure is a ``BackendError`` naming the source."""
        try:
            return self._transport.request_url(
                "GET",
                self.spec.url + path,
                headers=headers,
                max_body=self._max_body,
                kind=self.spec.kind.value,
                label=self.spec.kind.value,
            )
        except InputError as exc:
            # A broken CA file or certs.d entry, found at the first contact.
            raise BackendError(f"{self.label}: {exc}") from exc
        except BackendError as exc:
            raise BackendError(f"{self.label}: {_transport_reason(exc, self.spec, path)}") from exc

    def failure(self, path: str, response: HttpResponse, hint: str = "") -> BackendError:
        """The error for an answer that is neither a report nor "none": status and body."""
        detail = " ".join(response.body[:300].decode("utf-8", "replace").split())
        text = f"{self.label}: GET {path}: answered {response.status} {response.reason}".rstrip()
        if hint:
            text += f" ({hint})"
        if detail:
            text += f": {detail}"
        return BackendError(text)

    def close(self) -> None:
        """Release pooled connections."""
        self._transport.close()


def _transport_reason(exc: BackendError, spec: EvidenceSourceSpec, path: str) -> str:
    """The transport's message without its ``kind host: GET path: `` prefix, path put back.

    The prefix names only the host; the source's label (with its URL) leads
    the message instead, followed by the request and the cause.
    """
    text = str(exc)
    base = spec.url.split("://", 1)[1].split("/", 1)[0]
    target = (spec.url.split("://", 1)[1] + path)[len(base) :]
    prefix = f"{spec.kind.value} {base}: GET {target}: "
    if text.startswith(prefix):
        return f"GET {path}: {text[len(prefix) :]}"
    return text


def error_code(body: bytes) -> str | None:
    """The ``code`` of a JSON error: Clair's ``{"code"}``, Harbor's ``{"errors": [{"code"}]}``.

    A 404 only means "no report" when the server itself says so; a proxy or a
    wrong base URL also answers 404, and that must not pass as "not scanned".
    """
    if len(body) > 64 * 1024:
        return None
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(document, dict):
        return None
    errors = document.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        document = errors[0]
    code = document.get("code")
    return code if isinstance(code, str) else None


def is_empty_object(body: bytes) -> bool:
    """True for a JSON ``{}`` (Harbor's answer for an artifact without a report)."""
    return len(body) < 64 and _EMPTY_OBJECT.fullmatch(body) is not None


def read_report(
    body: bytes,
    *,
    label: str,
    expected_format: str,
    title: str,
    digest: Digest,
) -> ScanReport:
    """Parse a source's answer with the scanner adapters and bind it to ``digest``.

    The body goes through ``load_scan_report``, the same path as ``gate
    check --scan``; it must be of ``expected_format``, and the digests the
    report names itself, if any, must include ``digest`` (a report about
    another artifact is the server's mistake, never evidence for this one).
    """
    try:
        report = load_scan_report(body, label)
    except InputError as exc:
        where = f"{exc.field}: " if exc.field else ""
        raise BackendError(f"{label}: answer is not a usable {title}: {where}{exc.reason}") from exc
    if report.format != expected_format:
        raise BackendError(f"{label}: answered with a {report.format} document, not a {title}")
    named = report.artifact_digests
    if named and digest not in named:
        raise BackendError(
            f"{label}: asked about {digest}, answered with a report about "
            f"{', '.join(sorted(map(str, named)))}; not used"
        )
    metadata = {**report.metadata, SOURCE_METADATA: label, QUERIED_DIGEST_METADATA: str(digest)}
    return replace(
        report,
        source=label,
        artifact_digests=named | {digest},
        metadata=MappingProxyType(metadata),
    )


@dataclass(frozen=True)
class SourceResult:
    """What asking the sources gave: at most one report, and a sentence per answer."""

    scans: tuple[ScanReport, ...]
    notes: tuple[str, ...]


def describe_report(report: ScanReport) -> str:
    """``5 findings (clair 2.x via Harbor, 2020-01-01T00:00:00+00:00)``: for verdict notes."""
    count = len(report.findings)
    facts: list[str] = []
    scanner = " ".join(p for p in (report.scanner, report.scanner_version) if p)
    if report.format == "harbor":
        # Harbor runs a pluggable scanner: name both.
        scanner = f"{scanner or 'scanner'} via Harbor"
    if scanner:
        facts.append(scanner)
    if report.created_at is not None:
        facts.append(report.created_at.isoformat())
    assumed = report.metadata.get("created_at_assumed")
    if assumed:
        facts.append(assumed)
    tail = f" ({', '.join(facts)})" if facts else ""
    return f"{count} {'finding' if count == 1 else 'findings'}{tail}"


def query_sources(
    sources: Sequence[ScanSource], image: ImageReference, digests: Sequence[Digest]
) -> SourceResult:
    """Ask ``sources`` in order, each about every digest, until one holds a report.

    The first report found wins and the remaining sources are not asked
    (the policy lists them in order of preference). ``BackendError`` from any
    source asked propagates: an unanswered question must not pass as "no
    report" (fail closed).
    """
    notes: list[str] = []
    for source in sources:
        for digest in digests:
            report = source.fetch(image, digest)
            if report is not None:
                notes.append(f"scan report from {source.label}: {describe_report(report)}")
                return SourceResult((report,), tuple(notes))
            notes.append(f"{source.label}: no scan report for {digest}")
    return SourceResult((), tuple(notes))


class MemoScanSource:
    """A source whose answers are remembered for its lifetime (one ``gate check`` run).

    Errors are not remembered: they end the run's check of that image anyway.
    """

    def __init__(self, inner: ScanSource) -> None:
        self._inner = inner
        self._answers: dict[tuple[str, str], ScanReport | None] = {}
        self._lock = threading.Lock()

    @property
    def label(self) -> str:
        """The wrapped source's label."""
        return self._inner.label

    def fetch(self, image: ImageReference, digest: Digest) -> ScanReport | None:
        """The wrapped source's answer, asked once per repository and digest."""
        key = (image.name, str(digest))
        with self._lock:
            if key in self._answers:
                return self._answers[key]
        answer = self._inner.fetch(image, digest)
        with self._lock:
            self._answers[key] = answer
        return answer

    def close(self) -> None:
        """Close the wrapped source."""
        self._inner.close()


def build_source(spec: EvidenceSourceSpec, options: SourceOptions, clock: Clock) -> ScanSource:
    """The client for one policy entry."""
    # Imported here: both modules import this one for the shared pieces.
    from gate.evidence_sources.clair import ClairSource  # noqa: PLC0415
    from gate.evidence_sources.harbor import HarborSource  # noqa: PLC0415

    if spec.kind is SourceKind.HARBOR:
        return HarborSource(spec, options)
    return ClairSource(spec, options, clock=clock)


def build_sources(
    specs: Sequence[EvidenceSourceSpec], options: SourceOptions, clock: Clock
) -> tuple[ScanSource, ...]:
    """One client per policy entry, in policy order."""
    return tuple(build_source(spec, options, clock) for spec in specs)


def policy_sources(
    specs: Sequence[EvidenceSourceSpec], registry: RegistryClient, clock: Clock
) -> tuple[ScanSource, ...]:
    """The policy's sources for one run: the registry's TLS and timeouts, answers remembered."""
    options = SourceOptions.from_registry(registry)
    return tuple(MemoScanSource(source) for source in build_sources(specs, options, clock))
