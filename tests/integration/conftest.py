"""Fixtures that start real registries (``docker-registry``) for the integration tests.

``registry``: anonymous, plain HTTP. ``tls_registry``: htpasswd Basic auth over
TLS signed by a test CA. ``token_registry``: distribution token auth with the
token server of ``token_server.py``. Each is started once per session on
127.0.0.1 and stopped at the end; when a test using one fails, the tail of
its log is attached to the report.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from tests.integration.notary_server import (
    NotaryStartError,
    RunningNotary,
    start_notary,
)
from tests.integration.registry_server import (
    RegistryStartError,
    RunningRegistry,
    start_registry,
)
from tests.integration.token_server import TokenServer
from tests.support.tls import TestCA, make_signing_certificate

REGISTRY_FIXTURES = ("registry", "tls_registry", "token_registry")
TLS_USER = ("alice", "wonderland")
TOKEN_USER = ("bob", "builder")
READER = ("rita", "reader")
REFRESH_TOKEN = "gate-refresh-token-for-bob"


def _started(
    workdir: Path,
    *,
    tls: TestCA | None = None,
    users: dict[str, str] | None = None,
    token_server: TokenServer | None = None,
) -> Iterator[RunningRegistry]:
    try:
        running = start_registry(workdir, tls=tls, users=users, token_server=token_server)
    except RegistryStartError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    """The session's test certificate authority."""
    return TestCA(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    """An anonymous registry over plain HTTP on 127.0.0.1."""
    yield from _started(tmp_path_factory.mktemp("registry"))


@pytest.fixture(scope="session")
def tls_registry(
    tmp_path_factory: pytest.TempPathFactory, test_ca: TestCA
) -> Iterator[RunningRegistry]:
    """A registry with htpasswd (bcrypt) Basic auth over TLS signed by ``test_ca``."""
    yield from _started(
        tmp_path_factory.mktemp("tls-registry"), tls=test_ca, users=dict([TLS_USER])
    )


@pytest.fixture(scope="session")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenServer]:
    """The token server behind ``token_registry``."""
    signing = make_signing_certificate(tmp_path_factory.mktemp("token-signing"))
    server = TokenServer(
        signing=signing,
        users=dict([TOKEN_USER, READER]),
        refresh_tokens={REFRESH_TOKEN: TOKEN_USER[0]},
        read_only=frozenset({READER[0]}),
    ).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def token_registry(
    tmp_path_factory: pytest.TempPathFactory, token_server: TokenServer
) -> Iterator[RunningRegistry]:
    """A registry with token auth: Bearer challenges answered by ``token_server``."""
    yield from _started(tmp_path_factory.mktemp("token-registry"), token_server=token_server)


@pytest.fixture(scope="session")
def notary(tmp_path_factory: pytest.TempPathFactory, test_ca: TestCA) -> Iterator[RunningNotary]:
    """notary-server + notary-signer (memory storage, HTTPS signed by ``test_ca``) on 127.0.0.1."""
    try:
        running = start_notary(tmp_path_factory.mktemp("notary"), test_ca)
    except NotaryStartError as exc:
        # As for the registry: the project's own script installs it, so absence is a failure.
        pytest.fail(str(exc), pytrace=False)
    try:
        yield running
    finally:
        running.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the log tail of every registry a failed test used."""
    report = yield
    if report.failed:
        funcargs = getattr(item, "funcargs", {})
        for name in REGISTRY_FIXTURES:
            running = funcargs.get(name)
            if isinstance(running, RunningRegistry):
                report.sections.append((f"{name} log ({running.log_path})", running.log_tail()))
    return report


# PostgreSQL for the verdict store tests: ``postgres_server``, ``postgres_url``.
from tests.integration.postgres_server import postgres_server, postgres_url  # noqa: E402, F401

# Redis for the replicas' shared verification cache: ``redis_server``.
from tests.integration.redis_server import redis_server  # noqa: E402, F401
