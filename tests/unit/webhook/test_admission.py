"""Parsing AdmissionReviews and writing answers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.webhook.reviews import admission_review, kubectl_create
from webhook.admission import MAX_WARNING_CHARS, ReviewError, parse_review, review_response


def _body(document: Any) -> bytes:
    return json.dumps(document).encode()


def test_a_kubectl_deployment_review_is_parsed() -> None:
    deployment = kubectl_create("deployment", "web", "registry.example/app:1")
    review = admission_review(deployment, namespace="shop", uid="u-1", dry_run=True)
    request = parse_review(_body(review))
    assert request.uid == "u-1"
    assert (request.kind.group, request.kind.version, request.kind.kind) == (
        "apps",
        "v1",
        "Deployment",
    )
    assert request.operation == "CREATE"
    assert request.namespace == "shop"
    assert request.username == "alice@example.com"
    assert request.dry_run is True
    assert request.workload_name == "web"
    assert request.sub_resource is None


def test_generate_name_stands_in_for_a_missing_name() -> None:
    pod = {"kind": "Pod", "apiVersion": "v1", "metadata": {"generateName": "web-7d9c-"}}
    request = parse_review(_body(admission_review(pod)))
    assert request.workload_name == "web-7d9c-"


@pytest.mark.parametrize(
    ("body", "reason", "uid"),
    [
        (b"not json", "body is not JSON", None),
        (b"\xff\xfe", "body is not JSON", None),
        (b"[]", "not a JSON object", None),
        (
            _body({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview"}),
            "apiVersion",
            None,
        ),
        (
            _body(
                {
                    "apiVersion": "admission.k8s.io/v1beta1",
                    "kind": "AdmissionReview",
                    "request": {"uid": "u-9"},
                }
            ),
            "apiVersion must be 'admission.k8s.io/v1'",
            "u-9",
        ),
        (_body({"apiVersion": "admission.k8s.io/v1", "kind": "Pod"}), "kind must be", None),
        (
            _body({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}),
            "request is missing",
            None,
        ),
        (
            _body({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {}}),
            "request.uid",
            None,
        ),
        (
            _body(
                {
                    "apiVersion": "admission.k8s.io/v1",
                    "kind": "AdmissionReview",
                    "request": {"uid": "u-2", "kind": "Pod"},
                }
            ),
            "request.kind",
            "u-2",
        ),
    ],
)
def test_bad_reviews_say_what_is_wrong(body: bytes, reason: str, uid: str | None) -> None:
    with pytest.raises(ReviewError) as caught:
        parse_review(body)
    assert reason in caught.value.reason
    assert caught.value.uid == uid


def test_bad_field_types_keep_the_uid() -> None:
    review = admission_review({"kind": "Pod", "apiVersion": "v1", "metadata": {}}, uid="u-3")
    review["request"]["dryRun"] = "yes"
    with pytest.raises(ReviewError) as caught:
        parse_review(_body(review))
    assert caught.value.uid == "u-3"
    assert "dryRun" in caught.value.reason


def test_answers_carry_status_and_short_warnings() -> None:
    deny = review_response("u", allowed=False, message="gate said\nno")
    assert deny == {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {
            "uid": "u",
            "allowed": False,
            "status": {"code": 403, "message": "gate said no"},
        },
    }
    allow = review_response("u", allowed=True, warnings=["x" * 1000])
    assert "status" not in allow["response"]
    [warning] = allow["response"]["warnings"]
    assert len(warning) == MAX_WARNING_CHARS
    assert warning.endswith("...")


@pytest.mark.parametrize(
    "spelling",
    [
        b'"\\ud800"',  # escaped, as JSON allows
        b'"\\uDFFF"',
        '"\ud800"'.encode("utf-8", "surrogatepass"),  # raw bytes, which json.loads also reads
    ],
)
def test_a_lone_surrogate_is_refused_with_the_uid_found_by_fuzzing(spelling: bytes) -> None:
    # tests/fuzz/test_admission.py: a username "\ud800" was admitted, and its verdict could
    # not be stored ("surrogates not allowed"), holding up every verdict queued behind it.
    review = admission_review(None, kind="ConfigMap", uid="u-9")
    body = _body(review).replace(b'"alice@example.com"', spelling)
    with pytest.raises(ReviewError) as caught:
        parse_review(body)
    assert caught.value.uid == "u-9"
    assert "lone UTF-16 surrogate" in caught.value.reason


def test_a_lone_surrogate_in_utf16_is_refused() -> None:
    text = json.dumps(admission_review(None, kind="ConfigMap", uid="u-9"), ensure_ascii=False)
    body = text.replace("alice@example.com", "\udc00").encode("utf-16", "surrogatepass")
    with pytest.raises(ReviewError, match="lone UTF-16 surrogate"):
        parse_review(body)


def test_surrogate_pairs_and_other_text_are_fine() -> None:
    review = admission_review(None, kind="ConfigMap", uid="u-9", username="\U0001f600 한")
    escaped = parse_review(json.dumps(review).encode())
    raw = parse_review(json.dumps(review, ensure_ascii=False).encode())
    assert escaped.username == raw.username == "\U0001f600 한"
