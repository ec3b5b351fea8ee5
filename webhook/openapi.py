"""The OpenAPI 3.1 document of the gate's HTTP interface, served at ``/api/v1/openapi.json``.

Built once from plain data here (no framework introspection), so it reads as
the contract: the verdict API in full, and the admission and health
endpoints described for completeness (they take no token).
"""

from __future__ import annotations

import copy
from typing import Any

from gate import __version__
from webhook.openapi_exceptions import exception_paths, exception_schemas

_ERROR = {"$ref": "#/components/responses/Error"}
_UNAUTHORIZED = {"$ref": "#/components/responses/Unauthorized"}
_FORBIDDEN = {"$ref": "#/components/responses/Forbidden"}
_UNAVAILABLE = {"$ref": "#/components/responses/StoreUnavailable"}
_TOO_LARGE = {"$ref": "#/components/responses/TooLarge"}


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


_DIGEST_SCHEMA = {"type": "string", "pattern": "^sha(256|384|512):[0-9a-f]+$"}
_TIME_SCHEMA = {"type": "string", "format": "date-time"}

_LIST_PARAMETERS = [
    _query(
        "image",
        "Glob on the image reference: `*` any run without `/`, `**` any run, `?` one character.",
        {"type": "string"},
    ),
    _query("digest", "Image manifest digest.", _DIGEST_SCHEMA),
    _query("namespace", "Kubernetes namespace.", {"type": "string"}),
    _query("decision", "Decision.", {"type": "string", "enum": ["allow", "warn", "deny"]}),
    _query(
        "source",
        "Where the verdict was made.",
        {"type": "string", "enum": ["admission", "ci", "recheck"]},
    ),
    _query("since", "RFC 3339 time with offset, inclusive.", _TIME_SCHEMA),
    _query("until", "RFC 3339 time with offset, exclusive.", _TIME_SCHEMA),
    _query(
        "limit",
        "Page size.",
        {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
    ),
    _query("cursor", "Opaque cursor from a previous page's `nextCursor`.", {"type": "string"}),
]

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string", "description": "One line: what and why."}},
    },
    "CheckRecord": {
        "type": "object",
        "required": ["check", "outcome", "reason"],
        "properties": {
            "check": {"type": "string"},
            "outcome": {"type": "string", "enum": ["pass", "fail", "warn", "skip", "error"]},
            "reason": {"type": "string"},
            "details": {"type": "object"},
        },
    },
    "StoredVerdict": {
        "type": "object",
        "required": ["id", "time", "source", "reference", "decision", "decided", "mode"],
        "properties": {
            "id": {"type": "string"},
            "time": _TIME_SCHEMA,
            "source": {"type": "string", "enum": ["admission", "ci", "recheck"]},
            "reference": {"type": "string"},
            "digest": {"type": ["string", "null"]},
            "decision": {"type": "string", "enum": ["allow", "warn", "deny"]},
            "decided": {
                "type": "boolean",
                "description": "False for a fail-closed deny (the gate could not decide).",
            },
            "mode": {"type": "string", "enum": ["enforce", "warn", "audit"]},
            "policyName": {"type": "string"},
            "policyDigest": {"type": ["string", "null"]},
            "rule": {"type": ["string", "null"]},
            "reason": {"type": "string"},
            "namespace": {"type": ["string", "null"]},
            "workloadKind": {"type": ["string", "null"]},
            "workloadName": {"type": ["string", "null"]},
            "user": {
                "type": ["string", "null"],
                "description": "The AdmissionReview's user, or the name of the CI token.",
            },
            "durationMs": {"type": ["number", "null"]},
            "checks": {"type": "array", "items": {"$ref": "#/components/schemas/CheckRecord"}},
        },
    },
    "VerdictPage": {
        "type": "object",
        "required": ["items", "nextCursor"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/StoredVerdict"}},
            "nextCursor": {
                "type": ["string", "null"],
                "description": "Pass as `cursor` for the next page; null on the last page.",
            },
        },
    },
    "GateReport": {
        "type": "object",
        "description": "The JSON report of `gate check --format json`, plus `policyDigest`.",
        "required": ["decision", "policy", "evaluatedAt", "images"],
        "properties": {
            "decision": {"type": "string", "enum": ["allow", "warn", "deny"]},
            "decided": {"type": "boolean"},
            "errors": {"type": "array", "items": {"type": "string"}},
            "policy": {"type": "string"},
            "policyDigest": {**_DIGEST_SCHEMA, "description": "sha256 of the policy file."},
            "evaluatedAt": _TIME_SCHEMA,
            "gateVersion": {"type": "string"},
            "images": {
                "type": "array",
                "minItems": 1,
                "maxItems": 1000,
                "items": {
                    "type": "object",
                    "required": ["reference", "decision", "mode", "reason"],
                    "properties": {
                        "reference": {"type": "string"},
                        "digest": {"type": ["string", "null"]},
                        "decision": {"type": "string", "enum": ["allow", "warn", "deny"]},
                        "rule": {"type": ["string", "null"]},
                        "reason": {"type": "string"},
                        "mode": {"type": "string", "enum": ["enforce", "warn", "audit"]},
                        "namespace": {"type": ["string", "null"]},
                        "checks": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/CheckRecord"},
                        },
                    },
                },
            },
        },
    },
    "RecordedIds": {
        "type": "object",
        "required": ["ids"],
        "properties": {"ids": {"type": "array", "items": {"type": "string"}}},
    },
    "StoredEvidence": {
        "type": "object",
        "required": ["id", "digest", "kind"],
        "properties": {
            "id": {"type": "string"},
            "digest": _DIGEST_SCHEMA,
            "kind": {"type": "string", "enum": ["scan", "sbom", "vex"]},
        },
    },
    "DecisionCounts": {
        "type": "object",
        "required": ["bucket", "since", "until", "namespace", "buckets", "totals"],
        "properties": {
            "bucket": {"type": "string", "enum": ["hour", "day"]},
            "since": _TIME_SCHEMA,
            "until": _TIME_SCHEMA,
            "namespace": {"type": ["string", "null"]},
            "buckets": {
                "type": "array",
                "description": "Every UTC hour or day meeting the window, oldest first, "
                "empty ones included.",
                "items": {
                    "type": "object",
                    "required": ["start", "allow", "warn", "deny"],
                    "properties": {
                        "start": {**_TIME_SCHEMA, "description": "Start of the bucket (UTC)."},
                        "allow": {"type": "integer", "minimum": 0},
                        "warn": {"type": "integer", "minimum": 0},
                        "deny": {"type": "integer", "minimum": 0},
                    },
                },
            },
            "totals": {
                "type": "object",
                "required": ["allow", "warn", "deny"],
                "properties": {
                    "allow": {"type": "integer", "minimum": 0},
                    "warn": {"type": "integer", "minimum": 0},
                    "deny": {"type": "integer", "minimum": 0},
                },
            },
        },
    },
    "TopList": {
        "type": "object",
        "required": ["kind", "decision", "since", "until", "namespace", "items"],
        "properties": {
            "kind": {"type": "string", "enum": ["images", "findings"]},
            "decision": {"type": "string", "enum": ["allow", "warn", "deny"]},
            "since": _TIME_SCHEMA,
            "until": _TIME_SCHEMA,
            "namespace": {"type": ["string", "null"]},
            "items": {
                "type": "array",
                "description": "Most verdicts first; `reference` for kind images, `id` (the "
                "finding id) for kind findings.",
                "items": {
                    "type": "object",
                    "required": ["count", "lastSeen"],
                    "properties": {
                        "reference": {"type": "string"},
                        "id": {"type": "string"},
                        "count": {
                            "type": "integer",
                            "minimum": 1,
                            "description": "Verdicts of `decision` in the window.",
                        },
                        "lastSeen": {
                            **_TIME_SCHEMA,
                            "description": "Time of the newest of them.",
                        },
                    },
                },
            },
        },
    },
    "AdmissionReview": {
        "type": "object",
        "description": "A Kubernetes `admission.k8s.io/v1` AdmissionReview.",
        "required": ["apiVersion", "kind"],
        "properties": {
            "apiVersion": {"const": "admission.k8s.io/v1"},
            "kind": {"const": "AdmissionReview"},
            "request": {"type": "object"},
            "response": {"type": "object"},
        },
    },
}


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json_response(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


_RESPONSES: dict[str, Any] = {
    "Error": _error_response("A parameter or the body is wrong; `error` says which and why."),
    "Unauthorized": {
        **_error_response("No token, or a token the server does not know."),
        "headers": {
            "WWW-Authenticate": {
                "description": '`Bearer realm="gate"`',
                "schema": {"type": "string"},
            }
        },
    },
    "Forbidden": _error_response("The token lacks the scope the operation needs."),
    "NotFound": _error_response("No such verdict."),
    "TooLarge": _error_response("The body is larger than the server accepts."),
    "StoreUnavailable": _error_response("The verdict store cannot be reached; try again."),
}


def _paths(prefix: str) -> dict[str, Any]:
    read = [{"bearer": ["read"]}]
    write = [{"bearer": ["write"]}]
    return {
        f"{prefix}/verdicts": {
            "get": {
                "operationId": "listVerdicts",
                "summary": "List recorded verdicts, newest first, with filters and a cursor.",
                "security": read,
                "parameters": _LIST_PARAMETERS,
                "responses": {
                    "200": _json_response("One page of verdicts.", "VerdictPage"),
                    "400": _ERROR,
                    "401": _UNAUTHORIZED,
                    "403": _FORBIDDEN,
                    "503": _UNAVAILABLE,
                },
            },
            "post": {
                "operationId": "recordVerdicts",
                "summary": "Record the verdicts of one `gate check` run (source `ci`).",
                "description": "Each image of the report is stored as one verdict whose user "
                "is the token's name.",
                "security": write,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/GateReport"}}
                    },
                },
                "responses": {
                    "201": _json_response(
                        "The ids of the recorded verdicts, in order.", "RecordedIds"
                    ),
                    "400": _ERROR,
                    "401": _UNAUTHORIZED,
                    "403": _FORBIDDEN,
                    "413": _TOO_LARGE,
                    "503": _UNAVAILABLE,
                },
            },
        },
        f"{prefix}/verdicts/{{id}}": {
            "get": {
                "operationId": "getVerdict",
                "summary": "One verdict by id.",
                "security": read,
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": _json_response("The verdict.", "StoredVerdict"),
                    "401": _UNAUTHORIZED,
                    "403": _FORBIDDEN,
                    "404": {"$ref": "#/components/responses/NotFound"},
                    "503": _UNAVAILABLE,
                },
            }
        },
        f"{prefix}/evidence": {
            "post": {
                "operationId": "pushEvidence",
                "summary": "Store a scan report, SBOM or VEX document for an image digest.",
                "description": "Any format `gate check --scan/--sbom/--vex` reads; the document "
                "is validated before it is stored. At admission the newest scan report and SBOM "
                "stored for the image digest are used, and every stored VEX document.",
                "security": write,
                "parameters": [
                    {
                        "name": "digest",
                        "in": "query",
                        "required": True,
                        "description": "The image manifest digest the document describes.",
                        "schema": _DIGEST_SCHEMA,
                    },
                    {
                        "name": "kind",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "enum": ["scan", "sbom", "vex"]},
                    },
                    _query("name", "The file name, shown in verdicts.", {"type": "string"}),
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/octet-stream": {
                            "schema": {
                                "type": "string",
                                "contentMediaType": "application/octet-stream",
                            }
                        }
                    },
                },
                "responses": {
                    "201": _json_response("Stored.", "StoredEvidence"),
                    "400": _ERROR,
                    "401": _UNAUTHORIZED,
                    "403": _FORBIDDEN,
                    "413": _TOO_LARGE,
                    "503": _UNAVAILABLE,
                },
            }
        },
        f"{prefix}/policy/preview": {
            "post": {
                "operationId": "previewPolicy",
                "summary": "Which recorded images a policy change would decide differently.",
                "description": "Every distinct image (digest, reference, namespace, workload) "
                "with a verdict in the window is evaluated from its stored evidence under the "
                "old policy (default: the one the server runs) and the new one. Signature "
                "results come from the verification cache, else from the recorded verdict "
                "(`signatures` per image says which); no registry is read. Key files named by "
                "a posted policy are read relative to the server's policy directory, so the "
                "preview needs the write scope.",
                "security": write,
                "parameters": [
                    _query(
                        "since",
                        "With a YAML body: a duration (`7d`, `12h`) or RFC 3339 time.",
                        {"type": "string", "default": "7d"},
                    )
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["policy"],
                                "additionalProperties": False,
                                "properties": {
                                    "policy": {"type": "string", "description": "New policy YAML."},
                                    "oldPolicy": {
                                        "type": "string",
                                        "description": "Old policy YAML (default: the server's).",
                                    },
                                    "since": {"type": "string", "default": "7d"},
                                    "allImages": {"type": "boolean", "default": False},
                                },
                            }
                        },
                        "application/yaml": {"schema": {"type": "string"}},
                    },
                },
                "responses": {
                    "200": {
                        "description": "The preview: counts, and each change with old and new "
                        "rule, decision and reason.",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    "400": _ERROR,
                    "401": _UNAUTHORIZED,
                    "403": _FORBIDDEN,
                    "413": _TOO_LARGE,
                    "503": _UNAVAILABLE,
                },
            }
        },
        f"{prefix}/stats/decisions": {
            "get": {
                "operationId": "countDecisions",
                "summary": "Verdicts per decision per UTC hour or day (the dashboard's chart).",
                "description": "Counted by the database over the window `[since, until)`; at "
                "most 1000 buckets.",
                "security": read,
                "parameters": [
                    _query(
                        "since",
                        "RFC 3339 time with offset, inclusive (default: `until` minus 24 hours "
                        "for `hour`, minus 30 days for `day`).",
                        _TIME_SCHEMA,
                    ),
                    _query(
                        "until",
                        "RFC 3339 time with offset, exclusive (default: now).",
                        _TIME_SCHEMA,
                    ),
                    _query(
                        "bucket",
                        "Bucket width.",
                        {"type": "string", "enum": ["hour", "day"], "default": "hour"},
                    ),
                    _query("namespace", "Only verdicts of this namespace.", {"type": "string"}),
                ],
                "responses": {
                    "200": _json_response("The counts.", "DecisionCounts"),
                    "400": _ERROR,
                    "401": _UNAUTHORIZED,
                    "403": _FORBIDDEN,
                    "503": _UNAVAILABLE,
                },
            }
        },
        f"{prefix}/stats/top": {
            "get": {
                "operationId": "topImagesOrFindings",
                "summary": "The image references or finding ids with the most verdicts of a "
                "decision (the dashboard's top lists).",
                "description": "Findings are the ids listed as violations of a failing "
                "`vulnerabilities` check; each verdict counts an id once.",
                "security": read,
                "parameters": [
                    {
                        "name": "kind",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "enum": ["images", "findings"]},
                    },
                    _query(
                        "since",
                        "RFC 3339 time with offset, inclusive (default: `until` minus 7 days).",
                        _TIME_SCHEMA,
                    ),
                    _query(
                        "until",
                        "RFC 3339 time with offset, exclusive (default: now).",
                        _TIME_SCHEMA,
                    ),
                    _query(
                        "decision",
                        "Which verdicts are counted.",
                        {"type": "string", "enum": ["allow", "warn", "deny"], "default": "deny"},
                    ),
                    _query("namespace", "Only verdicts of this namespace.", {"type": "string"}),
                    _query(
                        "limit",
                        "Length of the list.",
                        {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
                    ),
                ],
                "responses": {
                    "200": _json_response("The list.", "TopList"),
                    "400": _ERROR,
                    "401": _UNAUTHORIZED,
                    "403": _FORBIDDEN,
                    "503": _UNAVAILABLE,
                },
            }
        },
        f"{prefix}/openapi.json": {
            "get": {
                "operationId": "getOpenApi",
                "summary": "This document.",
                "security": [],
                "responses": {
                    "200": {
                        "description": "The OpenAPI document.",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
        "/validate": {
            "post": {
                "operationId": "validateAdmission",
                "summary": "Kubernetes validating admission webhook (no token; TLS).",
                "description": "Takes an `admission.k8s.io/v1` AdmissionReview and answers one "
                "with the same `uid`: allowed, allowed with warnings, or denied with a message "
                "naming image, rule and reason.",
                "security": [],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/AdmissionReview"}
                        }
                    },
                },
                "responses": {
                    "200": _json_response("The AdmissionReview answer.", "AdmissionReview"),
                    "400": _ERROR,
                    "413": _TOO_LARGE,
                },
            }
        },
        "/ui/": {
            "get": {
                "operationId": "dashboard",
                "summary": "The read-only verdict dashboard (an HTML page; `/ui` redirects here).",
                "description": "Static files (`/ui/app.js`, `/ui/app.css`) served with a strict "
                "Content-Security-Policy. The page takes no token itself: it calls this API "
                "with the bearer token the user enters.",
                "security": [],
                "responses": {
                    "200": {
                        "description": "The page.",
                        "content": {"text/html": {"schema": {"type": "string"}}},
                    },
                    "503": _error_response("The dashboard's files are not installed."),
                },
            }
        },
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "summary": "Liveness: the process answers.",
                "security": [],
                "responses": {"200": {"description": "Alive."}},
            }
        },
        "/readyz": {
            "get": {
                "operationId": "readyz",
                "summary": "Readiness: a policy is loaded and the store is reachable.",
                "security": [],
                "responses": {
                    "200": {"description": "Ready."},
                    "503": {"description": "Not ready; the body says why."},
                },
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics (text exposition format).",
                "security": [],
                "responses": {
                    "200": {
                        "description": "Metrics.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    }


def build_openapi(prefix: str = "/api/v1") -> dict[str, Any]:
    """The OpenAPI 3.1 document, with the API's paths under ``prefix``.

    A fresh deep copy each call, so a caller may not change the shared parts.
    """
    return copy.deepcopy(
        {
            "openapi": "3.1.0",
            "info": {
                "title": "gate verdict API",
                "version": __version__,
                "description": "Verdicts of the gate's admission webhook and CI runs, and the "
                "scan reports and SBOMs it uses. Bearer tokens with scopes `read` and `write`.",
                "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
            },
            "paths": {**_paths(prefix), **exception_paths(prefix)},
            "components": {
                "schemas": {**_SCHEMAS, **exception_schemas()},
                "responses": _RESPONSES,
                "securitySchemes": {
                    "bearer": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "A token from the server's tokens file.",
                    }
                },
            },
            "security": [{"bearer": []}],
        }
    )
