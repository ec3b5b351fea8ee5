"""Loading trusted roots: the embedded public-good root offline, files, one-line errors, caching."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gate.errors import InputError
from gate.signatures.keyless import trusted_root as trusted_root_module
from gate.signatures.keyless.authority import PUBLIC_GOOD
from gate.signatures.keyless.trusted_root import (
    KeylessVerificationError,
    ValidityPeriod,
    embedded_public_good_root,
    load_trusted_root,
)
from tests.unit.signatures.keyless.fake_sigstore import EPOCH, FakeSigstore


@pytest.fixture(scope="module")
def instance() -> FakeSigstore:
    return FakeSigstore()


def test_public_good_root_is_the_embedded_copy_and_needs_no_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr("socket.socket.connect", no_network)
    trusted_root_module._public_good_root.cache_clear()  # really load it, under the guard
    root = load_trusted_root(None)
    assert root.label == PUBLIC_GOOD
    assert root is load_trusted_root(None)  # loaded once
    document = json.loads(embedded_public_good_root())
    assert len(root.fulcio) == len(document["certificateAuthorities"])
    assert len(root.tlogs) == len(document["tlogs"])
    assert root.sigstore_verifier() is root.sigstore_verifier()


def test_file_root_is_parsed_and_cached_per_path(instance: FakeSigstore, tmp_path: Path) -> None:
    path = instance.write_root(tmp_path / "root.json")
    first = load_trusted_root(path)
    assert first is load_trusted_root(path)
    assert first.label == str(path)
    assert first.tlogs[0].log_id == instance.log_id
    # A changed file is read again (policy reload picks up a rotated root).
    path.write_text(json.dumps(instance.trusted_root(tlog_valid=("2023-01-01T00:00:00Z", None))))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    second = load_trusted_root(path)
    assert second is not first
    assert second.tlogs[0].validity.start == datetime(2023, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "not valid JSON"),
        (b"[]", "not a JSON object"),
        (b'{"mediaType": "x", "mediaType": "y"}', "duplicate key 'mediaType'"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_unparsable_files_are_one_line_input_errors(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "trusted_root.json"
    path.write_bytes(content)
    with pytest.raises(InputError) as raised:
        load_trusted_root(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert expected in str(raised.value)
    assert "\n" not in str(raised.value)


def test_schema_violation_names_the_field(instance: FakeSigstore, tmp_path: Path) -> None:
    document = instance.trusted_root()
    del document["tlogs"][0]["publicKey"]["validFor"]["start"]
    path = tmp_path / "root.json"
    path.write_text(json.dumps(document))
    with pytest.raises(InputError) as raised:
        load_trusted_root(path)
    assert str(raised.value) == f"{path}: tlogs[0].publicKey.validFor.start: Field required"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"mediaType": "application/vnd.dev.sigstore.trustedroot.v0.2+json"}, "mediaType"),
        ({"tlogs": []}, "no transparency logs"),
    ],
)
def test_unusable_roots_are_refused(
    instance: FakeSigstore, tmp_path: Path, change: dict[str, object], expected: str
) -> None:
    path = tmp_path / "root.json"
    path.write_text(json.dumps({**instance.trusted_root(), **change}))
    with pytest.raises(InputError, match=expected):
        load_trusted_root(path)


def test_bad_certificate_in_root_names_its_place(instance: FakeSigstore, tmp_path: Path) -> None:
    document = instance.trusted_root()
    document["certificateAuthorities"][0]["certChain"]["certificates"][1]["rawBytes"] = "AAAA"
    path = tmp_path / "root.json"
    path.write_text(json.dumps(document))
    with pytest.raises(
        InputError, match=r"certificateAuthorities\[0\]\.certChain\.certificates\[1\]"
    ):
        load_trusted_root(path)


def test_missing_and_oversized_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="trusted root file not found"):
        load_trusted_root(tmp_path / "absent.json")
    big = tmp_path / "big.json"
    big.write_bytes(b" " * ((1 << 20) + 1))
    with pytest.raises(InputError, match="larger than"):
        load_trusted_root(big)


def test_validity_periods_are_closed_intervals() -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    end = datetime(2025, 2, 1, tzinfo=UTC)
    period = ValidityPeriod(start, end)
    assert period.contains(start)
    assert period.contains(end)
    assert not period.contains(end + timedelta(microseconds=1))
    assert not period.contains(start - timedelta(microseconds=1))
    assert ValidityPeriod(start).contains(datetime(2999, 1, 1, tzinfo=UTC))


def test_sigstore_python_view_closes_tsa_validity(instance: FakeSigstore, tmp_path: Path) -> None:
    document = instance.trusted_root()
    document["timestampAuthorities"] = [
        {
            **document["certificateAuthorities"][0],
            "validFor": {"start": "2024-01-01T00:00:00Z", "end": "2025-06-12T12:02:20Z"},
        }
    ]
    path = tmp_path / "root.json"
    path.write_text(json.dumps(document))
    root = load_trusted_root(path)
    end = datetime(2025, 6, 12, 12, 2, 20, tzinfo=UTC)
    assert root.tsas[0].validity.end == end  # the gate's own view: unchanged
    view = root.sigstore_verifier()._trusted_root.get_timestamp_authorities()[0]
    # sigstore-python compares genTime < end: one microsecond later makes that genTime <= end.
    assert view.validity_period_end == end + timedelta(microseconds=1)


def test_log_key_lookup_checks_id_and_validity(instance: FakeSigstore, tmp_path: Path) -> None:
    path = instance.write_root(
        tmp_path / "root.json", tlog_valid=("2025-01-01T00:00:00Z", "2025-06-01T12:00:00Z")
    )
    root = load_trusted_root(path)
    assert root.tlog_key(instance.log_id, EPOCH).log_id == instance.log_id  # end is inclusive
    with pytest.raises(KeylessVerificationError, match="was not valid at 2025-06-01T12:00:01Z"):
        root.tlog_key(instance.log_id, EPOCH + timedelta(seconds=1))
    with pytest.raises(KeylessVerificationError, match="is not a transparency log"):
        root.tlog_key(b"\x00" * 32, EPOCH)
