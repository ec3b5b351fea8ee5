"""Tiny deterministic OCI images, built by hand and pushed to test registries.

``build_image`` makes a config and one gzip'ed tar layer holding one file (or,
with ``files``, a small file tree), so the manifest digest is known before
anything is pushed; ``build_index`` bundles images of several platforms.
``push_image`` / ``push_index`` copy an OCI image layout with ``skopeo copy
--preserve-digests`` (a real client, so the harness does not depend on the
code under test). ``seed_manifest`` makes a registry serve given manifest
bytes whose blobs we do not have, for real-world signature fixtures.
"""

from __future__ import annotations

import gzip
import io
import json
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from gate.oci.digest import Digest
from tests.integration.registry_server import RunningRegistry

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
SKOPEO_HINT = "skopeo is not installed: run scripts/install-system-deps.sh"
_SKOPEO_TIMEOUT = 120
_HTTP_TIMEOUT = 10


def _json(document: Any) -> bytes:
    return json.dumps(document, indent=2, sort_keys=True).encode()


def _descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": str(Digest.of(data)), "size": len(data), **extra}


@dataclass(frozen=True)
class BuiltImage:
    """A single-platform image: manifest, config and layer bytes, and the manifest digest."""

    manifest: bytes
    config: bytes
    layer: bytes
    os: str
    architecture: str
    variant: str | None

    @property
    def digest(self) -> Digest:
        """sha256 of the manifest bytes: what a registry must resolve the tag to."""
        return Digest.of(self.manifest)

    @property
    def blobs(self) -> dict[Digest, bytes]:
        """Config and layer by digest."""
        return {Digest.of(self.config): self.config, Digest.of(self.layer): self.layer}

    @property
    def platform_json(self) -> dict[str, str]:
        """The ``platform`` object of an index entry for this image."""
        platform = {"os": self.os, "architecture": self.architecture}
        if self.variant:
            platform["variant"] = self.variant
        return platform


@dataclass(frozen=True)
class BuiltIndex:
    """A multi-platform image index and the images it lists."""

    index: bytes
    images: tuple[BuiltImage, ...]

    @property
    def digest(self) -> Digest:
        """sha256 of the index bytes."""
        return Digest.of(self.index)


