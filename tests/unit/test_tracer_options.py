"""Traces never carry answers by default (ingest.observability): an answer can be megabytes of
tenants' events, past one X-Ray datagram. Powertools' own switch still decides when it is set."""

from __future__ import annotations

import pytest

from ingest.observability import LazyTracer


class RecordingTracer:
    def __init__(self) -> None:
        self.options: dict = {}

    def capture_lambda_handler(self, handler, **options):
        self.options = options
        return handler


def traced(**options) -> dict:
    tracer = LazyTracer()
    tracer.__dict__.update(enabled=True, tracer=RecordingTracer())  # as in Lambda, tracing on
    if options:
        tracer.capture_lambda_handler(**options)(lambda event, context: None)
    else:
        tracer.capture_lambda_handler(lambda event, context: None)
    return tracer.tracer.options


def test_answers_are_not_captured_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POWERTOOLS_TRACER_CAPTURE_RESPONSE", raising=False)
    assert traced() == {"capture_response": False}
    assert traced(capture_response=True) == {"capture_response": True}
    assert traced(capture_error=False) == {"capture_error": False, "capture_response": False}


def test_powertools_own_setting_still_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_TRACER_CAPTURE_RESPONSE", "true")
    assert traced() == {}  # left to Powertools, which reads the variable


def test_tracing_off_wraps_nothing() -> None:
    tracer = LazyTracer()
    tracer.__dict__["enabled"] = False

    def handler(event, context):
        return None

    assert tracer.capture_lambda_handler(handler) is handler
