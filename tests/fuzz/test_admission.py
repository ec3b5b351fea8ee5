"""AdmissionReview bodies: ``parse_review``, ``container_images`` and the whole ``/validate``.

Two properties. The parsers turn any body into a request (or ``ReviewError``)
and any request into its images (or a one-line ``InputError``). And the
endpoint, serving a policy that requires a cosign signature of every image,
answers every body with a well-formed AdmissionReview or a 400/413, never a
500 nor an internal error, and never allows an image whose signature is
missing or tampered with: the image sits in a real registry (served from
memory on 127.0.0.1) next to a signature that was made with the trusted key
and then mutated (payload bytes or structure, signature bytes, manifest
bytes), or that signs another image, or that another key made.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from gate.errors import GateError, InputError
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.signatures.cosign import SIGNATURE_ANNOTATION, signature_tag
from gate.signatures.keyfile import public_key_pem
from gate.signatures.signer import (
    sign_payload,
    signature_config,
    signature_layer,
    signature_manifest,
)
from gate.signatures.simplesigning import build_payload, docker_reference
from tests.fuzz.http_registry import serve_registry
from tests.fuzz.support import (
    NASTY_STRINGS,
    examples,
    gate_outcome,
    json_values,
    mutated_bytes,
    mutated_json,
    serialised,
)
from tests.support.fixture_registry import MemoryRegistry
from webhook.admission import AdmissionRequest, ReviewError, parse_review
from webhook.app import create_app, state_of
from webhook.settings import Settings
from webhook.workloads import ContainerImage, container_images

#: kind -> (group, version, path to the pod spec; None: not a workload).
KINDS: dict[str, tuple[str, str, tuple[str, ...] | None]] = {
    "Pod": ("", "v1", ("spec",)),
    "ReplicationController": ("", "v1", ("spec", "template", "spec")),
    "Deployment": ("apps", "v1", ("spec", "template", "spec")),
    "ReplicaSet": ("apps", "v1", ("spec", "template", "spec")),
    "StatefulSet": ("apps", "v1", ("spec", "template", "spec")),
    "DaemonSet": ("apps", "v1", ("spec", "template", "spec")),
    "Job": ("batch", "v1", ("spec", "template", "spec")),
    "CronJob": ("batch", "v1", ("spec", "jobTemplate", "spec", "template", "spec")),
    "ConfigMap": ("", "v1", None),
}
CONTAINER_FIELDS = ("initContainers", "containers", "ephemeralContainers")
OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT", "create", "", "PATCH")
OTHER_IMAGES = st.one_of(
    st.sampled_from(
        (
            "169.254.169.254/latest/meta-data:x",
            "evil.example.net/app:1",
            "alpine",
            "Registry.Example/UPPER/app::1",
            "reg.example/app@sha256:" + "0" * 64,
        )
    ),
    st.sampled_from(NASTY_STRINGS),
    st.text(max_size=40),
)


@st.composite
def containers(draw: st.DrawFn, images: st.SearchStrategy[str]) -> Any:
    """A container list; mostly well-formed, sometimes anything at all."""
    container = st.one_of(
        st.fixed_dictionaries(
            {"name": st.text(max_size=8), "image": images},
            optional={"command": st.lists(st.text(max_size=5), max_size=2)},
        ),
        json_values,
    )
    return draw(st.one_of(st.lists(container, min_size=1, max_size=3), json_values))


def _nest(value: Any, path: tuple[str, ...]) -> Any:
    for key in reversed(path):
        value = {key: value}
    return value


@st.composite
def admission_reviews(
    draw: st.DrawFn, images: st.SearchStrategy[str], *, well_formed: bool = False
) -> dict[str, Any]:
    """An AdmissionReview as the API server sends it, with drawn kind, operation and pod spec.

    ``well_formed``: a workload created or updated, with a uid and containers that all
    have an image (so that it reaches the policy); otherwise anything goes.
    """
    kind = draw(st.sampled_from(tuple(KINDS)[:-1] if well_formed else tuple(KINDS)))
    group, version, path = KINDS[kind]
    spec: dict[str, Any] = {}
    for name in CONTAINER_FIELDS:
        if draw(st.integers(min_value=0, max_value=3)) == 0 and not (
            well_formed and name == "containers"
        ):
            continue
        if well_formed:
            container = st.fixed_dictionaries({"name": st.text(max_size=8), "image": images})
            spec[name] = draw(st.lists(container, min_size=1, max_size=3))
        else:
            spec[name] = draw(containers(images))
    obj: dict[str, Any] = {
        "apiVersion": f"{group}/{version}".lstrip("/"),
        "kind": kind,
        "metadata": {"name": draw(st.text(max_size=10)), "namespace": "team-a"},
    }
    if path is not None:
        obj = {**obj, **_nest(spec, path)}
    uids = st.uuids().map(str)
    request: dict[str, Any] = {
        "uid": draw(uids if well_formed else st.one_of(uids, st.just(""), json_values)),
        "kind": {"group": group, "version": version, "kind": kind},
        "operation": draw(st.sampled_from(OPERATIONS[:2] if well_formed else OPERATIONS)),
        "namespace": draw(st.sampled_from(("team-a", "kube-system", "", None))),
        "name": obj["metadata"]["name"],
        "userInfo": {"username": draw(st.text(max_size=12))},
        "object": obj,
        "dryRun": draw(st.sampled_from((False, True) if well_formed else (False, None, "yes"))),
    }
    if draw(st.integers(min_value=0, max_value=4)) == 0 and not well_formed:
        request["subResource"] = draw(st.sampled_from(("ephemeralcontainers", "status", "exec")))
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


@st.composite
def review_bodies(draw: st.DrawFn, images: st.SearchStrategy[str]) -> bytes:
    """Review bytes: generated, generated then mutated (structure or bytes), or anything."""
    review = draw(admission_reviews(images))
    kind = draw(st.sampled_from(("plain", "plain", "json", "bytes", "junk")))
    if kind == "json":
        review = draw(mutated_json(review))
    if kind == "junk":
        return draw(st.one_of(st.binary(max_size=200), serialised(draw(json_values))))
    body = draw(serialised(review))
    return draw(mutated_bytes(body)) if kind == "bytes" else body


def _reviewed(body: bytes) -> AdmissionRequest | None:
    """``parse_review``'s result, None for a ``ReviewError`` (whose reason must be one line)."""
    try:
        return parse_review(body)
    except ReviewError as error:
        reason = error.reason
    assert reason, "a ReviewError without a reason"
    assert "\n" not in reason, repr(reason)
    return None


