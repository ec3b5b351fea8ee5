"""The OpenAPI document: structurally valid 3.1, and every route of the blueprint in it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.unit.api.documents import make_app, sqlite_store
from webhook.openapi import build_openapi
from webhook.tokens import TokenSet

_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
_PARAM_RE = re.compile(r"\{([^}]+)\}")


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    with sqlite_store(tmp_path) as store:
        yield make_app(store, tokens=TokenSet.empty())


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        assert isinstance(node, dict), f"unresolved $ref {ref}"
        assert part in node, f"unresolved $ref {ref}"
        node = node[part]
    return node


def _refs(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            found.append(node["$ref"])
        for value in node.values():
            found.extend(_refs(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_refs(value))
    return found


def test_the_document_is_structurally_valid_openapi_3_1() -> None:
    document = build_openapi()
    assert re.fullmatch(r"3\.1\.\d+", document["openapi"])
    assert document["info"]["title"]
    assert document["info"]["version"]
    schemes = document["components"]["securitySchemes"]
    operation_ids: set[str] = set()
    for path, item in document["paths"].items():
        assert path.startswith("/"), path
        templated = set(_PARAM_RE.findall(path))
        operations = {k: v for k, v in item.items() if k in _METHODS}
        assert operations, f"{path}: no operation"
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            assert operation["operationId"] not in operation_ids, where
            operation_ids.add(operation["operationId"])
            assert operation["responses"], where
            for status, given in operation["responses"].items():
                assert re.fullmatch(r"[1-5][0-9][0-9]|default", status), where
                response = _resolve(document, given["$ref"]) if "$ref" in given else given
                assert isinstance(response.get("description"), str), f"{where} {status}"
            parameters = operation.get("parameters", [])
            declared = {p["name"] for p in parameters if p["in"] == "path"}
            assert declared == templated, where
            for parameter in parameters:
                assert parameter["in"] in {"query", "path", "header", "cookie"}, where
                assert "schema" in parameter, where
                if parameter["in"] == "path":
                    assert parameter["required"] is True, where
            pairs = [(p["name"], p["in"]) for p in parameters]
            assert len(pairs) == len(set(pairs)), where
            for requirement in operation.get("security", []):
                assert set(requirement) <= set(schemes), where
    for ref in _refs(document):
        _resolve(document, ref)


def test_every_route_of_the_blueprint_is_described(app: Flask) -> None:
    document = build_openapi()
    described = {
        (_PARAM_RE.sub("{}", path), method)
        for path, item in document["paths"].items()
        for method in item
        if method in _METHODS
    }
    routes = {
        (re.sub(r"<[^>]+>", "{}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("gate_api.")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    assert routes
    assert routes <= described, routes - described


def test_admission_and_health_endpoints_are_described_without_security() -> None:
    paths = build_openapi()["paths"]
    for path, method in [
        ("/validate", "post"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/api/v1/openapi.json", "get"),
    ]:
        assert paths[path][method]["security"] == []


def test_the_api_routes_need_a_bearer_scope() -> None:
    paths = build_openapi()["paths"]
    assert paths["/api/v1/verdicts"]["get"]["security"] == [{"bearer": ["read"]}]
    assert paths["/api/v1/verdicts"]["post"]["security"] == [{"bearer": ["write"]}]
    assert paths["/api/v1/evidence"]["post"]["security"] == [{"bearer": ["write"]}]


def test_the_served_document_is_the_built_one(app: Flask) -> None:
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.get_json() == build_openapi()


def test_each_call_returns_a_fresh_copy() -> None:
    first = build_openapi()
    first["paths"].clear()
    assert build_openapi()["paths"]
