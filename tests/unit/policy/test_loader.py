"""Loading policies: the brief's example, defaults, and every error with its exact line."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from gate.errors import PolicyError, PolicyValidationError
from gate.policy import semantics
from gate.policy.loader import MAX_POLICY_BYTES, load_policy, load_policy_text
from gate.policy.model import Combinator, Mode
from gate.policy.verdict import Decision
from gate.scanners.finding import Severity
from tests.unit.policy.support import (
    HEADER,
    error_lines,
    policy_text,
    public_pem,
    write_keys,
    write_policy,
)

FULL_EXAMPLE = """\
apiVersion: gate/v1
kind: Policy
metadata:
  name: production
spec:
  mode: enforce
  defaultAction: deny
  trust:
    release:
      cosign:
        publicKeys: [keys/release.pub]
    alice: {cosign: {publicKeys: [keys/alice.pub]}}
    bob:   {cosign: {publicKeys: [keys/bob.pub]}}
  rules:
    - name: prod
      match:
        images: ["registry.acme.io/prod/**"]
        namespaces: ["prod-*"]
      signatures:
        anyOf: [release]
      vulnerabilities:
        denySeverity: HIGH
        fixableOnly: true
        maxCvss: 9.0
        denyIds: [CVE-2021-44228]
        exceptions:
          - id: CVE-2023-4863
            images: ["registry.acme.io/prod/legacy/**"]
            expires: 2027-01-31
            reason: "not reachable; ticket SEC-123"
        requireScan: true
        maxScanAge: 7d
      sbom:
        require: true
        deniedLicenses: [AGPL-3.0-only, SSPL-1.0]
        deniedPackages: ["pkg:npm/event-stream@3.3.6", "pkg:pypi/ctx"]
    - name: pair
      match: {images: ["registry.acme.io/pair/*"]}
      signatures:
        threshold: {count: 2, of: [alice, bob]}
    - name: system
      match: {namespaces: ["kube-system"]}
      action: allow
