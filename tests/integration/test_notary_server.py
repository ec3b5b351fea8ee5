"""Smoke tests of the Notary harness: real notary-server + notary-signer, real notary CLI.

One repository is initialised, given a ``targets/releases`` delegation, and a
tag is signed into both ``targets`` and ``targets/releases`` and published;
the tests then read the TUF metadata back over HTTPS, as a verifier would.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.x509.oid import NameOID

from tests.integration.notary_server import HEALTH_PATH, RunningNotary
from tests.support.notary_client import INSTALL_HINT, NotaryClient, NotaryCommandError

GUN = "127.0.0.1:5000/acme/app"
TAG = "v1.0"
DELEGATION = "targets/releases"
CONTENT = b'{"schemaVersion": 2, "note": "stands in for an image manifest"}'


@dataclass(frozen=True)
class PublishedRepository:
    """The repository the tests read: the client that signed it and what it signed."""

    client: NotaryClient
    delegation_cert: Path
    sha256_hex: str
    size: int


def _get(notary: RunningNotary, path: str) -> requests.Response:
    with requests.Session() as session:
        session.trust_env = False  # no proxy from the environment for 127.0.0.1
        return session.get(f"{notary.url}{path}", verify=str(notary.ca_cert), timeout=10)


def _metadata(notary: RunningNotary, role: str) -> dict[str, Any]:
    answer = _get(notary, f"/v2/{GUN}/_trust/tuf/{role}.json")
    assert answer.status_code == 200, f"{role}.json: HTTP {answer.status_code}\n{notary.log_tail()}"
    document: dict[str, Any] = json.loads(answer.content)
    return document


@pytest.fixture(scope="module")
def published(
    notary: RunningNotary, tmp_path_factory: pytest.TempPathFactory
) -> PublishedRepository:
    """``GUN`` initialised, delegated to ``targets/releases`` and ``TAG`` published in both."""
    if shutil.which("notary") is None:
        pytest.skip(INSTALL_HINT)
    work = tmp_path_factory.mktemp("notary-client")
    client = NotaryClient(work / "trust", notary, notary.ca_cert)
    digest = hashlib.sha256(CONTENT).hexdigest()
    client.init(GUN)
    cert = client.add_delegation(GUN, DELEGATION, work / "delegation-keys")
    client.add_hash(GUN, TAG, len(CONTENT), digest)
    client.add_hash(GUN, TAG, len(CONTENT), digest, roles=[DELEGATION])
    client.publish(GUN)
    return PublishedRepository(
        client=client, delegation_cert=cert, sha256_hex=digest, size=len(CONTENT)
    )


def test_health_answers(notary: RunningNotary) -> None:
    answer = _get(notary, HEALTH_PATH)
    assert answer.status_code == 200, notary.log_tail()
    assert notary.url.startswith("https://127.0.0.1:")


@pytest.mark.parametrize(
    ("role", "expected_type"),
    [
        ("root", "Root"),
        ("timestamp", "Timestamp"),
        ("snapshot", "Snapshot"),
        ("targets", "Targets"),
        (DELEGATION, "Targets"),
    ],
)
def test_published_metadata_has_its_type(
    notary: RunningNotary, published: PublishedRepository, role: str, expected_type: str
) -> None:
    document = _metadata(notary, role)
    assert document["signed"]["_type"] == expected_type
    assert document["signatures"], f"{role}.json carries no signature"


@pytest.mark.parametrize("role", ["targets", DELEGATION])
def test_target_carries_the_added_hash(
    notary: RunningNotary, published: PublishedRepository, role: str
) -> None:
    target = _metadata(notary, role)["signed"]["targets"][TAG]
    assert base64.b64decode(target["hashes"]["sha256"]).hex() == published.sha256_hex
    assert target["length"] == published.size


def test_delegation_is_listed_in_targets(
    notary: RunningNotary, published: PublishedRepository
) -> None:
    delegations = _metadata(notary, "targets")["signed"]["delegations"]
    (role,) = [role for role in delegations["roles"] if role["name"] == DELEGATION]
    assert role["paths"] == [""]  # --all-paths
    (keyid,) = role["keyids"]
    published_cert = base64.b64decode(delegations["keys"][keyid]["keyval"]["public"])
    assert published_cert == published.delegation_cert.read_bytes()


def test_timestamp_key_lives_on_the_server(
    notary: RunningNotary, published: PublishedRepository
) -> None:
    root = _metadata(notary, "root")["signed"]
    (timestamp_keyid,) = root["roles"]["timestamp"]["keyids"]
    local_keys = {path.stem for path in (published.client.trust_dir / "private").glob("*.key")}
    assert timestamp_keyid not in local_keys
    assert root["keys"][timestamp_keyid]["keytype"] == "ecdsa"


def test_root_certificate_names_the_gun(published: PublishedRepository) -> None:
    certificate = x509.load_pem_x509_certificate(published.client.root_certificate(GUN))
    (common_name,) = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert common_name.value == GUN


def test_versioned_root_is_served(notary: RunningNotary, published: PublishedRepository) -> None:
    current = _get(notary, f"/v2/{GUN}/_trust/tuf/root.json")
    first = _get(notary, f"/v2/{GUN}/_trust/tuf/1.root.json")
    assert first.status_code == 200, notary.log_tail()
    assert json.loads(first.content)["signed"]["version"] == 1
    assert first.content == current.content  # only one root so far
    assert _get(notary, f"/v2/{GUN}/_trust/tuf/2.root.json").status_code == 404


def test_failed_command_raises_with_its_output(published: PublishedRepository) -> None:
    with pytest.raises(NotaryCommandError, match=r"lookup .* failed .*No valid trust data"):
        published.client.run("lookup", GUN, "no-such-tag")


def test_root_rotation_serves_the_next_versioned_root(
    notary: RunningNotary, tmp_path: Path
) -> None:
    if shutil.which("notary") is None:
        pytest.skip(INSTALL_HINT)
    gun = "127.0.0.1:5000/acme/rotated"
    client = NotaryClient(tmp_path / "trust", notary, notary.ca_cert)
    client.init(gun)
    client.publish(gun)
    first_cert = client.root_certificate(gun)
    # Root rotation publishes at once; it asks for confirmation on stdin.
    client.run("key", "rotate", gun, "root", input="yes\n")
    second = json.loads(_get(notary, f"/v2/{gun}/_trust/tuf/2.root.json").content)
    first = json.loads(_get(notary, f"/v2/{gun}/_trust/tuf/1.root.json").content)
    assert second["signed"]["version"] == 2
    assert first["signed"]["roles"]["root"]["keyids"] != second["signed"]["roles"]["root"]["keyids"]
    # The new root is signed by the old root key as well as the new one.
    signers = {signature["keyid"] for signature in second["signatures"]}
    assert set(first["signed"]["roles"]["root"]["keyids"]) <= signers
    assert client.root_certificate(gun) != first_cert
