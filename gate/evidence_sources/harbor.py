"""Harbor as an evidence source: the artifact's vulnerabilities addition, by digest.

``GET {url}/api/v2.0/projects/{project}/repositories/{repository}/artifacts/
{digest}/additions/vulnerabilities``, where the project is the first path
component of the image's repository and the repository name is the rest
(``team/service`` under project ``apps`` for ``harbor.example.com/apps/
team/service``), encoded twice when it contains ``/`` (``team%252Fservice``),
as Harbor's API requires. The image's registry host is not used: Harbor is
asked by project, repository and digest wherever the image was pulled from.

``X-Accept-Vulnerabilities`` names both report MIME types the adapter reads.
Harbor's management API sends no authentication challenge (its 401 carries no
``WWW-Authenticate``), so Basic credentials, when the policy gives a
credentials file, go with every request.

Answers: ``200`` with a report -> the report (through the Harbor adapter);
``200 {}`` -> the artifact exists but has no report (not scanned yet): none;
``404`` with Harbor's ``NOT_FOUND`` error -> unknown artifact: none (a 404
without it, from a proxy or a wrong base URL, is an error); ``401``/``403`` and anything else -> a
``BackendError`` naming the source and the status.
"""

from __future__ import annotations

import base64
from urllib.parse import quote

from gate.evidence_sources.source import (
    SourceHttp,
    SourceOptions,
    error_code,
    is_empty_object,
    read_report,
)
from gate.evidence_sources.spec import EvidenceSourceSpec
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.scanners.finding import ScanReport
from gate.scanners.harbor import FORMAT, HARBOR_REPORT_MIME_TYPES

#: The ``X-Accept-Vulnerabilities`` header: every report type the Harbor adapter reads.
ACCEPT_VULNERABILITIES = ", ".join(HARBOR_REPORT_MIME_TYPES)


def harbor_path(image: ImageReference, digest: Digest) -> str | None:
    """The API path of the vulnerabilities addition of ``image`` at ``digest``.

    None for a repository with one path component: Harbor keeps every
    repository inside a project, so such an image cannot be in Harbor.
    """
    project, _, repository = image.repository.partition("/")
    if not repository:
        return None
    # Harbor's router decodes the path once and the handler decodes the
    # repository name once more, so "/" inside it must be encoded twice.
    encoded = quote(quote(repository, safe=""), safe="")
    return (
        f"/api/v2.0/projects/{quote(project, safe='')}/repositories/{encoded}"
        f"/artifacts/{digest}/additions/vulnerabilities"
    )


def basic_authorization(username: str, password: str) -> str:
    """The ``Authorization`` header value for HTTP Basic authentication (UTF-8)."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


class HarborSource:
    """Reads scan reports from one Harbor instance (``ScanSource``)."""

    def __init__(self, spec: EvidenceSourceSpec, options: SourceOptions) -> None:
        self._http = SourceHttp(spec, options)
        self._headers = {
            "Accept": "application/json",
            "X-Accept-Vulnerabilities": ACCEPT_VULNERABILITIES,
        }
        if spec.credentials is not None:
            self._headers["Authorization"] = basic_authorization(
                spec.credentials.username, spec.credentials.password
            )

    @property
    def label(self) -> str:
        """``harbor <url>``."""
        return self._http.label

    def fetch(self, image: ImageReference, digest: Digest) -> ScanReport | None:
        """Harbor's report for ``digest`` in ``image``'s project and repository, or None."""
        path = harbor_path(image, digest)
        if path is None:
            return None
        response = self._http.get(path, self._headers)
        if response.status == 404:
            if error_code(response.body) == "NOT_FOUND":
                return None
            raise self._http.failure(path, response, "not Harbor's answer for an unknown artifact")
        if response.status in (401, 403):
            raise self._http.failure(path, response, self._auth_hint(response.status))
        if response.status != 200:
            raise self._http.failure(path, response)
        if is_empty_object(response.body):
            return None
        return read_report(
            response.body,
            label=self.label,
            expected_format=FORMAT,
            title="Harbor vulnerability report",
            digest=digest,
        )

    def _auth_hint(self, status: int) -> str:
        credentials = self._http.spec.credentials
        if credentials is None:
            return "no credentialsFile is set for this source"
        if status == 401:
            return f"the credentials in {credentials.source} were not accepted"
        return f"the account in {credentials.source} may not read this project"

    def close(self) -> None:
        """Release pooled connections."""
        self._http.close()
