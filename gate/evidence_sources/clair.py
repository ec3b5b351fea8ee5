"""Clair v4 as an evidence source: the matcher's vulnerability report, by manifest digest.

``GET {url}/matcher/api/v1/vulnerability_report/{digest}``: ``200`` with a
``VulnerabilityReport`` (through the Clair v4 adapter), ``404`` with Clair's
``not-found`` error when the manifest was never indexed (no report); any
other answer, a 404 from a proxy or a wrong base URL included, is a
``BackendError``.

Clair's matcher computes the report when it is asked, against its current
vulnerability data (Clair's documentation: the matcher "will always provide
the most up-to-date VulnerabilityReport when queried"). The report carries
no date of its own, so the time of the answer becomes its creation time, and
``metadata["created_at_assumed"]`` says so: ``maxScanAge`` then measures
from the moment the gate asked, not from when the image was indexed.
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

from gate.clock import Clock, system_clock
from gate.evidence_sources.source import SourceHttp, SourceOptions, error_code, read_report
from gate.evidence_sources.spec import EvidenceSourceSpec
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.scanners.clair import FORMAT_V4
from gate.scanners.finding import ScanReport

#: ``ScanReport.metadata`` note on where ``created_at`` came from.
CREATED_AT_ASSUMED = "matched by Clair when asked"


def clair_path(digest: Digest) -> str:
    """The matcher API path of the vulnerability report of manifest ``digest``."""
    return f"/matcher/api/v1/vulnerability_report/{digest}"


class ClairSource:
    """Reads vulnerability reports from one Clair v4 matcher (``ScanSource``)."""

    def __init__(
        self, spec: EvidenceSourceSpec, options: SourceOptions, *, clock: Clock = system_clock
    ) -> None:
        self._http = SourceHttp(spec, options)
        self._clock = clock

    @property
    def label(self) -> str:
        """``clair <url>``."""
        return self._http.label

    def fetch(self, image: ImageReference, digest: Digest) -> ScanReport | None:
        """Clair's report for manifest ``digest``, or None when it was never indexed."""
        del image  # Clair knows manifests by digest alone
        path = clair_path(digest)
        response = self._http.get(path, {"Accept": "application/json"})
        if response.status == 404:
            if error_code(response.body) == "not-found":
                return None
            raise self._http.failure(path, response, "not Clair's answer for an unindexed manifest")
        if response.status != 200:
            raise self._http.failure(path, response)
        report = read_report(
            response.body,
            label=self.label,
            expected_format=FORMAT_V4,
            title="Clair v4 vulnerability report",
            digest=digest,
        )
        if report.created_at is not None:
            return report
        metadata = {**report.metadata, "created_at_assumed": CREATED_AT_ASSUMED}
        return replace(report, created_at=self._clock(), metadata=MappingProxyType(metadata))

    def close(self) -> None:
        """Release pooled connections."""
        self._http.close()
