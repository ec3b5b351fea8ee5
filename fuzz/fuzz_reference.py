"""Fuzz ``ImageReference.parse``: any text is a reference or a one-line ``InputError``.

And a parsed reference is a fixed point of normalisation (its printed form
parses back to it): one image, one spelling, or policy globs could be
bypassed. Run: ``python fuzz/fuzz_reference.py -max_total_time=60``.
"""

from __future__ import annotations

import atheris  # type: ignore[import-untyped]  # ships no type information
from harness import PropertyViolationError, outcome, run

with atheris.instrument_imports(include=["gate"]):
    from gate.oci.reference import ImageReference

SEEDS = (
    b"alpine",
    b"docker.io/library/alpine:3.19",
    b"Index.Docker.IO:443/library/alpine@sha256:" + b"a" * 64,
    b"localhost:05000/app:1",
    b"[::1]:5000/team/app:v1@sha256:" + b"b" * 64,
    b"registry.example/a/b/c:tag_1.0-rc",
    b"169.254.169.254/latest/meta-data:x",
)


def test_one_input(data: bytes) -> None:
    """One input: UTF-8 text (invalid sequences replaced) as an image reference."""
    text = data.decode("utf-8", "replace")
    result = outcome(lambda: ImageReference.parse(text))
    if isinstance(result, ImageReference):
        again = ImageReference.parse(str(result))
        if again != result or str(again) != str(result):
            raise PropertyViolationError(f"{text!r} -> {result} -> {again}: not a fixed point")


if __name__ == "__main__":
    run("reference", test_one_input, SEEDS)
