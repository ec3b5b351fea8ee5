"""A Notary server that answers badly: every answer is a clear deny, never a traceback.

The server is ``StubServer`` (plain HTTP on loopback, which the gate allows
only there): these are the answers a real notary-server never gives.
"""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.oci.source import ResolvedImage
from gate.signatures.evidence import AuthorityResult
from gate.signatures.notary.authority import NotaryTrust
from gate.signatures.notary.repository import load_pinned_root
from gate.signatures.notary.server import NotaryServers
from gate.signatures.notary.verifier import NotaryVerifier
from gate.signatures.trust import TrustAuthority
from tests.integration.registry_server import StubResponse, StubServer

pytestmark = pytest.mark.integration

MANIFEST = b'{"schemaVersion": 2}'
DIGEST = Digest.of(MANIFEST)
KEY_ID = "a" * 64
UNKNOWN_KEY_ROOT = json.dumps(
    {
        "signed": {
            "_type": "Root",
            "consistent_snapshot": False,
            "expires": "2099-01-01T00:00:00Z",
            "version": 1,
            "keys": {
                KEY_ID: {"keytype": "quantum-x509", "keyval": {"private": None, "public": "QQ=="}}
            },
            "roles": {
                role: {"keyids": [KEY_ID], "threshold": 1}
                for role in ("root", "targets", "snapshot", "timestamp")
            },
        },
        "signatures": [{"keyid": KEY_ID, "method": "ecdsa", "sig": "QQ=="}],
    }
).encode()


def _verify(answer: StubResponse, *, timeout: float = 5.0) -> AuthorityResult:
    stub = StubServer(lambda method, path, headers: answer)
    try:
        key = ec.generate_private_key(ec.SECP256R1()).public_key()
        pem = key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        trust = NotaryTrust(
            server=f"http://{stub.host}", root_keys=(load_pinned_root(pem, "root.pub"),)
        )
        reference = ImageReference.parse("127.0.0.1:5000/acme/app:1").with_digest(DIGEST)
        image = ResolvedImage(
            reference, DIGEST, "application/vnd.oci.image.manifest.v1+json", MANIFEST
        )
        servers = NotaryServers(timeout=timeout, deadline=timeout * 2)
        try:
            return NotaryVerifier(servers).verify(image, TrustAuthority("dct", notary=trust))
        finally:
            servers.close()
    finally:
        stub.stop()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"signed": {"_type": "Root", "version": 1', "root.json"),
        (b"<html>maintenance</html>", "root.json"),
        (b"", "root.json"),
        (UNKNOWN_KEY_ROOT, "quantum-x509"),
        (b"{" + b" " * (5 * 1024 * 1024) + b"}", "larger than"),
    ],
    ids=["truncated", "not-json", "empty", "unknown-key-type", "huge"],
)
def test_bad_trust_data_is_refused_with_a_reason(body: bytes, reason: str) -> None:
    result = _verify(StubResponse(200, {"Content-Type": "application/json"}, body))
    assert not result.satisfied
    assert result.error is None, result.error
    assert len(result.rejections) == 1
    line = result.rejections[0]
    assert reason in line, line
    assert "\n" not in line
    assert "Traceback" not in line


def test_a_server_error_is_undecided_not_a_pass() -> None:
    result = _verify(StubResponse(500, body=b"internal error"))
    assert not result.satisfied
    assert result.error is not None
    assert "answered 500" in result.error


def test_a_dripping_server_is_cut_off_at_the_deadline() -> None:
    body = b"{" + b" " * 200 + b"}"
    result = _verify(StubResponse(200, body=body, drip=0.05), timeout=0.5)
    assert not result.satisfied
    assert result.error is not None
    assert "deadline" in result.error or "timed out" in result.error
