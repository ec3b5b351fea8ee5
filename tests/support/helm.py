"""Rendering ``deploy/helm/gate`` without helm: values merged here, templates run by Go.

``helm`` cannot be installed on the machines this project runs on, but its
template engine is Go's ``text/template``: ``tests/support/helmrender`` is a
small Go program (standard library only) with the few Helm/Sprig functions
the chart uses. ``build_renderer`` compiles it with ``go build`` (module
downloads off, build cache in the given directory); ``render_chart`` merges
``values.yaml`` with override mappings the way Helm merges ``-f`` files
(maps key by key, anything else replaced, ``None`` deletes a key), hands
values and ``Chart.yaml`` to the renderer as JSON, and returns its YAML.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

SOURCE = Path(__file__).resolve().parent / "helmrender"
INSTALL_HINT = "go is not installed: run scripts/install-system-deps.sh (Debian golang-go)"


class HelmRenderError(RuntimeError):
    """The renderer could not be built, or a template failed; the message is Go's."""


def build_renderer(workdir: Path) -> Path:
    """Compile ``helmrender`` into ``workdir``; ``HelmRenderError`` when Go is missing or fails."""
    go = shutil.which("go")
    if go is None:
        raise HelmRenderError(INSTALL_HINT)
    binary = workdir / "helmrender"
    env = {
        **os.environ,
        "GOCACHE": str(workdir / "gocache"),
        "GOPATH": str(workdir / "gopath"),
        # Standard library only: nothing may be downloaded.
        "GOPROXY": "off",
        "GOFLAGS": "-mod=mod",
        "GOTOOLCHAIN": "local",
        "CGO_ENABLED": "0",
    }
    completed = subprocess.run(
        [go, "build", "-o", str(binary), "."],
        cwd=SOURCE,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if completed.returncode != 0:
        raise HelmRenderError(f"go build of helmrender failed:\n{completed.stderr}")
    return binary


def merge_values(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base`` as Helm merges values files (``None`` removes a key)."""
    merged = dict(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_values(merged[key], value)
        else:
            merged[key] = value
    return merged


def render_chart(
    renderer: Path,
    chart: Path,
    workdir: Path,
    *overrides: Mapping[str, Any],
    release: str = "gate",
    namespace: str = "gate-system",
) -> str:
    """The chart's manifests (``helm template`` output) for ``values.yaml`` + ``overrides``."""
    values: dict[str, Any] = yaml.safe_load((chart / "values.yaml").read_text()) or {}
    for override in overrides:
        values = merge_values(values, override)
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    workdir.mkdir(parents=True, exist_ok=True)
    values_file = workdir / "values.json"
    meta_file = workdir / "chart.json"
    values_file.write_text(json.dumps(values))
    meta_file.write_text(json.dumps(meta))
    completed = subprocess.run(
        [
            str(renderer),
            "-chart",
            str(chart),
            "-values",
            str(values_file),
            "-chart-meta",
            str(meta_file),
            "-release",
            release,
            "-namespace",
            namespace,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if completed.returncode != 0:
        raise HelmRenderError(completed.stderr.strip())
    return completed.stdout
