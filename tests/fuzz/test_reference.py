"""Image references (``ImageReference.parse``): any text, and references built from parts.

Beyond "a reference or a one-line ``InputError``": normalisation is a fixed
point (the printed form parses back to the same reference), because a policy
glob matches the printed form and a second spelling of one image would be a
way around it.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gate.errors import GateError, InputError
from gate.oci.reference import ImageReference
from tests.fuzz.support import NASTY_STRINGS, examples, gate_outcome

HOSTS = (
    "registry.example",
    "Registry.Example",
    "REGISTRY.EXAMPLE:443",
    "registry.example:0443",
    "registry.example:5000",
    "registry.example:05000",
    "registry.example:0",
    "registry.example:65536",
    "registry.example:99999999999999999999",
    "localhost",
    "LOCALHOST:5000",
    "EVIL",
    "Registry",
    "127.0.0.1:5000",
    "169.254.169.254",
    "[::1]:5000",
    "[0:0:0:0:0:0:0:1]",
    "[fe80::1%25eth0]",
    "[::ffff:127.0.0.1]",
    "[zz::1]",
    "docker.io",
    "index.docker.io",
    "registry-1.docker.io",
    "Index.Docker.IO:443",
    "-bad.example",
    "a..b",
    "xn--80ak6aa92e.example",
)
COMPONENTS = st.text(alphabet="abcz09._-AZ/:@ ", min_size=0, max_size=12)
TAGS = st.one_of(st.text(alphabet="abcXYZ019_.-:", max_size=130), st.sampled_from(NASTY_STRINGS))
DIGESTS = st.one_of(
    st.sampled_from(
        (
            "sha256:" + "a" * 64,
            "sha256:" + "A" * 64,
            "sha256:" + "a" * 63,
            "sha512:" + "b" * 128,
            "md5:" + "c" * 32,
            "sha256:",
            ":",
        )
    ),
    st.text(alphabet="sha256:0123456789abcdefg+._-", max_size=80),
)


@st.composite
def references(draw: st.DrawFn) -> str:
    """Reference-like text from parts: a host (often tricky), components, a tag, a digest."""
    text = ""
    if draw(st.booleans()):
        text = draw(st.sampled_from(HOSTS)) + "/"
    text += "/".join(draw(st.lists(COMPONENTS, min_size=1, max_size=4)))
    if draw(st.booleans()):
        text += ":" + draw(TAGS)
    if draw(st.booleans()):
        text += "@" + draw(DIGESTS)
    return text


def _check(text: str) -> None:
    result = gate_outcome(lambda: ImageReference.parse(text))
    if isinstance(result, GateError):
        assert isinstance(result, InputError)
        return
    printed = str(result)
    again = ImageReference.parse(printed)
    assert again == result, f"{text!r} -> {printed!r} -> {again!r}"
    assert str(again) == printed
    assert printed == printed.strip()
    assert printed.isascii()


@settings(max_examples=examples(0.5))
@given(text=st.text(max_size=300))
def test_any_text_is_a_reference_or_one_line_error(text: str) -> None:
    _check(text)


@given(text=references())
def test_reference_like_text_parses_to_a_fixed_point_or_fails_with_one_line(text: str) -> None:
    _check(text)


@given(text=st.sampled_from(NASTY_STRINGS))
def test_nasty_strings_are_references_or_one_line_errors(text: str) -> None:
    _check(text)
