"""Image and namespace globs: syntax, reference forms, refusal of useless patterns."""

from __future__ import annotations

import pytest

from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.policy.glob import GlobError, ImageGlob, NamespaceGlob, reference_forms

DIGEST = Digest.of(b"x")


@pytest.mark.parametrize(
    ("pattern", "reference", "expected"),
    [
        ("registry.acme.io/prod/**", "registry.acme.io/prod/app:1.0", True),
        ("registry.acme.io/prod/**", "registry.acme.io/prod/team/app:1.0", True),
        ("registry.acme.io/prod/**", "registry.acme.io/production/app:1.0", False),
        ("registry.acme.io/prod/*", "registry.acme.io/prod/app:1.0", True),
        ("registry.acme.io/prod/*", "registry.acme.io/prod/team/app", False),
        ("registry.acme.io/prod/ap?", "registry.acme.io/prod/app", True),
        ("registry.acme.io/prod/ap?", "registry.acme.io/prod/apps", False),
        ("docker.io/library/nginx", "nginx", True),
        ("docker.io/library/nginx:1.25", "nginx:1.25", True),
        ("docker.io/library/nginx:1.25", "nginx:1.26", False),
        ("docker.io/library/nginx:*", "nginx", True),  # normalised to :latest
        ("docker.io/library/*", "nginx:1.25", True),
        ("docker.io/*", "nginx", False),  # library/nginx has a '/'
        ("localhost:*/**", "localhost:5000/demo/app:v1", True),
        ("localhost:*/**", "localhost/demo/app", False),
        ("127.0.0.1:*/**", "127.0.0.1:5000/demo:v1", True),
        ("**", "ghcr.io/x/y:1", True),
        ("*/**", "ghcr.io/x/y:1", True),
        ("ghcr.io/x/y@" + str(DIGEST), "ghcr.io/x/y@" + str(DIGEST), True),
        # A tag next to a digest is not verified, so it never takes part in matching.
        ("ghcr.io/x/y:1@" + str(DIGEST), "ghcr.io/x/y:1@" + str(DIGEST), False),
        ("ghcr.io/x/y:1", "ghcr.io/x/y:1@" + str(DIGEST), False),
        ("ghcr.io/x/y:*", "ghcr.io/x/y:1@" + str(DIGEST), False),
        ("ghcr.io/x/y", "ghcr.io/x/y:1@" + str(DIGEST), True),
        ("ghcr.io/x/**", "ghcr.io/x/y:1@" + str(DIGEST), True),
        ("ghcr.io/x/y:1@" + str(DIGEST), "ghcr.io/x/y:2@" + str(DIGEST), False),
        ("ghcr.io/x/y@sha256:*", "ghcr.io/x/y:1@" + str(DIGEST), True),
        ("ghcr.io/x/y.z", "ghcr.io/x/yaz", False),  # '.' is literal
    ],
)
def test_image_glob_matching(pattern: str, reference: str, expected: bool) -> None:
    glob = ImageGlob.compile(pattern)
    assert glob.matches_reference(ImageReference.parse(reference)) is expected


def test_resolved_digest_stands_in_for_a_tag_only_reference() -> None:
    glob = ImageGlob.compile(f"ghcr.io/x/y@{DIGEST}")
    reference = ImageReference.parse("ghcr.io/x/y:1")
    assert not glob.matches_reference(reference)
    assert glob.matches_reference(reference, DIGEST)


def test_reference_forms() -> None:
    reference = ImageReference.parse("ghcr.io/x/y:1")
    assert reference_forms(reference, DIGEST) == (
        "ghcr.io/x/y",
        "ghcr.io/x/y:1",
        f"ghcr.io/x/y@{DIGEST}",
        f"ghcr.io/x/y:1@{DIGEST}",
    )
    assert reference_forms(ImageReference.parse(f"ghcr.io/x/y@{DIGEST}")) == (
        "ghcr.io/x/y",
        f"ghcr.io/x/y@{DIGEST}",
    )


def test_a_tag_next_to_a_digest_is_ignored_for_matching() -> None:
    # registry.acme.io/prod/app:v1.0@sha256:<evil>: the digest is what is fetched
    # and verified; the tag is just text anyone can write next to any digest.
    evil = Digest.of(b"evil")
    reference = ImageReference.parse(f"registry.acme.io/prod/app:v1.0@{evil}")
    assert reference_forms(reference) == (
        "registry.acme.io/prod/app",
        f"registry.acme.io/prod/app@{evil}",
    )
    # The resolved digest of a tag-only reference never replaces the reference's own digest.
    assert reference_forms(reference, DIGEST) == reference_forms(reference)
    allow_tag = ImageGlob.compile("registry.acme.io/prod/app:v1.0")
    assert not allow_tag.matches_reference(reference)
    assert not allow_tag.matches_reference(reference, evil)
    assert not ImageGlob.compile(f"registry.acme.io/prod/app:v1.0@{evil}").matches_reference(
        reference
    )
    # Written by tag alone, the tag is what the registry resolved: it matches.
    assert allow_tag.matches_reference(ImageReference.parse("registry.acme.io/prod/app:v1.0"), evil)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("", "empty image glob"),
        ("a.io/x y", 'image glob "a.io/x y" contains spaces or control characters'),
        ("a.io/***", 'image glob "a.io/***": use * or **, not ***'),
        ("a.io/{a,b}", 'image glob "a.io/{a,b}": "{" is not supported'),
        (
            "nginx",
            'image glob "nginx" names no registry; references are normalised, so write '
            '"docker.io/library/nginx"',
        ),
        (
            "library/nginx:*",
            'image glob "library/nginx:*" names no registry; references are normalised, so '
            'write "docker.io/library/nginx:*"',
        ),
    ],
)
def test_bad_image_globs(pattern: str, message: str) -> None:
    with pytest.raises(GlobError) as caught:
        ImageGlob.compile(pattern)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("pattern", "namespace", "expected"),
    [
        ("prod-*", "prod-eu", True),
        ("prod-*", "prod-", True),
        ("prod-*", "staging", False),
        ("kube-system", "kube-system", True),
        ("kube-system", "kube-system2", False),
        ("team-?", "team-a", True),
        ("team-?", "team-ab", False),
        ("*", "anything", True),
    ],
)
def test_namespace_glob_matching(pattern: str, namespace: str, expected: bool) -> None:
    assert NamespaceGlob.compile(pattern).matches(namespace) is expected


@pytest.mark.parametrize("pattern", ["", "Prod", "a/b", "x" * 64, "prod_eu"])
def test_bad_namespace_globs(pattern: str) -> None:
    with pytest.raises(GlobError, match="can never match"):
        NamespaceGlob.compile(pattern)