def _images(request: AdmissionRequest) -> tuple[ContainerImage, ...] | GateError | None:
    result = gate_outcome(lambda: container_images(request))
    if isinstance(result, GateError):
        assert isinstance(result, InputError)
    return result


@settings(max_examples=examples(0.4))
@given(body=review_bodies(OTHER_IMAGES))
def test_any_body_is_a_request_or_review_error_and_its_images_or_input_error(body: bytes) -> None:
    request = _reviewed(body)
    if request is not None:
        _images(request)


# -- the whole endpoint, with a policy that requires a signature ------------------------------

POLICY = """\
apiVersion: gate/v1
kind: Policy
metadata: {name: fuzz-signed}
spec:
  defaultAction: deny
  trust:
    release: {cosign: {publicKeys: [release.pub]}}
  rules:
    - name: signed
      match: {images: ["**"]}
      signatures: {anyOf: [release]}
"""


@dataclass
class Webhook:
    """The app, the registry it reads, and the trusted key (plus one it does not trust)."""

    app: Flask
    client: FlaskClient
    host: str
    registry: MemoryRegistry
    trusted: ec.EllipticCurvePrivateKey
    untrusted: ec.EllipticCurvePrivateKey
    counter: Iterator[int]


@pytest.fixture(scope="module")
def webhook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Webhook]:
    """The real app over an in-memory SQLite store, reaching only its own local registry."""
    directory = tmp_path_factory.mktemp("fuzz-webhook")
    trusted = ec.generate_private_key(ec.SECP256R1())
    (directory / "release.pub").write_bytes(public_key_pem(trusted))
    (directory / "policy.yaml").write_text(POLICY, encoding="utf-8")
    registry = MemoryRegistry()
    with serve_registry(registry) as host:
        settings_ = Settings(
            policy=directory / "policy.yaml",
            db_url="sqlite://",
            policy_reload_interval=0,
            allowed_registries=(host,),
            admission_deadline=10.0,
            max_body_bytes=256 * 1024,
            check_threads=4,
        )
        app = create_app(settings_)
        try:
            yield Webhook(
                app,
                app.test_client(),
                host,
                registry,
                trusted,
                ec.generate_private_key(ec.SECP256R1()),
                itertools.count(),
            )
        finally:
            state_of(app).close()


