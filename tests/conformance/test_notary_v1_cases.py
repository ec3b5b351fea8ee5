"""Real Notary v1 / Docker Content Trust trust data: CASES.md section 3 (NV1-01..23, NV1-F01..05).

``test_notary_v1_case`` has one parameter per CASES.md row, with its verdict:
valid rows return the digest the trust data vouches for, invalid rows must
raise ``NotaryError`` for the reason CASES.md gives. The tests after it show
the details (the options each row needs, the replaced files' own defects).

The ``connaisseur`` repositories are served from their directories through a
``MetadataSource`` (loose ``0x_*.json`` files replace one role). Two options
of the verifier are set per row:

- ``CONNAISSEUR`` (``strict_lengths=False, check_root_cn=False``): the
  connaisseur fixtures have stale ``length`` fields in snapshot.json (root
  2540 bytes vs 2420 recorded; targets 1300/1477 vs 523), and their root
  certificate's CN is ``securesystems.de`` for every repository. connaisseur
  compares hashes only and binds the repository by the pinned key alone, so
  the rows CASES.md marks valid are valid under exactly those two settings;
  with the defaults (Notary's behaviour) they are refused, which
  ``test_connaisseur_valid_rows_need_both_relaxations`` shows (NV1-22).
- Defaults (strict lengths, CN == GUN) for ``sample-image`` and Notary's own
  fixtures, whose lengths are right and whose root certificates name the GUN.

Replaced role files fail first on the hash the snapshot/timestamp recorded
(TUF order: hash, then signatures, then expiry); ``verify_role_file`` then
shows the file's own defect that CASES.md names (bad signature, expired).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypedDict, Unpack

import pytest

from gate.clock import system_clock
from gate.oci.digest import Digest
from gate.signatures.notary.metadata import (
    NotaryError,
    NotaryMissingError,
    parse_root,
    parse_targets,
    role_file,
)
from gate.signatures.notary.repository import (
    PinnedRoot,
    TrustedRepository,
    load_pinned_root,
    load_trusted_repository,
    verify_role_file,
    verify_root,
)
from gate.signatures.notary.targets import find_target
from tests.support.realdata import real_fixtures

pytestmark = pytest.mark.conformance

A1 = Digest.parse("sha256:a154797b8300165956ee1f16d98f3a1426301c1168f0462c73ce9bc03361cabf")
A2 = Digest.parse("sha256:799c0fa8aa4c9fbff5a99aef1b4b5c3abb9c2f34134345005982fad3489893c7")
LICENSE = Digest.parse("sha256:9395bac6fccb26bcb55efb083d1b4b0fe72a1c25f959f056c016120b3bb56a62")
EMPTY = Digest.parse("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
NE = "trustroot_never_expire.pub"
SAMPLE = "trustroot_sample_image.pub"
SAMPLE_GUN = "docker.io/phbelitz/sample-image"
NOTARY01_GUN = "docker.com/notary0.1/samplerepo"
NOTARY03_GUN = "docker.com/notary0.3/tst"
REF_2026 = datetime(2026, 1, 1, tzinfo=UTC)
# NV1-23: inside the root certificate's window (from 2019-08-29), before the timestamp expired.
REF_SAMPLE = datetime(2019, 10, 1, tzinfo=UTC)


class Options(TypedDict, total=False):
    """The verifier's options a row sets."""

    strict_lengths: bool
    check_root_cn: bool


# connaisseur's settings (see the module docstring): hashes only, the pinned key binds the GUN.
CONNAISSEUR: Options = {"strict_lengths": False, "check_root_cn": False}
DELEGATIONS_IMAGE = "never-expire-with-delegations-image"


