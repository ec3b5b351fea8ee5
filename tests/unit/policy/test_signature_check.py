"""The signatures check: anyOf / allOf / threshold over distinct trusted signers.

The data mirrors the cosign cases COS-03/04/05: alice, bob and charlie each
hold a key; charlie's valid signature never counts when charlie is not listed,
and three signatures by one key are one signer.
"""

from __future__ import annotations

import pytest

from gate.policy.model import Combinator, SignatureRequirement
from gate.policy.signature_check import check_signatures
from gate.policy.verdict import Outcome
from gate.signatures.evidence import AuthorityResult
from gate.signatures.keys import PublicKey
from gate.signatures.trust import TrustAuthority
from tests.unit.policy.support import OTHER_DIGEST, evidence, result, signature


@pytest.fixture(scope="module")
def trust(keys: dict[str, PublicKey]) -> dict[str, TrustAuthority]:
    return {
        "release": TrustAuthority("release", (keys["release"],)),
        "alice": TrustAuthority("alice", (keys["alice"],)),
        "bob": TrustAuthority("bob", (keys["bob"],)),
        "charlie": TrustAuthority("charlie", (keys["charlie"],)),
        "team": TrustAuthority("team", (keys["alice"], keys["bob"])),
        "alice2": TrustAuthority("alice2", (keys["alice"],)),
    }


def _requirement(
    trust: dict[str, TrustAuthority], combinator: Combinator, names: list[str], count: int = 1
) -> SignatureRequirement:
    authorities = tuple(trust[n] for n in names)
    if combinator is Combinator.ALL_OF:
        count = len(authorities)
    return SignatureRequirement(combinator, authorities, count)


def _signed(keys: dict[str, PublicKey], authority: str, *signers: str) -> AuthorityResult:
    return result(authority, *(signature(authority, keys[s]) for s in signers))


def _desc(keys: dict[str, PublicKey], authority: str, signer: str) -> str:
    return f"{authority} (key keys/{signer}.pub {keys[signer].fingerprint})"


def test_no_section_is_skipped() -> None:
    check = check_signatures(None, evidence())
    assert (check.check, check.outcome, check.reason) == (
        "signatures",
        Outcome.SKIP,
        "rule has no signatures section",
    )


# -- anyOf -------------------------------------------------------------------------


def test_any_of_signed(trust: dict[str, TrustAuthority], keys: dict[str, PublicKey]) -> None:
    requirement = _requirement(trust, Combinator.ANY_OF, ["release"])
    check = check_signatures(
        requirement, evidence(signatures=(_signed(keys, "release", "release"),))
    )
    assert check.outcome is Outcome.PASS
    assert check.reason == "signed by " + _desc(keys, "release", "release")
    assert check.details["distinctSigners"] == [keys["release"].fingerprint]
    assert check.details["authorities"]["release"]["error"] is None


def test_any_of_unsigned_lists_rejections(trust: dict[str, TrustAuthority]) -> None:
    requirement = _requirement(trust, Combinator.ANY_OF, ["release"])
    unsigned = result("release", rejections=("layer 0: signature does not verify with any key",))
    check = check_signatures(requirement, evidence(signatures=(unsigned,)))
    assert check.outcome is Outcome.FAIL
    assert check.reason == (
        "no signature from release; rejected: release: layer 0: signature does not verify "
        "with any key"
    )


def test_any_of_second_authority(
    trust: dict[str, TrustAuthority], keys: dict[str, PublicKey]
) -> None:
    requirement = _requirement(trust, Combinator.ANY_OF, ["alice", "bob"])
    signatures = (result("alice"), _signed(keys, "bob", "bob"))
    check = check_signatures(requirement, evidence(signatures=signatures))
    assert check.outcome is Outcome.PASS
    assert check.reason == "signed by " + _desc(keys, "bob", "bob")


def test_any_of_nobody(trust: dict[str, TrustAuthority]) -> None:
    requirement = _requirement(trust, Combinator.ANY_OF, ["alice", "bob"])
    check = check_signatures(requirement, evidence(signatures=(result("alice"), result("bob"))))
    assert check.outcome is Outcome.FAIL
    assert check.reason == "no signature from any of alice, bob"


def test_any_of_backend_error_fails_closed(trust: dict[str, TrustAuthority]) -> None:
    requirement = _requirement(trust, Combinator.ANY_OF, ["alice", "bob"])
    signatures = (result("alice", error="registry unreachable: timeout"), result("bob"))
    check = check_signatures(requirement, evidence(signatures=signatures))
    assert check.outcome is Outcome.ERROR
    assert check.reason == (
        "could not verify alice: registry unreachable: timeout; the requirement is not met "
        "without it"
    )


