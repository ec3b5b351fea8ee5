"""A stand-in for the HTTP transport: canned answers, and the requests that asked for them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from gate.errors import BackendError
from gate.oci.transport import HttpResponse, Transport

#: What the fake answers for a URL: a response, or an error to raise.
Answer = HttpResponse | BackendError


@dataclass
class Sent:
    """One request the fake transport received."""

    url: str
    headers: dict[str, str]
    max_body: int
    label: str


@dataclass
class FakeTransport:
    """Answers ``Transport.request_url`` from ``answer(url)`` and records every call."""

    answer: Callable[[str], Answer]
    sent: list[Sent] = field(default_factory=list)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FakeTransport:
        """Patch ``Transport.request_url`` for the test."""
        fake = self

        def request_url(
            self: Transport,
            method: str,
            url: str,
            *,
            headers: Mapping[str, str] | None = None,
            max_body: int = 0,
            label: str = "",
            **_: Any,
        ) -> HttpResponse:
            assert method == "GET"
            fake.sent.append(Sent(url, dict(headers or {}), max_body, label))
            result = fake.answer(url)
            if isinstance(result, BackendError):
                raise result
            return result

        monkeypatch.setattr(Transport, "request_url", request_url)
        return self


def response(status: int, body: bytes = b"", reason: str = "") -> HttpResponse:
    """An answer with ``status`` and ``body`` (JSON content type)."""
    reasons = {200: "OK", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 500: "Error"}
    return HttpResponse(
        status=status,
        reason=reason or reasons.get(status, ""),
        headers={"Content-Type": "application/json"},
        body=body,
        url="",
    )
