"""Powertools logger, metrics and tracer shared by every handler (one of each per process).

The tracer is lazy: the Powertools Tracer imports the X-Ray SDK (about 110 ms of a cold start, most
of what a handler imports beyond boto3, pydantic and the Powertools logger, metrics and parser).
Where tracing is off (the local server, tests, the bench: `POWERTOOLS_TRACE_DISABLED`, or outside
Lambda, the very rule Powertools applies itself) nothing of it is imported. In Lambda (the stack
turns on active tracing for every function) `capture_lambda_handler` builds the real Tracer when the
handler module is imported, during the init phase, as before: the handler is traced and boto3 is
patched before the store creates its clients. What tracing costs where it is on is measured by
`make bench` (cold start, `tracing_on`).
"""

from __future__ import annotations

import os
from functools import cached_property

from aws_lambda_powertools import Logger, Metrics

SERVICE = "ingest-api"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace="IngestApi", service=SERVICE)

_TRUE = frozenset({"1", "true", "yes", "on", "y", "t"})


def tracing_enabled(environ=os.environ) -> bool:
    """Powertools' own rule: off when POWERTOOLS_TRACE_DISABLED is true, outside Lambda
    (no LAMBDA_TASK_ROOT), and under SAM local or Chalice; on otherwise."""
    if environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() in _TRUE:
        return False
    if not environ.get("LAMBDA_TASK_ROOT") or environ.get("AWS_SAM_LOCAL") or environ.get("AWS_CHALICE_CLI_MODE"):
        return False
    return True


class LazyTracer:
    """`tracer.capture_lambda_handler` as the handlers use it, importing the X-Ray SDK only when
    tracing is on (decided once, when the first handler is decorated)."""

    @cached_property
    def enabled(self) -> bool:
        return tracing_enabled()

    @cached_property
    def tracer(self):
        """The Powertools Tracer (imports aws_xray_sdk): built only when tracing is on."""
        from aws_lambda_powertools import Tracer

        return Tracer(service=SERVICE)

    def capture_lambda_handler(self, handler=None, **options):
        if handler is None:  # used with options, e.g. @tracer.capture_lambda_handler(capture_error=False)
            return lambda function: self.capture_lambda_handler(function, **options)
        if not self.enabled:
            return handler
        # Answers are never trace metadata: they hold tenants' events (read-back, queries) and run to
        # megabytes (a 1,000-event batch's outcomes), past a UDP datagram to the X-Ray daemon ("Message
        # too long": the whole segment lost). Errors still are (capture_error, Powertools' default).
        # Powertools' own POWERTOOLS_TRACER_CAPTURE_RESPONSE, when set, still decides.
        if "POWERTOOLS_TRACER_CAPTURE_RESPONSE" not in os.environ:
            options.setdefault("capture_response", False)
        return self.tracer.capture_lambda_handler(handler, **options)


tracer = LazyTracer()
