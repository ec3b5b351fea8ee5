"""The exception API's part of the OpenAPI document (``webhook.openapi`` merges it in)."""

from __future__ import annotations

from typing import Any

__all__ = ["exception_paths", "exception_schemas"]

_ERROR = {"$ref": "#/components/responses/Error"}
_UNAUTHORIZED = {"$ref": "#/components/responses/Unauthorized"}
_FORBIDDEN = {"$ref": "#/components/responses/Forbidden"}
_UNAVAILABLE = {"$ref": "#/components/responses/StoreUnavailable"}
_NOT_FOUND = {
    "description": "No such exception.",
    **{"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
}
_TIME = {"type": "string", "format": "date-time"}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
_GLOBS = {"type": "array", "items": {"type": "string"}}


def _json(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}


def exception_schemas() -> dict[str, Any]:
    """``NewException``, ``Exception``, ``ExceptionList``, ``ExceptionAuditEntry`` and its list."""
    fields = {
        "findingId": {
            "type": ["string", "null"],
            "description": (
                "CVE/GHSA/... id; matches a finding's id or an alias, case-insensitively."
            ),
        },
        "purl": {
            "type": ["string", "null"],
            "description": "Package URL; without a version it covers every version.",
        },
        "images": {
            **_GLOBS,
            "description": "Image globs (anchored, as in the policy); empty: every image.",
        },
        "namespaces": {**_GLOBS, "description": "Namespace globs; empty: every namespace."},
        "owner": {"type": "string", "minLength": 1},
        "ticket": {"type": "string", "minLength": 1},
        "reason": {"type": "string", "minLength": 1},
        "expires": {
            "type": "string",
            "description": (
                "RFC 3339 time with offset, or YYYY-MM-DD (the end of that day, UTC); at "
                "most spec.exceptions.maxDays (default 90) away."
            ),
        },
    }
    return {
        "NewException": {
            "type": "object",
            "additionalProperties": False,
            "required": ["owner", "ticket", "reason", "expires"],
            "description": "findingId or purl (or both: that id in that package) is required.",
            "properties": fields,
        },
        "Exception": {
            "type": "object",
            "required": ["id", "owner", "ticket", "reason", "expires", "revoked"],
            "properties": {
                "id": {"type": "string"},
                **fields,
                "expires": {
                    **_TIME,
                    "description": "Exclusive: the exception applies before this instant.",
                },
                "created": _TIME,
                "createdBy": {
                    "type": ["string", "null"],
                    "description": "Name of the token that made it.",
                },
                "revoked": {"type": "boolean"},
                "revokedAt": _NULLABLE_TIME,
                "revokedBy": {"type": ["string", "null"]},
                "expiredNoticedAt": {
                    **_NULLABLE_TIME,
                    "description": "When a verdict first found it expired.",
                },
            },
        },
        "ExceptionList": {
            "type": "object",
            "required": ["items"],
            "properties": {
                "items": {"type": "array", "items": {"$ref": "#/components/schemas/Exception"}}
            },
        },
        "ExceptionAuditEntry": {
            "type": "object",
            "required": ["id", "exceptionId", "time", "action", "record"],
            "properties": {
                "id": {"type": "string"},
                "exceptionId": {"type": "string"},
                "time": _TIME,
                "action": {"type": "string", "enum": ["create", "revoke", "expired"]},
                "actor": {
                    "type": ["string", "null"],
                    "description": "Token name; null for expired.",
                },
                "record": {"$ref": "#/components/schemas/Exception"},
            },
        },
        "ExceptionAudit": {
            "type": "object",
            "required": ["items"],
            "properties": {
                "items": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/ExceptionAuditEntry"},
                }
            },
        },
    }


def exception_paths(prefix: str) -> dict[str, Any]:
    """The ``/exceptions`` paths under ``prefix``."""
    read = [{"bearer": ["read"]}]
    write = [{"bearer": ["write"]}]
    limit = _query(
        "limit",
        "At most this many.",
        {"type": "integer", "minimum": 1, "maximum": 10000, "default": 1000},
    )
    return {
        f"{prefix}/exceptions": {
            "get": {
                "operationId": "listExceptions",
                "summary": "List exceptions, soonest expiry first.",
                "security": read,
                "parameters": [
                    _query("active", "Only not revoked and not expired.", {"type": "boolean"}),
                    _query(
                        "expiring",
                        "Only active ones expiring within this duration (7d, 12h).",
                        {"type": "string"},
                    ),
                    _query(
                        "revoked",
                        "Only revoked (true) or not revoked (false).",
                        {"type": "boolean"},
                    ),
                    _query(
                        "image",
                        "Only those whose image scope allows this reference.",
                        {"type": "string"},
                    ),
                    _query(
                        "namespace",
                        "Only those whose namespace scope allows this namespace.",
                        {"type": "string"},
                    ),
                    limit,
                ],
                "responses": {
                    "200": _json("The exceptions.", "ExceptionList"),
                    "400": _ERROR,
                    "401": _UNAUTHORIZED,
                    "403": _FORBIDDEN,
                    "503": _UNAVAILABLE,
                },
            },
            "post": {
                "operationId": "createException",
                "summary": "Create a time-boxed exception; audited as `create`.",
                "security": write,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/NewException"}
                        }
                    },
                },
                "responses": {
                    "201": _json("The stored exception.", "Exception"),
                    "400": _ERROR,
                    "401": _UNAUTHORIZED,
                    "403": _FORBIDDEN,
                    "413": {"$ref": "#/components/responses/TooLarge"},
                    "503": _UNAVAILABLE,
                },
            },
        },
        f"{prefix}/exceptions/{{id}}": {
            "get": {
                "operationId": "getException",
                "summary": "One exception (revoked ones too).",
                "security": read,
                "parameters": [_ID],
                "responses": {
                    "200": _json("The exception.", "Exception"),
                    "401": _UNAUTHORIZED,
                    "403": _FORBIDDEN,
                    "404": _NOT_FOUND,
                    "503": _UNAVAILABLE,
                },
            },
            "delete": {
                "operationId": "revokeException",
                "summary": "Revoke: the exception is kept, marked revoked; audited as `revoke`.",
                "security": write,
                "parameters": [_ID],
                "responses": {
                    "200": _json("The revoked exception.", "Exception"),
                    "401": _UNAUTHORIZED,
                    "403": _FORBIDDEN,
                    "404": _NOT_FOUND,
                    "503": _UNAVAILABLE,
                },
            },
        },
        f"{prefix}/exceptions/{{id}}/audit": {
            "get": {
                "operationId": "exceptionAudit",
                "summary": "The audit log of one exception, oldest first.",
                "security": read,
                "parameters": [_ID, limit],
                "responses": {
                    "200": _json("Audit entries.", "ExceptionAudit"),
                    "401": _UNAUTHORIZED,
                    "403": _FORBIDDEN,
                    "404": _NOT_FOUND,
                    "503": _UNAVAILABLE,
                },
            }
        },
        f"{prefix}/exceptions-audit": {
            "get": {
                "operationId": "allExceptionAudit",
                "summary": "The audit log of every exception, oldest first.",
                "security": read,
                "parameters": [limit],
                "responses": {
                    "200": _json("Audit entries.", "ExceptionAudit"),
                    "401": _UNAUTHORIZED,
                    "403": _FORBIDDEN,
                    "503": _UNAVAILABLE,
                },
            }
        },
    }