def _layer(filename: str, content: bytes) -> tuple[bytes, bytes]:
    """(gzip'ed tar, uncompressed tar) holding one file, byte-for-byte reproducible."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(filename)
        info.size = len(content)
        info.mode = 0o644
        info.mtime = 0
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        tar.addfile(info, io.BytesIO(content))
    return _compressed(raw.getvalue())


def _tree_layer(files: Mapping[str, bytes]) -> tuple[bytes, bytes]:
    """(gzip'ed tar, uncompressed tar) holding ``files`` (path -> bytes) and their parents.

    Entries are sorted and every parent directory gets its own entry (as real
    image layers have), so scanners that walk the tree see an ordinary root
    file system; the bytes depend only on ``files``.
    """
    paths = sorted(path.strip("/") for path in files)
    if not paths or any(not path or ".." in path.split("/") for path in paths):
        raise ValueError(f"layer file paths must be relative and non-empty: {sorted(files)}")
    directories = sorted(
        {
            "/".join(path.split("/")[:depth])
            for path in paths
            for depth in range(1, path.count("/") + 1)
        }
    )
    contents = {path.strip("/"): data for path, data in files.items()}
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted([*directories, *paths]):
            info = tarfile.TarInfo(name)
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if name in contents:
                info.size = len(contents[name])
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(contents[name]))
            else:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
    return _compressed(raw.getvalue())


def _compressed(uncompressed: bytes) -> tuple[bytes, bytes]:
    compressed = io.BytesIO()
    with gzip.GzipFile(fileobj=compressed, mode="wb", mtime=0, filename="") as gz:
        gz.write(uncompressed)
    return compressed.getvalue(), uncompressed


def build_image(
    *,
    content: bytes = b"hello from gate\n",
    filename: str = "hello.txt",
    os: str = "linux",
    architecture: str = "amd64",
    variant: str | None = None,
    annotations: Mapping[str, str] | None = None,
    files: Mapping[str, bytes] | None = None,
) -> BuiltImage:
    """An OCI image with one layer holding ``filename`` with ``content``.

    With ``files`` (relative path -> bytes) the layer holds that file tree
    instead, with parent directories, and ``content``/``filename`` are not
    used: enough for scanners to find a distribution and its packages.
    """
    layer, uncompressed = _tree_layer(files) if files is not None else _layer(filename, content)
    config_doc: dict[str, Any] = {
        "architecture": architecture,
        "os": os,
        "created": "2024-01-01T00:00:00Z",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [str(Digest.of(uncompressed))]},
    }
    if variant:
        config_doc["variant"] = variant
    config = _json(config_doc)
    manifest_doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": _descriptor(OCI_CONFIG, config),
        "layers": [_descriptor(OCI_LAYER_GZIP, layer)],
    }
    if annotations:
        manifest_doc["annotations"] = dict(annotations)
    return BuiltImage(_json(manifest_doc), config, layer, os, architecture, variant)


def build_index(images: Sequence[BuiltImage]) -> BuiltIndex:
    """An OCI image index listing ``images`` with their platforms."""
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            _descriptor(OCI_MANIFEST, image.manifest, platform=image.platform_json)
            for image in images
        ],
    }
    return BuiltIndex(_json(document), tuple(images))


def write_layout(
    directory: Path, tag: str, top: bytes, top_type: str, blobs: Sequence[bytes]
) -> Path:
    """An OCI image layout in ``directory`` whose ``index.json`` names ``top`` as ``tag``."""
    blob_dir = directory / "blobs" / "sha256"
    blob_dir.mkdir(parents=True, exist_ok=True)
    for data in (top, *blobs):
        (blob_dir / Digest.of(data).hex).write_bytes(data)
    (directory / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    entry = _descriptor(top_type, top, annotations={"org.opencontainers.image.ref.name": tag})
    (directory / "index.json").write_bytes(
        _json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]})
    )
    return directory


def push_image(registry: RunningRegistry, repository: str, tag: str, image: BuiltImage) -> Digest:
    """Push ``image`` as ``repository:tag`` with skopeo; return the manifest digest."""
    with tempfile.TemporaryDirectory(prefix="gate-oci-") as tmp:
        layout = write_layout(
            Path(tmp), tag, image.manifest, OCI_MANIFEST, list(image.blobs.values())
        )
        _skopeo_copy(registry, layout, repository, tag, all_images=False)
    return image.digest


def push_index(registry: RunningRegistry, repository: str, tag: str, index: BuiltIndex) -> Digest:
    """Push ``index`` and all its images with ``skopeo copy --all``; return the index digest."""
    blobs: list[bytes] = []
    for image in index.images:
        blobs.extend([image.manifest, *image.blobs.values()])
    with tempfile.TemporaryDirectory(prefix="gate-oci-") as tmp:
        layout = write_layout(Path(tmp), tag, index.index, OCI_INDEX, blobs)
        _skopeo_copy(registry, layout, repository, tag, all_images=True)
    return index.digest


def _skopeo_copy(
    registry: RunningRegistry, layout: Path, repository: str, tag: str, *, all_images: bool
) -> None:
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        raise RuntimeError(SKOPEO_HINT)
    policy = layout.parent / f"{layout.name}-policy.json"
    policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
    command = [skopeo, "--policy", str(policy), "copy", "--preserve-digests", "--retry-times", "0"]
    if all_images:
        command.append("--all")
    command.append(f"--dest-tls-verify={'true' if registry.ca_cert else 'false'}")
    if registry.cert_dir is not None:
        command += ["--dest-cert-dir", str(registry.cert_dir / registry.host)]
    if registry.username is not None:
        command += ["--dest-creds", f"{registry.username}:{registry.password}"]
    command += [f"oci:{layout}:{tag}", f"docker://{registry.host}/{repository}:{tag}"]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=_SKOPEO_TIMEOUT, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"skopeo copy to {registry.host}/{repository}:{tag} failed "
            f"({result.returncode}): {result.stderr.strip()}"
        )


def harness_session(registry: RunningRegistry, repository: str) -> requests.Session:
    """A plain ``requests`` session authorised to push to ``repository`` (not RegistryClient)."""
    session = requests.Session()
    session.trust_env = False
    session.verify = registry.verify
    if registry.token_server is not None:
        response = session.get(
            registry.token_server.realm,
            params={
                "service": registry.token_server.service,
                "scope": f"repository:{repository}:pull,push",
            },
            auth=(registry.username or "", registry.password or ""),
            timeout=_HTTP_TIMEOUT,
            verify=True,
        )
        response.raise_for_status()
        session.headers["Authorization"] = f"Bearer {response.json()['token']}"
    elif registry.username is not None:
        session.auth = (registry.username, registry.password or "")
    return session


def upload_blob(
    registry: RunningRegistry, session: requests.Session, repository: str, data: bytes
) -> Digest:
    """Monolithic blob upload through the distribution API (POST then PUT ?digest=)."""
    digest = Digest.of(data)
    opened = session.post(f"{registry.url}/v2/{repository}/blobs/uploads/", timeout=_HTTP_TIMEOUT)
    if opened.status_code != 202:
        raise RuntimeError(f"opening an upload failed: {opened.status_code} {opened.text}")
    location = requests.compat.urljoin(registry.url, opened.headers["Location"])
    stored = session.put(
        location,
        params={"digest": str(digest)},
        data=data,
        headers={"Content-Type": "application/octet-stream"},
        timeout=_HTTP_TIMEOUT,
    )
    if stored.status_code != 201:
        raise RuntimeError(f"uploading {digest} failed: {stored.status_code} {stored.text}")
    return digest


def put_manifest(
    registry: RunningRegistry,
    session: requests.Session,
    repository: str,
    reference: str,
    manifest: bytes,
    *,
    media_type: str,
) -> Digest:
    """PUT manifest bytes verbatim; check the registry's digest is sha256 of those bytes."""
    response = session.put(
        f"{registry.url}/v2/{repository}/manifests/{reference}",
        data=manifest,
        headers={"Content-Type": media_type},
        timeout=_HTTP_TIMEOUT,
    )
    if response.status_code != 201:
        raise RuntimeError(f"manifest PUT failed: {response.status_code} {response.text}")
    digest = Digest.of(manifest)
    claimed = response.headers.get("Docker-Content-Digest")
    if claimed != str(digest):
        raise RuntimeError(f"registry stored the manifest as {claimed}, expected {digest}")
    return digest


def seed_manifest(
    registry: RunningRegistry,
    repository: str,
    tag: str,
    manifest_bytes: bytes,
    blobs: Mapping[Digest, bytes],
) -> Digest:
    """Make ``registry`` serve ``manifest_bytes`` byte-for-byte as ``repository:tag``.

    Blobs given in ``blobs`` are uploaded through the API; every other blob the
    manifest references (image layers real fixtures do not keep) gets a
    stand-in file of the declared size in the filesystem storage, linked into
    the repository, so the registry accepts the manifest. Returns its digest.
    """
    document = json.loads(manifest_bytes)
    media_type = document.get("mediaType") or OCI_MANIFEST
    session = harness_session(registry, repository)
    if "manifests" not in document:
        references = [document["config"], *document.get("layers", [])]
        for descriptor in references:
            digest = Digest.parse(descriptor["digest"])
            if digest in blobs:
                digest.check(blobs[digest], what=f"seed blob {digest}")
                upload_blob(registry, session, repository, blobs[digest])
            else:
                _stand_in_blob(registry, repository, digest, int(descriptor["size"]))
    return put_manifest(registry, session, repository, tag, manifest_bytes, media_type=media_type)


def _stand_in_blob(registry: RunningRegistry, repository: str, digest: Digest, size: int) -> None:
    data_path = registry.blob_data_path(digest.hex)
    if not data_path.exists():
        data_path.parent.mkdir(parents=True, exist_ok=True)
        with data_path.open("wb") as handle:
            handle.truncate(size)  # sparse zeros: the registry does not re-hash blobs it serves
    link = (
        registry.storage
        / "docker/registry/v2/repositories"
        / repository
        / "_layers"
        / digest.algorithm
        / digest.hex
        / "link"
    )
    link.parent.mkdir(parents=True, exist_ok=True)
    link.write_text(str(digest))
