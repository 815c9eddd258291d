"""The edge: what API Gateway itself answers, in each family's dialect, and what it logs.

Every answer API Gateway makes without a function (no credential header, a Deny, an authorizer
that failed, throttling, a body over 10 MB, a path or method of no route, an integration timeout or
failure, a WAF block, any other 4xx/5xx) is a *gateway response*. Gateway responses belong to a
REST API, not to a route, and their templates are not VTL (plain ``$context`` substitution, no
``#if`` on the resource path), so one API cannot answer in four dialects. Hence one REST API per
family (``infra.api``): each API's gateway responses are its family's bodies, rendered at synth by
the family's own ``render_error`` (the very code the handlers answer with), with ``X-Request-Id``
(``$context.requestId``, the id the handlers answer with too) and ``Retry-After`` where the answer
is retryable. ``docs/edge.md`` has the reasoning and the table.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from aws_cdk import aws_apigateway as apigateway
from ingest.auth import presented_key
from ingest.authorizer import DENIED_BODY
from ingest.errors import (
    BadRequest,
    IngestError,
    InternalError,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    Unauthorized,
    Unavailable,
)
from ingest.request import Request
from ingest.settings import Settings
from ingest.spec import FamilySpec

# API Gateway's own limits, as the answers name them.
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
# How long a client should wait after the stage throttle or a WAF block; whole seconds.
THROTTLED_RETRY_AFTER = 1
WAF_RETRY_AFTER = 60
UNAVAILABLE_RETRY_AFTER = Unavailable.retry_after_seconds

# Header mappings of a gateway response: a context variable, or a 'quoted' static value.
REQUEST_ID_HEADER = ("X-Request-Id", "context.requestId")


class EdgeError(IngestError):
    """An answer of the gateway itself with a status no pipeline error has (415, 502, 504...)."""

    def __init__(self, status: int, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class EdgeAnswer:
    """One gateway response type and what it answers: the family renders `error` (its status is
    the answer's); `retry_after` seconds go in Retry-After."""

    type: apigateway.ResponseType
    error: Callable[[FamilySpec], IngestError]
    retry_after: int | None = None
    keyed: bool = False  # only on an API with an authorizer (not the public documents' API)


def _missing_credential(spec: FamilySpec) -> IngestError:
    """What the handler answers a request without the family's credential header."""
    if spec.auth is None:  # a public API: no route asks for a key, so this never happens
        return Unauthorized("Missing API key.")
    try:
        presented_key(Request.from_apigw({"headers": {}}), spec.auth)
    except Unauthorized as error:
        return error
    raise AssertionError("a request without a credential header was accepted")


def _static(error: IngestError) -> Callable[[FamilySpec], IngestError]:
    return lambda spec: error


_NO_ROUTE = NotFound("No route matches this method and path.")

# Every response type API Gateway can answer with this stack, each with its answer. The others
# cannot occur here (FALLBACK_TYPES) and would get DEFAULT_4XX/DEFAULT_5XX, which are in the
# dialect too: left out, they cost no resources (a stack holds at most 500).
EDGE_ANSWERS: tuple[EdgeAnswer, ...] = (
    # No credential header: API Gateway answers before the authorizer runs (identity source missing).
    EdgeAnswer(apigateway.ResponseType.UNAUTHORIZED, _missing_credential, keyed=True),
    # A path or method of no route: API Gateway calls it a missing token (403); it is a 404.
    EdgeAnswer(apigateway.ResponseType.MISSING_AUTHENTICATION_TOKEN, _static(_NO_ROUTE)),
    EdgeAnswer(apigateway.ResponseType.RESOURCE_NOT_FOUND, _static(_NO_ROUTE)),
    # The authorizer could not be run or failed: nothing was checked, so retry (never a 500 that
    # reads like a bug in the request).
    EdgeAnswer(apigateway.ResponseType.AUTHORIZER_FAILURE,
               _static(Unavailable("The API key could not be checked; retry the request.")), UNAVAILABLE_RETRY_AFTER,
               keyed=True),
    EdgeAnswer(apigateway.ResponseType.AUTHORIZER_CONFIGURATION_ERROR,
               _static(Unavailable("The API key could not be checked; retry the request.")), UNAVAILABLE_RETRY_AFTER,
               keyed=True),
    # The stage throttle.
    EdgeAnswer(apigateway.ResponseType.THROTTLED,
               _static(TooManyRequests("Too many requests to this API; retry after the Retry-After seconds.",
                                       THROTTLED_RETRY_AFTER)), THROTTLED_RETRY_AFTER),
    # A WAF block (infra.waf): retryable on purpose, so a false positive of a managed rule is a
    # visible retry loop, never an event a client drops as refused for good.
    EdgeAnswer(apigateway.ResponseType.WAF_FILTERED,
               _static(TooManyRequests("The request was blocked at the edge (request rate per client or key, "
                                       "or a firewall rule); retry after the Retry-After seconds.", WAF_RETRY_AFTER)),
               WAF_RETRY_AFTER),
    EdgeAnswer(apigateway.ResponseType.REQUEST_TOO_LARGE,
               _static(PayloadTooLarge(f"Request body is over API Gateway's limit of {MAX_PAYLOAD_BYTES} bytes."))),
    # The function did not answer within API Gateway's 29 s, or failed without an answer. It may
    # still have stored some events: a retry stores none of them twice.
    EdgeAnswer(apigateway.ResponseType.INTEGRATION_TIMEOUT,
               _static(EdgeError(504, "The request timed out; retry it (a retry never stores an event twice).",
                                 retryable=True)), UNAVAILABLE_RETRY_AFTER),
    EdgeAnswer(apigateway.ResponseType.INTEGRATION_FAILURE,
               _static(EdgeError(502, "The request failed; retry it (a retry never stores an event twice).",
                                 retryable=True)), UNAVAILABLE_RETRY_AFTER),
    EdgeAnswer(apigateway.ResponseType.API_CONFIGURATION_ERROR,
               _static(InternalError("Internal error; retry the request.")), UNAVAILABLE_RETRY_AFTER),
    # Anything else API Gateway answers itself: the FALLBACK_TYPES, or a type AWS adds.
    EdgeAnswer(apigateway.ResponseType.DEFAULT_4_XX, _static(BadRequest("The request could not be served."))),
    EdgeAnswer(apigateway.ResponseType.DEFAULT_5_XX,
               _static(InternalError("Internal error; retry the request.")), UNAVAILABLE_RETRY_AFTER),
)

# Response types this stack cannot produce, answered by DEFAULT_4XX (400) should one ever occur.
FALLBACK_TYPES = {
    "INVALID_API_KEY": "no API Gateway API keys (keys are the service's own, checked by the authorizer)",
    "EXPIRED_TOKEN": "no IAM (SigV4) or Cognito auth",
    "INVALID_SIGNATURE": "no IAM (SigV4) auth",
    "QUOTA_EXCEEDED": "no request quotas at the gateway (no API Gateway plans)",
    "UNSUPPORTED_MEDIA_TYPE": "every media type is binary (*/*)",
    "BAD_REQUEST_BODY": "no request validators: the handlers validate",
    "BAD_REQUEST_PARAMETERS": "no request validators: the handlers validate",
}

# ACCESS_DENIED only ever comes from the family's authorizer (a Deny: bad, revoked or expired key;
# scopes are the handlers' 403): 401 with the body the authorizer rendered through the family.
ACCESS_DENIED_STATUS = 401
ACCESS_DENIED_TEMPLATE = f"$context.authorizer.{DENIED_BODY}"


@dataclass(frozen=True, slots=True)
class RenderedAnswer:
    type: str  # apigateway.ResponseType's value, e.g. "THROTTLED"
    status: int
    body: str
    content_type: str
    headers: dict[str, str]  # header → a gateway response mapping value (context variable or 'static')


def rendered_answers(spec: FamilySpec) -> list[RenderedAnswer]:
    """The family's body for every edge answer, rendered by each of its routes' bound family; the
    routes must agree (one API's gateway response serves all of them)."""
    settings = Settings()
    answers = []
    for answer in EDGE_ANSWERS:
        if answer.keyed and spec.auth is None:
            continue
        error = answer.error(spec)
        rendered = {route.name: route.impl.bind(route, settings).render_error(error) for route in spec.routes}
        distinct = {(r.status, r.body, r.content_type, tuple(sorted(r.headers.items()))) for r in rendered.values()}
        if len(distinct) != 1:
            raise ValueError(
                f"family {spec.name!r}: its routes render {answer.type.response_type} differently "
                f"({sorted(rendered)}); API Gateway's answers are per API, so they must agree"
            )
        response = next(iter(rendered.values()))
        body = response.body.decode("utf-8")
        if "$" in body:  # the template would substitute it
            raise ValueError(f"family {spec.name!r}: the {answer.type.response_type} body contains '$': {body}")
        headers = dict([REQUEST_ID_HEADER])
        headers.update({name: f"'{value}'" for name, value in response.headers.items()})
        if answer.retry_after is not None:
            headers["Retry-After"] = f"'{answer.retry_after}'"
        answers.append(RenderedAnswer(answer.type.response_type, response.status, body, response.content_type, headers))
    return answers


def add_gateway_responses(rest_api: apigateway.RestApi, spec: FamilySpec) -> None:
    """Every gateway response of the family's API in the family's dialect, with X-Request-Id."""
    for answer in rendered_answers(spec):
        rest_api.add_gateway_response(
            _construct_id(answer.type),
            type=apigateway.ResponseType.of(answer.type),
            status_code=str(answer.status),
            response_headers=answer.headers,
            templates={_media_type(answer.content_type): answer.body},
        )
    if spec.auth is not None:  # a public API has no authorizer, so no Deny
        rest_api.add_gateway_response(
            "KeyDenied",
            type=apigateway.ResponseType.ACCESS_DENIED,
            status_code=str(ACCESS_DENIED_STATUS),
            response_headers=dict([REQUEST_ID_HEADER]),
            templates={"application/json": ACCESS_DENIED_TEMPLATE},
        )


def _construct_id(response_type: str) -> str:
    return "".join(part.capitalize() for part in response_type.split("_"))


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip()


# --- access logs --------------------------------------------------------------------------------

# One JSON line per request in every family's stage (one shared log group). Latencies, the error
# type, the authorizer's tenant and key prefix (the readable part, never the key), the user agent
# and the X-Ray trace id. Values are quoted: a missing one is "-", and the line stays valid JSON.
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "apiId": "$context.apiId",
    "stage": "$context.stage",
    "requestTime": "$context.requestTime",
    "requestTimeEpoch": "$context.requestTimeEpoch",
    "ip": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "method": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "path": "$context.path",
    "protocol": "$context.protocol",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "integrationStatus": "$context.integration.status",
    "errorType": "$context.error.responseType",
    "errorMessage": "$context.error.message",
    "tenant": "$context.authorizer.tenant",
    "keyPrefix": "$context.authorizer.keyPrefix",
    "authorizerLatency": "$context.authorizer.latency",
    "authorizerStatus": "$context.authorizer.status",
    "wafStatus": "$context.waf.status",
    "xrayTraceId": "$context.xrayTraceId",
}


def access_log_format() -> apigateway.AccessLogFormat:
    return apigateway.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS, separators=(",", ":")))
