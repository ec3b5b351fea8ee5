"""The registry client: resolve references to digests, read and write manifests and blobs.

Works with any OCI distribution registry (Docker distribution, Harbor, Nexus,
Artifactory, Docker Hub). It implements ``gate.oci.source.ManifestSource`` and
``ArtifactSink``, the only way the rest of the gate touches a registry.

Trust nothing the registry says about content: every digest is computed
locally over the exact bytes, a ``Docker-Content-Digest`` header that
disagrees is an error, and every fetch has a timeout and a size cap. One GET
per manifest (never HEAD then GET), so a signed image costs three registry
requests once authenticated: the image manifest, the signature manifest and
the signature payload.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from gate import __version__
from gate.errors import BackendError, InputError, VerificationError
from gate.oci.allowlist import HostPolicy
from gate.oci.auth import Authenticator
from gate.oci.authfile import AuthFile, find_authfile
from gate.oci.digest import Digest
from gate.oci.manifest import (
    IMAGE_MANIFEST_TYPES,
    MANIFEST_ACCEPT,
    MANIFEST_TYPES,
    OCI_INDEX,
    ImageIndex,
    Schema1ManifestError,
    is_index,
    load_manifest_json,
    normalise_media_type,
    parse_manifest,
    select_platform,
)
from gate.oci.platform import Platform
from gate.oci.reference import TAG_RE, ImageReference, normalise_registry
from gate.oci.source import FetchedManifest, ResolvedImage
from gate.oci.transport import (
    DEFAULT_CERT_DIRS,
    HttpResponse,
    RequestRecord,
    Transport,
    error_detail,
    proxies_from_environment,
)

__all__ = ["Platform", "RegistryClient", "RegistryOptions", "RequestRecord"]

#: Upper bounds that keep timers and socket timeouts representable; more makes no sense.
_MAX_TIMEOUT = 3600.0
_MAX_DEADLINE = 24 * 3600.0


@dataclass(frozen=True)
class RegistryOptions:
    """How to reach registries: credentials, TLS trust, plain-HTTP hosts, limits.

    ``authfile`` None means the docker/podman default lookup (see
    ``gate.oci.authfile``); ``cert_dir`` None means ``/etc/containers/certs.d``
    and ``/etc/docker/certs.d``. ``insecure_registries`` lists ``host[:port]``
    that may be reached over plain HTTP when HTTPS fails (loopback hosts
    always may). ``timeout`` bounds the connect and each read of a request;
    ``deadline`` bounds a whole request, from connect to the last body byte,
    redirects and the HTTPS-then-HTTP fallback included, so a server that
    drips its answer cannot hold the gate for long. ``deadline`` None means
    three times ``timeout`` (``transport.DEADLINE_FACTOR``): 30 s by default.
    """

    authfile: Path | None = None
    cert_dir: Path | None = None
    insecure_registries: frozenset[str] = field(default_factory=frozenset)
    timeout: float = 10.0
    deadline: float | None = None
    max_manifest_bytes: int = 4 * 1024 * 1024
    user_agent: str = f"gate/{__version__}"
    #: Registries that may be contacted (``gate.oci.allowlist``); None: any registry.
    #: Link-local and metadata addresses are refused either way.
    allowed_registries: tuple[str, ...] | None = None


class RegistryClient:
    """Reads and writes manifests and blobs of OCI registries, verifying every digest.

    One client serves many images and registries: TLS contexts, the scheme
    chosen per host and bearer tokens are kept for its lifetime. The auth file
    and the proxy settings are read once, when the client is made, from
    ``environ`` (default ``os.environ``) and ``home`` (default the user's);
    ``clock`` (monotonic seconds) times token expiry. A malformed auth file is
    an ``InputError`` here; a broken ``certs.d`` file is one when its host is
    first contacted.
    """

    def __init__(
        self,
        options: RegistryOptions | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        home: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._options = options = options or RegistryOptions()
        if not _positive_seconds(options.timeout):
            raise InputError("--registry-timeout must be a positive number of seconds")
        if options.timeout > _MAX_TIMEOUT:
            raise InputError(f"--registry-timeout must be at most {_MAX_TIMEOUT:g} seconds")
        deadline = options.deadline
        if deadline is not None and (not _positive_seconds(deadline) or deadline > _MAX_DEADLINE):
            raise InputError(
                f"registry deadline must be a positive number of seconds, at most {_MAX_DEADLINE:g}"
            )
        if options.max_manifest_bytes <= 0:
            raise InputError("registry manifest size cap must be positive")
        if options.cert_dir is not None:
            if not options.cert_dir.is_dir():
                raise InputError("certificate directory not found", source=str(options.cert_dir))
            cert_dirs: tuple[Path, ...] = (options.cert_dir,)
        else:
            cert_dirs = DEFAULT_CERT_DIRS
        authfile_path = find_authfile(options.authfile, environ, home)
        self._authfile = AuthFile.load(authfile_path) if authfile_path is not None else None
        self._cert_dirs = cert_dirs
        self._transport = Transport(
            cert_dirs=cert_dirs,
            insecure_registries=options.insecure_registries,
            timeout=options.timeout,
            deadline=deadline,
            user_agent=options.user_agent,
            proxies=proxies_from_environment(os.environ if environ is None else environ),
            hosts=HostPolicy(options.allowed_registries),
        )
        self._auth = Authenticator(self._transport, self._authfile, clock=clock)

    @property
    def options(self) -> RegistryOptions:
        """The options this client was made with."""
        return self._options

    @property
    def cert_dirs(self) -> tuple[Path, ...]:
        """The certs.d directories TLS trust is read from."""
        return self._cert_dirs

    @property
    def authfile(self) -> Path | None:
        """The auth file credentials are read from, if one was found."""
        return None if self._authfile is None else self._authfile.path

    @property
    def requests_made(self) -> tuple[RequestRecord, ...]:
        """Every HTTP exchange so far (registry and token server), in order."""
        return self._transport.records

    def close(self) -> None:
        """Release pooled connections."""
        self._transport.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- ManifestSource -------------------------------------------------------------------

    def resolve(self, reference: ImageReference, platform: Platform | None = None) -> ResolvedImage:
        """Pin ``reference`` to the digest of the manifest the registry serves for it.

        One GET; a reference with a digest is fetched by digest and checked.
        For an index with ``platform`` given, the matching manifest is fetched
        by digest as well and returned as ``platform_digest``. A single image
        manifest is returned as is (its platform is not checked: that would
        cost a config fetch).
        """
        target = str(reference.digest) if reference.digest is not None else reference.tag
        if target is None:
            raise InputError(f"{reference}: neither tag nor digest")
        fetched = self._get_manifest(reference, target, reference.digest)
        if fetched is None:
            what = "manifest" if reference.digest is not None else "tag"
            raise InputError(
                f"manifest unknown: registry {reference.api_host} has no {what} {target} "
                f"in repository {reference.repository}",
                source=str(reference),
            )
        platform_digest: Digest | None = None
        if platform is not None and is_index(fetched.media_type):
            platform_digest = self._platform_manifest(reference, fetched, platform)
        return ResolvedImage(
            reference=reference.with_digest(fetched.digest),
            digest=fetched.digest,
            media_type=fetched.media_type,
            manifest=fetched.data,
            platform_digest=platform_digest,
        )

    def head_digest(self, reference: ImageReference) -> Digest | None:
        """The digest the registry serves for ``reference``'s tag, by one HEAD of the manifest.

        A cheap way to see whether a tag moved (the admission webhook asks
        this on every request and skips the GET for a digest it has already
        verified). The answer is the registry's ``Docker-Content-Digest``
        header, not a hash the gate computed: callers verify content fetched
        by that digest. None when the registry sends no such header (the
        caller then resolves with a GET). ``InputError`` when the tag does
        not exist.
        """
        if reference.tag is None:
            raise InputError(f"{reference}: no tag to look up")
        target = f"/v2/{reference.repository}/manifests/{reference.tag}"
        response = self._exchange(
            "HEAD", reference, target, actions="pull", headers={"Accept": MANIFEST_ACCEPT}
        )
        if response.status == 404:
            raise InputError(
                f"manifest unknown: registry {reference.api_host} has no tag {reference.tag} "
                f"in repository {reference.repository}",
                source=str(reference),
            )
        if response.status != 200:
            raise self._status_error("HEAD", reference, target, response)
        header = (response.headers.get("Docker-Content-Digest") or "").strip()
        if not header:
            return None
        try:
            return Digest.parse(header)
        except InputError as exc:
            where = self._where("HEAD", reference, target)
            raise BackendError(f"{where}: invalid Docker-Content-Digest {header!r}") from exc

    def fetch_manifest(self, repository: ImageReference, reference: str) -> FetchedManifest | None:
        """The manifest at tag or digest ``reference`` in ``repository``; None when absent (404).

        When ``reference`` is a digest the bytes are checked against it
        (``VerificationError`` otherwise); a tag's bytes are hashed with sha256.
        """
        expected: Digest | None = None
        if ":" in reference:
            expected = Digest.parse(reference, source=f"{repository.name} manifest reference")
        elif not TAG_RE.fullmatch(reference):
            raise InputError(f"invalid tag {reference!r}", source=repository.name)
        return self._get_manifest(repository, reference, expected)

    def fetch_blob(self, repository: ImageReference, digest: Digest, max_size: int) -> bytes:
        """The blob ``digest`` of ``repository``: at most ``max_size`` bytes, checked against it.

        Redirects to blob storage are followed without credentials.
        """
        target = f"/v2/{repository.repository}/blobs/{digest}"
        response = self._exchange("GET", repository, target, actions="pull", max_body=max_size)
        if response.status == 404:
            raise BackendError(
                f"{self._where('GET', repository, target)}: 404: blob unknown "
                f"(the registry lists a blob it does not have)"
            )
        if response.status != 200:
            raise self._status_error("GET", repository, target, response)
        digest.check(response.body, what=f"blob {repository.name}@{digest}")
        return response.body

    def fetch_referrers(
        self, repository: ImageReference, digest: Digest, artifact_type: str | None = None
    ) -> FetchedManifest | None:
        """The OCI 1.1 referrers index of ``digest``; None when the registry has no referrers API.

        The answer is generated by the registry, so its digest means nothing;
        callers must check every descriptor (the server-side filter included).
        """
        target = f"/v2/{repository.repository}/referrers/{digest}"
        if artifact_type:
            target += "?" + urlencode({"artifactType": artifact_type})
        fetched = self._get_document(repository, target, OCI_INDEX)
        if fetched is None:
            return None
        response, media_type = fetched
        self._check_manifest_json(repository, target, response.body, media_type)
        if media_type != OCI_INDEX:
            raise BackendError(
                f"{self._where('GET', repository, target)}: referrers answer is {media_type!r}, "
                f"not an OCI index"
            )
        return FetchedManifest(Digest.of(response.body), media_type, response.body)

    # -- ArtifactSink ---------------------------------------------------------------------

    def push_blob(self, repository: ImageReference, data: bytes) -> Digest:
        """Upload ``data`` as a blob unless the registry has it (HEAD first); return its digest.

        Monolithic upload: POST to open an upload session, PUT with ``?digest=``.
        """
        digest = Digest.of(data)
        blob_path = f"/v2/{repository.repository}/blobs/{digest}"
        head = self._exchange("HEAD", repository, blob_path, actions="pull,push")
        if head.status == 200:
            return digest
        if head.status != 404:
            raise self._status_error("HEAD", repository, blob_path, head)
        uploads = f"/v2/{repository.repository}/blobs/uploads/"
        opened = self._exchange("POST", repository, uploads, actions="pull,push", body=b"")
        if opened.status != 202:
            raise self._status_error("POST", repository, uploads, opened)
        location = opened.headers.get("Location")
        if not location:
            raise BackendError(
                f"{self._where('POST', repository, uploads)}: upload opened without a Location"
            )
        upload_target = self._same_host_target(repository, uploads, location)
        separator = "&" if "?" in upload_target else "?"
        put_target = f"{upload_target}{separator}{urlencode({'digest': str(digest)})}"
        stored = self._exchange(
            "PUT",
            repository,
            put_target,
            actions="pull,push",
            headers={"Content-Type": "application/octet-stream"},
            body=data,
        )
        if stored.status != 201:
            raise self._status_error("PUT", repository, put_target, stored)
        self._check_digest_header(repository, "PUT", put_target, stored, data)
        return digest

    def push_manifest(
        self, repository: ImageReference, reference: str, data: bytes, media_type: str
    ) -> Digest:
        """PUT ``data`` as the manifest at tag or digest ``reference``; return its sha256 digest."""
        if media_type not in MANIFEST_TYPES:
            raise InputError(f"cannot push a manifest of media type {media_type!r}")
        digest = Digest.of(data)
        if ":" in reference:
            expected = Digest.parse(reference, source=f"{repository.name} manifest reference")
            expected.check(data, what=f"manifest pushed to {repository.name}@{expected}")
            digest = expected
        elif not TAG_RE.fullmatch(reference):
            raise InputError(f"invalid tag {reference!r}", source=repository.name)
        target = f"/v2/{repository.repository}/manifests/{reference}"
        response = self._exchange(
            "PUT",
            repository,
            target,
            actions="pull,push",
            headers={"Content-Type": media_type},
            body=data,
        )
        if response.status not in (200, 201):
            raise self._status_error("PUT", repository, target, response)
        self._check_digest_header(repository, "PUT", target, response, data)
        return digest

    # -- internals ------------------------------------------------------------------------

    def _get_manifest(
        self, repository: ImageReference, reference: str, expected: Digest | None
    ) -> FetchedManifest | None:
        target = f"/v2/{repository.repository}/manifests/{reference}"
        fetched = self._get_document(repository, target, MANIFEST_ACCEPT)
        if fetched is None:
            return None
        response, media_type = fetched
        if expected is not None:
            expected.check(response.body, what=f"manifest {repository.name}@{expected}")
            digest = expected
        else:
            digest = Digest.of(response.body)
        self._check_digest_header(repository, "GET", target, response, response.body)
        self._check_manifest_json(repository, target, response.body, media_type)
        return FetchedManifest(digest=digest, media_type=media_type, data=response.body)

    def _get_document(
        self, repository: ImageReference, target: str, accept: str
    ) -> tuple[HttpResponse, str] | None:
        """GET a manifest-sized JSON document: the answer and its media type; None on 404."""
        response = self._exchange(
            "GET",
            repository,
            target,
            actions="pull",
            headers={"Accept": accept},
            max_body=self._options.max_manifest_bytes,
        )
        if response.status == 404:
            return None
        if response.status != 200:
            raise self._status_error("GET", repository, target, response)
        return response, normalise_media_type(response.headers.get("Content-Type"))

    def _check_manifest_json(
        self, repository: ImageReference, target: str, body: bytes, media_type: str
    ) -> None:
        """Fail unless ``body`` is JSON of a supported manifest kind served as such."""
        try:
            load_manifest_json(body, media_type, source=self._where("GET", repository, target))
        except Schema1ManifestError as exc:
            # The image is the problem, not the registry: the user must re-push it.
            raise InputError(exc.reason, source=str(repository)) from exc
        except InputError as exc:
            raise BackendError(str(exc)) from exc

    def _platform_manifest(
        self, reference: ImageReference, index_manifest: FetchedManifest, platform: Platform
    ) -> Digest:
        source = f"{reference.name}@{index_manifest.digest}"
        try:
            index = parse_manifest(index_manifest.data, index_manifest.media_type, source=source)
        except InputError as exc:
            raise BackendError(str(exc)) from exc
        if not isinstance(index, ImageIndex):
            raise BackendError(f"{source}: served as an index but did not parse as one")
        entry = select_platform(index, platform, source=str(reference))
        child = self._get_manifest(reference, str(entry.digest), entry.digest)
        if child is None:
            raise BackendError(
                f"registry {reference.api_host}: index {source} lists {entry.digest} "
                f"for {platform}, which the registry does not have"
            )
        if child.media_type not in IMAGE_MANIFEST_TYPES or child.media_type != entry.media_type:
            raise BackendError(
                f"registry {reference.api_host}: {reference.name}@{entry.digest} is served as "
                f"{child.media_type!r} but the index says {entry.media_type!r}"
            )
        if len(child.data) != entry.size:
            raise VerificationError(
                f"manifest {reference.name}@{entry.digest}: {len(child.data)} bytes, "
                f"the index says {entry.size}"
            )
        return child.digest

    def _exchange(
        self,
        method: str,
        repository: ImageReference,
        target: str,
        *,
        actions: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        max_body: int = 64 * 1024,
    ) -> HttpResponse:
        """One registry request with authentication: anonymous or cached first, then one retry."""
        host = repository.api_host
        registry, name = repository.registry, repository.repository
        authorization = self._auth.header_for(host, registry, name, actions)
        response = self._send(
            method,
            host,
            target,
            headers=headers,
            body=body,
            max_body=max_body,
            authorization=authorization,
        )
        if response.status == 401:
            where = f"{self._where(method, repository, target)}: 401 {response.reason}"
            retry = self._auth.answer(
                host,
                registry,
                name,
                actions,
                www_authenticate=response.headers.get("WWW-Authenticate"),
                where=where,
            )
            if retry != authorization:
                response = self._send(
                    method,
                    host,
                    target,
                    headers=headers,
                    body=body,
                    max_body=max_body,
                    authorization=retry,
                )
                authorization = retry
        if response.status in (401, 403):
            raise self._auth_error(method, repository, target, response, authorization)
        return response

    def _send(
        self,
        method: str,
        host: str,
        target: str,
        *,
        headers: Mapping[str, str] | None,
        body: bytes | None,
        max_body: int,
        authorization: str | None,
    ) -> HttpResponse:
        all_headers = dict(headers or {})
        if authorization is not None:
            all_headers["Authorization"] = authorization
        return self._transport.request(
            method, host, target, headers=all_headers, body=body, max_body=max_body
        )

    def _auth_error(
        self,
        method: str,
        repository: ImageReference,
        target: str,
        response: HttpResponse,
        authorization: str | None,
    ) -> BackendError:
        where = f"{self._where(method, repository, target)}: {response.status} {response.reason}"
        creds = self._auth.credentials(repository.registry, repository.repository)
        if creds is None:
            return BackendError(
                f"{where}: {self._auth.missing_credentials_hint(repository.registry)}"
            )
        challenge = response.headers.get("WWW-Authenticate") or ""
        if response.status == 403 or "insufficient_scope" in challenge:
            return BackendError(
                f"{where}: access denied for {repository.name} with the credentials from "
                f"{creds.origin}"
            )
        return BackendError(
            f"{where}: authentication failed for {repository.registry} with the credentials "
            f"from {creds.origin}"
        )

    def _status_error(
        self, method: str, repository: ImageReference, target: str, response: HttpResponse
    ) -> BackendError:
        detail = error_detail(response.body)
        text = f"{self._where(method, repository, target)}: {response.status} {response.reason}"
        return BackendError(f"{text} ({detail})" if detail else text)

    def _check_digest_header(
        self,
        repository: ImageReference,
        method: str,
        target: str,
        response: HttpResponse,
        content: bytes,
    ) -> None:
        """A ``Docker-Content-Digest`` header, when present, must describe ``content``."""
        header = response.headers.get("Docker-Content-Digest")
        if not header:
            return
        where = self._where(method, repository, target)
        try:
            claimed = Digest.parse(header.strip())
        except InputError as exc:
            raise BackendError(f"{where}: invalid Docker-Content-Digest {header!r}") from exc
        if not claimed.matches(content):
            actual = Digest.of(content, claimed.algorithm)
            raise VerificationError(
                f"{where}: registry claims {claimed} but the content hashes to {actual}"
            )

    def _same_host_target(self, repository: ImageReference, path: str, location: str) -> str:
        parts = urlsplit(location)
        if parts.netloc and normalise_registry(parts.netloc) != normalise_registry(
            repository.api_host
        ):
            raise BackendError(
                f"{self._where('POST', repository, path)}: upload location on another host "
                f"({parts.netloc}) is not supported"
            )
        upload_path = parts.path if parts.path.startswith("/") else f"/{parts.path}"
        return f"{upload_path}?{parts.query}" if parts.query else upload_path

    @staticmethod
    def _where(method: str, repository: ImageReference, target: str) -> str:
        return f"registry {repository.api_host}: {method} {target.split('?', 1)[0]}"


def _positive_seconds(value: object) -> bool:
    """True for a finite number of seconds above zero (NaN and infinity are not)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    # math.isfinite would overflow on a huge int; every int is finite anyway.
    return (isinstance(value, int) or math.isfinite(value)) and value > 0