@dataclass(frozen=True)
class Image:
    """An image pushed for one example: its reference, digest and the valid signature parts."""

    repository: ImageReference
    digest: Digest
    payload: bytes
    signature: bytes


def _push_image(webhook: Webhook) -> Image:
    """A fresh image (its own tag and digest, so no cache remembers an earlier example)."""
    number = next(webhook.counter)
    repository = ImageReference.parse(f"{webhook.host}/fuzz/app")
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "size": 2,
                "digest": str(Digest.of(b"{}")),
            },
            "layers": [],
            "annotations": {"fuzz.example": str(number)},
        }
    ).encode()
    digest = webhook.registry.put_manifest(repository, manifest, tag=f"t{number}")
    payload = build_payload(digest, docker_reference(repository))
    return Image(
        repository.with_tag(f"t{number}"),
        digest,
        payload,
        sign_payload(webhook.trusted, payload),
    )


def _store_signature(webhook: Webhook, image: Image, payload: bytes, signature: bytes) -> bytes:
    """Push ``payload`` with ``signature`` as the image's cosign signature; the manifest bytes."""
    webhook.registry.put_blob(image.repository, payload)
    config = signature_config([Digest.of(payload)])
    webhook.registry.put_blob(image.repository, config)
    return signature_manifest(config, [signature_layer(payload, signature)])