def test_any_of_error_does_not_matter_when_met(
    trust: dict[str, TrustAuthority], keys: dict[str, PublicKey]
) -> None:
    requirement = _requirement(trust, Combinator.ANY_OF, ["alice", "bob"])
    signatures = (result("alice", error="registry unreachable"), _signed(keys, "bob", "bob"))
    check = check_signatures(requirement, evidence(signatures=signatures))
    assert check.outcome is Outcome.PASS


def test_missing_result_fails_closed(trust: dict[str, TrustAuthority]) -> None:
    requirement = _requirement(trust, Combinator.ANY_OF, ["release"])
    check = check_signatures(requirement, evidence())
    assert check.outcome is Outcome.ERROR
    assert check.reason == (
        "could not verify release: not verified (no result for this authority was given to the "
        "policy engine); the requirement is not met without it"
    )


def test_signature_for_another_digest_never_counts(
    trust: dict[str, TrustAuthority], keys: dict[str, PublicKey]
) -> None:
    requirement = _requirement(trust, Combinator.ANY_OF, ["release"])
    transplanted = result("release", signature("release", keys["release"], OTHER_DIGEST))
    check = check_signatures(requirement, evidence(signatures=(transplanted,)))
    assert check.outcome is Outcome.FAIL
    assert check.reason.startswith("no signature from release; rejected: release: signature by ")
    assert f"covers {OTHER_DIGEST}" in check.reason


def test_signature_of_another_authority_never_counts(
    trust: dict[str, TrustAuthority], keys: dict[str, PublicKey]
) -> None:
    requirement = _requirement(trust, Combinator.ANY_OF, ["alice"])
    misfiled = result("alice", signature("charlie", keys["charlie"]))
    check = check_signatures(requirement, evidence(signatures=(misfiled,)))
    assert check.outcome is Outcome.FAIL
    assert "was verified for authority 'charlie', not 'alice'" in check.reason


# -- allOf -------------------------------------------------------------------------


def test_all_of_both_signed(trust: dict[str, TrustAuthority], keys: dict[str, PublicKey]) -> None:
    requirement = _requirement(trust, Combinator.ALL_OF, ["alice", "bob"])
    signatures = (_signed(keys, "alice", "alice"), _signed(keys, "bob", "bob"))
    check = check_signatures(requirement, evidence(signatures=signatures))
    assert check.outcome is Outcome.PASS
    assert check.reason == (
        f"signed by {_desc(keys, 'alice', 'alice')} and {_desc(keys, 'bob', 'bob')}"
    )


def test_all_of_required_signer_missing(
    trust: dict[str, TrustAuthority], keys: dict[str, PublicKey]
) -> None:
    # COS-05: alice signed, bob is required and did not.
    requirement = _requirement(trust, Combinator.ALL_OF, ["alice", "bob"])
    signatures = (_signed(keys, "alice", "alice"), result("bob", rejections=("wrong key",)))
    check = check_signatures(requirement, evidence(signatures=signatures))
    assert check.outcome is Outcome.FAIL
    assert check.reason == "no signature from bob; rejected: bob: wrong key"


def test_all_of_two_authorities_sharing_one_key(
    trust: dict[str, TrustAuthority], keys: dict[str, PublicKey]
) -> None:
    requirement = _requirement(trust, Combinator.ALL_OF, ["alice", "alice2"])
    signatures = (_signed(keys, "alice", "alice"), _signed(keys, "alice2", "alice"))
    check = check_signatures(requirement, evidence(signatures=signatures))
    assert check.outcome is Outcome.FAIL
    assert check.reason == (
        f"alice and alice2 were signed only by the same key(s) ({keys['alice'].fingerprint}); "
        "allOf needs a different key for each authority"
    )


def test_all_of_assigns_distinct_keys(
    trust: dict[str, TrustAuthority], keys: dict[str, PublicKey]
) -> None:
    # team holds alice's and bob's keys; alice only alice's. Signatures by both keys
    # satisfy both authorities with different keys: team by bob, alice by alice.
    requirement = _requirement(trust, Combinator.ALL_OF, ["team", "alice"])
    signatures = (_signed(keys, "team", "alice", "bob"), _signed(keys, "alice", "alice"))
    check = check_signatures(requirement, evidence(signatures=signatures))
    assert check.outcome is Outcome.PASS
    assert check.reason == (
        f"signed by {_desc(keys, 'team', 'bob')} and {_desc(keys, 'alice', 'alice')}"
    )


def test_all_of_error_fails_closed(
    trust: dict[str, TrustAuthority], keys: dict[str, PublicKey]
) -> None:
    requirement = _requirement(trust, Combinator.ALL_OF, ["alice", "bob"])
    signatures = (_signed(keys, "alice", "alice"), result("bob", error="registry down"))
    check = check_signatures(requirement, evidence(signatures=signatures))
    assert check.outcome is Outcome.ERROR
    assert (
        check.reason == "could not verify bob: registry down; the requirement is not met without it"
    )


