"""``admission.k8s.io/v1`` AdmissionReview: parsing a request and writing the answer.

Only the fields the gate uses are read, each checked for its type; anything
malformed is a ``ReviewError`` that carries the request's ``uid`` when it
could be read, so the caller can still answer with a well-formed deny.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

API_VERSION = "admission.k8s.io/v1"
KIND = "AdmissionReview"
#: Kubernetes may truncate a warning longer than this.
MAX_WARNING_CHARS = 256
#: Kept short: kubectl prints the message after "admission webhook ... denied the request:".
MAX_MESSAGE_CHARS = 1024


class ReviewError(Exception):
    """The body is not a usable AdmissionReview; ``uid`` is set when the request's was readable."""

    def __init__(self, reason: str, uid: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.uid = uid


@dataclass(frozen=True)
class GroupVersionKind:
    """``request.kind``: what the object is, e.g. ``apps/v1 Deployment``."""

    group: str
    version: str
    kind: str


@dataclass(frozen=True)
class AdmissionRequest:
    """The parts of an admission request the gate decides on."""

    uid: str
    kind: GroupVersionKind
    operation: str  # CREATE | UPDATE | DELETE | CONNECT
    namespace: str | None
    name: str | None
    sub_resource: str | None
    username: str | None
    dry_run: bool
    object: Mapping[str, Any] | None

    @property
    def workload_name(self) -> str | None:
        """The object's name; ``generateName`` (e.g. ``web-7d9c-``) when it has none yet."""
        if self.name:
            return self.name
        metadata = self.object.get("metadata") if self.object is not None else None
        if isinstance(metadata, Mapping):
            for key in ("name", "generateName"):
                value = metadata.get(key)
                if isinstance(value, str) and value:
                    return value
        return None


def _optional_str(request: Mapping[str, Any], key: str, uid: str) -> str | None:
    value = request.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ReviewError(f"request.{key} must be a string", uid)
    return value


def has_lone_surrogate(body: bytes, document: object) -> bool:
    """True when the parsed body holds a lone surrogate, which no text encoding can write.

    Python's JSON reader accepts ``"\\ud800"`` (and raw surrogate bytes); the API
    server never sends one. Such a string cannot be stored with the verdict, so it
    would hold up the recording of every verdict behind it. The full check runs
    only when the bytes could hold one: an escape ``\\ud...``, the UTF-8 lead byte
    0xED, or a body in UTF-16/32 (which ``json.loads`` also reads).
    """
    utf8 = json.detect_encoding(body) == "utf-8"
    if utf8 and b"\\ud" not in body and b"\\uD" not in body and b"\xed" not in body:
        return False
    try:
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def parse_review(body: bytes) -> AdmissionRequest:
    """Parse the bytes of an AdmissionReview; ``ReviewError`` saying what is wrong otherwise."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReviewError(f"body is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ReviewError("body is not a JSON object (an AdmissionReview)")
    request = document.get("request")
    uid: str | None = None
    if isinstance(request, dict):
        raw_uid = request.get("uid")
        if isinstance(raw_uid, str) and raw_uid:
            uid = raw_uid
    if has_lone_surrogate(body, document):
        raise ReviewError("body holds a lone UTF-16 surrogate (\\ud800-\\udfff): not Unicode", uid)
    api_version, kind = document.get("apiVersion"), document.get("kind")
    if api_version != API_VERSION:
        raise ReviewError(f"apiVersion must be {API_VERSION!r}, not {api_version!r}", uid)
    if kind != KIND:
        raise ReviewError(f"kind must be {KIND!r}, not {kind!r}", uid)
    if not isinstance(request, dict):
        raise ReviewError("request is missing or not an object")
    if uid is None:
        raise ReviewError("request.uid is missing or not a non-empty string")
    gvk = request.get("kind")
    if not isinstance(gvk, dict) or not all(
        isinstance(gvk.get(k, ""), str) for k in ("group", "version", "kind")
    ):
        raise ReviewError("request.kind must be an object with group, version and kind", uid)
    if not gvk.get("kind"):
        raise ReviewError("request.kind.kind is missing", uid)
    operation = request.get("operation")
    if not isinstance(operation, str) or not operation:
        raise ReviewError("request.operation is missing", uid)
    user_info = request.get("userInfo")
    username: str | None = None
    if isinstance(user_info, dict) and isinstance(user_info.get("username"), str):
        username = user_info["username"] or None
    dry_run = request.get("dryRun", False)
    if dry_run is None:
        dry_run = False
    if not isinstance(dry_run, bool):
        raise ReviewError("request.dryRun must be true or false", uid)
    obj = request.get("object")
    if obj is not None and not isinstance(obj, dict):
        raise ReviewError("request.object must be an object", uid)
    return AdmissionRequest(
        uid=uid,
        kind=GroupVersionKind(gvk.get("group", ""), gvk.get("version", ""), gvk["kind"]),
        operation=operation,
        namespace=_optional_str(request, "namespace", uid),
        name=_optional_str(request, "name", uid),
        sub_resource=_optional_str(request, "subResource", uid),
        username=username,
        dry_run=dry_run,
        object=obj,
    )


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def review_response(
    uid: str,
    *,
    allowed: bool,
    message: str | None = None,
    warnings: Sequence[str] = (),
    code: int = 403,
) -> dict[str, Any]:
    """The AdmissionReview answer for ``uid``; a deny carries ``status.code`` and ``message``."""
    response: dict[str, Any] = {"uid": uid, "allowed": allowed}
    if not allowed:
        response["status"] = {
            "code": code,
            "message": _shorten(message or "denied by the gate", MAX_MESSAGE_CHARS),
        }
    if warnings:
        response["warnings"] = [_shorten(w, MAX_WARNING_CHARS) for w in warnings]
    return {"apiVersion": API_VERSION, "kind": KIND, "response": response}
