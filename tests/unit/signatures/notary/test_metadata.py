"""Strict parsing of the role files: every malformed input is one NotaryError line."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from gate.errors import VerificationError
from gate.signatures.notary.metadata import (
    DelegatedRole,
    NotaryError,
    NotaryMissingError,
    is_delegation_name,
    parse_root,
    parse_snapshot,
    parse_targets,
    parse_time,
    parse_timestamp,
    role_file,
)
from tests.unit.signatures.notary import RepositorySimulator, ecdsa_key

Document = dict[str, Any]


@pytest.fixture(scope="module")
def repo() -> RepositorySimulator:
    simulator = RepositorySimulator()
    simulator.add_target("v1", b"manifest")
    simulator.delegate("targets/releases")
    simulator.publish()
    return simulator


def _bytes(document: Document) -> bytes:
    return json.dumps(document).encode()


def test_errors_are_verification_errors() -> None:
    assert issubclass(NotaryError, VerificationError)
    assert issubclass(NotaryMissingError, NotaryError)


def test_parse_the_four_roles(repo: RepositorySimulator) -> None:
    root = parse_root(repo.files["root.json"])
    assert root.file == "root.json"
    assert root.signed.version == 1
    assert set(root.signed.roles) == {"root", "targets", "snapshot", "timestamp"}
    assert root.signed.consistent_snapshot is False
    assert len(root.signatures) == 1
    timestamp = parse_timestamp(repo.files["timestamp.json"]).signed
    assert timestamp.snapshot.length == len(repo.files["snapshot.json"])
    assert set(timestamp.snapshot.hashes) == {"sha256", "sha512"}
    snapshot = parse_snapshot(repo.files["snapshot.json"]).signed
    assert set(snapshot.meta) == {"root", "targets", "targets/releases"}
    targets = parse_targets(repo.files["targets.json"]).signed
    assert targets.targets["v1"].length == len(b"manifest")
    (releases,) = targets.delegations.roles
    assert releases == DelegatedRole("targets/releases", releases.keyids, 1, ("",), ())
    delegated = parse_targets(repo.files["targets/releases.json"], role="targets/releases")
    assert delegated.file == "targets/releases.json"


def test_the_gun_prefixes_errors() -> None:
    with pytest.raises(NotaryError, match=r"^notary docker.io/acme/app: 2.root.json: not valid"):
        parse_root(b"{", file="2.root.json", gun="docker.io/acme/app")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", r"root.json: not valid JSON \(Expecting value"),
        (b'{"signed": {"_type": "Root"', r"root.json: not valid JSON"),
        (b"\\\\\\\n", r"root.json: not valid JSON"),
        (b"\xff\xfe", r"root.json: not UTF-8"),
        (b"[]", r'root.json: expected an object with "signed" and "signatures", got a list'),
        (b'{"signatures": []}', r'root.json: missing required field "signed"'),
        (b'{"signed": {}}', r'root.json: missing required field "signatures"'),
        (b'{"signed": [], "signatures": []}', r"root.json: signed: expected an object"),
        (b'{"signed": {}, "signatures": {}}', r"root.json: signatures: expected a list"),
        (b'{"signed": {}, "signatures": []}', r'signed: missing required field "_type"'),
        (
            b'{"signed": {"_type": "Root"}, "signed": {}, "signatures": []}',
            r"root.json: duplicate key 'signed'",
        ),
        (b'{"signed": {"_type": NaN}, "signatures": []}', r"NaN is not JSON"),
    ],
)
def test_not_a_role_file(data: bytes, reason: str) -> None:
    with pytest.raises(NotaryError, match=reason):
        parse_root(data)


def test_truncated_files(repo: RepositorySimulator) -> None:
    for file, parse in (
        ("root.json", parse_root),
        ("timestamp.json", parse_timestamp),
        ("snapshot.json", parse_snapshot),
        ("targets.json", parse_targets),
    ):
        data = repo.files[file]
        with pytest.raises(NotaryError, match=rf"^{file}: not valid JSON"):
            parse(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("file", "parse", "expected"),
    [
        ("snapshot.json", parse_root, "Root"),
        ("root.json", parse_timestamp, "Timestamp"),
        ("timestamp.json", parse_snapshot, "Snapshot"),
        ("snapshot.json", parse_targets, "Targets"),
    ],
)
def test_wrong_type(
    repo: RepositorySimulator, file: str, parse: Callable[[bytes], object], expected: str
) -> None:
    actual = json.loads(repo.files[file])["signed"]["_type"]
    with pytest.raises(NotaryError, match=rf"signed._type: is '{actual}', expected '{expected}'"):
        parse(repo.files[file])


def test_type_is_case_sensitive(repo: RepositorySimulator) -> None:
    document = repo.document("root.json")
    document["signed"]["_type"] = "root"
    with pytest.raises(NotaryError, match="is 'root', expected 'Root'"):
        parse_root(_bytes(document))


Edit = Callable[[Document], None]


def _set(path: str, value: object) -> Edit:
    def edit(document: Document) -> None:
        *parents, last = path.split("/")
        node: Any = document
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        key: Any = int(last) if isinstance(node, list) else last
        if value is _DELETE:
            del node[key]
        else:
            node[key] = value

    return edit


_DELETE = object()


def _first_key(document: Document) -> str:
    return str(next(iter(document["signed"]["keys"])))


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (_set("signed/version", "1"), r"signed.version: expected an integer >= 1, got string"),
        (_set("signed/version", 0), r"signed.version: expected an integer >= 1, got number 0"),
        (_set("signed/version", True), r"signed.version: expected an integer >= 1, got true"),
        (_set("signed/version", 1.0), r"signed: has no canonical form .*number 1.0 is not an int"),
        (_set("signed/version", _DELETE), r'signed: missing required field "version"'),
        (_set("signed/expires", "tomorrow"), r"signed.expires: not an RFC 3339 time"),
        (_set("signed/expires", 5), r"signed.expires: expected a string, got number 5"),
        (_set("signed/keys", []), r"signed.keys: expected an object, got a list"),
        (_set("signed/roles/root/threshold", 0), r"signed.roles.root.threshold: expected an "),
        (_set("signed/roles/timestamp", _DELETE), r'signed.roles: missing required field "time'),
        (_set("signed/roles/root/keyids", "abc"), r"signed.roles.root.keyids: expected a list"),
        (
            _set("signed/roles/root/keyids", ["0" * 64]),
            r"signed.roles.root.keyids\[0\]: key 0{64} is not among the listed keys",
        ),
        (_set("signed/consistent_snapshot", "no"), r"consistent_snapshot: expected true or false"),
        (_set("signatures/0/sig", "not base64!"), r"signatures\[0\].sig: not valid base64"),
        (_set("signatures/0/keyid", 7), r"signatures\[0\].keyid: expected a string, got number"),
        (_set("signatures/0", "sig"), r"signatures\[0\]: expected an object, got string"),
        (_set("signed/extra", 1.5), r"signed: has no canonical form Notary could sign \(number"),
    ],
)
def test_root_fields(repo: RepositorySimulator, edit: Edit, reason: str) -> None:
    document = repo.document("root.json")
    edit(document)
    with pytest.raises(NotaryError, match=r"^root.json: .*" + reason):
        parse_root(_bytes(document))


def test_root_role_lists_a_key_twice(repo: RepositorySimulator) -> None:
    document = repo.document("root.json")
    keyids = document["signed"]["roles"]["root"]["keyids"]
    keyids.append(keyids[0])
    with pytest.raises(NotaryError, match=r"signed.roles.root.keyids: lists a key ID twice"):
        parse_root(_bytes(document))


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda k: k.update(keytype="dilithium"), r"keytype: unknown key type 'dilithium'"),
        (lambda k: k.update(keytype="ECDSA"), r"keytype: unknown key type 'ECDSA'"),
        (lambda k: k.pop("keytype"), r'missing required field "keytype"'),
        (lambda k: k["keyval"].update(private="c2VjcmV0"), r"must not carry a private key"),
        (lambda k: k["keyval"].update(public=""), r"keyval.public: is empty"),
        (lambda k: k["keyval"].pop("public"), r'keyval: missing required field "public"'),
        (lambda k: k.update(keyval="x"), r"keyval: expected an object"),
    ],
)
def test_key_entries(
    repo: RepositorySimulator, edit: Callable[[Document], object], reason: str
) -> None:
    document = repo.document("root.json")
    keyid = _first_key(document)
    edit(document["signed"]["keys"][keyid])
    with pytest.raises(NotaryError, match=rf"^root.json: signed.keys.{keyid}.*{reason}"):
        parse_root(_bytes(document))


def test_key_id_must_look_like_one(repo: RepositorySimulator) -> None:
    document = repo.document("root.json")
    keys = document["signed"]["keys"]
    keyid = _first_key(document)
    keys[keyid.upper()] = keys.pop(keyid)
    with pytest.raises(NotaryError, match="key ID is not 64 lowercase hex characters"):
        parse_root(_bytes(document))


def test_private_null_may_be_absent(repo: RepositorySimulator) -> None:
    document = repo.document("root.json")
    del document["signed"]["keys"][_first_key(document)]["keyval"]["private"]
    assert parse_root(_bytes(document)).signed.version == 1


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (_set("signed/meta", _DELETE), r'signed: missing required field "meta"'),
        (_set("signed/meta/snapshot", _DELETE), r'signed.meta: missing required field "snapshot"'),
        (_set("signed/meta/snapshot/length", -1), r"length: expected an integer >= 0"),
        (
            _set("signed/meta/snapshot/hashes", {"sha512": "AAAA"}),
            r'signed.meta.snapshot.hashes: missing required field "sha256"',
        ),
        (
            _set("signed/meta/snapshot/hashes/sha256", "AAAA"),
            r"hashes.sha256: decodes to 3 bytes, expected 32",
        ),
        (_set("signed/meta/snapshot/hashes/sha256", "%%%"), r"hashes.sha256: not valid base64"),
        (_set("signed/meta/snapshot/hashes/sha512", 5), r"hashes.sha512: expected a string"),
        (_set("signed/meta/snapshot/version", 0), r"snapshot.version: expected an integer >= 1"),
    ],
)
def test_timestamp_fields(repo: RepositorySimulator, edit: Edit, reason: str) -> None:
    document = repo.document("timestamp.json")
    edit(document)
    with pytest.raises(NotaryError, match=r"^timestamp.json: .*" + reason):
        parse_timestamp(_bytes(document))


def test_unknown_hash_algorithms_are_ignored(repo: RepositorySimulator) -> None:
    document = repo.document("timestamp.json")
    document["signed"]["meta"]["snapshot"]["hashes"]["md5"] = "whatever"
    hashes = parse_timestamp(_bytes(document)).signed.snapshot.hashes
    assert set(hashes) == {"sha256", "sha512"}


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (_set("signed/meta/root", _DELETE), r'signed.meta: missing required field "root"'),
        (_set("signed/meta/targets", _DELETE), r'signed.meta: missing required field "targets"'),
        (_set("signed/meta/timestamp", {}), r"signed.meta.timestamp: is not a role Notary"),
        (_set("signed/meta/targets/length", "1"), r"length: expected an integer >= 0"),
    ],
)
def test_snapshot_fields(repo: RepositorySimulator, edit: Edit, reason: str) -> None:
    document = repo.document("snapshot.json")
    edit(document)
    with pytest.raises(NotaryError, match=r"^snapshot.json: .*" + reason):
        parse_snapshot(_bytes(document))


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (_set("signed/targets", []), r"signed.targets: expected an object"),
        (_set("signed/targets/v1/hashes", {}), r'targets.v1.hashes: missing required field "sha'),
        (_set("signed/targets/v1/length", None), r"targets.v1.length: expected an integer >= 0"),
        (_set("signed/delegations/roles", {}), r"signed.delegations.roles: expected a list"),
        (_set("signed/delegations/keys", _DELETE), r'delegations: missing required field "keys"'),
        (
            _set("signed/delegations/roles/0/name", "releases"),
            r"roles\[0\].name: 'releases' is not a delegation targets may make",
        ),
        (
            _set("signed/delegations/roles/0/name", "targets/a/b"),
            r"'targets/a/b' is not a delegation targets may make",
        ),
        (
            _set("signed/delegations/roles/0/name", "targets/Releases"),
            r"'targets/Releases' is not a delegation",
        ),
        (_set("signed/delegations/roles/0/name", "targets/../x"), r"is not a delegation"),
        (_set("signed/delegations/roles/0/threshold", 0), r"threshold: expected an integer >= 1"),
        (
            _set("signed/delegations/roles/0/keyids", ["f" * 64]),
            r"keyids\[0\]: key f{64} is not among the listed keys",
        ),
        (_set("signed/delegations/roles/0/paths", "x"), r"paths: expected a list of strings"),
        (_set("signed/delegations/roles/0/paths", [1]), r"paths\[0\]: expected a string"),
        (
            _set("signed/delegations/roles/0/path_hash_prefixes", ["ab"]),
            r"roles\[0\]: has both paths and path_hash_prefixes",
        ),
        (
            _set("signed/delegations/roles/0/path_hash_prefixes", ["XY"]),
            r"path_hash_prefixes\[0\]: is not lowercase hex",
        ),
    ],
)
def test_targets_fields(repo: RepositorySimulator, edit: Edit, reason: str) -> None:
    document = repo.document("targets.json")
    edit(document)
    with pytest.raises(NotaryError, match=r"^targets.json: .*" + reason):
        parse_targets(_bytes(document))


def test_delegated_twice(repo: RepositorySimulator) -> None:
    document = repo.document("targets.json")
    roles = document["signed"]["delegations"]["roles"]
    roles.append(roles[0])
    with pytest.raises(NotaryError, match=r"roles\[1\].name: targets/releases is delegated twice"):
        parse_targets(_bytes(document))


def test_nested_delegations_must_be_children(repo: RepositorySimulator) -> None:
    document = repo.document("targets/releases.json")
    key = ecdsa_key()
    document["signed"]["delegations"] = {
        "keys": {key.keyid: key.entry()},
        "roles": [{"name": "targets/other", "keyids": [key.keyid], "threshold": 1}],
    }
    with pytest.raises(
        NotaryError, match=r"^targets/releases.json: .*'targets/other' is not a delegation "
    ):
        parse_targets(_bytes(document), role="targets/releases")
    document["signed"]["delegations"]["roles"][0]["name"] = "targets/releases/nightly"
    parsed = parse_targets(_bytes(document), role="targets/releases").signed
    assert parsed.delegations.roles[0].paths == ()  # no paths: signs nothing


def test_delegations_may_be_absent(repo: RepositorySimulator) -> None:
    document = repo.document("targets/releases.json")
    del document["signed"]["delegations"]
    parsed = parse_targets(_bytes(document), role="targets/releases").signed
    assert parsed.delegations.roles == ()


def test_unknown_fields_are_tolerated(repo: RepositorySimulator) -> None:
    document = repo.document("targets.json")
    document["signed"]["custom"] = {"anything": [1, "two"]}
    document["signed"]["targets"]["v1"]["custom"] = {"note": "x"}
    document["extra"] = True
    assert "v1" in parse_targets(_bytes(document)).signed.targets


def test_canonical_bytes_are_what_was_signed(repo: RepositorySimulator) -> None:
    document = json.loads(repo.files["targets.json"])
    expected = json.dumps(document["signed"], sort_keys=True, separators=(",", ":")).encode()
    assert parse_targets(repo.files["targets.json"]).canonical == expected


# -- helpers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2999-08-26T14:12:13.21926558+02:00", datetime(2999, 8, 26, 12, 12, 13, 219265, UTC)),
        ("2116-07-03T23:08:08.447842546Z", datetime(2116, 7, 3, 23, 8, 8, 447842, UTC)),
        ("2016-01-01T00:00:00Z", datetime(2016, 1, 1, tzinfo=UTC)),
        ("2016-01-01T00:00:00.5-05:30", datetime(2016, 1, 1, 5, 30, 0, 500000, UTC)),
    ],
)
def test_parse_time(text: str, expected: datetime) -> None:
    parsed = parse_time(text)
    assert parsed == expected
    assert parsed.tzinfo == UTC


@pytest.mark.parametrize(
    "text",
    [
        "2016-01-01",
        "2016-01-01T00:00:00",  # no zone
        "2016-01-01 00:00:00Z",
        "2016-13-01T00:00:00Z",
        "2016-01-01T00:00:00.1234567890Z",
        "2016-01-01T00:00:00+24:00",
        "2016-01-01t00:00:00z",
    ],
)
def test_parse_time_refuses(text: str) -> None:
    with pytest.raises(ValueError, match=r"time|offset"):
        parse_time(text)


def test_parse_time_keeps_the_instant() -> None:
    offset = timezone(timedelta(hours=2))
    assert parse_time("2020-01-01T02:00:00+02:00") == datetime(2020, 1, 1, 2, tzinfo=offset)


def test_role_file_and_delegation_names() -> None:
    assert role_file("targets/releases") == "targets/releases.json"
    assert role_file("root", 3) == "3.root.json"
    assert is_delegation_name("targets/releases")
    assert is_delegation_name("targets/a-b/c_d/0")
    for name in ("targets", "targets/", "targets//x", "targets/x/", "root/x", "targets/A", "x"):
        assert not is_delegation_name(name), name
    assert not is_delegation_name("targets/" + "a" * 250)


def test_delegated_role_covers() -> None:
    everything = DelegatedRole("targets/a", ("k",), 1, paths=("",))
    assert everything.covers("anything")
    prefixed = DelegatedRole("targets/a", ("k",), 1, paths=("release/", "v"))
    assert prefixed.covers("release/1")
    assert prefixed.covers("v2")
    assert not prefixed.covers("latest")
    nothing = DelegatedRole("targets/a", ("k",), 1)
    assert not nothing.covers("")
    hashed = DelegatedRole("targets/a", ("k",), 1, path_hash_prefixes=("",))
    assert hashed.covers("x")