def test_all_of_error_is_a_fail_when_it_cannot_help(
    trust: dict[str, TrustAuthority], keys: dict[str, PublicKey]
) -> None:
    requirement = _requirement(trust, Combinator.ALL_OF, ["alice", "bob", "charlie"])
    signatures = (
        _signed(keys, "alice", "alice"),
        result("bob"),
        result("charlie", error="registry down"),
    )
    check = check_signatures(requirement, evidence(signatures=signatures))
    assert check.outcome is Outcome.FAIL
    assert check.reason == "no signature from bob"


# -- threshold ---------------------------------------------------------------------


def test_threshold_cos03_two_distinct_signers(
    trust: dict[str, TrustAuthority], keys: dict[str, PublicKey]
) -> None:
    requirement = _requirement(trust, Combinator.THRESHOLD, ["alice", "bob"], count=2)
    signatures = (
        _signed(keys, "alice", "alice"),
        _signed(keys, "bob", "bob"),
        _signed(keys, "charlie", "charlie"),  # verified, but charlie is not listed
    )
    check = check_signatures(requirement, evidence(signatures=signatures))
    assert check.outcome is Outcome.PASS
    assert check.reason == (
        "2 distinct trusted signers (threshold 2): "
        f"{_desc(keys, 'alice', 'alice')}, {_desc(keys, 'bob', 'bob')}"
    )
    assert set(check.details["authorities"]) == {"alice", "bob"}


def test_threshold_cos04_untrusted_and_repeated_signatures_do_not_count(
    trust: dict[str, TrustAuthority], keys: dict[str, PublicKey]
) -> None:
    requirement = _requirement(trust, Combinator.THRESHOLD, ["alice", "bob"], count=2)
    signatures = (
        _signed(keys, "alice", "alice", "alice", "alice"),  # three signature objects, one key
        result("bob"),
        _signed(keys, "charlie", "charlie"),
    )
    check = check_signatures(requirement, evidence(signatures=signatures))
    assert check.outcome is Outcome.FAIL
    assert check.reason == (
        f"1 distinct trusted signer ({_desc(keys, 'alice', 'alice')}), threshold needs 2; "
        "no signature from bob"
    )
    assert check.details["distinctSigners"] == [keys["alice"].fingerprint]


def test_threshold_counts_keys_not_authorities(
    trust: dict[str, TrustAuthority], keys: dict[str, PublicKey]
) -> None:
    requirement = _requirement(trust, Combinator.THRESHOLD, ["team", "charlie"], count=2)
    signatures = (_signed(keys, "team", "alice", "bob"), result("charlie"))
    check = check_signatures(requirement, evidence(signatures=signatures))
    assert check.outcome is Outcome.PASS


def test_threshold_shared_key_counts_once(
    trust: dict[str, TrustAuthority], keys: dict[str, PublicKey]
) -> None:
    requirement = _requirement(trust, Combinator.THRESHOLD, ["alice", "alice2"], count=2)
    signatures = (_signed(keys, "alice", "alice"), _signed(keys, "alice2", "alice"))
    check = check_signatures(requirement, evidence(signatures=signatures))
    assert check.outcome is Outcome.FAIL
    assert check.reason.startswith("1 distinct trusted signer (")


def test_threshold_error_fails_closed(
    trust: dict[str, TrustAuthority], keys: dict[str, PublicKey]
) -> None:
    requirement = _requirement(trust, Combinator.THRESHOLD, ["alice", "bob"], count=2)
    signatures = (_signed(keys, "alice", "alice"), result("bob", error="timeout"))
    check = check_signatures(requirement, evidence(signatures=signatures))
    assert check.outcome is Outcome.ERROR
    assert check.details["authorities"]["bob"]["error"] == "timeout"


def test_threshold_nobody(trust: dict[str, TrustAuthority]) -> None:
    requirement = _requirement(trust, Combinator.THRESHOLD, ["alice", "bob"], count=2)
    check = check_signatures(requirement, evidence(signatures=(result("alice"), result("bob"))))
    assert check.outcome is Outcome.FAIL
    assert check.reason == "no signature from alice, bob; threshold needs 2"


def test_many_rejections_are_summarised(trust: dict[str, TrustAuthority]) -> None:
    requirement = _requirement(trust, Combinator.ANY_OF, ["release"])
    rejected = result("release", rejections=tuple(f"layer {i}: bad" for i in range(5)))
    check = check_signatures(requirement, evidence(signatures=(rejected,)))
    assert check.reason == (
        "no signature from release; rejected: release: layer 0: bad; release: layer 1: bad; "
        "release: layer 2: bad; and 2 more"
    )
    assert len(check.details["authorities"]["release"]["rejections"]) == 5
