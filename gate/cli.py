"""The ``gate`` command line: wires the library together and maps errors to exit codes.

Exit codes: 0 every image allowed (warnings included), 1 any image denied,
2 the gate could not decide (bad policy, bad report, registry unreachable,
bad arguments). Reports go to stdout (or ``--output``), diagnostics to stderr,
always as one line each.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from gate import __version__
from gate.api_client import ApiClient
from gate.attestations.predicate_file import PredicateKind, read_predicate
from gate.attestations.writer import attest_image
from gate.check import CheckOptions, Gate
from gate.clock import system_clock
from gate.errors import GateError, InputError, PolicyValidationError
from gate.evidence_view import render_text, show_evidence
from gate.exception_source import StaticExceptions
from gate.files import read_input_file
from gate.oci.client import Platform, RegistryClient, RegistryOptions
from gate.oci.reference import ImageReference
from gate.policy.exceptions import load_exceptions_file
from gate.policy.loader import load_policy
from gate.policy.verdict import Decision, Verdict
from gate.policy_diff import diff_with_server, diff_with_store
from gate.policytest.cases import parse_instant
from gate.policytest.render import PolicyTestFormat
from gate.policytest.render import render as render_policy_tests
from gate.policytest.render import summary as policy_test_summary
from gate.policytest.run import run_policy_tests
from gate.remote import (
    VERDICT_FILTERS,
    evidence_push,
    exceptions_add,
    exceptions_list,
    exceptions_revoke,
    record_check,
    verdicts_list,
)
from gate.report import ReportFormat, render
from gate.sbom.load import load_sbom
from gate.scanners._fields import parse_timestamp
from gate.scanners.load import load_scan_report
from gate.signatures.keyfile import generate_key_pair, load_private_key
from gate.signatures.signer import sign_image
from gate.verify_flags import VerifyFlags, build_verify_policy
from gate.vex.load import load_vex

EXIT_ALLOW = 0
EXIT_DENY = 1
EXIT_UNDECIDED = 2
#: Real reports and SBOMs are tens of MB at most; anything near this is refused unread.
_MAX_EVIDENCE_BYTES = 128 * 1024 * 1024


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_UNDECIDED, f"gate: error: {message} (see gate --help)\n")


def _add_registry_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("registry access")
    group.add_argument("--authfile", type=Path, help="docker/podman auth file with credentials")
    group.add_argument("--cert-dir", type=Path, help="containers certs.d-style directory of CAs")
    group.add_argument(
        "--insecure-registry",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="allow plain HTTP for this registry (loopback always may)",
    )
    group.add_argument(
        "--allowed-registry",
        action="append",
        default=None,
        metavar="HOST[:PORT]|*.DOMAIN",
        help="contact only these registries (repeatable; default: any, never link-local)",
    )
    group.add_argument(
        "--registry-timeout",
        type=float,
        default=10.0,
        help="seconds per connect/read (a whole request may take 3x this)",
    )


def _add_server_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("gate server API")
    group.add_argument("--token", help="API bearer token (default $GATE_TOKEN)")
    group.add_argument("--api-ca-cert", type=Path, help="CA certificate of the gate server")
    group.add_argument("--api-timeout", type=float, default=10.0, help="seconds per API request")


def _token(args: argparse.Namespace) -> str:
    token = args.token or os.environ.get("GATE_TOKEN")
    if not token:
        raise InputError("no API token: pass --token or set GATE_TOKEN")
    return str(token)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = _Parser(prog="gate", description="Supply-chain security gate for container images.")
    parser.add_argument("--version", action="version", version=f"gate {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    check = commands.add_parser("check", help="check images against a policy")
    check.add_argument("images", nargs="+", metavar="IMAGE")
    check.add_argument("--policy", required=True, type=Path, help="policy YAML file")
    check.add_argument("--scan", action="append", default=[], type=Path, help="scan report")
    check.add_argument("--sbom", action="append", default=[], type=Path, help="SBOM document")
    check.add_argument(
        "--vex",
        action="append",
        default=[],
        type=Path,
        help="OpenVEX or CycloneDX VEX document (not_affected/fixed statements suppress findings)",
    )
    check.add_argument(
        "--exceptions",
        type=Path,
        metavar="FILE",
        help="YAML/JSON list of exceptions (as `gate exceptions add` takes them) for CI",
    )
    check.add_argument("--namespace", help="Kubernetes namespace the images would run in")
    check.add_argument("--platform", help="os/arch[/variant] to pick from an image index")
    check.add_argument(
        "--format",
        type=ReportFormat,
        choices=list(ReportFormat),
        default=ReportFormat.TEXT,
        help="report format (default text)",
    )
    check.add_argument("--output", type=Path, help="write the report here instead of stdout")
    check.add_argument(
        "--record", metavar="URL", help="also send the verdicts to this gate server's API"
    )
    _add_server_options(check)
    _add_registry_options(check)

    verify = commands.add_parser(
        "verify", help="check images' signatures with cosign-like flags, without a policy file"
    )
    verify.add_argument("images", nargs="+", metavar="IMAGE")
    trust = verify.add_argument_group("whom to trust (any one signature counts)")
    trust.add_argument("--key", action="append", default=[], type=Path, help="cosign public key")
    trust.add_argument("--certificate-identity", help="keyless: exact certificate subject (SAN)")
    trust.add_argument("--certificate-identity-regexp", help="keyless: subject pattern")
    trust.add_argument("--certificate-oidc-issuer", help="keyless: exact OIDC issuer")
    trust.add_argument("--certificate-oidc-issuer-regexp", help="keyless: issuer pattern")
    trust.add_argument(
        "--trusted-root", type=Path, help="keyless: trusted_root.json (default: public good)"
    )
    trust.add_argument(
        "--insecure-ignore-tlog",
        action="store_true",
        help="keyless: accept signatures without a transparency-log entry",
    )
    trust.add_argument(
        "--notation-cert", action="append", default=[], type=Path, help="Notation trust store CA"
    )
    trust.add_argument(
        "--notation-identity",
        action="append",
        default=[],
        help='Notation trusted identity ("x509.subject: ..."; default *)',
    )
    trust.add_argument("--notation-level", choices=["strict", "permissive", "audit"])
    trust.add_argument("--notary-server", help="Docker Content Trust: Notary server URL")
    trust.add_argument(
        "--notary-root", action="append", default=[], type=Path, help="pinned Notary root key"
    )
    trust.add_argument("--notary-ca", type=Path, help="CA file for the Notary server's TLS")
    trust.add_argument(
        "--notary-delegation",
        action="append",
        default=[],
        help="required role, e.g. targets/releases",
    )
    verify.add_argument("--platform", help="os/arch[/variant] to pick from an image index")
    verify.add_argument(
        "--format",
        type=ReportFormat,
        choices=list(ReportFormat),
        default=ReportFormat.TEXT,
        help="report format (default text)",
    )
    verify.add_argument("--output", type=Path, help="write the report here instead of stdout")
    _add_registry_options(verify)

    policy = commands.add_parser("policy", help="policy file tools")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)
    validate = policy_commands.add_parser("validate", help="validate policy files")
    validate.add_argument("files", nargs="+", type=Path, metavar="FILE")
    policy_test = policy_commands.add_parser(
        "test", help="run policy test cases (*.tests.yaml found in DIR, or the FILEs given)"
    )
    policy_test.add_argument("paths", nargs="+", type=Path, metavar="DIR|FILE")
    policy_test.add_argument(
        "--policy",
        type=Path,
        help="run every test file against this policy instead of the one it names",
    )
    policy_test.add_argument(
        "--now",
        help="instant for cases that fix none themselves, instead of the file's now "
        "(YYYY-MM-DD or a timestamp with a zone)",
    )
    policy_test.add_argument(
        "--format",
        type=PolicyTestFormat,
        choices=list(PolicyTestFormat),
        default=PolicyTestFormat.TEXT,
        help="report format (default text)",
    )
    policy_test.add_argument("--output", type=Path, help="write the report here, not stdout")
    policy_diff = policy_commands.add_parser(
        "diff",
        help="preview which recorded images a policy change would decide differently "
        "(exit 0 none, 1 some, 2 error)",
    )
    policy_diff.add_argument("old", type=Path, metavar="OLD", help="the policy in force")
    policy_diff.add_argument("new", type=Path, metavar="NEW", help="the changed policy")
    policy_diff.add_argument(
        "--since", default="7d", help="window: a duration (7d, 12h) or an RFC 3339 time"
    )
    diff_source = policy_diff.add_mutually_exclusive_group(required=True)
    diff_source.add_argument("--server", help="gate server URL (uses its verification cache)")
    diff_source.add_argument(
        "--db", help="verdict store URL (signature results as recorded; reads no registry)"
    )
    policy_diff.add_argument("--format", choices=["text", "json"], default="text")
    policy_diff.add_argument(
        "--all-images", action="store_true", help="JSON: list every image, not only the changes"
    )
    _add_server_options(policy_diff)

    keys = commands.add_parser("keys", help="key management")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True)
    generate = keys_commands.add_parser(
        "generate",
        help="create a cosign-compatible encrypted key pair (password: $COSIGN_PASSWORD)",
    )
    generate.add_argument(
        "--output-prefix", default="cosign", help="writes PREFIX.key and PREFIX.pub"
    )
    generate.add_argument("--force", action="store_true", help="overwrite existing files")

    serve = commands.add_parser(
        "serve", help="run the admission webhook and verdict API (gunicorn)"
    )
    serve.add_argument("--policy", type=Path, help="policy YAML file (default $GATE_POLICY)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8443, help="port (default 8443)")
    serve.add_argument("--tls-cert", type=Path, help="serving certificate (PEM)")
    serve.add_argument("--tls-key", type=Path, help="serving key (PEM)")
    serve.add_argument(
        "--db", metavar="URL", help="verdict store URL (default SQLite in $GATE_STATE_DIR)"
    )
    serve.add_argument("--tokens", type=Path, help="API tokens file (default $GATE_TOKENS_FILE)")
    serve.add_argument(
        "--workers",
        type=int,
        help="gunicorn worker processes (default 2 serving TLS, 4 plain HTTP)",
    )
    serve.add_argument(
        "--threads",
        type=int,
        help="threads per worker (default 4 serving TLS, 1 plain HTTP; 1 = sync workers)",
    )
    serve_registry = serve.add_argument_group("registry access")
    serve_registry.add_argument("--authfile", type=Path, help="docker/podman auth file")
    serve_registry.add_argument("--cert-dir", type=Path, help="certs.d-style directory of CAs")
    serve_registry.add_argument(
        "--insecure-registry", action="append", default=[], metavar="HOST[:PORT]"
    )

    verdicts = commands.add_parser("verdicts", help="query recorded verdicts")
    verdicts_commands = verdicts.add_subparsers(dest="verdicts_command", required=True)
    listing = verdicts_commands.add_parser("list", help="list verdicts, newest first")
    listing.add_argument("--server", required=True, metavar="URL", help="gate server URL")
    for name in ("image", "digest", "namespace", "decision", "source", "since", "until"):
        listing.add_argument(f"--{name}", help=f"filter on {name}")
    listing.add_argument("--limit", help="page size (1-1000, default 100)")
    listing.add_argument("--cursor", help="continue after this cursor")
    listing.add_argument("--format", choices=["table", "json"], default="table")
    _add_server_options(listing)

    exceptions = commands.add_parser(
        "exceptions", help="time-boxed exceptions stored on a gate server"
    )
    exceptions_commands = exceptions.add_subparsers(dest="exceptions_command", required=True)
    add = exceptions_commands.add_parser("add", help="create an exception")
    add.add_argument("--server", required=True, metavar="URL", help="gate server URL")
    add.add_argument("--finding", metavar="ID", help="vulnerability id (CVE, GHSA, ...)")
    add.add_argument("--purl", metavar="PURL", help="package URL (no version: every version)")
    add.add_argument(
        "--image", action="append", default=[], metavar="GLOB", help="image glob (repeatable)"
    )
    add.add_argument(
        "--namespace",
        action="append",
        default=[],
        metavar="GLOB",
        help="namespace glob (repeatable)",
    )
    add.add_argument("--owner", required=True, help="who answers for the exception")
    add.add_argument("--ticket", required=True, help="the ticket tracking the fix")
    add.add_argument("--reason", required=True, help="why the finding is accepted")
    add.add_argument(
        "--expires", required=True, help="RFC 3339 time or YYYY-MM-DD (end of that day, UTC)"
    )
    _add_server_options(add)
    listed = exceptions_commands.add_parser("list", help="list exceptions")
    listed.add_argument("--server", required=True, metavar="URL", help="gate server URL")
    listed.add_argument("--active", action="store_true", help="only active (not expired/revoked)")
    listed.add_argument("--expiring", metavar="DURATION", help="active, expiring within (7d)")
    listed.add_argument("--image", help="only exceptions whose scope allows this image")
    listed.add_argument("--namespace", help="only exceptions whose scope allows this namespace")
    listed.add_argument("--format", choices=["table", "json"], default="table")
    _add_server_options(listed)
    revoke = exceptions_commands.add_parser("revoke", help="revoke an exception (it is kept)")
    revoke.add_argument("id", help="the exception id")
    revoke.add_argument("--server", required=True, metavar="URL", help="gate server URL")
    _add_server_options(revoke)

    evidence = commands.add_parser("evidence", help="store scan reports and SBOMs on a server")
    evidence_commands = evidence.add_subparsers(dest="evidence_command", required=True)
    show = evidence_commands.add_parser(
        "show", help="print the findings or components the gate reads from a document"
    )
    show.add_argument("file", type=Path, metavar="FILE")
    show.add_argument("--format", choices=["text", "json"], default="text")
    push = evidence_commands.add_parser("push", help="push evidence for an image's digest")
    push.add_argument("image", metavar="IMAGE")
    push.add_argument("--scan", action="append", default=[], type=Path, help="scan report")
    push.add_argument("--sbom", action="append", default=[], type=Path, help="SBOM document")
    push.add_argument("--vex", action="append", default=[], type=Path, help="VEX document")
    push.add_argument("--server", required=True, metavar="URL", help="gate server URL")
    _add_server_options(push)
    _add_registry_options(push)

    sign = commands.add_parser("sign", help="sign an image the way `cosign sign --key` does")
    sign.add_argument("image", metavar="IMAGE")
    sign.add_argument("--key", required=True, type=Path, help="encrypted private key file")
    sign.add_argument(
        "--annotation",
        "-a",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra signed annotation (cosign -a)",
    )
    _add_registry_options(sign)

    attest = commands.add_parser(
        "attest",
        help="attach a signed in-toto attestation the way `cosign attest --key` does",
    )
    attest.add_argument("image", metavar="IMAGE")
    attest.add_argument("--key", required=True, type=Path, help="encrypted private key file")
    attest.add_argument(
        "--predicate", required=True, type=Path, help="predicate file (SBOM, report, provenance)"
    )
    attest.add_argument(
        "--type",
        required=True,
        choices=[kind.value for kind in PredicateKind],
        metavar="TYPE",
        help="cyclonedx, spdx (spdxjson), vuln (a scanner report), slsaprovenance "
        "(slsaprovenance1, slsaprovenance02)",
    )
    attest.add_argument(
        "--scan-finished-on",
        metavar="TIME",
        help="vuln only: when the scan ran (RFC 3339), if the report does not say",
    )
    _add_registry_options(attest)
    return parser


def _read_file(path: Path, what: str) -> bytes:
    return read_input_file(path, what, limit=_MAX_EVIDENCE_BYTES)


def _password(*, confirm: bool) -> bytes:
    env = os.environ.get("COSIGN_PASSWORD")
    if env is not None:
        return env.encode()
    if not sys.stdin.isatty():
        raise InputError("no password: set COSIGN_PASSWORD (stdin is not a terminal)")
    first = getpass.getpass("Enter password for private key: ")
    if confirm and getpass.getpass("Enter password for private key again: ") != first:
        raise InputError("passwords do not match")
    return first.encode()


def _registry(args: argparse.Namespace) -> RegistryClient:
    return RegistryClient(
        RegistryOptions(
            authfile=args.authfile,
            cert_dir=args.cert_dir,
            insecure_registries=frozenset(args.insecure_registry),
            timeout=args.registry_timeout,
            allowed_registries=(
                None if args.allowed_registry is None else tuple(args.allowed_registry)
            ),
        )
    )


def _cmd_verify(args: argparse.Namespace) -> int:
    flags = VerifyFlags(
        keys=tuple(args.key),
        identity=args.certificate_identity,
        identity_regexp=args.certificate_identity_regexp,
        issuer=args.certificate_oidc_issuer,
        issuer_regexp=args.certificate_oidc_issuer_regexp,
        trusted_root=args.trusted_root,
        ignore_tlog=args.insecure_ignore_tlog,
        notation_certs=tuple(args.notation_cert),
        notation_identities=tuple(args.notation_identity),
        notation_level=args.notation_level,
        notary_server=args.notary_server,
        notary_roots=tuple(args.notary_root),
        notary_ca=args.notary_ca,
        notary_delegations=tuple(args.notary_delegation),
    )
    policy = build_verify_policy(flags)
    platform = Platform.parse(args.platform) if args.platform else None
    verdict = Gate(policy, _registry(args)).check(args.images, CheckOptions(platform=platform))
    _emit(verdict, args)
    return _exit_code(verdict, args)


def _emit(verdict: Verdict, args: argparse.Namespace) -> None:
    report = render(verdict, args.format)
    if args.output:
        _write_report(args.output, report)
    else:
        sys.stdout.write(report)
    for line in verdict.errors:
        print(f"gate: could not decide: {line}", file=sys.stderr)


def _exit_code(verdict: Verdict, args: argparse.Namespace) -> int:
    if not verdict.decided:
        return EXIT_UNDECIDED
    if args.output or args.format is not ReportFormat.TEXT:
        print(f"gate: decision: {verdict.decision.value}", file=sys.stderr)
    return EXIT_DENY if verdict.decision is Decision.DENY else EXIT_ALLOW


def _cmd_check(args: argparse.Namespace) -> int:
    policy = load_policy(args.policy)
    scans = [load_scan_report(_read_file(p, "scan report"), str(p)) for p in args.scan]
    sboms = [load_sbom(_read_file(p, "SBOM"), str(p)) for p in args.sbom]
    vex = [load_vex(_read_file(p, "VEX document"), str(p)) for p in args.vex]
    platform = Platform.parse(args.platform) if args.platform else None
    exceptions = (
        StaticExceptions(load_exceptions_file(args.exceptions, now=datetime.now(UTC)))
        if args.exceptions
        else None
    )
    gate = Gate(policy, _registry(args), scans=scans, sboms=sboms, vex=vex, exceptions=exceptions)
    verdict = gate.check(args.images, CheckOptions(namespace=args.namespace, platform=platform))
    _emit(verdict, args)
    if args.record:
        ids = record_check(
            args.record,
            _token(args),
            verdict,
            str(policy.digest),
            ca_cert=args.api_ca_cert,
            timeout=args.api_timeout,
        )
        print(f"gate: recorded {len(ids)} verdict(s) at {args.record}", file=sys.stderr)
    return _exit_code(verdict, args)


def _write_report(path: Path, report: str) -> None:
    try:
        path.write_text(report, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write the report: {exc.strerror}", source=str(path)) from exc


def _cmd_policy_validate(args: argparse.Namespace) -> int:
    status = 0
    for path in args.files:
        try:
            policy = load_policy(path)
        except GateError as exc:
            for line in str(exc).splitlines():
                print(line, file=sys.stderr)
            status = EXIT_UNDECIDED
        else:
            print(f"{path}: valid policy '{policy.name}' ({len(policy.rules)} rules)")
    return status


def _cmd_policy(args: argparse.Namespace) -> int:
    if args.policy_command == "test":
        return _cmd_policy_test(args)
    if args.policy_command == "diff":
        return _cmd_policy_diff(args)
    return _cmd_policy_validate(args)


def _cmd_policy_diff(args: argparse.Namespace) -> int:
    """0 no recorded image would change decision, 1 some would, 2 the preview failed."""
    if args.db is not None:
        return diff_with_store(
            args.old,
            args.new,
            since=args.since,
            db_url=args.db,
            now=system_clock(),
            output_format=args.format,
            all_images=args.all_images,
            out=sys.stdout,
        )
    with ApiClient(
        args.server, _token(args), ca_cert=args.api_ca_cert, timeout=args.api_timeout
    ) as client:
        return diff_with_server(
            args.old,
            args.new,
            since=args.since,
            client=client,
            output_format=args.format,
            all_images=args.all_images,
            out=sys.stdout,
        )


def _cmd_policy_test(args: argparse.Namespace) -> int:
    """0 every case passed, 1 any case failed, 2 a bad test file or policy (nothing ran)."""
    try:
        now = parse_instant(args.now) if args.now is not None else None
    except ValueError as exc:
        raise InputError(str(exc), source="--now") from exc
    try:
        run = run_policy_tests(args.paths, policy=args.policy, now=now)
    except PolicyValidationError as exc:
        # Every problem of every test file and policy, one file:line:column line each.
        for line in str(exc).splitlines():
            print(line, file=sys.stderr)
        return EXIT_UNDECIDED
    report = render_policy_tests(run, args.format)
    if args.output:
        _write_report(args.output, report)
    else:
        sys.stdout.write(report)
    if args.output or args.format is not PolicyTestFormat.TEXT:
        print(f"gate: {policy_test_summary(run)}", file=sys.stderr)
    return EXIT_DENY if run.failed else EXIT_ALLOW


def _cmd_keys_generate(args: argparse.Namespace) -> int:
    key_path = Path(f"{args.output_prefix}.key")
    pub_path = Path(f"{args.output_prefix}.pub")
    for path in (key_path, pub_path):
        if path.exists() and not args.force:
            raise InputError("already exists; use --force to overwrite", source=str(path))
    private_pem, public_pem = generate_key_pair(_password(confirm=True))
    key_path.touch(mode=0o600, exist_ok=True)
    key_path.write_bytes(private_pem)
    pub_path.write_bytes(public_pem)
    print(f"Private key written to {key_path}", file=sys.stderr)
    print(f"Public key written to {pub_path}", file=sys.stderr)
    return EXIT_ALLOW


def _cmd_sign(args: argparse.Namespace) -> int:
    annotations: dict[str, str] = {}
    for item in args.annotation:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"annotation {item!r} is not KEY=VALUE", source="--annotation")
        annotations[key] = value
    private_key = load_private_key(
        _read_file(args.key, "private key"), _password(confirm=False), str(args.key)
    )
    registry = _registry(args)
    image = registry.resolve(ImageReference.parse(args.image))
    digest = sign_image(registry, registry, image, private_key, annotations=annotations or None)
    print(f"Signed {image.reference.name}@{image.digest} (signature manifest {digest})")
    return EXIT_ALLOW


def _cmd_attest(args: argparse.Namespace) -> int:
    finished = None
    if args.scan_finished_on is not None:
        finished = parse_timestamp(args.scan_finished_on)
        if finished is None:
            raise InputError(
                f"{args.scan_finished_on!r} is not an RFC 3339 time with an offset "
                "(e.g. 2026-01-31T12:00:00Z)",
                source="--scan-finished-on",
            )
    # The predicate is checked before the key is unlocked or the registry asked.
    predicate = read_predicate(
        _read_file(args.predicate, "predicate"),
        str(args.predicate),
        PredicateKind(args.type),
        scan_finished_on=finished,
    )
    private_key = load_private_key(
        _read_file(args.key, "private key"), _password(confirm=False), str(args.key)
    )
    registry = _registry(args)
    image = registry.resolve(ImageReference.parse(args.image))
    outcome = attest_image(registry, registry, image, private_key, predicate)
    what = f"{image.reference.name}@{image.digest} ({predicate.predicate_type})"
    if outcome.written:
        print(f"Attested {what}: {outcome.tag} now holds {outcome.layers} attestation(s)")
    else:
        print(f"Already attested {what} with this key and predicate: nothing written")
    return EXIT_ALLOW


def _cmd_serve(args: argparse.Namespace) -> int:
    # Imported here: Flask and gunicorn cost every other command half a second.
    from webhook.serve import serve  # noqa: PLC0415
    from webhook.settings import Settings  # noqa: PLC0415

    # Flags override the GATE_* environment, which still supplies everything else
    # (a container sets the deadline, state directory and registry options there).
    environ = dict(os.environ)
    for flag, variable in (
        (args.policy, "GATE_POLICY"),
        (args.db, "GATE_DB_URL"),
        (args.tokens, "GATE_TOKENS_FILE"),
        (args.authfile, "GATE_REGISTRY_AUTHFILE"),
        (args.cert_dir, "GATE_REGISTRY_CERT_DIR"),
    ):
        if flag is not None:
            environ[variable] = str(flag)
    if args.insecure_registry:
        environ["GATE_INSECURE_REGISTRIES"] = ",".join(args.insecure_registry)
    if (args.tls_cert is None) != (args.tls_key is None):
        raise InputError("give both --tls-cert and --tls-key, or neither")
    return serve(
        Settings.from_env(environ),
        host=args.host,
        port=args.port,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        workers=args.workers,
        threads=args.threads,
    )


def _cmd_verdicts_list(args: argparse.Namespace) -> int:
    filters = {
        name: getattr(args, name)
        for name in VERDICT_FILTERS
        if getattr(args, name, None) is not None
    }
    return verdicts_list(
        args.server,
        _token(args),
        filters,
        args.format,
        sys.stdout,
        ca_cert=args.api_ca_cert,
        timeout=args.api_timeout,
        err=sys.stderr,
    )


def _cmd_evidence(args: argparse.Namespace) -> int:
    if args.evidence_command == "show":
        return _cmd_evidence_show(args)
    return _cmd_evidence_push(args)


def _cmd_evidence_show(args: argparse.Namespace) -> int:
    view = show_evidence(_read_file(args.file, "evidence file"), str(args.file))
    if args.format == "json":
        sys.stdout.write(json.dumps(view, indent=2) + "\n")
    else:
        sys.stdout.write(render_text(view))
    return EXIT_ALLOW


def _cmd_evidence_push(args: argparse.Namespace) -> int:
    if not args.scan and not args.sbom and not args.vex:
        raise InputError("nothing to push: give --scan, --sbom and/or --vex files")
    return evidence_push(
        args.image,
        args.scan,
        args.sbom,
        vex=args.vex,
        server=args.server,
        token=_token(args),
        registry=_registry(args),
        ca_cert=args.api_ca_cert,
        timeout=args.api_timeout,
        out=sys.stdout,
    )


def _cmd_exceptions(args: argparse.Namespace) -> int:
    common: dict[str, Any] = {"ca_cert": args.api_ca_cert, "timeout": args.api_timeout}
    if args.exceptions_command == "add":
        body: dict[str, Any] = {
            "owner": args.owner,
            "ticket": args.ticket,
            "reason": args.reason,
            "expires": args.expires,
        }
        if args.finding:
            body["findingId"] = args.finding
        if args.purl:
            body["purl"] = args.purl
        if not args.finding and not args.purl:
            raise InputError("give --finding ID or --purl PURL (or both)")
        if args.image:
            body["images"] = args.image
        if args.namespace:
            body["namespaces"] = args.namespace
        return exceptions_add(args.server, _token(args), body, sys.stdout, **common)
    if args.exceptions_command == "list":
        filters = {
            "active": "true" if args.active else None,
            "expiring": args.expiring,
            "image": args.image,
            "namespace": args.namespace,
        }
        chosen = {k: v for k, v in filters.items() if v is not None}
        return exceptions_list(args.server, _token(args), chosen, args.format, sys.stdout, **common)
    return exceptions_revoke(args.server, _token(args), args.id, sys.stdout, **common)


_COMMANDS = {
    "check": _cmd_check,
    "verify": _cmd_verify,
    "serve": _cmd_serve,
    "sign": _cmd_sign,
    "attest": _cmd_attest,
    "policy": _cmd_policy,
    "keys": _cmd_keys_generate,  # its only sub-command
    "verdicts": _cmd_verdicts_list,  # its only sub-command
    "evidence": _cmd_evidence,
    "exceptions": _cmd_exceptions,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code (also used by the console script)."""
    args = build_parser().parse_args(argv)
    # sigstore-python warns on stderr about bundle details the gate has already judged
    # (e.g. a root CA in a v0.1 chain); the verdict says what counts.
    logging.getLogger("sigstore").setLevel(logging.ERROR)
    try:
        return _COMMANDS[args.command](args)
    except GateError as exc:
        print(f"gate: {exc}", file=sys.stderr)
        return exc.exit_code if exc.exit_code != EXIT_DENY else EXIT_UNDECIDED
    except KeyboardInterrupt:
        print("gate: interrupted", file=sys.stderr)
        return EXIT_UNDECIDED
    except Exception as exc:  # the last line of defence: one line, never a traceback
        print(f"gate: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        if os.environ.get("GATE_DEBUG"):
            raise
        return EXIT_UNDECIDED


if __name__ == "__main__":
    sys.exit(main())