class DirectorySource:
    """A ``MetadataSource`` over one repository's directory of role files.

    ``replace`` maps a role to the file served instead of ``<role>.json``;
    versioned roots are ``<version>.root.json`` next to the others.
    """

    def __init__(self, directory: Path, replace: Mapping[str, Path] | None = None) -> None:
        self.directory = directory
        self.replace = dict(replace or {})
        self.fetched: list[str] = []

    def fetch(self, role: str, max_length: int, *, version: int | None = None) -> bytes:
        name = role_file(role, version)
        self.fetched.append(name)
        path = self.replace.get(role) if version is None else None
        path = path or self.directory / name
        if not path.is_file():
            raise NotaryMissingError(f"{name}: not found (404)")
        data = path.read_bytes()
        if len(data) > max_length:
            raise NotaryError(f"{name}: larger than {max_length} bytes")
        return data


@dataclass(frozen=True)
class Data:
    """Where the fixtures are, and how each kind of row loads its repository."""

    connaisseur: Path
    notary: Path

    def pin(self, name: str) -> PinnedRoot:
        return load_pinned_root((self.connaisseur / "keys" / name).read_bytes(), name)

    def load(
        self,
        image: str,
        *,
        replace: Mapping[str, str] | None = None,
        pin: str = NE,
        gun: str | None = None,
        now: datetime | None = None,
        **options: Unpack[Options],
    ) -> TrustedRepository:
        """A connaisseur repository; its GUN is ``docker.io/library/<image>`` (as connaisseur's
        tests name the images without registry), unless ``gun`` is given."""
        replaced = {role: self.connaisseur / file for role, file in (replace or {}).items()}
        return load_trusted_repository(
            gun or _gun(image),
            DirectorySource(self.connaisseur / image, replaced),
            [self.pin(pin)],
            now=now or system_clock(),
            **options,
        )

    def notary03(self) -> Path:
        return self.notary / "notary0.3" / "tuf" / "docker.com" / "notary0.3" / "tst" / "metadata"

    def notary03_pin(self) -> PinnedRoot:
        """The root-role ``ecdsa-x509`` certificate inside notary0.3's root.json, pinned."""
        root = _document(self.notary03() / "root.json")["signed"]
        (keyid,) = root["roles"]["root"]["keyids"]
        pem = base64.b64decode(root["keys"][keyid]["keyval"]["public"])
        return load_pinned_root(pem, "notary0.3 root-role certificate")

    def load_notary03(self, now: datetime, gun: str = NOTARY03_GUN) -> TrustedRepository:
        return load_trusted_repository(
            gun, DirectorySource(self.notary03()), [self.notary03_pin()], now=now
        )

    def load_notary01(self) -> TrustedRepository:
        base = self.notary / "notary0.1"
        certificates = base / "trusted_certificates" / "docker.com" / "notary0.1" / "samplerepo"
        (certificate,) = certificates.glob("*.crt")
        pin = load_pinned_root(certificate.read_bytes(), certificate.name)
        metadata = base / "tuf" / "docker.com" / "notary0.1" / "samplerepo" / "metadata"
        return load_trusted_repository(
            NOTARY01_GUN, DirectorySource(metadata), [pin], now=system_clock()
        )


@pytest.fixture(scope="module")
def data() -> Data:
    return Data(
        connaisseur=real_fixtures("signatures", "notaryv1", "connaisseur"),
        notary=real_fixtures("signatures", "notaryv1", "notary-fixtures"),
    )


def _gun(image: str) -> str:
    return f"docker.io/library/{image}"


def _document(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_bytes())
    return document


def _lookup(
    repository: TrustedRepository,
    tag: str | None,
    digest: Digest | None = None,
    roles: tuple[str, ...] = (),
) -> Digest:
    return find_target(repository, tag=tag, digest=digest, required_roles=roles).target.digest


def _root_only(data: Data, pins: tuple[str, ...]) -> Digest | None:
    """NV1-20 checks root.json on its own (the file is not part of any repository)."""
    root = (data.connaisseur / "07_root_multiple_signatures.json").read_bytes()
    pinned = [data.pin(name) for name in pins]
    verify_root(root, _gun("never-expire-image"), pinned, now=system_clock(), check_root_cn=False)
    return None


@dataclass(frozen=True)
class Valid:
    """Expected verdict: valid, vouching for ``digest`` (None: a root-only check)."""

    digest: Digest | None


