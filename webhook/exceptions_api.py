"""The exception API: ``/api/v1/exceptions`` (create, list, read, revoke) and its audit log.

Creating and revoking need a token with the ``write`` scope, reading one
with ``read``. Errors are answered exactly as the verdict API does
(``webhook.api``): JSON ``{"error": "<one line>"}``, 400 naming the field and
the reason, 401/403 with a Bearer challenge, 404, 503 when the store cannot
be reached. The longest lifetime allowed is the policy's
``spec.exceptions.maxDays``, read from the policy in force at each request.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, Response, jsonify, request

from gate.clock import Clock, system_clock
from gate.errors import InputError
from gate.oci.reference import ImageReference
from gate.policy.duration import parse_duration
from gate.policy.exceptions import ExceptionRecord, exception_to_dict, parse_new_exception
from gate.store.exceptions import ExceptionAuditEntry, ExceptionStore
from webhook.admission import has_lone_surrogate
from webhook.api import (
    API_PREFIX,
    _ApiError,
    _bad,
    _one_line,
    _read_body,
    _refuse_constant,
    _reject_unknown,
    _single,
    authenticate,
    register_error_handlers,
)
from webhook.tokens import Scope, TokenSet

__all__ = ["MAX_EXCEPTION_BODY", "audit_entry_to_dict", "create_exceptions_blueprint"]

#: An exception request is a few short fields; more is not one.
MAX_EXCEPTION_BODY = 64 * 1024
_LIST_PARAMETERS = frozenset({"active", "expiring", "image", "namespace", "revoked", "limit"})
_AUDIT_PARAMETERS = frozenset({"limit"})
_LOG = logging.getLogger(__name__)


def create_exceptions_blueprint(
    store: ExceptionStore,
    tokens: TokenSet,
    *,
    max_days: Callable[[], int],
    clock: Clock = system_clock,
    on_change: Callable[[], None] | None = None,
) -> Blueprint:
    """The exception endpoints over ``store``, authenticating with ``tokens``.

    ``max_days`` answers the policy's ``spec.exceptions.maxDays`` now;
    ``clock`` stamps creation and revocation and is "now" for ``active``;
    ``on_change`` is called after a create or revoke (the webhook drops its
    cached set so this replica applies the change at once).
    """
    blueprint = Blueprint("gate_exceptions", __name__, url_prefix=API_PREFIX)

    def changed() -> None:
        if on_change is not None:
            on_change()

    @blueprint.post("/exceptions")
    def create() -> tuple[Response, int]:
        principal = authenticate(tokens, request.headers.get("Authorization"), Scope.WRITE)
        _reject_unknown(request.args, frozenset())
        body = _read_body(MAX_EXCEPTION_BODY)
        try:
            document = json.loads(body, parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as exc:
            raise _bad("body", f"not JSON: {_one_line(str(exc))[:120]}") from exc
        if has_lone_surrogate(body, document):
            raise _bad("body", "holds a lone UTF-16 surrogate (\\ud800-\\udfff): not Unicode")
        now = clock()
        new = parse_new_exception(document, now=now, max_days=max_days())
        record = store.add_exception(new, created=now, created_by=principal.name)
        changed()
        return jsonify(exception_to_dict(record)), 201

    @blueprint.get("/exceptions")
    def list_exceptions() -> Response:
        authenticate(tokens, request.headers.get("Authorization"), Scope.READ)
        args = request.args
        _reject_unknown(args, _LIST_PARAMETERS)
        now = clock()
        active = _flag(args, "active")
        revoked = _flag(args, "revoked")
        expiring = _single(args, "expiring")
        limit_text = _single(args, "limit")
        limit = 1000
        if limit_text is not None:
            if not limit_text.isdigit() or not 1 <= int(limit_text) <= 10000:
                raise _bad("limit", "must be an integer from 1 to 10000")
            limit = int(limit_text)
        expires_after = None
        expires_before = None
        if active:
            revoked = False if revoked is None else revoked
            if revoked:
                raise _bad("revoked", "active=true lists only exceptions that are not revoked")
            expires_after = now
        if expiring is not None:
            try:
                window = parse_duration(expiring)
            except ValueError as exc:
                raise _bad("expiring", str(exc)) from None
            expires_after = now
            expires_before = now + window
            revoked = False if revoked is None else revoked
        records = store.list_exceptions(
            revoked=revoked,
            expires_after=expires_after,
            expires_before=expires_before,
            limit=limit,
        )
        image = _single(args, "image")
        namespace = _single(args, "namespace")
        if image is not None or namespace is not None:
            records = _scoped(records, image, namespace)
        return jsonify({"items": [exception_to_dict(r) for r in records]})

    @blueprint.get("/exceptions/<exception_id>")
    def get_exception(exception_id: str) -> Response:
        authenticate(tokens, request.headers.get("Authorization"), Scope.READ)
        return jsonify(exception_to_dict(_found(store, exception_id)))

    @blueprint.delete("/exceptions/<exception_id>")
    def revoke(exception_id: str) -> Response:
        principal = authenticate(tokens, request.headers.get("Authorization"), Scope.WRITE)
        _found(store, exception_id)
        record = store.revoke_exception(exception_id, at=clock(), by=principal.name)
        if record is None:  # pragma: no cover - exceptions are never deleted
            raise _ApiError(404, f"no exception with id {exception_id[:80]!r}")
        changed()
        return jsonify(exception_to_dict(record))

    @blueprint.get("/exceptions/<exception_id>/audit")
    def audit_of(exception_id: str) -> Response:
        authenticate(tokens, request.headers.get("Authorization"), Scope.READ)
        _reject_unknown(request.args, _AUDIT_PARAMETERS)
        _found(store, exception_id)
        entries = store.exception_audit(exception_id, limit=_audit_limit(request.args))
        return jsonify({"items": [audit_entry_to_dict(e) for e in entries]})

    @blueprint.get("/exceptions-audit")
    def audit_all() -> Response:
        authenticate(tokens, request.headers.get("Authorization"), Scope.READ)
        _reject_unknown(request.args, _AUDIT_PARAMETERS)
        entries = store.exception_audit(None, limit=_audit_limit(request.args))
        return jsonify({"items": [audit_entry_to_dict(e) for e in entries]})

    register_error_handlers(blueprint)
    return blueprint


def _flag(args: Mapping[str, str], name: str) -> bool | None:
    value = _single(args, name)
    if value is None:
        return None
    if value not in ("true", "false"):
        raise _bad(name, "must be true or false")
    return value == "true"


def _audit_limit(args: Mapping[str, str]) -> int:
    text = _single(args, "limit")
    if text is None:
        return 1000
    if not text.isdigit() or not 1 <= int(text) <= 10000:
        raise _bad("limit", "must be an integer from 1 to 10000")
    return int(text)


def _found(store: ExceptionStore, exception_id: str) -> ExceptionRecord:
    record = store.get_exception(exception_id) if len(exception_id) <= 64 else None
    if record is None:
        raise _ApiError(404, f"no exception with id {exception_id[:80]!r}")
    return record


def _scoped(
    records: tuple[ExceptionRecord, ...], image: str | None, namespace: str | None
) -> tuple[ExceptionRecord, ...]:
    """The records whose scope allows ``image`` (a reference) and ``namespace`` (a name)."""
    reference: ImageReference | None = None
    if image is not None:
        try:
            reference = ImageReference.parse(image)
        except InputError as exc:
            raise _bad("image", f"not an image reference: {exc}") from None
    kept: list[ExceptionRecord] = []
    for record in records:
        compiled = record.compile()
        if (
            reference is not None
            and compiled.images
            and not any(g.matches_reference(reference) for g in compiled.images)
        ):
            continue
        if (
            namespace is not None
            and compiled.namespaces
            and not any(g.matches(namespace) for g in compiled.namespaces)
        ):
            continue
        kept.append(record)
    return tuple(kept)


def audit_entry_to_dict(entry: ExceptionAuditEntry) -> dict[str, Any]:
    """The API's JSON form of one audit entry."""
    return {
        "id": entry.id,
        "exceptionId": entry.exception_id,
        "time": entry.time.isoformat(),
        "action": entry.action,
        "actor": entry.actor,
        "record": entry.record,
    }
