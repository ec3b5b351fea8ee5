"""WWW-Authenticate challenge parsing and the bearer token cache."""

from __future__ import annotations

import math

import pytest

from gate.oci.auth import (
    MAX_TOKEN_LIFETIME,
    Challenge,
    TokenCache,
    parse_challenges,
    repository_scope,
    token_lifetime,
)


def test_bearer_challenge_of_docker_hub() -> None:
    header = (
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/alpine:pull"'
    )
    assert parse_challenges(header) == [
        Challenge(
            "bearer",
            {
                "realm": "https://auth.docker.io/token",
                "service": "registry.docker.io",
                "scope": "repository:library/alpine:pull",
            },
        )
    ]


def test_commas_and_escapes_inside_quotes() -> None:
    header = (
        'Bearer realm="https://auth.example/token?a=1,b=2", '
        'scope="repository:a/b:pull,push", error="insufficient_scope", '
        'error_description="say \\"hi\\", then go"'
    )
    (challenge,) = parse_challenges(header)
    assert challenge.params["realm"] == "https://auth.example/token?a=1,b=2"
    assert challenge.params["scope"] == "repository:a/b:pull,push"
    assert challenge.params["error_description"] == 'say "hi", then go'


def test_several_challenges_and_case() -> None:
    header = 'Basic realm="Registry Realm", BEARER Realm=https://t.example/token , Service=reg'
    challenges = parse_challenges(header)
    assert [c.scheme for c in challenges] == ["basic", "bearer"]
    assert challenges[0].params == {"realm": "Registry Realm"}
    assert challenges[1].params == {"realm": "https://t.example/token", "service": "reg"}


def test_scheme_without_parameters_and_token68() -> None:
    challenges = parse_challenges('Negotiate, NTLM abc123==, Basic realm="x"')
    assert challenges[0] == Challenge("negotiate")
    assert challenges[1] == Challenge("ntlm", token68="abc123==")
    assert challenges[2].params == {"realm": "x"}


def test_empty_quoted_value_and_spaces_around_equals() -> None:
    (challenge,) = parse_challenges('Bearer realm = "https://x/t" , service=""')
    assert challenge.params == {"realm": "https://x/t", "service": ""}


@pytest.mark.parametrize(
    "header",
    [
        'Bearer realm="unterminated',
        'realm="x"',
        'Bearer realm="x", =y',
        'Bearer realm="x" junk here',
        "Bearer @",
    ],
)
def test_malformed_headers(header: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_challenges(header)


def test_empty_header_has_no_challenges() -> None:
    assert parse_challenges("") == []
    assert parse_challenges(" , ") == []


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_cache_expiry_with_margin() -> None:
    clock = FakeClock()
    cache = TokenCache(clock)
    scope = repository_scope("team/app", "pull")
    assert scope == "repository:team/app:pull"
    cache.put("reg.example", scope, "tok", lifetime=300)
    assert cache.get("reg.example", scope) == "tok"
    assert cache.get("other.example", scope) is None
    assert cache.get("reg.example", repository_scope("team/app", "pull,push")) is None
    clock.now += 289
    assert cache.get("reg.example", scope) == "tok"
    clock.now += 1  # within the 10 s safety margin: treated as expired
    assert cache.get("reg.example", scope) is None


def test_token_cache_discard() -> None:
    cache = TokenCache(FakeClock())
    cache.put("h", "s", "tok", lifetime=60)
    cache.discard("h", "s")
    assert cache.get("h", "s") is None


@pytest.mark.parametrize(
    ("expires_in", "lifetime"),
    [
        (300, 300.0),
        (0.5, 0.5),
        (None, 60.0),  # missing: the token spec says 60 s
        ("300", 60.0),
        (True, 60.0),
        (0, 60.0),
        (-5, 60.0),
        (-math.inf, 60.0),
        (math.nan, 60.0),  # json.loads("NaN") gives this; it compares false with everything
        (math.inf, 60.0),
        (86400 * 365, MAX_TOKEN_LIFETIME),
        (10**400, MAX_TOKEN_LIFETIME),  # too large for a float
        (1e300, MAX_TOKEN_LIFETIME),
    ],
)
def test_token_lifetime_is_finite_and_bounded(expires_in: object, lifetime: float) -> None:
    assert token_lifetime(expires_in) == lifetime
    assert MAX_TOKEN_LIFETIME <= 6 * 3600


@pytest.mark.parametrize("lifetime", [math.nan, math.inf, -1.0, 1e300])
def test_token_cache_never_keeps_a_token_forever(lifetime: float) -> None:
    clock = FakeClock()
    cache = TokenCache(clock)
    cache.put("h", "s", "tok", lifetime=lifetime)
    assert cache.get("h", "s") == "tok"
    clock.now += MAX_TOKEN_LIFETIME
    assert cache.get("h", "s") is None
