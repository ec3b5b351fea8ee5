"""``POST /validate``: one AdmissionReview in, the gate's answer out.

This is the webhook's hot path: the API server calls it for every Pod and
workload, and waits. ``AdmissionEndpoint.answer`` turns the request body into
the answer's status and bytes; ``AdmissionEndpoint.wsgi`` serves it in front
of Flask's dispatch (the request and response objects, URL matching and
hooks cost more than deciding a cached image), while every other path and
method still goes to Flask. The Flask route calls the same ``answer``.

Bad input never becomes a 500: a body that is not a usable AdmissionReview
is a 400 with the reason, or, when the request's ``uid`` could be read, a
well-formed AdmissionReview that denies with it; a body over the limit is a
413; an internal error denies (fail closed).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wsgi import get_input_stream

from gate.clock import Clock
from gate.errors import InputError
from gate.policy.verdict import Decision, ImageVerdict
from gate.store.model import CheckRecord, NewVerdict, VerdictSource
from webhook.admission import AdmissionRequest, ReviewError, parse_review, review_response
from webhook.checker import AdmissionChecker, ImageOutcome
from webhook.metrics import Metrics
from webhook.policy_holder import PolicyHolder
from webhook.recorder import VerdictRecorder
from webhook.workloads import container_images

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

PATH = "/validate"
#: How many denied images a message names before "and N more".
_MESSAGE_IMAGES = 3
_JSON = [("Content-Type", "application/json")]
#: Verdicts whose check records are kept for reuse (cleared when full; one second of
#: memoised decisions covers far fewer distinct images).
_MEMO_SIZE = 256


def error_body(reason: str) -> bytes:
    """The JSON body of an error answer: ``{"error": reason}`` on one line."""
    return json.dumps({"error": " ".join(reason.split())}).encode()


def _answer_body(answer: dict[str, Any]) -> bytes:
    return json.dumps(answer, separators=(",", ":")).encode()


class AdmissionEndpoint:
    """Decides AdmissionReview bodies with the policy in force and queues their verdicts."""

    def __init__(
        self,
        holder: PolicyHolder,
        checker: AdmissionChecker,
        recorder: VerdictRecorder,
        metrics: Metrics,
        *,
        max_body_bytes: int,
        clock: Clock,
    ) -> None:
        self._holder = holder
        self._checker = checker
        self._recorder = recorder
        self._metrics = metrics
        self._max_body = max_body_bytes
        self._clock = clock
        # Reused verdicts (the decision memo) keep their stored checks object, so the
        # store serialises them once: by identity, the verdict kept alive in the entry.
        self._records: dict[int, tuple[ImageVerdict, tuple[CheckRecord, ...]]] = {}

    def _check_records(self, verdict: ImageVerdict) -> tuple[CheckRecord, ...]:
        entry = self._records.get(id(verdict))
        if entry is not None and entry[0] is verdict:
            return entry[1]
        records = tuple(
            CheckRecord(c.check, c.outcome.value, c.reason, c.details) for c in verdict.checks
        )
        if len(self._records) >= _MEMO_SIZE:
            self._records.clear()
        self._records[id(verdict)] = (verdict, records)
        return records

    def too_large(self) -> tuple[int, bytes]:
        """The 413 answer (counted as a bad request)."""
        self._metrics.bad_requests.inc()
        return 413, error_body(f"request body larger than {self._max_body} bytes")

    def answer(self, body: bytes, started: float | None = None) -> tuple[int, bytes]:
        """The HTTP status and JSON body answering the AdmissionReview ``body``.

        ``started`` is the request's arrival on the ``time.monotonic`` clock
        (default: now); the admission deadline counts from it.
        """
        if started is None:
            started = time.monotonic()
        self._holder.ensure_watching()
        metrics = self._metrics
        if len(body) > self._max_body:
            return self.too_large()
        try:
            review = parse_review(body)
        except ReviewError as exc:
            metrics.bad_requests.inc()
            if exc.uid is None:
                return 400, error_body(f"bad AdmissionReview: {exc.reason}")
            metrics.admission("deny").inc()
            answer = review_response(
                exc.uid,
                allowed=False,
                code=400,
                message=f"gate: bad AdmissionReview: {exc.reason}",
            )
            return 200, _answer_body(answer)
        try:
            answer = self._admit(review, started)
        except Exception as exc:
            # A bug must not turn into an allow or a 500 the API server retries on.
            log.exception("admission %s failed", review.uid)
            metrics.admission("deny").inc()
            answer = review_response(
                review.uid,
                allowed=False,
                code=500,
                message=f"gate: internal error, denied (fail closed): {type(exc).__name__}",
            )
        metrics.latency.observe(time.monotonic() - started)
        return 200, _answer_body(answer)

    def wsgi(self, flask_app: WSGIApplication) -> WSGIApplication:
        """A WSGI app serving ``POST /validate`` itself and everything else with ``flask_app``."""

        def application(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
            if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "POST":
                return flask_app(environ, start_response)
            started = time.monotonic()
            try:
                stream = get_input_stream(environ, max_content_length=self._max_body)
                status, body = self.answer(stream.read(), started)
            except RequestEntityTooLarge:
                status, body = self.too_large()
            except Exception as exc:
                log.exception("POST %s failed", PATH)
                status, body = 500, error_body(f"internal error: {type(exc).__name__}")
            start_response(_STATUS[status], [*_JSON, ("Content-Length", str(len(body)))])
            return [body]

        return application

    def _admit(self, review: AdmissionRequest, started: float) -> dict[str, Any]:
        """Decide one parsed request and queue its verdicts for recording."""
        metrics = self._metrics
        try:
            images = container_images(review)
        except InputError as exc:
            metrics.bad_requests.inc()
            metrics.admission("deny").inc()
            return review_response(
                review.uid,
                allowed=False,
                message=f"gate: cannot tell which images {review.kind.kind} would run: {exc}",
            )
        if images is None:
            metrics.admission("skipped").inc()
            return review_response(review.uid, allowed=True)
        gate = self._checker.gate()
        policy = gate.policy
        outcomes = self._checker.check(gate, images, review.namespace, started)
        for outcome in outcomes:
            metrics.image_decision(outcome.verdict.decision.value).inc()
        decision = Decision.worst(tuple(o.verdict.decision for o in outcomes))
        metrics.admission(decision.value).inc()
        if not review.dry_run:
            decided_at = self._clock()
            policy_digest = str(policy.digest)
            self._recorder.submit(
                [
                    NewVerdict(
                        time=decided_at,
                        source=VerdictSource.ADMISSION,
                        reference=o.verdict.reference,
                        digest=o.verdict.digest,
                        decision=o.verdict.decision.value,
                        mode=o.verdict.mode,
                        policy_name=policy.name,
                        policy_digest=policy_digest,
                        rule=o.verdict.rule,
                        reason=o.verdict.reason,
                        checks=self._check_records(o.verdict),
                        namespace=review.namespace,
                        workload_kind=review.kind.kind,
                        workload_name=review.workload_name,
                        user=review.username,
                        duration_ms=o.duration_ms,
                        decided=o.decided,
                    )
                    for o in outcomes
                ]
            )
        warnings = [
            f"gate: image {o.image}{_containers(o)}: {o.verdict.reason}"
            for o in outcomes
            if o.verdict.decision is Decision.WARN
        ]
        if decision is Decision.DENY:
            return review_response(
                review.uid,
                allowed=False,
                message=deny_message(policy.name, outcomes),
                warnings=warnings,
            )
        return review_response(review.uid, allowed=True, warnings=warnings)


_STATUS: dict[int, str] = {
    200: "200 OK",
    400: "400 BAD REQUEST",
    413: "413 REQUEST ENTITY TOO LARGE",
    500: "500 INTERNAL SERVER ERROR",
}


def _containers(outcome: ImageOutcome) -> str:
    names = [c.container for c in outcome.containers]
    label = "container" if len(names) == 1 else "containers"
    return f" ({label} {', '.join(names)})"


def deny_message(policy_name: str, outcomes: Sequence[ImageOutcome]) -> str:
    """What ``kubectl apply`` shows: each denied image, its rule and reason, on one line.

    E.g. ``gate policy 'prod' denied image reg/app:1 (container app): rule
    'signed' denies: signatures: no cosign signatures found (sha256-....sig)``.
    """
    denied = [o for o in outcomes if o.verdict.decision is Decision.DENY]
    parts = [f"image {o.image}{_containers(o)}: {o.verdict.reason}" for o in denied]
    shown = "; ".join(parts[:_MESSAGE_IMAGES])
    more = len(parts) - _MESSAGE_IMAGES
    tail = f"; and {more} more denied image(s)" if more > 0 else ""
    return f"gate policy '{policy_name}' denied {shown}{tail}"
