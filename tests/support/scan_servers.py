"""HTTP doubles of the Harbor and Clair v4 report APIs, serving recorded real reports.

Neither Harbor nor Clair can run here, so these stand in for the one
endpoint each that the gate's client reads, answering the way the real
servers do (status codes, content types, error bodies), on 127.0.0.1 only:

* Harbor v2.0 API, ``GET /api/v2.0/projects/{project}/repositories/{repository}
  /artifacts/{reference}/additions/vulnerabilities`` (goharbor/harbor
  ``GetVulnerabilitiesAddition``): ``200`` with the recorded body, which Harbor
  keys by report MIME type; ``200 {}`` for an artifact that exists but has no
  report (Harbor answers so, it does not 404); ``404`` NOT_FOUND for an
  unknown artifact; ``401`` UNAUTHORIZED when credentials are required and
  missing or wrong. Harbor's management API sends **no** ``WWW-Authenticate``
  header with that 401 (only its registry API does; goharbor/harbor#10967),
  so a client must send Basic credentials up front rather than wait for a
  challenge. Errors are ``{"errors":[{"code":..., "message":...}]}`` with
  ``application/json; charset=utf-8``. A repository name containing ``/`` is
  encoded twice in the path (``a%252Fb``), as the Harbor API requires. The
  recorded body is served whatever ``X-Accept-Vulnerabilities`` asks for: Harbor
  picks the report by that header, and a recording already reflects one pick.
* Clair v4 matcher, ``GET /matcher/api/v1/vulnerability_report/{digest}``
  (quay/clair ``httptransport``): ``200`` ``application/json`` with the
  recorded body; ``404`` ``{"code":"not-found",...}`` when the manifest was
  never indexed; ``400`` for a path that is not a digest; ``405`` for
  anything but GET.

Each ``start_*`` returns the base URL and a function that stops the server.
The requests received are recorded on the underlying ``StubServer`` and can
be read through :func:`seen_requests`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Mapping
from urllib.parse import unquote, urlsplit

from gate.errors import InputError
from gate.oci.digest import Digest
from tests.integration.registry_server import SeenRequest, StubResponse, StubServer

#: A base URL and the function that stops the double.
RunningDouble = tuple[str, Callable[[], None]]

HARBOR_PREFIX = "/api/v2.0/projects/"
HARBOR_SUFFIX = "/additions/vulnerabilities"
CLAIR_PREFIX = "/matcher/api/v1/vulnerability_report/"

_HARBOR_ERROR_TYPE = "application/json; charset=utf-8"
_servers: dict[str, StubServer] = {}


def seen_requests(url: str) -> list[SeenRequest]:
    """The requests the double at ``url`` has received so far (method, raw path, headers)."""
    return _servers[url].seen


def start_harbor_double(
    reports: Mapping[str, bytes],
    credentials: tuple[str, str] | None,
    *,
    unscanned: Iterable[str] = (),
) -> RunningDouble:
    """Serve ``reports`` (artifact digest -> recorded response body) as Harbor does.

    ``credentials`` (user, password) are required on every request; ``None``
    makes the project public (anonymous reads allowed). ``unscanned`` names
    digests of artifacts that exist but have no report: Harbor answers them
    ``200 {}``. Any other reference is an unknown artifact (404).
    """
    known_empty = frozenset(unscanned)
    expected = None
    if credentials is not None:
        token = base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()
        expected = f"Basic {token}"

    def handle(method: str, raw_path: str, headers: dict[str, str]) -> StubResponse:
        path = urlsplit(raw_path).path
        parts = _harbor_parts(path)
        if parts is None:
            return _harbor_error(404, "NOT_FOUND", f"no API route for {path}")
        project, repository, reference = parts
        if method not in ("GET", "HEAD"):
            return _harbor_error(405, "METHOD_NOT_ALLOWED", f"method {method} is not allowed")
        if expected is not None and _header(headers, "Authorization") != expected:
            return _harbor_error(401, "UNAUTHORIZED", "unauthorized")
        body = reports.get(reference)
        if body is None and reference in known_empty:
            body = b"{}"
        if body is None:
            message = f"artifact {project}/{repository}@{reference} not found"
            return _harbor_error(404, "NOT_FOUND", message)
        return StubResponse(200, {"Content-Type": "application/json"}, body)

    return _start(handle)


def start_clair_double(reports: Mapping[str, bytes]) -> RunningDouble:
    """Serve ``reports`` (manifest digest -> recorded VulnerabilityReport body) as Clair does."""

    def handle(method: str, raw_path: str, headers: dict[str, str]) -> StubResponse:
        path = urlsplit(raw_path).path
        if not path.startswith(CLAIR_PREFIX):
            # Go's ServeMux answer for a path no handler is registered for.
            return StubResponse(
                404, {"Content-Type": "text/plain; charset=utf-8"}, b"404 page not found\n"
            )
        if method != "GET":
            return _clair_error(405, "method-not-allowed", "endpoint only allows GET")
        # Clair takes the last path element as the manifest digest.
        text = unquote(path.rstrip("/").rsplit("/", 1)[-1])
        try:
            digest = str(Digest.parse(text))
        except InputError:
            return _clair_error(400, "bad-request", f"malformed path: unable to parse {text!r}")
        body = reports.get(digest)
        if body is None:
            message = f'index report for manifest "{digest}" not found'
            return _clair_error(404, "not-found", message)
        return StubResponse(200, {"Content-Type": "application/json"}, body)

    return _start(handle)


def _start(handle: Callable[[str, str, dict[str, str]], StubResponse]) -> RunningDouble:
    server = StubServer(handle)
    url = f"http://{server.host}"
    _servers[url] = server

    def stop() -> None:
        _servers.pop(url, None)
        server.stop()

    return url, stop


def _harbor_parts(path: str) -> tuple[str, str, str] | None:
    """(project, repository, reference) of a vulnerabilities-addition path, decoded."""
    if not (path.startswith(HARBOR_PREFIX) and path.endswith(HARBOR_SUFFIX)):
        return None
    middle = path[len(HARBOR_PREFIX) : -len(HARBOR_SUFFIX)].split("/")
    if len(middle) != 5 or middle[1] != "repositories" or middle[3] != "artifacts":
        return None
    project, repository, reference = middle[0], middle[2], middle[4]
    # The router decodes the path once; Harbor decodes the repository name a second time.
    return unquote(project), unquote(unquote(repository)), unquote(reference)


def _header(headers: dict[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def _harbor_error(status: int, code: str, message: str) -> StubResponse:
    body = json.dumps({"errors": [{"code": code, "message": message}]}) + "\n"
    return StubResponse(status, {"Content-Type": _HARBOR_ERROR_TYPE}, body.encode())


def _clair_error(status: int, code: str, message: str) -> StubResponse:
    body = json.dumps({"code": code, "message": message}, separators=(",", ":"))
    return StubResponse(status, {"Content-Type": "application/json"}, body.encode())