"""


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in ``tmp_path`` so messages name ``policy.yaml`` as given."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_full_example_from_the_brief_loads(in_tmp: Path) -> None:
    keys = write_keys(in_tmp)
    path = write_policy(in_tmp, FULL_EXAMPLE)
    policy = load_policy(Path("policy.yaml"))
    assert policy.name == "production"
    assert policy.mode is Mode.ENFORCE
    assert policy.default_action is Decision.DENY
    assert set(policy.trust) == {"release", "alice", "bob"}
    assert policy.trust["release"].cosign_keys == (keys["release"],)
    assert policy.source == Path("policy.yaml")
    assert str(policy.digest) == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    prod, pair, system = policy.rules
    assert prod.name == "prod"
    assert [g.pattern for g in prod.match.images] == ["registry.acme.io/prod/**"]
    assert [g.pattern for g in prod.match.namespaces] == ["prod-*"]
    assert prod.signatures is not None
    assert prod.signatures.combinator is Combinator.ANY_OF
    assert prod.signatures.names == ("release",)
    vulns = prod.vulnerabilities
    assert vulns is not None
    assert vulns.deny_severity is Severity.HIGH
    assert vulns.fixable_only is True
    assert vulns.max_cvss == 9.0
    assert vulns.deny_ids == frozenset({"cve-2021-44228"})
    (exception,) = vulns.exceptions
    assert exception.id == "CVE-2023-4863"
    assert str(exception.expires) == "2027-01-31"
    assert exception.reason == "not reachable; ticket SEC-123"
    assert prod.scan is not None
    assert prod.scan.require is True
    assert prod.scan.max_age is not None
    assert prod.scan.max_age.days == 7
    assert prod.sbom is not None
    assert prod.sbom.denied_licenses == ("AGPL-3.0-only", "SSPL-1.0")
    assert [str(p) for p in prod.sbom.denied_packages] == [
        "pkg:npm/event-stream@3.3.6",
        "pkg:pypi/ctx",
    ]
    assert pair.signatures is not None
    assert pair.signatures.combinator is Combinator.THRESHOLD
    assert pair.signatures.count == 2
    assert system.action is Decision.ALLOW
    assert system.signatures is None


def test_defaults(tmp_path: Path) -> None:
    write_keys(tmp_path, ("release",))
    text = policy_text(
        """\
        trust:
          release: {cosign: {publicKeys: [keys/release.pub]}}
        rules:
          - name: r
            match: {images: ["a.io/**"]}
            mode: audit
            vulnerabilities: {}
            sbom: {}
        """
    )
    policy = load_policy(write_policy(tmp_path, text))
    assert policy.mode is Mode.ENFORCE
    assert policy.default_action is Decision.DENY
    (rule,) = policy.rules
    assert rule.mode is Mode.AUDIT
    assert rule.scan is not None
    assert rule.scan.require is True
    assert rule.scan.max_age is None
    assert rule.sbom is not None
    assert rule.sbom.require is True
    assert rule.vulnerabilities is not None
    assert rule.vulnerabilities.deny_severity is None
    assert rule.vulnerabilities.fixable_only is False


def test_minimal_policy_without_rules(tmp_path: Path) -> None:
    text = "apiVersion: gate/v1\nkind: Policy\nmetadata: {name: m}\nspec: {defaultAction: allow}\n"
    policy = load_policy(write_policy(tmp_path, text))
    assert policy.rules == ()
    assert policy.default_action is Decision.ALLOW
    assert dict(policy.trust) == {}


def test_keys_are_relative_to_the_policy_file_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy_dir = tmp_path / "conf"
    policy_dir.mkdir()
    keys = write_keys(policy_dir, ("release",))
    monkeypatch.chdir(tmp_path)
    text = policy_text("trust:\n  release: {cosign: {publicKeys: [keys/release.pub]}}\n")
    policy = load_policy(write_policy(policy_dir, text))
    assert policy.trust["release"].cosign_keys == (keys["release"],)
    assert policy.trust["release"].cosign_keys[0].label == "keys/release.pub"


def test_inline_pem_and_ed25519_keys(tmp_path: Path) -> None:
    pem = public_pem("ed25519").decode()
    # A JSON string is a valid YAML double-quoted scalar.
    text = policy_text(f"trust:\n  release: {{cosign: {{publicKeys: [{json.dumps(pem)}]}}}}\n")
    policy = load_policy(write_policy(tmp_path, text))
    (key,) = policy.trust["release"].cosign_keys
    assert key.algorithm == "ed25519"
    assert key.label == "release key 1 (inline)"


def test_inline_pem_as_block_scalar(tmp_path: Path) -> None:
    pem = public_pem().decode()
    block = "".join(f"            {line}\n" for line in pem.splitlines())
    text = HEADER + "  trust:\n    release:\n      cosign:\n        publicKeys:\n          - |\n"
    policy = load_policy(write_policy(tmp_path, text + block))
    assert policy.trust["release"].cosign_keys[0].algorithm == "ecdsa-secp256r1"


def test_same_key_twice_counts_once(tmp_path: Path) -> None:
    write_keys(tmp_path, ("release",))
    (tmp_path / "copy.pub").write_bytes((tmp_path / "keys" / "release.pub").read_bytes())
    text = policy_text("trust:\n  release: {cosign: {publicKeys: [keys/release.pub, copy.pub]}}\n")
    policy = load_policy(write_policy(tmp_path, text))
    assert len(policy.trust["release"].cosign_keys) == 1


def test_load_policy_text_names_the_given_path(tmp_path: Path) -> None:
    write_keys(tmp_path, ("release",))
    text = policy_text("trust:\n  release: {cosign: {publicKeys: [keys/release.pub]}}\n")
    policy = load_policy_text(text, tmp_path / "inline.yaml")
    assert policy.source == tmp_path / "inline.yaml"
    with pytest.raises(PolicyValidationError) as caught:
        load_policy_text(text.replace("release.pub", "nope.pub"), "conf/p.yaml")
    assert str(caught.value).startswith("conf/p.yaml:7:")


# -- file-level errors ---------------------------------------------------------------


def test_missing_file(in_tmp: Path) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy(Path("absent.yaml"))
    assert str(caught.value) == "absent.yaml: policy file not found"


def test_directory_instead_of_file(in_tmp: Path) -> None:
    (in_tmp / "dir.yaml").mkdir()
    with pytest.raises(PolicyError, match=r"^dir.yaml: cannot read policy file: "):
        load_policy(Path("dir.yaml"))


def test_too_large(in_tmp: Path) -> None:
    path = write_policy(in_tmp, "# " + "x" * MAX_POLICY_BYTES + "\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(Path(path.name))
    assert str(caught.value) == "policy.yaml: policy file is larger than 1048576 bytes (1 MiB)"


def test_not_utf8(in_tmp: Path) -> None:
    (in_tmp / "policy.yaml").write_bytes(b"apiVersion: gate/v1\nkind: \xff\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(Path("policy.yaml"))
    assert str(caught.value) == "policy.yaml: policy file is not UTF-8 (byte 26)"


def test_empty_file(in_tmp: Path) -> None:
    write_policy(in_tmp, "")
    with pytest.raises(PolicyError) as caught:
        load_policy(Path("policy.yaml"))
    assert str(caught.value) == "policy.yaml: empty policy file: expected a Policy document"


def test_two_documents(in_tmp: Path) -> None:
    write_policy(in_tmp, policy_text("mode: warn\n") + "---\n" + policy_text("mode: audit\n"))
    with pytest.raises(PolicyError) as caught:
        load_policy(Path("policy.yaml"))
    assert str(caught.value) == (
        "policy.yaml:7:1: the file holds more than one YAML document; a policy file holds "
        "exactly one"
    )


def test_not_a_mapping(in_tmp: Path) -> None:
    write_policy(in_tmp, "- a\n- b\n")
    assert error_lines(Path("policy.yaml")) == ["policy.yaml:1:1: expected a mapping, got a list"]


def test_unreadable_key_file(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_keys(in_tmp, ("release",))
    write_policy(
        in_tmp, policy_text("trust:\n  release: {cosign: {publicKeys: [keys/release.pub]}}\n")
    )
    original = Path.open

    def deny_keys(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self.name == "release.pub":
            raise PermissionError(13, "Permission denied")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", deny_keys)
    assert error_lines(Path("policy.yaml")) == [
        "policy.yaml:7:37: trust.release.cosign.publicKeys[0]: cannot read key file "
        "keys/release.pub: Permission denied"
    ]


# -- every semantic and schema error, exact line and column -------------------------

SEMANTIC_CASES = [
    pytest.param(
        """\
        trust:
          release: {cosign: {publicKeys: [keys/release.pub]}}
        rules:
          - name: prod
            match: {images: ["registry.acme.io/prod/**"]}
            signatures:
              anyOf: [release, relase]
        """,
        [
            'policy.yaml:12:26: rules[0].signatures.anyOf[1]: unknown trust authority "relase"',
        ],
        id="unknown-authority",
    ),
    pytest.param(
        """\
        trust:
          alice: {cosign: {publicKeys: [keys/alice.pub]}}
        rules:
          - name: pair
            match: {images: ["a.io/**"]}
            signatures:
              threshold: {count: 1, of: [alice, carol]}
        """,
        [
            "policy.yaml:12:43: rules[0].signatures.threshold.of[1]: unknown trust "
            'authority "carol"',
        ],
        id="unknown-authority-threshold",
    ),
    pytest.param(
        """\
        trust:
          release: {cosign: {publicKeys: [keys/missing.pub]}}
        """,
        [
            "policy.yaml:7:37: trust.release.cosign.publicKeys[0]: key file "
            "keys/missing.pub not found (looked at keys/missing.pub)",
        ],
        id="key-file-missing",
    ),
    pytest.param(
        """\
        trust:
          release: {cosign: {publicKeys: [keys]}}
        """,
        [
            "policy.yaml:7:37: trust.release.cosign.publicKeys[0]: key file keys is not a "
            "file (looked at keys)",
        ],
        id="key-file-is-a-directory",
    ),
    pytest.param(
        """\
        trust:
          release: {cosign: {publicKeys: [keys/garbage.pub]}}
        """,
        [
            "policy.yaml:7:37: trust.release.cosign.publicKeys[0]: keys/garbage.pub: not a "
            "PEM public key (...",
        ],
        id="key-file-not-a-key",
    ),
    pytest.param(
        """\
        trust:
          release: {cosign: {publicKeys: [keys/private.pem]}}
        """,
        [
            "policy.yaml:7:37: trust.release.cosign.publicKeys[0]: keys/private.pem: is a "
            "private key; give the public key",
        ],
        id="key-file-private-key",
    ),
    pytest.param(
        """\
        trust:
          release:
            cosign:
              publicKeys: ["-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----\\n"]
        """,
        [
            "policy.yaml:9:22: trust.release.cosign.publicKeys[0]: release key 1 (inline): "
            "not a PEM public key (...",
        ],
        id="inline-pem-garbage",
    ),
    pytest.param(
        """\
        trust:
          release: {}
          ops: {cosign: {publicKeys: []}}
        """,
        [
            'policy.yaml:7:5: trust.release: trust authority "release" has no trust '
            "material; give cosign.publicKeys, keyless, notaryV1 or notation",
            'policy.yaml:8:5: trust.ops: trust authority "ops" has no trust material; give '
            "cosign.publicKeys, keyless, notaryV1 or notation",
        ],
        id="authority-without-trust-material",
    ),
    pytest.param(
        """\
        rules:
          - name: r
            match:
              images: ["nginx:*", "a.io/[ab]", "a.io/***"]
              namespaces: ["Prod"]
            action: allow
        """,
        [
            'policy.yaml:9:18: rules[0].match.images[0]: image glob "nginx:*" names no '
            'registry; references are normalised, so write "docker.io/library/nginx:*"',
            'policy.yaml:9:29: rules[0].match.images[1]: image glob "a.io/[ab]": "[" is '
            "not supported (only *, ** and ? are wildcards)",
            'policy.yaml:9:42: rules[0].match.images[2]: image glob "a.io/***": use * or '
            "**, not ***",
            'policy.yaml:10:22: rules[0].match.namespaces[0]: namespace glob "Prod" can '
            "never match: namespaces are lowercase letters, digits and '-' (with * and ? "
            "as wildcards), at most 63 characters",
        ],
        id="bad-globs",
    ),
    pytest.param(
        """\
        rules:
          - name: r
            match: {images: ["a.io/**"]}
            vulnerabilities:
              exceptions:
                - {id: CVE-1, reason: x, expires: 2027-02-30}
                - {id: CVE-2, reason: x, expires: "31/01/2027"}
                - {id: CVE-3, reason: x, images: [legacy]}
        """,
        [
            "policy.yaml:11:45: rules[0].vulnerabilities.exceptions[0].expires: not a "
            'valid date "2027-02-30": day is out of range for month',
            "policy.yaml:12:45: rules[0].vulnerabilities.exceptions[1].expires: not a "
            "date: write YYYY-MM-DD (e.g. 2027-01-31)",
            "policy.yaml:13:45: rules[0].vulnerabilities.exceptions[2].images[0]: image "
            'glob "legacy" names no registry; references are normalised, so write '
            '"docker.io/library/legacy"',
        ],
        id="bad-dates-and-exception-scope",
    ),
    pytest.param(
        """\
        rules:
          - name: a
            match: {images: ["a.io/**"]}
            vulnerabilities: {maxScanAge: 7x}
          - name: b
            match: {images: ["a.io/**"]}
            vulnerabilities: {maxScanAge: 0d}
          - name: c
            match: {images: ["a.io/**"]}
            vulnerabilities: {maxScanAge: 10s}
          - name: d
            match: {images: ["a.io/**"]}
            vulnerabilities: {maxScanAge: 99999999w}
        """,
        [
            "policy.yaml:9:37: rules[0].vulnerabilities.maxScanAge: not a duration: write "
            "a positive number followed by m, h, d or w (30m, 12h, 7d, 2w)",
            "policy.yaml:12:37: rules[1].vulnerabilities.maxScanAge: not a duration: write "
            "a positive number followed by m, h, d or w (30m, 12h, 7d, 2w)",
            "policy.yaml:15:37: rules[2].vulnerabilities.maxScanAge: not a duration: write "
            "a positive number followed by m, h, d or w (30m, 12h, 7d, 2w)",
            'policy.yaml:18:37: rules[3].vulnerabilities.maxScanAge: duration "99999999w" '
            "is longer than ten years (520w)",
        ],
        id="bad-durations",
    ),
    pytest.param(
        """\
        trust:
          alice: {cosign: {publicKeys: [keys/alice.pub]}}
          bob: {cosign: {publicKeys: [keys/bob.pub]}}
        rules:
          - name: a
            match: {images: ["a.io/**"]}
            signatures: {allOf: []}
          - name: b
            match: {images: ["a.io/**"]}
            signatures: {anyOf: []}
          - name: c
            match: {images: ["a.io/**"]}
            signatures: {threshold: {count: 1, of: []}}
        """,
        [
            "policy.yaml:12:27: rules[0].signatures.allOf: allOf is empty; list at least "
            "one trust authority",
            "policy.yaml:15:27: rules[1].signatures.anyOf: anyOf is empty; list at least "
            "one trust authority",
            "policy.yaml:18:46: rules[2].signatures.threshold.of: threshold.of is empty; "
            "list at least one trust authority",
        ],
        id="empty-combinators",
    ),
    pytest.param(
        """\
        trust:
          alice: {cosign: {publicKeys: [keys/alice.pub]}}
          bob: {cosign: {publicKeys: [keys/bob.pub]}}
        rules:
          - name: a
            match: {images: ["a.io/**"]}
            signatures: {threshold: {count: 0, of: [alice, bob]}}
          - name: b
            match: {images: ["a.io/**"]}
            signatures: {threshold: {count: 3, of: [alice, bob]}}
          - name: c
            match: {images: ["a.io/**"]}
            signatures: {threshold: {count: 2, of: [alice, alice]}}
        """,
        [
            "policy.yaml:12:39: rules[0].signatures.threshold.count: threshold count must "
            "be at least 1, got 0",
            "policy.yaml:15:39: rules[1].signatures.threshold.count: threshold count 3 can "
            "never be met: the authorities listed in of hold 2 distinct signers",
            "policy.yaml:18:54: rules[2].signatures.threshold.of[1]: trust authority "
            '"alice" is listed twice',
        ],
        id="threshold-counts",
    ),
    pytest.param(
        """\
        trust:
          alice: {cosign: {publicKeys: [keys/alice.pub]}}
        rules:
          - name: prod
            match: {images: ["a.io/**"]}
            signatures: {anyOf: [alice, alice]}
          - name: prod
            match: {images: ["b.io/**"]}
            action: deny
        """,
        [
            'policy.yaml:11:35: rules[0].signatures.anyOf[1]: trust authority "alice" is '
            "listed twice",
            'policy.yaml:12:13: rules[1].name: duplicate rule name "prod" (also rules[0])',
        ],
        id="duplicates",
    ),
    pytest.param(
        """\
        rules:
          - name: both
            match: {images: ["a.io/**"]}
            action: allow
            sbom: {require: true}
          - name: neither
            match: {images: ["a.io/**"]}
          - name: nothing
            match: {}
            action: deny
        """,
        [
            "policy.yaml:9:7: rules[0].action: a rule has either action or checks, not "
            "both; remove action or sbom",
            "policy.yaml:11:7: rules[1]: rule has neither action nor checks; add action "
            "(allow, warn, deny) or signatures, vulnerabilities or sbom",
            "policy.yaml:14:14: rules[2].match: match selects nothing; give images, "
            "namespaces or both",
        ],
        id="rule-shape",
    ),
    pytest.param(
        """\
        rules:
          - name: r
            match: {images: ["a.io/**"]}
            vulnerabilities: {denySeverity: severe, maxCvss: .nan}
            sbom:
              deniedLicenses: ["MIT OR GPL-2.0-only"]
              deniedPackages: ["npm/left-pad", "pkg:npm"]
        """,
        [
            "policy.yaml:9:39: rules[0].vulnerabilities.denySeverity: must be one of "
            "UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL",
            "policy.yaml:9:56: rules[0].vulnerabilities.maxCvss: must be a number from 0 to 10",
            'policy.yaml:11:26: rules[0].sbom.deniedLicenses[0]: not a license id: "MIT OR '
            'GPL-2.0-only" (give one SPDX id such as AGPL-3.0-only, not an expression)',
            "policy.yaml:12:26: rules[0].sbom.deniedPackages[0]: not a package URL "
            '"npm/left-pad": must start with "pkg:"',
            "policy.yaml:12:42: rules[0].sbom.deniedPackages[1]: not a package URL "
            '"pkg:npm": expected pkg:type/name',
        ],
        id="vulnerability-and-sbom-values",
    ),
    pytest.param(
        """\
        trust:
          alice: {cosign: {publicKeys: [keys/alice.pub]}}
          bob: {cosign: {publicKeys: [keys/bob.pub]}}
        rules:
          - name: a
            match: {images: ["a.io/**"]}
            signatures: {threshold: {count: 1.5, of: [alice, bob]}}
          - name: b
            match: {images: ["a.io/**"]}
            signatures: {threshold: {count: 3.0, of: [alice, bob]}}
          - name: c
            match: {images: ["a.io/**"]}
            signatures: {threshold: {count: .inf, of: [alice, bob]}}
          - name: d
            match: {images: ["a.io/**"]}
            signatures: {threshold: {count: true, of: [alice, bob]}}
          - name: e
            match: {images: ["a.io/**"]}
            signatures: {threshold: {count: 0.0, of: [alice, bob]}}
        """,
        [
            "policy.yaml:12:39: rules[0].signatures.threshold.count: expected an integer, "
            "got a number",
            "policy.yaml:15:39: rules[1].signatures.threshold.count: threshold count 3 can "
            "never be met: the authorities listed in of hold 2 distinct signers",
            "policy.yaml:18:39: rules[2].signatures.threshold.count: expected an integer, "
            "got a number",
            "policy.yaml:21:39: rules[3].signatures.threshold.count: expected an integer, "
            "got a boolean",
            "policy.yaml:24:39: rules[4].signatures.threshold.count: threshold count must "
            "be at least 1, got 0",
        ],
        id="threshold-count-numbers",
    ),
    pytest.param(
        """\
        rules:
          - name: a
            match: {images: []}
            action: allow
          - name: b
            match: {images: ["a.io/**"], namespaces: []}
            action: allow
          - name: c
            match: {images: ["a.io/**"]}
            vulnerabilities:
              exceptions:
                - {id: CVE-1, reason: x, images: []}
        """,
        [
            "policy.yaml:8:23: rules[0].match.images: an empty images list would match every "
            "image; list at least one image glob, or leave images out",
            "policy.yaml:11:48: rules[1].match.namespaces: an empty namespaces list would "
            "match every namespace; list at least one namespace glob, or leave namespaces out",
            "policy.yaml:17:44: rules[2].vulnerabilities.exceptions[0].images: an empty "
            "images list would apply the exception to every image; list at least one image "
            "glob, or leave images out to apply it to every image the rule selects",
        ],
        id="empty-glob-lists",
    ),
    pytest.param(
        """\
        rules:
          - name: r
            match: {images: ["a.io/**"]}
            vulnerabilities: {denySeverity: critical}
            on: true
            vulnerabilities: {denySeverity: high}
        """,
        [
            "policy.yaml:10:7: rules[0]: mapping keys must be strings, got 'on' (bool); "
            "quote the key",
            'policy.yaml:11:7: rules[0]: duplicate key "vulnerabilities" (first defined at line 9)',
        ],
        id="yaml-keys",
    ),
]


@pytest.mark.parametrize(("spec", "expected"), SEMANTIC_CASES)
def test_semantic_errors(in_tmp: Path, spec: str, expected: list[str]) -> None:
    write_keys(in_tmp, ("release", "alice", "bob"))
    (in_tmp / "keys" / "garbage.pub").write_text("hello\n")
    (in_tmp / "keys" / "private.pem").write_text(
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
    )
    write_policy(in_tmp, policy_text(spec))
    actual = error_lines(Path("policy.yaml"))
    # Messages from the cryptography library vary by version: compare their start only.
    marker = "not a PEM public key ("
    actual = [
        line.split(marker, 1)[0] + marker + "..." if marker in line else line for line in actual
    ]
    assert actual == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            "apiVersion: gate/v2\nkind: Policy\nmetadata: {name: x}\nspec: {}\n",
            'policy.yaml:1:13: apiVersion: must be gate/v1, got "gate/v2"',
        ),
        (
            "apiVersion: gate/v1\nkind: ClusterPolicy\nmetadata: {name: x}\nspec: {}\n",
            'policy.yaml:2:7: kind: must be Policy, got "ClusterPolicy"',
        ),
        (
            "apiVersion: gate/v1\nkind: Policy\nmetadata: {name: -x}\nspec: {}\n",
            "policy.yaml:3:18: metadata.name: not a valid name: letters, digits, '-', '_' and "
            "'.', starting and ending with a letter or digit, at most 63 characters",
        ),
        (
            "apiVersion: gate/v1\nkind: Policy\nspec: {}\n",
            'policy.yaml:1:1: missing required field "metadata"',
        ),
        (
            "apiVersion: gate/v1\nkind: Policy\nmetadata: {name: x}\nspec: {mode: Warn}\n",
            "policy.yaml:4:14: mode: must be one of enforce, warn, audit",
        ),
    ],
)
def test_header_errors(in_tmp: Path, header: str, expected: str) -> None:
    write_policy(in_tmp, header)
    assert error_lines(Path("policy.yaml")) == [expected]


def test_all_errors_are_collected_in_file_order(in_tmp: Path) -> None:
    write_keys(in_tmp, ("release",))
    text = """\
