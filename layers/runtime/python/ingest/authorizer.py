"""The Lambda REQUEST authorizer in front of every deployed route: only a real, active key passes.

It runs the very `Authenticator` the handlers run. Deployed there is one API Gateway authorizer per
family (all backed by this code), each with the family's credential header as identity source, so
API Gateway caches an answer per (family, header value) for the configured TTL:

* Allow covers every route of the stage, not only the method that was called: a cached Allow is
  reused for the family's other routes, and a per-method policy would then deny them.
* Deny carries the family's own 401 body in the authorizer context; the API's ACCESS_DENIED gateway
  response answers 401 with that body (`$context.authorizer.body`), so a bad key gets the family's
  dialect even when the handler never runs.
* A request with no credential header at all never reaches this code: API Gateway answers it 401
  itself (identity source missing).

Scopes and rate limits are not checked here: a cached answer cannot count requests, and scopes
depend on the path. The handlers check both, and authenticate again (defence in depth), so a
revoked key is refused by the handler at once even while the edge still holds a cached Allow.
"""

from __future__ import annotations

from datetime import datetime

import orjson
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerResponse,
    parse_api_gateway_arn,
)

from ingest.auth import Authenticator
from ingest.catalog import ENDPOINTS, Endpoint
from ingest.errors import Unauthorized
from ingest.observability import logger
from ingest.request import Request
from ingest.settings import Settings, get_settings
from ingest.store import Deadline, Store

# The authorizer function's timeout is 10 s (infra.authorizer): the key lookup gets 8 of them.
AUTHORIZER_BUDGET_SECONDS = 8.0

# The authorizer-context key the ACCESS_DENIED gateway response renders as the body.
DENIED_BODY = "body"
_UNKNOWN_ROUTE_BODY = orjson.dumps({"message": "Unauthorized"}).decode()
_ROUTES: dict[tuple[str, str], Endpoint] = {(endpoint.method, endpoint.path): endpoint for endpoint in ENDPOINTS}


class EdgeAuthorizer:
    def __init__(self, settings: Settings | None = None, store: Store | None = None) -> None:
        self.settings = settings or get_settings()
        self.authenticator = Authenticator(store or Store(self.settings))
        self._families: dict[str, object] = {}

    def _family(self, endpoint: Endpoint):
        """The family as the endpoint's own handler binds it, so the 401 body is the handler's."""
        family = self._families.get(endpoint.name)
        if family is None:
            family = endpoint.impl.bind(endpoint, self.settings)
            self._families[endpoint.name] = family
        return family

    def authorize(self, event: dict, now: datetime | None = None) -> dict:
        arn = parse_api_gateway_arn(event["methodArn"])
        endpoint = _ROUTES.get((event.get("httpMethod", ""), event.get("resource", "")))
        # API Gateway only attaches this authorizer to the catalog's keyed routes; a keyless one has no
        # scheme to check a key against, so it is refused like an unknown route, never an error.
        if endpoint is None or endpoint.auth is None:
            return self._deny(arn, _UNKNOWN_ROUTE_BODY)
        try:
            principal = self.authenticator.authenticate(Request.from_apigw(event), endpoint.auth, now,
                                                        deadline=Deadline(AUTHORIZER_BUDGET_SECONDS))
        except Unauthorized as error:
            body = self._family(endpoint).render_error(error).body.decode("utf-8")
            logger.info("authorizer", endpoint=endpoint.name, effect="Deny")
            return self._deny(arn, body)
        logger.info(
            "authorizer",
            endpoint=endpoint.name,
            effect="Allow",
            tenant=principal.tenant,
            key_prefix=principal.key_prefix,
        )
        answer = self._answer(arn, principal.tenant, {"tenant": principal.tenant, "keyPrefix": principal.key_prefix})
        answer.allow_all_routes()
        return answer.asdict()

    def _deny(self, arn, body: str) -> dict:
        answer = self._answer(arn, "anonymous", {DENIED_BODY: body})
        answer.deny_all_routes()
        return answer.asdict()

    @staticmethod
    def _answer(arn, principal_id: str, context: dict) -> APIGatewayAuthorizerResponse:
        return APIGatewayAuthorizerResponse(
            principal_id,
            arn.region,
            arn.aws_account_id,
            arn.api_id,
            arn.stage,
            context=context,
            partition=arn.partition,
        )
