"""The whole chain on repositories signed in the test: root, rotation, rollback, refresh."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gate.errors import InputError
from gate.oci.digest import Digest
from gate.signatures.notary.metadata import NotaryError, NotaryMissingError
from gate.signatures.notary.repository import (
    TrustedRepository,
    load_pinned_root,
    load_trusted_repository,
    refresh_trusted_repository,
    verify_root,
)
from tests.unit.signatures.notary import (
    GUN,
    NOW,
    YEAR,
    RepositorySimulator,
    certificate_key,
    ecdsa_key,
    ed25519_key,
    pin_of,
    rsa_key,
    rsa_private,
)

MANIFEST = b'{"schemaVersion":2}'
OTHER = b'{"schemaVersion":2,"other":true}'


@pytest.fixture
def repo() -> RepositorySimulator:
    simulator = RepositorySimulator()
    simulator.add_target("v1", MANIFEST)
    simulator.publish()
    return simulator


def load(
    repo: RepositorySimulator,
    *,
    previous: TrustedRepository | None = None,
    strict_lengths: bool = True,
    max_role_bytes: int = 4 * 1024 * 1024,
) -> TrustedRepository:
    """The repository verified from its current first root key, at ``NOW``."""
    return load_trusted_repository(
        repo.gun,
        repo,
        [repo.pin()],
        now=NOW,
        previous=previous,
        strict_lengths=strict_lengths,
        max_role_bytes=max_role_bytes,
    )


# -- the happy path --------------------------------------------------------------------------


def test_verified_repository(repo: RepositorySimulator) -> None:
    trusted = load(repo)
    assert trusted.gun == GUN
    assert trusted.root_key == repo.pin()
    assert trusted.versions == {"root": 1, "timestamp": 2, "snapshot": 2, "targets": 2}
    target = trusted.roles["targets"]["v1"]
    assert target.digest == Digest.of(MANIFEST)
    assert target.length == len(MANIFEST)
    assert target.role == "targets"
    assert trusted.delegations == ()
    assert trusted.snapshot_sha256 == hashlib.sha256(repo.files["snapshot.json"]).hexdigest()
    assert trusted.timestamp_expires == NOW + timedelta(days=14)
    assert trusted.expires == trusted.timestamp_expires  # the earliest of all
    assert trusted.root_bytes == repo.files["root.json"]
    assert repo.fetched == [
        "root.json",
        "2.root.json",
        "timestamp.json",
        "snapshot.json",
        "targets.json",
    ]


def test_pinned_public_key_or_certificate_are_the_same_pin(repo: RepositorySimulator) -> None:
    from_key = pin_of(repo.root_keys[0])
    assert from_key.spki_der == repo.pin().spki_der
    assert from_key.fingerprint == repo.pin().fingerprint
    trusted = load_trusted_repository(GUN, repo, [pin_of(ecdsa_key()), from_key], now=NOW)
    assert trusted.root_key == from_key


def test_other_key_types_sign_the_other_roles(repo: RepositorySimulator) -> None:
    repo.keys["targets"] = [rsa_key()]
    repo.keys["snapshot"] = [ed25519_key()]
    repo.keys["timestamp"] = [
        certificate_key("timestamp", private=ec.generate_private_key(ec.SECP256R1()))
    ]
    repo.publish_root()
    repo.publish()
    assert "v1" in load(repo).roles["targets"]


def test_rsa_root_certificate(repo: RepositorySimulator) -> None:
    repo.root_keys = [certificate_key(GUN, private=rsa_private(1))]
    repo.publish_root()
    repo.publish()
    assert load(repo).root_key == repo.pin()


# -- root ------------------------------------------------------------------------------------


def test_root_key_must_be_pinned(repo: RepositorySimulator) -> None:
    wrong = pin_of(ecdsa_key(), "other.pub")
    with pytest.raises(
        NotaryError,
        match=r"^notary registry.example/acme/app: root.json: no "
        r"root-role key matches the pinned root key\(s\): other.pub \(SHA256:",
    ):
        load_trusted_repository(GUN, repo, [wrong], now=NOW)


def test_no_pinned_key_fails_closed(repo: RepositorySimulator) -> None:
    with pytest.raises(NotaryError, match="no pinned root key"):
        load_trusted_repository(GUN, repo, [], now=NOW)


def test_root_certificate_must_name_the_gun(repo: RepositorySimulator) -> None:
    with pytest.raises(
        NotaryError,
        match=r"root certificate CN 'registry.example/acme/app' "
        r"does not match the GUN 'registry.example/acme/other'",
    ):
        load_trusted_repository("registry.example/acme/other", repo, [repo.pin()], now=NOW)
    # a pinned key can be allowed to bind the repository by itself
    trusted = load_trusted_repository(
        "registry.example/acme/other", repo, [repo.pin()], now=NOW, check_root_cn=False
    )
    assert "v1" in trusted.roles["targets"]


def test_root_certificate_validity_window() -> None:
    repo = RepositorySimulator()
    repo.root_keys = [certificate_key(GUN, not_before=NOW - YEAR, not_after=NOW - timedelta(1))]
    repo.publish_root()
    repo.publish()
    with pytest.raises(
        NotaryError,
        match=r"root.json: root certificate 'registry.example/acme/"
        r"app' \([0-9a-f]{12}\) expired at",
    ):
        load(repo)
    repo.root_keys = [certificate_key(GUN, not_before=NOW + timedelta(days=2))]
    repo.publish_root()
    repo.publish()
    with pytest.raises(NotaryError, match="is not valid before"):
        load(repo)
    # a day of leeway on notBefore, as Notary gives for clock skew
    repo.root_keys = [certificate_key(GUN, not_before=NOW + timedelta(hours=20))]
    repo.publish_root()
    repo.publish()
    assert load(repo).versions["root"] == 1


def test_bare_root_key_needs_cn_check_off() -> None:
    repo = RepositorySimulator()
    repo.root_keys = [ecdsa_key()]
    repo.publish_root()
    repo.publish()
    pin = pin_of(repo.root_keys[0])
    with pytest.raises(NotaryError, match="bare ecdsa key without a certificate naming the GUN"):
        load_trusted_repository(GUN, repo, [pin], now=NOW)
    assert load_trusted_repository(GUN, repo, [pin], now=NOW, check_root_cn=False).root_key == pin


def test_root_expired(repo: RepositorySimulator) -> None:
    repo.expires["root"] = NOW - timedelta(seconds=1)
    repo.publish_root()
    repo.publish()
    with pytest.raises(NotaryError, match=r"root.json: expired at 2026-11-22T11:59:59Z"):
        load(repo)


def test_root_threshold_counts_distinct_root_keys(repo: RepositorySimulator) -> None:
    first, second = repo.root_keys[0], certificate_key(GUN)
    repo.root_keys = [first, second]
    repo.thresholds["root"] = 2
    repo.publish_root(signers=[first])
    repo.publish()
    with pytest.raises(
        NotaryError,
        match=r"root.json: 1 of 2 required root signatures valid "
        r"\(no signature by a root key\)",
    ):
        load(repo)
    # the same key signing twice is still one key
    repo.publish_root(signers=[first, first])
    repo.publish()
    with pytest.raises(NotaryError, match="1 of 2 required root signatures valid"):
        load(repo)
    repo.publish_root(signers=[first, second])
    repo.publish()
    assert load(repo).versions["root"] == 1


def test_one_key_under_two_certificates_counts_once(repo: RepositorySimulator) -> None:
    first = repo.root_keys[0]
    twin = certificate_key(GUN, private=first.private, not_before=NOW - 2 * YEAR)
    assert twin.keyid != first.keyid
    repo.root_keys = [first, twin]
    repo.thresholds["root"] = 2
    repo.publish_root(signers=[first, twin])
    repo.publish()
    with pytest.raises(NotaryError, match="1 of 2 required root signatures valid"):
        load(repo)


def test_pinned_key_must_have_signed_root(repo: RepositorySimulator) -> None:
    first, second = repo.root_keys[0], certificate_key(GUN)
    repo.root_keys = [first, second]
    repo.publish_root(signers=[second])
    repo.publish()
    with pytest.raises(NotaryError, match="0 of 1 required pinned root signatures valid"):
        load(repo)
    assert load_trusted_repository(GUN, repo, [repo.pin(1)], now=NOW).root_key == repo.pin(1)


def test_root_without_signatures(repo: RepositorySimulator) -> None:
    repo.publish_root(signers=[])
    with pytest.raises(NotaryError, match=r"root.json: has no signatures"):
        load(repo)


def test_verify_root_alone(repo: RepositorySimulator) -> None:
    root, pin = verify_root(repo.files["root.json"], GUN, [repo.pin()], now=NOW)
    assert pin == repo.pin()
    assert root.version == 1
    with pytest.raises(NotaryError, match="no pinned root key"):
        verify_root(repo.files["root.json"], GUN, [], now=NOW)


# -- root rotation ---------------------------------------------------------------------------


def test_rotation_walks_from_the_pinned_first_root(repo: RepositorySimulator) -> None:
    old_pin = repo.pin()
    repo.rotate_root([certificate_key(GUN)])
    repo.publish()
    repo.fetched.clear()
    trusted = load_trusted_repository(GUN, repo, [old_pin], now=NOW)
    assert trusted.root_key == old_pin
    assert trusted.versions["root"] == 2
    assert trusted.root_bytes == repo.files["2.root.json"]
    assert repo.fetched[:4] == ["root.json", "1.root.json", "2.root.json", "3.root.json"]


def test_rotation_pinning_the_new_key(repo: RepositorySimulator) -> None:
    repo.rotate_root([certificate_key(GUN)])
    repo.publish()
    trusted = load_trusted_repository(GUN, repo, [repo.pin()], now=NOW)
    assert trusted.versions["root"] == 2


def test_rotation_needs_the_old_root_keys(repo: RepositorySimulator) -> None:
    old_pin = repo.pin()
    new = certificate_key(GUN)
    repo.rotate_root([new], signers=[new])
    repo.publish()
    with pytest.raises(
        NotaryError,
        match=r"2.root.json: 0 of 1 required previous root "
        r"signatures valid",
    ):
        load_trusted_repository(GUN, repo, [old_pin], now=NOW)


def test_rotation_needs_the_new_root_keys(repo: RepositorySimulator) -> None:
    old_pin, old = repo.pin(), repo.root_keys[0]
    repo.rotate_root([certificate_key(GUN)], signers=[old])
    repo.publish()
    with pytest.raises(NotaryError, match=r"2.root.json: 0 of 1 required root signatures"):
        load_trusted_repository(GUN, repo, [old_pin], now=NOW)


def test_rotation_version_must_be_the_next_one(repo: RepositorySimulator) -> None:
    old_pin = repo.pin()
    repo.rotate_root([certificate_key(GUN)])
    repo.files["2.root.json"] = repo.files["1.root.json"]
    with pytest.raises(NotaryError, match=r"2.root.json: signed.version is 1, expected 2"):
        load_trusted_repository(GUN, repo, [old_pin], now=NOW)


def test_rotation_from_the_cached_root(repo: RepositorySimulator) -> None:
    cached = load(repo)
    old_pin = repo.pin()
    repo.rotate_root([certificate_key(GUN)])
    repo.publish()
    repo.fetched.clear()
    trusted = load_trusted_repository(GUN, repo, [old_pin], now=NOW, previous=cached)
    assert trusted.versions["root"] == 2
    assert trusted.root_key == old_pin
    assert "root.json" not in repo.fetched  # walked on from the cached version 1
    assert repo.fetched[:2] == ["2.root.json", "3.root.json"]


def test_root_must_match_the_snapshot(repo: RepositorySimulator) -> None:
    cached = load(repo)
    repo.rotate_root([certificate_key(GUN)])
    repo.publish()
    del repo.files["2.root.json"]  # the server lost the versioned file
    with pytest.raises(NotaryError, match=r"root.json: sha256 does not match snapshot.json"):
        load_trusted_repository(GUN, repo, [cached.root_key], now=NOW, previous=cached)


# -- the role chain --------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["timestamp", "snapshot", "targets"])
def test_expired_roles(repo: RepositorySimulator, role: str) -> None:
    repo.expires[role] = NOW
    repo.publish()
    with pytest.raises(NotaryError, match=rf"{role}.json: expired at 2026-11-22T12:00:00Z"):
        load(repo)


@pytest.mark.parametrize("role", ["timestamp", "snapshot", "targets"])
def test_roles_signed_by_the_wrong_key(repo: RepositorySimulator, role: str) -> None:
    # a key of another role, valid signature: does not count
    repo.signers[role] = repo.keys["targets" if role != "targets" else "snapshot"]
    repo.publish()
    with pytest.raises(
        NotaryError,
        match=rf"{role}.json: 0 of 1 required {role} signatures "
        rf"valid \(no signature by a {role} key\)",
    ):
        load(repo)


def test_signature_method_must_fit_the_key(repo: RepositorySimulator) -> None:
    key = repo.keys["targets"][0]
    key.method = "rsapss"
    repo.publish()
    with pytest.raises(
        NotaryError,
        match=r"targets.json: 0 of 1 required targets signatures "
        r"valid \([0-9a-f]{12}: method 'rsapss' does not fit a ecdsa key",
    ):
        load(repo)


def test_snapshot_hash_from_timestamp(repo: RepositorySimulator) -> None:
    expected = hashlib.sha256(repo.files["snapshot.json"]).hexdigest()
    # same length, other content: the signature would still be checked later, the hash first
    repo.files["snapshot.json"] = repo.files["snapshot.json"].replace(
        b'"version": 2', b'"version": 9'
    )
    actual = hashlib.sha256(repo.files["snapshot.json"]).hexdigest()
    with pytest.raises(NotaryError) as caught:
        load(repo)
    assert str(caught.value) == (
        "notary registry.example/acme/app: snapshot.json: sha256 does not match timestamp.json "
        f"(expected {expected[:16]}..., got {actual[:16]}...)"
    )


def test_targets_hash_from_snapshot(repo: RepositorySimulator) -> None:
    repo.files["targets.json"] = repo.files["targets.json"].replace(b'"v1"', b'"v2"')
    with pytest.raises(NotaryError, match=r"targets.json: sha256 does not match snapshot.json"):
        load(repo)


def test_sha512_is_checked_too(repo: RepositorySimulator) -> None:
    repo.tamper["snapshot"] = lambda signed: signed["meta"]["targets"]["hashes"].update(
        sha512="A" * 86 + "=="
    )
    repo.publish(roles=())
    with pytest.raises(NotaryError, match=r"targets.json: sha512 does not match snapshot.json"):
        load(repo)


def test_strict_lengths(repo: RepositorySimulator) -> None:
    size = len(repo.files["targets.json"])
    repo.tamper["snapshot"] = lambda signed: signed["meta"]["targets"].update(length=size - 1)
    repo.publish(roles=())
    with pytest.raises(NotaryError, match=r"larger than \d+ bytes"):
        load(repo)
    # only the hash counts without strict lengths
    assert "v1" in load(repo, strict_lengths=False).roles["targets"]
    # a length above the size is fine either way (it is an upper bound)
    repo.tamper["snapshot"] = lambda signed: signed["meta"]["targets"].update(length=size + 100)
    repo.publish(roles=())
    assert "v1" in load(repo).roles["targets"]


def test_root_length_from_snapshot(repo: RepositorySimulator) -> None:
    size = len(repo.files["root.json"])
    repo.tamper["snapshot"] = lambda signed: signed["meta"]["root"].update(length=size - 1)
    repo.publish(roles=())
    with pytest.raises(
        NotaryError,
        match=rf"root.json: {size} bytes, more than the length "
        rf"{size - 1} recorded in snapshot.json",
    ):
        load(repo)


def test_role_over_the_size_limit(repo: RepositorySimulator) -> None:
    limit = len(repo.files["timestamp.json"]) - 1
    with pytest.raises(NotaryError, match=rf"root.json: larger than {limit} bytes"):
        load(repo, max_role_bytes=limit)

    # a source that ignores the limit is caught too
    class Careless:
        def fetch(self, role: str, max_length: int, *, version: int | None = None) -> bytes:
            return repo.fetch(role, 10**9, version=version)

    with pytest.raises(NotaryError, match=rf"root.json: \d+ bytes, more than the limit {limit}"):
        load_trusted_repository(GUN, Careless(), [repo.pin()], now=NOW, max_role_bytes=limit)


def test_missing_timestamp(repo: RepositorySimulator) -> None:
    del repo.files["timestamp.json"]
    with pytest.raises(NotaryMissingError, match=r"timestamp.json: not found"):
        load(repo)


def test_missing_root_means_no_trust_data() -> None:
    repo = RepositorySimulator()
    repo.files.clear()
    with pytest.raises(NotaryMissingError, match=r"root.json: not found"):
        load(repo)


def test_snapshot_version_listed_in_timestamp(repo: RepositorySimulator) -> None:
    repo.tamper["timestamp"] = lambda signed: signed["meta"]["snapshot"].update(version=7)
    repo.publish_timestamp()
    with pytest.raises(
        NotaryError, match=r"snapshot.json: version 2, but timestamp.json lists version 7"
    ):
        load(repo)


# -- delegations -----------------------------------------------------------------------------


def test_delegations_verified_breadth_first(repo: RepositorySimulator) -> None:
    repo.delegate("targets/releases")
    repo.delegate("targets/qa")
    repo.delegate("targets/releases/nightly", parent="targets/releases")
    repo.add_target("v1", MANIFEST, role="targets/releases")
    repo.add_target("nightly", OTHER, role="targets/releases/nightly")
    repo.publish()
    trusted = load(repo)
    assert trusted.delegations == ("targets/releases", "targets/qa", "targets/releases/nightly")
    assert trusted.roles["targets/releases"]["v1"].role == "targets/releases"
    assert trusted.roles["targets/releases/nightly"]["nightly"].digest == Digest.of(OTHER)
    assert trusted.versions["targets/releases/nightly"] == 1


def test_delegation_signed_by_its_own_keys_only(repo: RepositorySimulator) -> None:
    repo.delegate("targets/releases")
    repo.signers["targets/releases"] = repo.keys["targets"]
    repo.publish()
    with pytest.raises(
        NotaryError,
        match=r"targets/releases.json: 0 of 1 required "
        r"targets/releases signatures valid",
    ):
        load(repo)


def test_delegation_threshold(repo: RepositorySimulator) -> None:
    keys = [ecdsa_key(), ecdsa_key()]
    repo.delegate("targets/releases", keys=keys, threshold=2)
    repo.signers["targets/releases"] = keys[:1]
    repo.publish()
    with pytest.raises(NotaryError, match="1 of 2 required targets/releases signatures valid"):
        load(repo)
    repo.signers["targets/releases"] = keys
    repo.publish()
    assert load(repo).delegations == ("targets/releases",)


def test_delegation_expired(repo: RepositorySimulator) -> None:
    repo.delegate("targets/releases")
    repo.expires["targets/releases"] = NOW - YEAR
    repo.publish()
    with pytest.raises(NotaryError, match=r"targets/releases.json: expired at 2025-11-22"):
        load(repo)


def test_delegation_listed_but_missing(repo: RepositorySimulator) -> None:
    repo.delegate("targets/releases")
    repo.publish()
    del repo.files["targets/releases.json"]
    with pytest.raises(
        NotaryMissingError,
        match=r"targets/releases.json: listed in "
        r"snapshot.json but not found",
    ):
        load(repo)


def test_delegation_not_in_snapshot_is_skipped(repo: RepositorySimulator) -> None:
    repo.delegate("targets/releases")
    repo.tamper["snapshot"] = lambda signed: signed["meta"].pop("targets/releases")
    repo.publish()
    trusted = load(repo)
    assert trusted.delegations == ()
    assert "targets/releases.json" not in repo.fetched


def test_snapshot_entry_nobody_delegates_is_ignored(repo: RepositorySimulator) -> None:
    repo.tamper["snapshot"] = lambda signed: signed["meta"].update(
        {"targets/orphan": signed["meta"]["targets"]}
    )
    repo.publish(roles=())
    assert load(repo).delegations == ()


def test_delegation_paths_limit_what_a_role_vouches_for(repo: RepositorySimulator) -> None:
    repo.delegate("targets/releases", paths=["release-"])
    repo.delegate("targets/nested", paths=["a"])
    repo.delegate("targets/nested/deeper", parent="targets/nested", paths=[""])
    for name in ("release-1", "v1"):
        repo.add_target(name, MANIFEST, role="targets/releases")
    for name in ("a1", "b1"):
        repo.add_target(name, MANIFEST, role="targets/nested/deeper")
    repo.publish()
    trusted = load(repo)
    assert set(trusted.roles["targets/releases"]) == {"release-1"}
    # the child may say "" but its parent only allowed "a..."
    assert set(trusted.roles["targets/nested/deeper"]) == {"a1"}


def test_delegation_path_hash_prefixes(repo: RepositorySimulator) -> None:
    prefix = hashlib.sha256(b"v1").hexdigest()[:2]
    repo.delegate("targets/hashed", paths=None, path_hash_prefixes=[prefix])
    repo.add_target("v1", MANIFEST, role="targets/hashed")
    other = next(
        f"t{i}"
        for i in range(999)
        if not hashlib.sha256(f"t{i}".encode()).hexdigest().startswith(prefix)
    )
    repo.add_target(other, MANIFEST, role="targets/hashed")
    repo.publish()
    assert set(load(repo).roles["targets/hashed"]) == {"v1"}


def test_delegation_without_paths_vouches_for_nothing(repo: RepositorySimulator) -> None:
    repo.delegate("targets/empty", paths=None)
    repo.add_target("v1", MANIFEST, role="targets/empty")
    repo.publish()
    trusted = load(repo)
    assert trusted.delegations == ("targets/empty",)
    assert trusted.roles["targets/empty"] == {}


# -- rollback --------------------------------------------------------------------------------


def test_rollback_of_any_role_is_refused(repo: RepositorySimulator) -> None:
    old = dict(repo.files)
    repo.publish()
    cached = load(repo)
    repo.files = old  # an attacker replays the older, still valid, trust data
    with pytest.raises(
        NotaryError,
        match=r"timestamp.json: version 2 is older than version 3 "
        r"seen before \(rollback\)",
    ):
        load(repo, previous=cached)
    assert load(repo).versions["timestamp"] == 2  # without memory it cannot tell


def test_rollback_of_targets_with_a_fresh_timestamp(repo: RepositorySimulator) -> None:
    repo.delegate("targets/releases")
    repo.publish()
    repo.publish()
    cached = load(repo)
    repo.versions["targets/releases"] = 0  # re-signed at version 1 again
    repo.publish(roles=("targets/releases",))
    with pytest.raises(
        NotaryError,
        match=r"targets/releases.json: version 1 is older than "
        r"version 2",
    ):
        load(repo, previous=cached)


def test_previous_of_another_repository_is_ignored(repo: RepositorySimulator) -> None:
    cached = load(repo)
    other = RepositorySimulator("registry.example/acme/other")
    other.publish()
    trusted = load_trusted_repository(other.gun, other, [other.pin()], now=NOW, previous=cached)
    assert trusted.gun == other.gun


# -- refresh ---------------------------------------------------------------------------------


def test_refresh_with_an_unchanged_snapshot_reads_only_the_timestamp(
    repo: RepositorySimulator,
) -> None:
    cached = load(repo)
    repo.publish_timestamp()
    repo.fetched.clear()
    later = NOW + timedelta(days=1)
    fresh = refresh_trusted_repository(cached, GUN, repo, [repo.pin()], now=later)
    assert repo.fetched == ["timestamp.json"]
    assert fresh.versions == {**cached.versions, "timestamp": 3}
    assert fresh.timestamp_expires == NOW + timedelta(days=14)
    assert fresh.roles == cached.roles


def test_refresh_after_a_change_does_the_full_walk(repo: RepositorySimulator) -> None:
    cached = load(repo)
    repo.add_target("v2", OTHER)
    repo.publish()
    repo.fetched.clear()
    fresh = refresh_trusted_repository(cached, GUN, repo, [repo.pin()], now=NOW)
    assert "v2" in fresh.roles["targets"]
    assert repo.fetched.count("timestamp.json") == 1  # read once, reused by the full walk
    assert "snapshot.json" in repo.fetched


def test_refresh_with_expired_cached_data_does_the_full_walk(repo: RepositorySimulator) -> None:
    repo.expires["targets"] = NOW + timedelta(days=1)
    repo.publish()
    cached = load(repo)
    repo.expires["timestamp"] = NOW + timedelta(days=30)
    repo.publish_timestamp()
    with pytest.raises(NotaryError, match=r"targets.json: expired at"):
        refresh_trusted_repository(cached, GUN, repo, [repo.pin()], now=NOW + timedelta(days=2))


def test_refresh_with_a_rotated_timestamp_key(repo: RepositorySimulator) -> None:
    cached = load(repo)
    repo.keys["timestamp"] = [ecdsa_key()]
    repo.versions["root"] += 1
    repo.publish_root(signers=repo.root_keys)
    repo.publish(roles=())
    fresh = refresh_trusted_repository(cached, GUN, repo, [repo.pin()], now=NOW)
    assert fresh.versions["root"] == 2


def test_refresh_refuses_a_rolled_back_timestamp(repo: RepositorySimulator) -> None:
    old = repo.files["timestamp.json"]
    repo.publish_timestamp()
    cached = load(repo)
    repo.files["timestamp.json"] = old
    with pytest.raises(NotaryError, match="rollback"):
        refresh_trusted_repository(cached, GUN, repo, [repo.pin()], now=NOW)


def test_refresh_when_the_pin_changed_starts_over(repo: RepositorySimulator) -> None:
    cached = load(repo)
    with pytest.raises(NotaryError, match="no root-role key matches"):
        refresh_trusted_repository(cached, GUN, repo, [pin_of(ecdsa_key())], now=NOW)


def test_refresh_checks_the_root_certificate_again() -> None:
    repo = RepositorySimulator()
    repo.root_keys = [certificate_key(GUN, not_after=NOW + timedelta(days=1))]
    repo.publish_root()
    repo.publish()
    cached = load(repo)
    with pytest.raises(NotaryError, match="expired at"):
        refresh_trusted_repository(cached, GUN, repo, [repo.pin()], now=NOW + timedelta(days=2))


# -- pinned roots ----------------------------------------------------------------------------


def test_load_pinned_root_from_key_and_certificate() -> None:
    key = certificate_key(GUN)
    from_key = load_pinned_root(key.public_pem(), "root.pub")
    assert key.certificate is not None
    pem = key.certificate.public_bytes(serialization.Encoding.PEM)
    from_certificate = load_pinned_root(pem, "root.crt")
    assert from_key.spki_der == from_certificate.spki_der
    assert from_key.fingerprint == "SHA256:" + hashlib.sha256(from_key.spki_der).hexdigest()
    assert from_certificate.label == "root.crt"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not a key", "found no PEM block"),
        (b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "not a PEM public key"),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "not a PEM public"),
    ],
)
def test_load_pinned_root_refuses_junk(data: bytes, reason: str) -> None:
    with pytest.raises(InputError, match=rf"^root.pub: .*{reason}"):
        load_pinned_root(data, "root.pub")


def test_load_pinned_root_refuses_private_keys_and_bundles() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(InputError, match="is a private key"):
        load_pinned_root(pem, "root.key")
    two = ecdsa_key().public_pem() + ecdsa_key().public_pem()
    with pytest.raises(InputError, match="found 2 PEM blocks"):
        load_pinned_root(two, "roots.pem")
