"""The verdict API (``/api/v1``): query recorded verdicts, record CI verdicts, push evidence.

A Flask blueprint over a ``VerdictStore``, so the webhook app mounts it and
tests can build an app of it alone. Every request except the OpenAPI document
carries ``Authorization: Bearer <token>``; the token's scopes (``read``,
``write``) decide what it may do. Every failure is JSON ``{"error": "<one
line>"}``: 400 for a bad parameter or body (naming which), 401/403 for
authentication, 404, 413 for a body over the limit, 503 when the store cannot
be reached. Never a traceback.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import wraps
from typing import Any, Protocol, TypeVar

from flask import Blueprint, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from gate.clock import Clock, system_clock
from gate.errors import BackendError, GateError, InputError
from gate.oci.digest import Digest
from gate.sbom.load import load_sbom
from gate.scanners.load import load_scan_report
from gate.store.model import (
    CheckRecord,
    EvidenceKind,
    NewEvidence,
    NewVerdict,
    StoredVerdict,
    VerdictQuery,
    VerdictSource,
    VerdictStore,
)
from gate.vex.load import load_vex
from webhook.admission import has_lone_surrogate
from webhook.openapi import build_openapi
from webhook.tokens import Principal, Scope, TokenSet

__all__ = [
    "API_PREFIX",
    "DEFAULT_MAX_EVIDENCE_BYTES",
    "DEFAULT_MAX_REPORT_BYTES",
    "authenticate",
    "create_api_blueprint",
    "stored_verdict_to_dict",
]

API_PREFIX = "/api/v1"
#: SBOMs of large images run to tens of megabytes; more is not an SBOM worth storing.
DEFAULT_MAX_EVIDENCE_BYTES = 64 * 1024 * 1024
#: A gate JSON report of a few hundred images stays well below this.
DEFAULT_MAX_REPORT_BYTES = 8 * 1024 * 1024
#: The most images one ``POST /verdicts`` may record.
MAX_IMAGES_PER_REPORT = 1000

_LOG = logging.getLogger(__name__)
_DECISIONS = ("allow", "warn", "deny")
_MODES = ("enforce", "warn", "audit")
_OUTCOMES = ("pass", "fail", "warn", "skip", "error")
_LIST_PARAMETERS = frozenset(
    {"image", "digest", "namespace", "decision", "source", "since", "until", "limit", "cursor"}
)
_EVIDENCE_PARAMETERS = frozenset({"digest", "kind", "name"})
_MAX_TEXT = 4096
# A lone surrogate cannot be stored (no encoding writes it): refused, not a 500.
_SURROGATE = "holds a lone UTF-16 surrogate (\\ud800-\\udfff): not Unicode"
_WILDCARD_RUN_RE = re.compile(r"[*?]+")
#: Wildcard runs allowed in an ``image`` glob (see ``_parse_list_parameters``).
MAX_GLOB_WILDCARDS = 3
_MAX_DETAILS_DEPTH = 32  # a filter value or name longer than this is not a real one
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_REALM = 'Bearer realm="gate"'

_View = TypeVar("_View", bound=Callable[..., Any])


class _ApiError(Exception):
    """An error answered as ``{"error": message}`` with ``status`` and optional headers."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def _bad(parameter: str, reason: str) -> _ApiError:
    return _ApiError(400, f"{parameter}: {reason}")


def authenticate(tokens: TokenSet, header: str | None, scope: Scope) -> Principal:
    """The caller of an ``Authorization`` header if it holds ``scope``; else the API's
    401 (no or unknown token) or 403 (scope missing), each with its Bearer challenge."""
    principal = tokens.authenticate(header)
    if principal is None:
        if header:
            raise _ApiError(
                401,
                "invalid or unknown bearer token",
                {"WWW-Authenticate": f'{_REALM}, error="invalid_token"'},
            )
        raise _ApiError(
            401,
            "authentication required: send Authorization: Bearer <token>",
            {"WWW-Authenticate": _REALM},
        )
    if not principal.may(scope):
        raise _ApiError(
            403,
            f"token {principal.name!r} lacks the {scope.value!r} scope",
            {"WWW-Authenticate": f'{_REALM}, error="insufficient_scope", scope="{scope.value}"'},
        )
    return principal