@dataclass(frozen=True)
class Invalid:
    """Expected verdict: invalid, with an error matching ``reason`` (a regex)."""

    reason: str


Row = Callable[[Data], Digest | None]
DEL1 = ("targets/del1",)
DEL1_DEL2 = ("targets/del1", "targets/del2")

ROWS: list[Any] = [
    pytest.param(
        lambda d: _lookup(d.load("never-expire-image", **CONNAISSEUR), "sign"),
        Valid(A1),
        id="NV1-01",
    ),
    pytest.param(
        lambda d: _lookup(d.load("never-expire-image", **CONNAISSEUR), "v1"),
        Valid(A2),
        id="NV1-02",
    ),
    pytest.param(
        lambda d: _lookup(d.load("edge-case-image", **CONNAISSEUR), "sign"),
        Valid(A1),
        id="NV1-03",
    ),
    pytest.param(
        lambda d: _lookup(d.load("edge-case-err-image", **CONNAISSEUR), "sign"),
        Invalid(r"targets/del1.json: listed in snapshot.json but not found"),
        id="NV1-04",
    ),
    pytest.param(
        lambda d: _lookup(d.load(DELEGATIONS_IMAGE, **CONNAISSEUR), "sign", roles=DEL1),
        Valid(A1),
        id="NV1-05",
    ),
    pytest.param(
        lambda d: _lookup(d.load(DELEGATIONS_IMAGE, **CONNAISSEUR), None, A1, DEL1),
        Valid(A1),
        id="NV1-06",
    ),
    pytest.param(
        lambda d: _lookup(d.load(DELEGATIONS_IMAGE, **CONNAISSEUR), "sign", roles=DEL1_DEL2),
        Invalid(r'no trust data for tag "sign" in targets/del2'),
        id="NV1-07",
    ),
    pytest.param(
        lambda d: _lookup(d.load("never-expire-image", **CONNAISSEUR), "sign", roles=DEL1),
        Invalid(r"required role targets/del1 is not in the repository's verified trust data"),
        id="NV1-08",
    ),
    pytest.param(
        lambda d: _lookup(
            d.load("never-expire-with-conflicting-delegations-image", **CONNAISSEUR),
            "sign",
            roles=DEL1_DEL2,
        ),
        Invalid(
            rf'required roles disagree on tag "sign": targets/del1 says {A1} .*, '
            rf"targets/del2 says {A2}"
        ),
        id="NV1-09",
    ),
    pytest.param(
        lambda d: _lookup(d.load(DELEGATIONS_IMAGE, **CONNAISSEUR), "sign", A1, DEL1),
        Valid(A1),
        id="NV1-10",
    ),
    pytest.param(
        lambda d: _lookup(d.load(DELEGATIONS_IMAGE, **CONNAISSEUR), "v1", A1, ("targets/del2",)),
        Invalid(rf'tag "v1" is signed for {A2} in targets/del2, not for the requested {A1}'),
        id="NV1-11",
    ),
    pytest.param(
        lambda d: _lookup(
            d.load("never-expire-image", pin="trustroot_wrong.pub", **CONNAISSEUR), "sign"
        ),
        Invalid(r"root.json: no root-role key matches the pinned root key\(s\): trustroot_wrong"),
        id="NV1-12",
    ),
    pytest.param(
        lambda d: _lookup(d.load("sample-image", pin=SAMPLE, gun=SAMPLE_GUN), "sign"),
        Invalid(r"timestamp.json: expired at 2019-11-11T08:00:05"),
        id="NV1-13",
    ),
    pytest.param(
        lambda d: _lookup(
            d.load("never-expire-image", replace={"root": "01_expired_root.json"}, **CONNAISSEUR),
            "sign",
        ),
        Invalid(r"root.json: expired at 1990-01-01T12:12:13"),
        id="NV1-14",
    ),
    pytest.param(
        lambda d: _lookup(
            d.load(
                "never-expire-image",
                replace={"targets": "02_invalid_signature_targets.json"},
                **CONNAISSEUR,
            ),
            "sign",
        ),
        # the signature defect itself: test_replaced_files_own_defects
        Invalid(r"targets.json: sha256 does not match snapshot.json"),
        id="NV1-15",
    ),
    pytest.param(
        lambda d: _lookup(
            d.load(
                "never-expire-image",
                replace={"snapshot": "03_expired_snapshot.json"},
                **CONNAISSEUR,
            ),
            "sign",
        ),
        Invalid(r"snapshot.json: sha256 does not match timestamp.json"),
        id="NV1-16",
    ),
    pytest.param(
        lambda d: _lookup(
            d.load(
                DELEGATIONS_IMAGE,
                replace={"targets/del1": "04_invalid_signature_delegation.json"},
                **CONNAISSEUR,
            ),
            "sign",
            roles=DEL1,
        ),
        Invalid(r"targets/del1.json: sha256 does not match snapshot.json"),
        id="NV1-17",
    ),
    pytest.param(
        lambda d: _lookup(
            d.load(
                DELEGATIONS_IMAGE,
                replace={"targets/del1": "05_expired_delegation.json"},
                **CONNAISSEUR,
            ),
            "sign",
            roles=DEL1,
        ),
        Invalid(r"targets/del1.json: sha256 does not match snapshot.json"),
        id="NV1-18",
    ),
    pytest.param(
        lambda d: _lookup(
            d.load(
                "never-expire-image", replace={"root": "06_no_signature_root.json"}, **CONNAISSEUR
            ),
            "sign",
        ),
        Invalid(r"root.json: has no signatures"),
        id="NV1-19",
    ),
    pytest.param(
        lambda d: _root_only(d, (NE, "trustroot_second_root_signer.pub")),
        Valid(None),
        id="NV1-20",
    ),
    pytest.param(
        lambda d: _lookup(d.load("err-image", **CONNAISSEUR), "sign"),
        Invalid(r"root.json: signed._type: is 'Snapshot', expected 'Root'"),
        id="NV1-21",
    ),
    pytest.param(
        lambda d: _lookup(d.load("never-expire-image", check_root_cn=False), "sign"),
        Invalid(r"root.json: 2540 bytes, more than the length 2420 recorded in snapshot.json"),
        id="NV1-22",
    ),
    pytest.param(
        lambda d: _lookup(
            d.load("sample-image", pin=SAMPLE, gun=SAMPLE_GUN, now=REF_SAMPLE), "sign"
        ),
        Valid(A1),
        id="NV1-23",
    ),
    pytest.param(
        lambda d: _lookup(d.load_notary01(), "LICENSE"),
        Valid(LICENSE),
        id="NV1-F01",
    ),
    pytest.param(
        lambda d: _lookup(d.load_notary03(REF_2026), "hello"),
        Valid(EMPTY),
        id="NV1-F02",
    ),
    pytest.param(
        lambda d: _lookup(d.load_notary03(REF_2026), "LICENSE"),
        Valid(LICENSE),
        id="NV1-F03",
    ),
    pytest.param(
        lambda d: _lookup(d.load_notary03(system_clock()), "hello"),
        Invalid(
            r"root.json: root certificate 'docker.com/notary0.3/tst' \(354e203ba09d\) "
            r"expired at 2026-07-25T22:56:32"
        ),
        id="NV1-F04",
    ),
    pytest.param(
        lambda d: _lookup(d.load_notary03(REF_2026, "docker.com/notary0.3/samplerepo"), "hello"),
        Invalid(
            r"root certificate CN 'docker.com/notary0.3/tst' does not match the GUN "
            r"'docker.com/notary0.3/samplerepo'"
        ),
        id="NV1-F05",
    ),
]


