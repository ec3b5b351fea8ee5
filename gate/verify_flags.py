"""``gate verify``: an ad-hoc policy made from cosign-like command-line flags.

Each kind of trust given on the command line becomes one trust authority
(``key``, ``certificate``, ``notation``, ``notary``) of a one-rule policy that
requires a signature from any of them for every image. The policy goes
through the same loader as a policy file, so a flag's value gets the same
checks and the same messages, with the flag named instead of the field.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gate.errors import InputError, PolicyError
from gate.policy.loader import load_policy_text
from gate.policy.model import Policy

#: The field paths of the built policy, as the flags that filled them.
_FLAG_NAMES = (
    ("trust.key.cosign.publicKeys", "--key"),
    ("trust.certificate.keyless.subjectRegExp", "--certificate-identity-regexp"),
    ("trust.certificate.keyless.subject", "--certificate-identity"),
    ("trust.certificate.keyless.issuerRegExp", "--certificate-oidc-issuer-regexp"),
    ("trust.certificate.keyless.issuer", "--certificate-oidc-issuer"),
    ("trust.certificate.keyless.trustedRoot", "--trusted-root"),
    ("trust.certificate.keyless", "--certificate-identity/--certificate-oidc-issuer"),
    ("trust.notation.notation.trustStore", "--notation-cert"),
    ("trust.notation.notation.trustedIdentities", "--notation-identity"),
    ("trust.notation.notation.verificationLevel", "--notation-level"),
    ("trust.notary.notaryV1.server", "--notary-server"),
    ("trust.notary.notaryV1.rootKeys", "--notary-root"),
    ("trust.notary.notaryV1.caFile", "--notary-ca"),
    ("trust.notary.notaryV1.delegations", "--notary-delegation"),
    ("trust.notary.notaryV1", "--notary-server/--notary-root"),
)
_LOCATION_RE = re.compile(r"^[^\n]*?:\d+:\d+: ")


@dataclass(frozen=True)
class VerifyFlags:
    """The trust flags of ``gate verify`` (paths as given, relative to the working directory)."""

    keys: tuple[Path, ...] = ()
    identity: str | None = None
    identity_regexp: str | None = None
    issuer: str | None = None
    issuer_regexp: str | None = None
    trusted_root: Path | None = None
    ignore_tlog: bool = False
    notation_certs: tuple[Path, ...] = ()
    notation_identities: tuple[str, ...] = ()
    notation_level: str | None = None
    notary_server: str | None = None
    notary_roots: tuple[Path, ...] = ()
    notary_ca: Path | None = None
    notary_delegations: tuple[str, ...] = ()
    base: Path = field(default_factory=Path.cwd)

    def _path(self, path: Path) -> str:
        return str(path if path.is_absolute() else self.base / path)

    def trust(self) -> dict[str, Any]:
        """The ``spec.trust`` section these flags describe; InputError when they name nothing."""
        trust: dict[str, Any] = {}
        if self.keys:
            trust["key"] = {"cosign": {"publicKeys": [self._path(k) for k in self.keys]}}
        keyless_given = any(
            v is not None
            for v in (self.identity, self.identity_regexp, self.issuer, self.issuer_regexp)
        )
        if keyless_given:
            keyless: dict[str, Any] = {}
            for name, value in (
                ("subject", self.identity),
                ("subjectRegExp", self.identity_regexp),
                ("issuer", self.issuer),
                ("issuerRegExp", self.issuer_regexp),
            ):
                if value is not None:
                    keyless[name] = value
            if self.trusted_root is not None:
                keyless["trustedRoot"] = self._path(self.trusted_root)
            if self.ignore_tlog:
                keyless["requireTlog"] = False
            trust["certificate"] = {"keyless": keyless}
        elif self.trusted_root is not None or self.ignore_tlog:
            raise InputError(
                "--trusted-root and --insecure-ignore-tlog go with --certificate-identity "
                "and --certificate-oidc-issuer"
            )
        if self.notation_certs:
            notation: dict[str, Any] = {
                "trustStore": [self._path(c) for c in self.notation_certs],
                "trustedIdentities": list(self.notation_identities or ("*",)),
            }
            if self.notation_level is not None:
                notation["verificationLevel"] = self.notation_level
            trust["notation"] = {"notation": notation}
        elif self.notation_identities or self.notation_level:
            raise InputError("--notation-identity and --notation-level go with --notation-cert")
        if self.notary_server is not None or self.notary_roots:
            notary: dict[str, Any] = {"rootKeys": [self._path(r) for r in self.notary_roots]}
            if self.notary_server is not None:
                notary["server"] = self.notary_server
            if self.notary_ca is not None:
                notary["caFile"] = self._path(self.notary_ca)
            if self.notary_delegations:
                notary["delegations"] = list(self.notary_delegations)
            trust["notary"] = {"notaryV1": notary}
        if not trust:
            raise InputError(
                "say whom to trust: --key FILE, --certificate-identity(-regexp) with "
                "--certificate-oidc-issuer(-regexp), --notation-cert FILE, or --notary-server "
                "with --notary-root FILE"
            )
        return trust


def build_verify_policy(flags: VerifyFlags) -> Policy:
    """The one-rule policy of ``flags``: every image needs a signature from any given authority."""
    trust = flags.trust()
    document = {
        "apiVersion": "gate/v1",
        "kind": "Policy",
        "metadata": {"name": "gate-verify"},
        "spec": {
            "defaultAction": "deny",
            "trust": trust,
            "rules": [
                {
                    "name": "verify",
                    "match": {"images": ["**"]},
                    "signatures": {"anyOf": sorted(trust)},
                }
            ],
        },
    }
    try:
        return load_policy_text(json.dumps(document), flags.base / "gate-verify")
    except PolicyError as exc:
        raise InputError("; ".join(_flag_message(line) for line in str(exc).splitlines())) from None


def _flag_message(line: str) -> str:
    """A loader message about the built policy, told in terms of the flags."""
    text = _LOCATION_RE.sub("", line)
    for field_path, flag in _FLAG_NAMES:
        if text.startswith(field_path):
            rest = text[len(field_path) :]
            index = re.match(r"\[(\d+)\]", rest)
            if index is not None:
                return f"{flag} #{int(index.group(1)) + 1}{rest[index.end() :]}"
            return f"{flag}{rest}"
    return text
