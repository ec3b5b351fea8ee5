"""``NotaryVerifier`` against its own real notary-server: trust data caching and offline grace.

The server is started for this module alone, because one test stops it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from gate.oci.client import RegistryClient, RegistryOptions
from gate.oci.reference import ImageReference
from gate.oci.source import ResolvedImage
from gate.signatures.notary.authority import NotaryTrust
from gate.signatures.notary.repository import load_pinned_root
from gate.signatures.notary.server import NotaryServers
from gate.signatures.notary.verifier import NotaryVerifier
from gate.signatures.trust import TrustAuthority
from tests.integration.notary_server import RunningNotary, start_notary
from tests.integration.registry_server import RunningRegistry
from tests.support.images import build_image, push_image
from tests.support.notary_client import NotaryClient
from tests.support.tls import TestCA

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@dataclass
class Setup:
    """A private notary-server with one signed tag, and what the verifier needs."""

    notary: RunningNotary
    image: ResolvedImage
    trust: NotaryTrust


@pytest.fixture(scope="module")
def setup(
    registry: RunningRegistry, test_ca: TestCA, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setup]:
    """Starts notary-server + signer, signs ``dct/cached:1``, stops the server at the end."""
    work = tmp_path_factory.mktemp("notary-verifier")
    notary = start_notary(work / "notary", test_ca)
    try:
        gun = f"{registry.host}/dct/cached"
        image = build_image(content=b"cached trust data")
        push_image(registry, "dct/cached", "1", image)
        client = NotaryClient(work / "trust", notary, notary.ca_cert)
        client.init(gun)
        client.add_hash(gun, "1", len(image.manifest), image.digest.hex)
        client.publish(gun)
        root = load_pinned_root(client.root_certificate(gun), "root.crt")
        with RegistryClient(RegistryOptions()) as registry_client:
            resolved = registry_client.resolve(ImageReference.parse(f"{gun}:1"))
        trust = NotaryTrust(
            server=notary.url,
            root_keys=(root,),
            ca_file=notary.ca_cert,
            offline_grace=timedelta(hours=1),
        )
        yield Setup(notary, resolved, trust)
    finally:
        notary.stop()


def _paths(servers: NotaryServers, since: int = 0) -> list[str]:
    return [r.path.rsplit("/_trust/tuf/", 1)[-1] for r in servers.requests_made[since:]]


def test_without_the_cache_every_check_reads_all_trust_data(setup: Setup) -> None:
    servers = NotaryServers()
    verifier = NotaryVerifier(servers, clock=lambda: START, cache_trust_data=False)
    authority = TrustAuthority("dct", notary=setup.trust)
    assert verifier.verify(setup.image, authority).satisfied
    first = _paths(servers)
    assert verifier.verify(setup.image, authority).satisfied
    assert _paths(servers, len(first)) == first


# Runs last: it stops the module's server.
def test_cached_trust_data_is_refreshed_from_the_timestamp_then_survives_an_outage(
    setup: Setup,
) -> None:
    now = [START]
    servers = NotaryServers()
    verifier = NotaryVerifier(servers, clock=lambda: now[0])
    authority = TrustAuthority("dct", notary=setup.trust)
    first = verifier.verify(setup.image, authority)
    assert first.satisfied, first
    fetched = _paths(servers)
    assert {"root.json", "timestamp.json", "snapshot.json", "targets.json"} <= set(fetched)
    second = verifier.verify(setup.image, authority)
    assert second.satisfied, second
    assert _paths(servers, len(fetched)) == ["timestamp.json"], "only the timestamp is asked for"

    setup.notary.stop()
    now[0] = START + timedelta(minutes=30)
    offline = verifier.verify(setup.image, authority)
    assert offline.satisfied, offline
    assert any("unreachable" in note and "offlineGrace 1h" in note for note in offline.notes)

    now[0] = START + timedelta(hours=2)
    late = verifier.verify(setup.image, authority)
    assert not late.satisfied
    assert late.error is not None
    assert "offlineGrace" in late.error

    strict = TrustAuthority("dct", notary=replace(setup.trust, offline_grace=None))
    down = NotaryVerifier(NotaryServers(), clock=lambda: START).verify(setup.image, strict)
    assert not down.satisfied
    assert down.error is not None
    assert "Notary server for" in down.error