def test_every_cases_md_row_is_here() -> None:
    ids = [row.id for row in ROWS]
    expected = [f"NV1-{n:02d}" for n in range(1, 24)] + [f"NV1-F{n:02d}" for n in range(1, 6)]
    assert ids == expected


@pytest.mark.parametrize(("row", "verdict"), ROWS)
def test_notary_v1_case(data: Data, row: Row, verdict: Valid | Invalid) -> None:
    if isinstance(verdict, Invalid):
        with pytest.raises(NotaryError, match=verdict.reason):
            row(data)
    else:
        assert row(data) == verdict.digest


# -- details behind the rows ------------------------------------------------------------------

CONNAISSEUR_VALID_IMAGES = [
    "edge-case-image",
    "never-expire-image",
    DELEGATIONS_IMAGE,
    "never-expire-with-conflicting-delegations-image",
]


@pytest.mark.parametrize("image", CONNAISSEUR_VALID_IMAGES)
def test_connaisseur_valid_rows_need_both_relaxations(data: Data, image: str) -> None:
    """With Notary's rules the same data is refused: CN != GUN, then the stale lengths."""
    with pytest.raises(NotaryError, match=r"root certificate CN 'securesystems\.de' does not"):
        data.load(image)
    with pytest.raises(NotaryError, match=r"root.json: 2540 bytes, more than the length 2420"):
        data.load(image, check_root_cn=False)
    with pytest.raises(NotaryError, match=r"CN 'securesystems\.de' does not match"):
        data.load(image, strict_lengths=False)
    data.load(image, **CONNAISSEUR)