apiVersion: gate/v1
kind: Policy
metadata:
  name: production
spec:
  mode: enforce
  defaultAction: deny
  trust:
    release:
      cosign:
        publicKeys: [keys/release.pub]
  rules:
    - name: prod
      match: {images: ["registry.acme.io/prod/**"]}
      signatures:
        anyOf: [release, relase]
      vulnerabilities:
        denySeverty: HIGH
        requireScan: yes please
    - name: prod
      match: {namespaces: ["kube-system"]}
      action: alow
"""
    write_policy(in_tmp, text)
    with pytest.raises(PolicyValidationError) as caught:
        load_policy(Path("policy.yaml"))
    error = caught.value
    assert isinstance(error, PolicyError)
    assert error.exit_code == 2
    expected = [
        'policy.yaml:16:26: rules[0].signatures.anyOf[1]: unknown trust authority "relase"',
        'policy.yaml:18:9: rules[0].vulnerabilities: unknown field "denySeverty" '
        '(did you mean "denySeverity"?)',
        "policy.yaml:19:22: rules[0].vulnerabilities.requireScan: expected true or false, "
        "got a string",
        'policy.yaml:20:13: rules[1].name: duplicate rule name "prod" (also rules[0])',
        "policy.yaml:22:15: rules[1].action: must be one of deny, warn, allow",
    ]
    assert str(error).splitlines() == expected
    assert [e.render() for e in error.errors] == expected
    assert all(isinstance(e, PolicyError) for e in error.errors)
    first = error.errors[0]
    assert (first.file, first.line, first.column, first.field) == (
        "policy.yaml",
        16,
        26,
        "rules[0].signatures.anyOf[1]",
    )


def test_errors_on_a_real_path_name_the_path(tmp_path: Path) -> None:
    path = write_policy(tmp_path, policy_text("mode: loud\n"))
    assert error_lines(path) == [f"{path}:6:9: mode: must be one of enforce, warn, audit"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_policy_file(in_tmp: Path) -> None:
    path = write_policy(in_tmp, policy_text("mode: warn\n"))
    path.chmod(0)
    with pytest.raises(PolicyError, match=r"^policy.yaml: cannot read policy file: "):
        load_policy(Path("policy.yaml"))


# -- fail closed: nothing present may vanish without an error ------------------------


def test_whole_number_float_threshold_count_is_that_number(in_tmp: Path) -> None:
    # JSON Schema calls 1.0 an integer; the semantic pass used to drop the
    # whole signatures section without an error, leaving the rule unsigned.
    write_keys(in_tmp, ("alice", "bob"))
    write_policy(
        in_tmp,
        policy_text(
            """\
            trust:
              alice: {cosign: {publicKeys: [keys/alice.pub]}}
              bob: {cosign: {publicKeys: [keys/bob.pub]}}
            rules:
              - name: one
                match: {images: ["a.io/**"]}
                signatures: {threshold: {count: 1.0, of: [alice]}}
              - name: two
                match: {images: ["b.io/**"]}
                signatures: {threshold: {count: 2.0, of: [alice, bob]}}
            """
        ),
    )
    one, two = load_policy(Path("policy.yaml")).rules
    assert one.signatures is not None
    assert (one.signatures.combinator, one.signatures.count) == (Combinator.THRESHOLD, 1)
    assert two.signatures is not None
    assert two.signatures.count == 2
    assert isinstance(two.signatures.count, int)


def test_whole_number_max_cvss_is_accepted(in_tmp: Path) -> None:
    write_policy(
        in_tmp,
        policy_text(
            """\
            rules:
              - name: r
                match: {images: ["a.io/**"]}
                vulnerabilities: {maxCvss: 7}
            """
        ),
    )
    (rule,) = load_policy(Path("policy.yaml")).rules
    assert rule.vulnerabilities is not None
    assert rule.vulnerabilities.max_cvss == 7.0


@pytest.mark.parametrize("section", ["signatures", "vulnerabilities", "sbom"])
def test_a_section_that_builds_nothing_is_an_error(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, section: str
) -> None:
    # Simulates a future bug in the semantic pass: a builder returning None
    # without reporting anything must not leave the rule without the check.
    write_keys(in_tmp, ("release",))
    write_policy(
        in_tmp,
        policy_text(
            """\
            trust:
              release: {cosign: {publicKeys: [keys/release.pub]}}
            rules:
              - name: r
                match: {images: ["a.io/**"]}
                signatures: {anyOf: [release]}
                vulnerabilities: {denySeverity: HIGH}
                sbom: {require: true}
            """
        ),
    )
    monkeypatch.setattr(semantics._Builder, section, lambda self, raw, path: None)
    line = {"signatures": 11, "vulnerabilities": 12, "sbom": 13}[section]
    column = {"signatures": 19, "vulnerabilities": 24, "sbom": 13}[section]
    assert error_lines(Path("policy.yaml")) == [
        f"policy.yaml:{line}:{column}: rules[0].{section}: {section} section could not be "
        "interpreted, so it is rejected rather than ignored (gate found no more specific "
        "problem: please report this policy)"
    ]


def test_a_rule_that_builds_nothing_is_an_error(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_policy(
        in_tmp,
        policy_text(
            """\
            rules:
              - name: r
                match: {images: ["a.io/**"]}
                action: deny
              - name: everything
                match: {images: ["**"]}
                action: allow
            """
        ),
    )
    original = semantics._Builder.rule

    def drop_first(self: Any, raw: Any, path: Any) -> Any:
        return None if path[-1] == 0 else original(self, raw, path)

    monkeypatch.setattr(semantics._Builder, "rule", drop_first)
    assert error_lines(Path("policy.yaml")) == [
        "policy.yaml:7:7: rules[0]: rule could not be interpreted, so it is rejected rather "
        "than ignored (gate found no more specific problem: please report this policy)"
    ]


def test_semantic_pass_alone_reports_what_the_schema_would(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without the schema (a future schema change that lets something through),
    # the semantic pass still refuses every wrongly shaped value instead of
    # skipping it.
    write_keys(in_tmp, ("alice",))
    write_policy(
        in_tmp,
        policy_text(
            """\
            trust:
              alice: {cosign: {publicKeys: [keys/alice.pub, 5]}}
            rules:
              - name: a
                match: {images: []}
                action: allow
              - name: b
                match: {images: ["a.io/**"]}
                signatures: {threshold: {count: "2", of: [alice]}}
              - name: c
                match: {images: ["a.io/**"]}
                signatures: {oneOf: [alice]}
              - name: d
                match: {images: ["a.io/**"]}
                vulnerabilities:
                  maxCvss: "9"
                  fixableOnly: "yes"
                  denyIds: [" "]
                  exceptions: [{id: CVE-1, reason: x, images: []}, {reason: y}]
              - name: e
                match: {images: ["a.io/**"]}
                sbom: {require: 1, deniedPackages: pkg:npm/x}
            """
        ),
    )
    monkeypatch.setattr("gate.policy.loader.schema_issues", lambda data: [])
    assert error_lines(Path("policy.yaml")) == [
        "policy.yaml:7:51: trust.alice.cosign.publicKeys[1]: expected a string, got an integer",
        "policy.yaml:10:23: rules[0].match.images: an empty images list would match every "
        "image; list at least one image glob, or leave images out",
        "policy.yaml:14:39: rules[1].signatures.threshold.count: threshold count must be a "
        "whole number, got a string",
        'policy.yaml:17:20: rules[2].signatures.oneOf: unknown field "oneOf" (expected one of '
        "allOf, anyOf, threshold)",
        "policy.yaml:21:18: rules[3].vulnerabilities.maxCvss: must be a number from 0 to 10",
        "policy.yaml:22:22: rules[3].vulnerabilities.fixableOnly: expected true or false, got "
        "a string",
        "policy.yaml:23:19: rules[3].vulnerabilities.denyIds[0]: must not be empty",
        "policy.yaml:24:53: rules[3].vulnerabilities.exceptions[0].images: an empty images "
        "list would apply the exception to every image; list at least one image glob, or "
        "leave images out to apply it to every image the rule selects",
        "policy.yaml:24:58: rules[3].vulnerabilities.exceptions[1].id: id must be a "
        "non-empty string",
        "policy.yaml:27:23: rules[4].sbom.require: expected true or false, got an integer",
        "policy.yaml:27:42: rules[4].sbom.deniedPackages: expected a list of package URLs, "
        "got a string",
    ]