def _carries_valid_signature(manifest: bytes, image: Image) -> bool:
    """Leniently: does ``manifest`` still hold the valid payload digest and signature?"""
    try:
        document = json.loads(manifest)
        layers = document["layers"]
        wanted = base64.b64encode(image.signature).decode()
        return any(
            layer["digest"] == str(Digest.of(image.payload))
            and layer["annotations"][SIGNATURE_ANNOTATION] == wanted
            for layer in layers
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return False


@st.composite
def tampered_signatures(draw: st.DrawFn, webhook: Webhook, image: Image) -> bool:
    """Store a tampered (or absent) signature of ``image``; True if it may still verify."""
    tampering = draw(
        st.sampled_from(
            ("none", "payload-bytes", "payload-json", "signature", "other-image", "other-key")
        )
        | st.just("manifest-bytes")
    )
    payload, signature = image.payload, image.signature
    if tampering == "none":
        return False
    if tampering == "payload-bytes":
        payload = draw(mutated_bytes(payload))
    elif tampering == "payload-json":
        payload = json.dumps(draw(mutated_json(json.loads(payload)))).encode()
    elif tampering == "signature":
        signature = draw(mutated_bytes(signature))
    elif tampering == "other-image":
        other = Digest("sha256", draw(st.sampled_from("0123456789abcdef")) * 64)
        payload = build_payload(other, docker_reference(image.repository))
        signature = sign_payload(webhook.trusted, payload)
    elif tampering == "other-key":
        signature = sign_payload(webhook.untrusted, payload)
    assume((payload, signature) != (image.payload, image.signature))
    manifest = _store_signature(webhook, image, payload, signature)
    may_verify = False
    if tampering == "manifest-bytes":
        manifest = draw(mutated_bytes(manifest))
        may_verify = _carries_valid_signature(manifest, image)
    tag = signature_tag(image.digest)
    webhook.registry.put_manifest(image.repository, manifest, tag=tag)
    return may_verify


def _post(webhook: Webhook, body: bytes) -> dict[str, Any] | None:
    """POST ``body``; the AdmissionReview answer (None for a 400/413 error answer)."""
    response = webhook.client.post("/validate", data=body, content_type="application/json")
    answer = response.get_json()
    assert isinstance(answer, dict), response.data[:200]
    if response.status_code in {400, 413}:
        assert isinstance(answer.get("error"), str)
        assert answer["error"]
        return None
    assert response.status_code == 200, (response.status_code, answer)
    verdict = answer["response"]
    assert isinstance(verdict["allowed"], bool)
    message = verdict.get("status", {}).get("message", "")
    assert "internal error" not in message, message
    assert verdict.get("status", {}).get("code") != 500, message
    return verdict  # type: ignore[no-any-return]  # parsed JSON


def test_a_validly_signed_image_is_allowed(webhook: Webhook) -> None:
    # The control: the setup can allow, so the denials below are the gate's decision.
    image = _push_image(webhook)
    manifest = _store_signature(webhook, image, image.payload, image.signature)
    webhook.registry.put_manifest(image.repository, manifest, tag=signature_tag(image.digest))
    review = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "u-1",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "operation": "CREATE",
            "namespace": "team-a",
            "object": {"spec": {"containers": [{"name": "app", "image": str(image.repository)}]}},
        },
    }
    verdict = _post(webhook, json.dumps(review).encode())
    assert verdict is not None
    assert verdict["allowed"] is True, verdict


@settings(max_examples=examples(0.3))
@given(data=st.data())
def test_validate_never_allows_an_image_without_a_valid_signature(
    webhook: Webhook, data: st.DataObject
) -> None:
    image = _push_image(webhook)
    may_verify = data.draw(tampered_signatures(webhook, image))
    ours = st.sampled_from(
        (str(image.repository), f"{image.repository.name}@{image.digest}", str(image.repository))
    )
    images = st.one_of(ours, ours, ours, OTHER_IMAGES)
    if data.draw(st.integers(min_value=0, max_value=4)) == 0:
        body = data.draw(review_bodies(images))
    else:
        body = json.dumps(data.draw(admission_reviews(images, well_formed=True))).encode()
    verdict = _post(webhook, body)
    request = _reviewed(body)
    if verdict is None or request is None:
        return
    found = _images(request)
    if isinstance(found, tuple) and found and not may_verify:
        assert verdict["allowed"] is False, (found, verdict)
    # --hypothesis-show-statistics shows how many examples reached the registry.
    if isinstance(found, tuple) and any(i.image.startswith(webhook.host) for i in found):
        event(
            "checked an image of the registry: " + ("allowed" if verdict["allowed"] else "denied")
        )
    else:
        event(f"no image of the registry checked: {type(found).__name__}")


@settings(max_examples=examples(0.3))
@given(body=st.one_of(st.binary(max_size=300), review_bodies(OTHER_IMAGES)))
def test_validate_answers_any_body_without_a_500(webhook: Webhook, body: bytes) -> None:
    verdict = _post(webhook, body)
    request = _reviewed(body)
    if verdict is None or request is None:
        return
    found = _images(request)
    if isinstance(found, tuple) and found:
        assert verdict["allowed"] is False, (found, verdict)


def test_every_verdict_of_the_fuzzed_requests_was_recorded(webhook: Webhook) -> None:
    # Runs after the properties above: nothing they sent may hold up the verdict store.
    recorder = state_of(webhook.app).recorder
    assert recorder.flush(10), recorder.last_error
    assert recorder.last_error is None