def test_nv1_03_delegations_the_snapshot_does_not_list_are_not_used(data: Data) -> None:
    repository = data.load("edge-case-image", **CONNAISSEUR)
    assert repository.delegations == ()
    assert set(repository.roles) == {"targets"}
    targets = _document(data.connaisseur / "edge-case-image" / "targets.json")
    assert len(targets["signed"]["delegations"]["roles"]) == 3  # declared, never published


def test_nv1_05_delegation_key_is_del1(data: Data) -> None:
    repository = data.load(DELEGATIONS_IMAGE, **CONNAISSEUR)
    assert set(repository.delegations) == {"targets/del1", "targets/del2", "targets/releases"}
    match = find_target(repository, tag="sign", digest=None, required_roles=DEL1)
    assert match.roles == DEL1
    targets = _document(data.connaisseur / DELEGATIONS_IMAGE / "targets.json")
    (del1,) = [r for r in targets["signed"]["delegations"]["roles"] if r["name"] == "targets/del1"]
    assert del1["keyids"] == [(data.connaisseur / "keys" / "del1_id.txt").read_text().strip()]


def test_nv1_01_docker_lookup_prefers_releases(data: Data) -> None:
    """Without required roles the tag comes from targets/releases when that role exists."""
    plain = find_target(data.load("never-expire-image", **CONNAISSEUR), tag="sign", digest=None)
    assert plain.roles == ("targets",)
    delegated = data.load(DELEGATIONS_IMAGE, **CONNAISSEUR)
    assert find_target(delegated, tag="sign", digest=None).roles == ("targets/releases",)


@pytest.mark.parametrize(
    ("role", "replacement", "listed_by", "defect"),
    [
        pytest.param(
            "targets",
            "02_invalid_signature_targets.json",
            "root",
            r"0 of 1 required targets signatures valid \(d0cef4ea6349: signature does not verify",
            id="NV1-15",
        ),
        pytest.param(
            "snapshot",
            "03_expired_snapshot.json",
            "root",
            r"snapshot.json: expired at 1990-10-27T08:00:05",
            id="NV1-16",
        ),
        pytest.param(
            "targets/del1",
            "04_invalid_signature_delegation.json",
            "targets",
            r"0 of 1 required targets/del1 signatures valid \(00d6123c8d50: signature does not",
            id="NV1-17",
        ),
        pytest.param(
            "targets/del1",
            "05_expired_delegation.json",
            "targets",
            r"targets/del1.json: expired at 1970-08-26T12:12:13",
            id="NV1-18",
        ),
    ],
)
def test_replaced_files_own_defects(
    data: Data, role: str, replacement: str, listed_by: str, defect: str
) -> None:
    """Checked on their own (keys from root or the delegating role), the files show the defect
    CASES.md names; in the chain the hash recorded for the original file refuses them first."""
    image = DELEGATIONS_IMAGE if listed_by == "targets" else "never-expire-image"
    if listed_by == "root":
        root = parse_root((data.connaisseur / image / "root.json").read_bytes()).signed
        keys, keyids, threshold = root.keys, root.roles[role].keyids, root.roles[role].threshold
    else:
        targets = parse_targets((data.connaisseur / image / "targets.json").read_bytes()).signed
        (entry,) = [r for r in targets.delegations.roles if r.name == role]
        keys, keyids, threshold = targets.delegations.keys, entry.keyids, entry.threshold
    with pytest.raises(NotaryError, match=defect):
        verify_role_file(
            (data.connaisseur / replacement).read_bytes(),
            role,
            keys,
            keyids,
            threshold,
            gun=_gun(image),
            now=system_clock(),
        )


