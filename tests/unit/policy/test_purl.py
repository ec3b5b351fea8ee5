"""Package URLs: parsing, per-type normalisation and policy matching."""

from __future__ import annotations

import pytest

from gate.purl import PackageUrl, PurlError


def test_parse_all_components() -> None:
    purl = PackageUrl.parse("pkg:deb/Debian/OpenSSL@3.0.11-1?arch=amd64&distro=debian-12#a/b")
    assert purl.type == "deb"
    assert purl.namespace == "debian"
    assert purl.name == "openssl"
    assert purl.version == "3.0.11-1"
    assert purl.qualifiers == (("arch", "amd64"), ("distro", "debian-12"))
    assert purl.subpath == "a/b"


def test_percent_decoding_and_npm_scope() -> None:
    purl = PackageUrl.parse("pkg:npm/%40angular/animation@12.3.1")
    assert (purl.namespace, purl.name, purl.version) == ("@angular", "animation", "12.3.1")
    unencoded = PackageUrl.parse("pkg:npm/@angular/animation")
    assert (unencoded.namespace, unencoded.name, unencoded.version) == (
        "@angular",
        "animation",
        None,
    )


def test_pypi_names_are_normalised_like_pip() -> None:
    assert PackageUrl.parse("pkg:pypi/Zope.Interface__x@5.0").name == "zope-interface-x"


def test_npm_names_are_case_sensitive() -> None:
    assert PackageUrl.parse("pkg:npm/JSONStream@1.0").name == "JSONStream"


@pytest.mark.parametrize(
    ("policy", "component", "expected"),
    [
        ("pkg:npm/event-stream@3.3.6", "pkg:npm/event-stream@3.3.6", True),
        ("pkg:npm/event-stream@3.3.6", "pkg:npm/event-stream@3.3.5", False),
        ("pkg:npm/event-stream", "pkg:npm/event-stream@4.0.0", True),
        ("pkg:npm/event-stream", "pkg:npm/Event-Stream@4.0.0", False),
        ("pkg:pypi/ctx", "pkg:pypi/CTX@0.2.6", True),
        ("pkg:pypi/python-dateutil", "pkg:pypi/python_dateutil@2.8", True),
        ("pkg:pypi/ctx", "pkg:npm/ctx@1", False),
        ("pkg:npm/%40scope/x", "pkg:npm/@scope/x@1", True),
        ("pkg:npm/x", "pkg:npm/%40scope/x@1", False),  # namespace differs
        ("pkg:deb/debian/openssl", "pkg:deb/Debian/OpenSSL@3?arch=amd64", True),
        ("pkg:deb/debian/openssl?arch=amd64", "pkg:deb/debian/openssl@3?arch=amd64", True),
        ("pkg:deb/debian/openssl?arch=arm64", "pkg:deb/debian/openssl@3?arch=amd64", False),
        ("pkg:deb/debian/openssl?arch=amd64", "pkg:deb/debian/openssl@3", False),
        ("pkg:golang/github.com/Foo/bar", "pkg:golang/github.com/foo/bar@v1", False),
        ("pkg:maven/org.apache/log4j-core@2.14.1", "pkg:maven/org.apache/log4j-core@2.14.1", True),
        ("pkg:npm/x#lib", "pkg:npm/x@1#lib", True),
        ("pkg:npm/x#lib", "pkg:npm/x@1#src", False),
        ("PKG:NPM/x", "pkg:npm/x@1", True),
    ],
)
def test_matching(policy: str, component: str, expected: bool) -> None:
    assert PackageUrl.parse(policy).matches(PackageUrl.parse(component)) is expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("npm/x", 'must start with "pkg:"'),
        ("pkg:npm", "expected pkg:type/name"),
        ("pkg:1npm/x", "invalid type '1npm'"),
        ("pkg:npm/", "missing name"),
        ("pkg:npm/@1.0", "missing name"),
        ("pkg:npm/x?arch", "bad qualifier 'arch'"),
        ("pkg:npm/x?a=1&a=2", "qualifier 'a' given twice"),
        (" pkg:npm/x", "empty or surrounded by spaces"),
    ],
)
def test_invalid(text: str, message: str) -> None:
    with pytest.raises(PurlError) as caught:
        PackageUrl.parse(text)
    assert str(caught.value) == message


def test_display_form() -> None:
    assert str(PackageUrl.parse("pkg:deb/debian/openssl@3?distro=d&arch=x#s")) == (
        "pkg:deb/debian/openssl@3?arch=x&distro=d#s"
    )


@pytest.mark.parametrize(
    ("policy", "name", "version", "expected"),
    [
        ("pkg:npm/event-stream", "event-stream", None, True),
        ("pkg:npm/event-stream", "Event-Stream", "1.0", True),
        ("pkg:npm/event-stream@3.3.6", "event-stream", "3.3.6", True),
        ("pkg:npm/event-stream@3.3.6", "event-stream", "3.3.5", False),
        ("pkg:npm/event-stream@3.3.6", "event-stream", None, True),  # unknown: fail closed
        ("pkg:npm/%40babel/core", "@babel/core", "7.0.0", True),
        ("pkg:npm/%40babel/core", "core", "7.0.0", True),  # the group may have been dropped
        ("pkg:npm/%40babel/core", "@evil/core", "7.0.0", False),
        ("pkg:npm/core", "@babel/core", "7.0.0", False),
        (
            "pkg:maven/org.apache.logging.log4j/log4j-core",
            "org.apache.logging.log4j:log4j-core",
            "2",
            True,
        ),
        ("pkg:maven/org.apache.logging.log4j/log4j-core", "org.other:log4j-core", "2", False),
        ("pkg:golang/github.com/gorilla/mux", "github.com/gorilla/mux", "1.8.0", True),
        ("pkg:pypi/python-dateutil", "Python_DateUtil", "2.8", True),
        ("pkg:pypi/ctx@0.2.6", "ctx", "0.2.6", True),
        ("pkg:npm/left-pad", "", None, False),
        ("pkg:npm/left-pad", "right-pad", None, False),
    ],
)
def test_matches_name(policy: str, name: str, version: str | None, expected: bool) -> None:
    # Components without a usable purl are matched by name (and version) instead.
    assert PackageUrl.parse(policy).matches_name(name, version) is expected