def create_api_blueprint(
    store: VerdictStore,
    tokens: TokenSet,
    *,
    clock: Clock = system_clock,
    max_evidence_bytes: int = DEFAULT_MAX_EVIDENCE_BYTES,
    max_report_bytes: int = DEFAULT_MAX_REPORT_BYTES,
    preview: PolicyPreviewer | None = None,
    on_evidence: Callable[[str], None] | None = None,
) -> Blueprint:
    """The ``/api/v1`` blueprint over ``store``, authenticating with ``tokens``.

    ``preview`` serves ``POST /policy/preview`` (404 without it);
    ``on_evidence`` is told the digest of every evidence document stored
    (the webhook queues a re-check of the images running with it).

    ``clock`` stamps the receipt of evidence; the size limits bound the bodies
    of ``POST /evidence`` and ``POST /verdicts`` (413 beyond them), whatever
    the application's own ``MAX_CONTENT_LENGTH`` is.
    """
    api = Blueprint("gate_api", __name__, url_prefix=API_PREFIX)
    openapi_document = build_openapi(API_PREFIX)

    def require(scope: Scope) -> Callable[[_View], _View]:
        def decorate(view: _View) -> _View:
            @wraps(view)
            def guarded(*args: Any, **kwargs: Any) -> Any:
                principal = authenticate(tokens, request.headers.get("Authorization"), scope)
                g.gate_principal = principal
                return view(*args, **kwargs)

            return guarded  # type: ignore[return-value]  # same signature as ``view``

        return decorate

    @api.get("/openapi.json")
    def openapi() -> Response:
        return jsonify(openapi_document)

    @api.get("/verdicts")
    @require(Scope.READ)
    def list_verdicts() -> Response:
        query, limit, cursor = _parse_list_parameters(request.args)
        try:
            page = store.query(query, limit=limit, cursor=cursor)
        except InputError as exc:
            # The only caller input the store judges is the cursor.
            raise _bad("cursor", exc.reason) from exc
        return jsonify(
            {
                "items": [stored_verdict_to_dict(v) for v in page.items],
                "nextCursor": page.next_cursor,
            }
        )

    @api.get("/verdicts/<verdict_id>")
    @require(Scope.READ)
    def get_verdict(verdict_id: str) -> Response:
        verdict: StoredVerdict | None = None
        if len(verdict_id) <= 256:
            try:
                verdict = store.get(verdict_id)
            except InputError:
                verdict = None  # an id the store cannot even read names no verdict
        if verdict is None:
            raise _ApiError(404, f"no verdict with id {verdict_id[:80]!r}")
        return jsonify(stored_verdict_to_dict(verdict))

    @api.post("/verdicts")
    @require(Scope.WRITE)
    def record_verdicts() -> tuple[Response, int]:
        principal: Principal = g.gate_principal
        body = _read_body(max_report_bytes)
        try:
            report = json.loads(body, parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as exc:
            raise _bad("body", f"not JSON: {_json_reason(exc)}") from exc
        if has_lone_surrogate(body, report):
            raise _bad("body", _SURROGATE)
        verdicts = _verdicts_from_report(report, principal.name)
        ids = store.record(verdicts)
        return jsonify({"ids": list(ids)}), 201

    @api.post("/evidence")
    @require(Scope.WRITE)
    def push_evidence() -> tuple[Response, int]:
        principal: Principal = g.gate_principal
        _reject_unknown(request.args, _EVIDENCE_PARAMETERS)
        digest_text = _single(request.args, "digest")
        if digest_text is None:
            raise _bad("digest", "required (the image manifest digest, sha256:<hex>)")
        digest = _digest(digest_text, "digest")
        kind_text = _single(request.args, "kind")
        if kind_text is None:
            raise _bad("kind", "required (scan, sbom or vex)")
        try:
            kind = EvidenceKind(kind_text)
        except ValueError:
            raise _bad("kind", f"must be scan, sbom or vex, got {kind_text[:40]!r}") from None
        name = _single(request.args, "name") or f"{kind.value}-{digest.hex[:12]}"
        _check_text("name", name, 255)
        data = _read_body(max_evidence_bytes)
        if kind is EvidenceKind.SCAN:
            scan = load_scan_report(data, name)
            fmt, created, described = scan.format, scan.created_at, scan.artifact_digests
        elif kind is EvidenceKind.VEX:
            # Which images a statement covers is decided when it is applied (its products).
            vex = load_vex(data, name)
            fmt, created, described = vex.format, vex.timestamp, frozenset()
        else:
            sbom = load_sbom(data, name)
            fmt, created, described = sbom.format, sbom.created_at, sbom.subject_digests
        if described and digest not in described:
            # Evidence is bound to the digest it is pushed for: a report that says
            # it describes another build must not stand in for this one.
            names = ", ".join(sorted(str(d) for d in described))
            raise _bad("body", f"{name} describes {names}, not {digest}")
        evidence_id = store.put_evidence(
            NewEvidence(
                digest=str(digest),
                kind=kind,
                format=fmt,
                name=name,
                data=data,
                received_at=clock(),
                created_at=created,
                pushed_by=principal.name,
            )
        )
        if on_evidence is not None:
            on_evidence(str(digest))
        return jsonify({"id": evidence_id, "digest": str(digest), "kind": kind.value}), 201

    @api.post("/policy/preview")
    # Write scope: a posted policy names key files that the server then opens.
    @require(Scope.WRITE)
    def preview_policy() -> Response:
        if preview is None:
            raise _ApiError(404, "policy preview is not served here")
        body = _read_body(MAX_PREVIEW_BYTES)
        policy_text, old_text, since, all_images = _preview_request(
            body, request.mimetype, request.args
        )
        return jsonify(
            preview(policy_text, old_policy_text=old_text, since=since, all_images=all_images)
        )

    register_error_handlers(api)
    return api


def register_error_handlers(blueprint: Blueprint) -> None:
    """The API's JSON error answers, the same for every API blueprint.

    A refusal carries its status; bad input is 400, an unreachable store 503,
    an oversized body 413, anything unexpected 500 (logged, never shown).
    """

    @blueprint.errorhandler(_ApiError)
    def api_error(exc: _ApiError) -> Response:
        return _error_response(exc.status, exc.message, exc.headers)

    @blueprint.errorhandler(InputError)
    def input_error(exc: InputError) -> Response:
        return _error_response(400, _one_line(str(exc)))

    @blueprint.errorhandler(BackendError)
    def backend_error(exc: BackendError) -> Response:
        _LOG.warning("verdict store unavailable: %s", exc)
        return _error_response(503, _one_line(str(exc)))

    @blueprint.errorhandler(GateError)
    def gate_error(exc: GateError) -> Response:
        return _error_response(400, _one_line(str(exc)))

    @blueprint.errorhandler(RequestEntityTooLarge)
    def too_large(exc: RequestEntityTooLarge) -> Response:
        limit = request.max_content_length
        what = f"larger than {limit} bytes" if limit is not None else "too large"
        return _error_response(413, f"request body {what}")

    @blueprint.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        return _error_response(exc.code or 500, _one_line(exc.description or exc.name))

    @blueprint.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        _LOG.exception("unexpected error in %s %s", request.method, request.path)
        return _error_response(500, f"internal error ({type(exc).__name__}); see the server log")


def _error_response(
    status: int, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _read_body(limit: int) -> bytes:
    """The whole request body, refusing (413) more than ``limit`` bytes."""
    # Per request, so the app's (smaller) MAX_CONTENT_LENGTH for admission
    # reviews does not cap evidence uploads, and vice versa.
    request.max_content_length = limit
    data = request.get_data(cache=False)
    if len(data) > limit:  # a body without Content-Length is cut by the stream limit
        raise RequestEntityTooLarge()
    return data


# -- POST /policy/preview --------------------------------------------------------------------


class PolicyPreviewer(Protocol):
    """Makes the impact preview document of a policy change (``webhook.preview_service``)."""

    def __call__(
        self,
        policy_text: str,
        *,
        old_policy_text: str | None = None,
        since: str | None = None,
        all_images: bool = False,
    ) -> dict[str, Any]:
        """The preview of ``policy_text`` against ``old_policy_text`` (default: the running one)."""
        ...


#: Two policies of at most 1 MiB each, in JSON strings.
MAX_PREVIEW_BYTES = 4 * 1024 * 1024
_PREVIEW_FIELDS = frozenset({"policy", "oldPolicy", "since", "allImages"})


def _preview_request(
    body: bytes, mimetype: str, args: Mapping[str, str]
) -> tuple[str, str | None, str | None, bool]:
    """(new policy, old policy or None, since or None, all images) of a preview request.

    A JSON object ``{"policy", "oldPolicy"?, "since"?, "allImages"?}``, or the
    new policy's YAML itself as the body with ``?since=`` in the query.
    """
    if mimetype == "application/json":
        _reject_unknown(args, frozenset())
        try:
            document = json.loads(body, parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as exc:
            raise _bad("body", f"not JSON: {_json_reason(exc)}") from exc
        if has_lone_surrogate(body, document):
            raise _bad("body", _SURROGATE)
        if not isinstance(document, dict):
            raise _bad("body", "expected an object with policy, oldPolicy, since, allImages")
        for key in document:
            if key not in _PREVIEW_FIELDS:
                raise _bad(f"body.{str(key)[:40]}", "unknown field")
        policy = _field(document, "policy", str, "body")
        old = document.get("oldPolicy")
        if old is not None and not isinstance(old, str):
            raise _bad("body.oldPolicy", "must be a string")
        since = document.get("since")
        if since is not None:
            if not isinstance(since, str):
                raise _bad("body.since", "must be a string")
            _check_text("body.since", since, 64)
        all_images = document.get("allImages", False)
        if not isinstance(all_images, bool):
            raise _bad("body.allImages", "must be a boolean")
        return policy, old, since, all_images
    _reject_unknown(args, frozenset({"since"}))
    query_since = _single(args, "since")
    if query_since is not None:
        _check_text("since", query_since, 64)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad("body", "the policy is not UTF-8") from None
    if not text.strip():
        raise _bad("body", "empty: send the new policy YAML or a JSON object")
    return text, None, query_since, False


# -- GET /verdicts ---------------------------------------------------------------------------


def _parse_list_parameters(args: Mapping[str, str]) -> tuple[VerdictQuery, int, str | None]:
    _reject_unknown(args, _LIST_PARAMETERS)
    image = _single(args, "image")
    if image is not None:
        _check_text("image", image, 256)
        # The store matches globs with a backtracking regex: each wildcard run
        # multiplies the work per row, so a crafted glob could pin a worker.
        if len(_WILDCARD_RUN_RE.findall(image)) > MAX_GLOB_WILDCARDS:
            raise _bad("image", f"more than {MAX_GLOB_WILDCARDS} wildcards (* ** ?)")
    digest = _single(args, "digest")
    if digest is not None:
        digest = str(_digest(digest, "digest"))
    namespace = _single(args, "namespace")
    if namespace is not None:
        _check_text("namespace", namespace, 253)
    decision = _single(args, "decision")
    if decision is not None and decision not in _DECISIONS:
        raise _bad("decision", f"must be one of allow, warn, deny; got {decision[:40]!r}")
    source_text = _single(args, "source")
    source: VerdictSource | None = None
    if source_text is not None:
        try:
            source = VerdictSource(source_text)
        except ValueError:
            raise _bad(
                "source", f"must be admission, ci or recheck; got {source_text[:40]!r}"
            ) from None
    since = _time_parameter(args, "since")
    until = _time_parameter(args, "until")
    if since is not None and until is not None and since > until:
        raise _bad("since", "is after until")
    limit_text = _single(args, "limit")
    limit = 100
    if limit_text is not None:
        if not re.fullmatch(r"[0-9]{1,7}", limit_text):
            raise _bad("limit", f"must be an integer from 1 to 1000; got {limit_text[:40]!r}")
        limit = int(limit_text)
        if not 1 <= limit <= 1000:
            raise _bad("limit", f"must be from 1 to 1000; got {limit}")
    cursor = _single(args, "cursor")
    if cursor is not None:
        _check_text("cursor", cursor, _MAX_TEXT)
    query = VerdictQuery(
        image=image,
        digest=digest,
        namespace=namespace,
        decision=decision,
        source=source,
        since=since,
        until=until,
    )
    return query, limit, cursor


def _reject_unknown(args: Mapping[str, str], known: frozenset[str]) -> None:
    # A misspelt filter would otherwise be ignored and widen the answer silently.
    for key in args:
        if key not in known:
            raise _bad(key[:40], f"unknown parameter (expected {', '.join(sorted(known))})")


def _single(args: Any, name: str) -> str | None:
    values: list[str] = args.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise _bad(name, "given more than once")
    value = values[0]
    if value == "":
        raise _bad(name, "is empty")
    return value


def _check_text(name: str, value: str, max_length: int) -> None:
    if len(value) > max_length:
        raise _bad(name, f"longer than {max_length} characters")
    if _CONTROL_RE.search(value):
        raise _bad(name, "contains control characters")


def _digest(text: str, name: str) -> Digest:
    try:
        return Digest.parse(text)
    except InputError:
        raise _bad(name, f"not a digest (sha256:<64 lowercase hex>): {text[:80]!r}") from None


def _time_parameter(args: Mapping[str, str], name: str) -> datetime | None:
    text = _single(args, name)
    if text is None:
        return None
    return _rfc3339(text, name)


_RFC3339_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def _rfc3339(text: str, name: str) -> datetime:
    """An RFC 3339 timestamp with its offset; a time without one is ambiguous, so refused."""
    if not _RFC3339_RE.fullmatch(text):
        raise _bad(
            name, f"not an RFC 3339 time with offset (e.g. 2026-01-31T12:00:00Z): {text[:80]!r}"
        )
    normalised = text.upper().replace("Z", "+00:00")
    # Python keeps microseconds only; nanoseconds (Go's output) are cut, not refused.
    normalised = re.sub(r"(\.[0-9]{6})[0-9]+", r"\1", normalised)
    try:
        return datetime.fromisoformat(normalised)
    except ValueError as exc:
        raise _bad(name, f"not a valid time: {text[:80]!r} ({exc})") from None


# -- POST /verdicts --------------------------------------------------------------------------


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _json_reason(exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    return str(exc)


def _verdicts_from_report(report: Any, user: str) -> list[NewVerdict]:
    """The gate JSON report (``verdict_to_dict``) as one ``NewVerdict`` per image."""
    if not isinstance(report, dict):
        raise _bad("body", "expected a gate JSON report (an object with decision, images, ...)")
    policy = _field(report, "policy", str, "body")
    _check_text("body.policy", policy, 255)
    evaluated = _rfc3339(_field(report, "evaluatedAt", str, "body"), "body.evaluatedAt")
    policy_digest = ""
    if report.get("policyDigest") is not None:
        digest_text = _field(report, "policyDigest", str, "body")
        policy_digest = str(_digest(digest_text, "body.policyDigest"))
    decision = _field(report, "decision", str, "body")
    if decision not in _DECISIONS:
        raise _bad("body.decision", f"must be one of allow, warn, deny; got {decision[:40]!r}")
    images = _field(report, "images", list, "body")
    if not images:
        raise _bad("body.images", "is empty: nothing to record")
    if len(images) > MAX_IMAGES_PER_REPORT:
        raise _bad("body.images", f"more than {MAX_IMAGES_PER_REPORT} images in one report")
    verdicts = [
        _image_verdict(
            image,
            f"body.images[{index}]",
            time=evaluated,
            policy=policy,
            policy_digest=policy_digest,
            user=user,
        )
        for index, image in enumerate(images)
    ]
    worst = max((_DECISIONS.index(v.decision) for v in verdicts), default=0)
    if _DECISIONS.index(decision) != worst:
        raise _bad(
            "body.decision",
            f"is {decision} but the worst image decision is {_DECISIONS[worst]}",
        )
    return verdicts


_T = TypeVar("_T")


def _field(obj: dict[str, Any], key: str, kind: type[_T], where: str) -> _T:
    value = obj.get(key)
    if value is None:
        raise _bad(f"{where}.{key}", "missing")
    if not isinstance(value, kind):
        raise _bad(f"{where}.{key}", f"must be {_KIND_NAMES.get(kind, kind.__name__)}")
    return value


def _optional_str(obj: dict[str, Any], key: str, where: str, max_length: int) -> str | None:
    if obj.get(key) is None:
        return None
    value = _field(obj, key, str, where)
    _check_text(f"{where}.{key}", value, max_length)
    return value


_KIND_NAMES: dict[type, str] = {
    str: "a string",
    list: "a list",
    dict: "an object",
    bool: "a boolean",
}


def _image_verdict(
    image: Any, where: str, *, time: datetime, policy: str, policy_digest: str, user: str
) -> NewVerdict:
    if not isinstance(image, dict):
        raise _bad(where, "must be an object")
    reference = _field(image, "reference", str, where)
    _check_text(f"{where}.reference", reference, 1024)
    digest = _optional_str(image, "digest", where, 200)
    if digest is not None:
        digest = str(_digest(digest, f"{where}.digest"))
    decision = _field(image, "decision", str, where)
    if decision not in _DECISIONS:
        raise _bad(f"{where}.decision", f"must be one of allow, warn, deny; got {decision[:40]!r}")
    mode = _field(image, "mode", str, where)
    if mode not in _MODES:
        raise _bad(f"{where}.mode", f"must be one of enforce, warn, audit; got {mode[:40]!r}")
    rule = _optional_str(image, "rule", where, 255)
    reason = image.get("reason")
    if not isinstance(reason, str):
        raise _bad(f"{where}.reason", "must be a string")
    namespace = _optional_str(image, "namespace", where, 253)
    raw_checks = image.get("checks", [])
    if not isinstance(raw_checks, list):
        raise _bad(f"{where}.checks", "must be a list")
    checks = tuple(_check_record(c, f"{where}.checks[{i}]") for i, c in enumerate(raw_checks))
    # A resolution failure has no digest; an errored check could not be decided.
    decided = digest is not None and all(c.outcome != "error" for c in checks)
    return NewVerdict(
        time=time,
        source=VerdictSource.CI,
        reference=reference,
        digest=digest,
        decision=decision,
        mode=mode,
        policy_name=policy,
        policy_digest=policy_digest,
        rule=rule,
        reason=reason,
        checks=checks,
        namespace=namespace,
        user=user,
        decided=decided,
    )


def _check_record(check: Any, where: str) -> CheckRecord:
    if not isinstance(check, dict):
        raise _bad(where, "must be an object")
    name = _field(check, "check", str, where)
    _check_text(f"{where}.check", name, 255)
    outcome = _field(check, "outcome", str, where)
    if outcome not in _OUTCOMES:
        raise _bad(
            f"{where}.outcome", f"must be one of {', '.join(_OUTCOMES)}; got {outcome[:40]!r}"
        )
    reason = check.get("reason")
    if not isinstance(reason, str):
        raise _bad(f"{where}.reason", "must be a string")
    details = check.get("details", {})
    if details is None:
        details = {}
    if not isinstance(details, dict):
        raise _bad(f"{where}.details", "must be an object")
    _check_details(details, f"{where}.details")
    return CheckRecord(check=name, outcome=outcome, reason=reason, details=details)


def _check_details(value: Any, where: str) -> None:
    """Refuse what the store and JSON cannot take back: numbers out of range (a huge
    exponent parses to infinity) and nesting deep enough to exhaust the recursion
    of whoever walks the details later."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > _MAX_DETAILS_DEPTH:
            raise _bad(where, f"nested more than {_MAX_DETAILS_DEPTH} levels deep")
        if isinstance(item, float) and not math.isfinite(item):
            raise _bad(where, "holds a number out of range")
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)


# -- rendering -------------------------------------------------------------------------------


def stored_verdict_to_dict(verdict: StoredVerdict) -> dict[str, Any]:
    """A stored verdict as the API's JSON object (camelCase, as the gate's JSON report)."""
    return {
        "id": verdict.id,
        "time": verdict.time.isoformat(),
        "source": verdict.source.value,
        "reference": verdict.reference,
        "digest": verdict.digest,
        "decision": verdict.decision,
        "decided": verdict.decided,
        "mode": verdict.mode,
        "policyName": verdict.policy_name,
        "policyDigest": verdict.policy_digest or None,
        "rule": verdict.rule,
        "reason": verdict.reason,
        "namespace": verdict.namespace,
        "workloadKind": verdict.workload_kind,
        "workloadName": verdict.workload_name,
        "user": verdict.user,
        "durationMs": verdict.duration_ms,
        "checks": [
            {
                "check": c.check,
                "outcome": c.outcome,
                "reason": c.reason,
                "details": _plain(c.details),
            }
            for c in verdict.checks
        ],
    }


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