def test_nv1_20_root_role_key_alone_is_enough(data: Data) -> None:
    root = (data.connaisseur / "07_root_multiple_signatures.json").read_bytes()
    verified, pin = verify_root(
        root, _gun("never-expire-image"), [data.pin(NE)], now=system_clock(), check_root_cn=False
    )
    assert pin.label == NE
    assert verified.roles["root"].threshold == 1


def test_nv1_20_the_second_signer_alone_is_not_a_root_key(data: Data) -> None:
    """The targets key also signed root.json, but it holds no root role: pinning it fails."""
    root = (data.connaisseur / "07_root_multiple_signatures.json").read_bytes()
    second = data.pin("trustroot_second_root_signer.pub")
    with pytest.raises(NotaryError, match="no root-role key matches the pinned root key"):
        verify_root(
            root, _gun("never-expire-image"), [second], now=system_clock(), check_root_cn=False
        )


def test_nv1_21_err_image_unparsable(data: Data) -> None:
    for role in ("root", "timestamp"):
        with pytest.raises(NotaryError, match=rf"{role}.json: not valid JSON"):
            data.load("never-expire-image", replace={role: "err-image/invalid.json"}, **CONNAISSEUR)


def test_nv1_23_on_the_cases_md_date_the_root_certificate_is_not_yet_valid(data: Data) -> None:
    """CASES.md says ref 2019-01-01, but the root certificate is valid from 2019-08-29.

    Notary (and this verifier) check the root certificate's window, with one
    day of leeway on notBefore, so on 2019-01-01 the data is refused; from
    the certificate's start until the timestamp expired (2019-11-11) it is
    valid with Notary's own rules (strict lengths, CN == GUN), see the row.
    """
    with pytest.raises(
        NotaryError,
        match=r"root.json: root certificate .* not valid before "
        r"2019-08-29T12:12:02",
    ):
        data.load("sample-image", pin=SAMPLE, gun=SAMPLE_GUN, now=datetime(2019, 1, 1, tzinfo=UTC))
    repository = data.load("sample-image", pin=SAMPLE, gun=SAMPLE_GUN, now=REF_SAMPLE)
    assert repository.timestamp_expires == datetime(2019, 11, 11, 8, 0, 5, 460814, tzinfo=UTC)
    assert repository.expires == repository.timestamp_expires


def test_nv1_f02_f03_lookup_roles(data: Data) -> None:
    repository = data.load_notary03(REF_2026)
    assert repository.delegations == ("targets/releases",)
    hello = find_target(repository, tag="hello", digest=None)
    assert hello.roles == ("targets/releases",)  # RSA-PSS signed delegation
    assert hello.target.length == 0
    required = ["targets/releases"]
    assert find_target(repository, tag="hello", digest=None, required_roles=required) == hello
    licence = find_target(repository, tag="LICENSE", digest=None)
    assert licence.roles == ("targets",)  # not in targets/releases: docker falls back
    assert licence.target.length == 11309


def test_nv1_f01_pinned_certificate_file(data: Data) -> None:
    repository = data.load_notary01()
    assert repository.root_key.label.startswith("4ff57dc9")
    assert repository.versions == {"root": 1, "timestamp": 1, "snapshot": 2, "targets": 2}
