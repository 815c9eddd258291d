"""One code path for every endpoint.

decode → authenticate → rate limit → scope → validate each event → server-derived fields →
raw rejects → dedup-write → one outcome per event → the family's dialect. A request that cannot
guarantee an outcome for every event answers a retryable 5xx and acknowledges nothing. Headers the
pipeline adds (RateLimit-*, Retry-After) go on every answer, whatever the family renders.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import datetime

from aws_lambda_powertools.metrics import MetricUnit

from ingest import catalog, jsonslices, layout, manage
from ingest.auth import Authenticator, Principal, Scope, check_scope, presented_key, split_key
from ingest.errors import BadRequest, IngestError, InternalError, MethodNotAllowed, Violation
from ingest.family import EventOutcome, Family, Outcome, Record, Response, Status
from ingest.layout import ItemKey, RejectKey
from ingest.observability import logger, metrics
from ingest.ratelimit import RateLimiter, StartedCount
from ingest.request import Request, check_wire_size, decode_body
from ingest.settings import DAY_SECONDS, Settings, get_settings
from ingest.spec import Endpoint, RouteKind
from ingest.store import ConditionNotMet, Deadline, Store

# Leave the Lambda this much time to render and return after the storage budget.
RESPONSE_MARGIN_MS = 2_000


class Pipeline:
    def __init__(self, endpoint: Endpoint, settings: Settings | None = None, store: Store | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.endpoint = endpoint
        self.clock = clock  # when a request was received; tests inject one (default: the system clock)
        self.settings = settings or get_settings()
        self.store = store or Store(self.settings)
        self.family: Family = endpoint.impl.bind(endpoint, self.settings)
        self.limits = self.settings.limits_for(endpoint)
        self.authenticator = Authenticator(self.store)
        self.rate_limiter = RateLimiter(self.store)
        self.retention_seconds = self.settings.retention_seconds(endpoint.family)
        if endpoint.retention_days is not None:  # a route whose items are worth less than the family's
            self.retention_seconds = min(self.retention_seconds, endpoint.retention_days * DAY_SECONDS)
        self.shards = self.settings.shards(endpoint.family)

    @classmethod
    def of(cls, family: str, name: str) -> Pipeline:
        """The pipeline of one route, loading only its own family: what each handler module calls."""
        return cls(catalog.route(family, name))

    # --- the Lambda entry -----------------------------------------------------------------------

    def handle(self, event: dict, context=None) -> dict:
        started = time.perf_counter()
        request = principal = outcome = None
        answer_headers: dict[str, str] = {}  # added to every answer, whatever the family renders
        try:
            now = self.clock() if self.clock else None
            request = Request.from_apigw(event, getattr(context, "aws_request_id", None), now=now)
            if request.method in self.endpoint.refused_methods:  # before auth, like a gateway would
                raise MethodNotAllowed(
                    f"{request.method} is not allowed on {self.endpoint.path}; use {self.endpoint.method}.",
                    (self.endpoint.method,),
                )
            deadline = self._deadline(context)
            check_wire_size(request, self.limits)
            if self.endpoint.keyless:  # a keyed family's route its clients call without a key, by design
                principal = keyless_principal(self.endpoint)
                quota = self.rate_limiter.consume(principal, request.received_at, deadline)
                answer_headers.update(quota.headers())
                quota.enforce()
            elif not self.endpoint.public:  # public: the service's own documents, nobody's data
                count = self._start_count(event, request, deadline)
                principal = self.authenticator.authenticate(request, self.endpoint.auth, now=request.received_at,
                                                            deadline=deadline)
                # Counted before the scope check: every authenticated request spends the key's budget.
                quota = self.rate_limiter.consume(principal, request.received_at, deadline, count)
                answer_headers.update(quota.headers())
                quota.enforce()
                check_scope(principal, self.endpoint.family, self.endpoint.spec.scope_resource, request.path_parameters)
            kind = self.endpoint.kind
            if kind is RouteKind.INGEST:
                outcome = self.ingest(request, principal, deadline)
                response = self.family.render(outcome)
            elif kind is RouteKind.READ:
                response = manage.read_event(self.family, request, principal, self.store, deadline)
            elif kind is RouteKind.DELETE:
                response = manage.delete_events(self.family, request, principal, self.store, deadline)
            elif kind is RouteKind.QUERY:
                response = manage.query_events(self.family, request, principal, self.store, deadline)
            elif kind is RouteKind.STREAMS:
                response = self.family.serve(request, principal, self.store, deadline)
            else:  # a route that touches no event (a ping, a batch size, a document): the family answers
                response = self.family.answer(request, principal)
        except IngestError as error:
            response = self.family.render_error(error)
            retry_after = getattr(error, "retry_after_seconds", None)
            if error.retryable and retry_after and "Retry-After" not in answer_headers:
                answer_headers["Retry-After"] = str(retry_after)
        except Exception:  # a bug must still answer, retryable, in the dialect
            logger.exception("unhandled error")
            response = self.family.render_error(InternalError("Internal error; retry the request."))
        request_id = request.request_id if request else (getattr(context, "aws_request_id", None) or "")
        self._observe(response, principal, outcome, request_id, started)
        return self._to_apigw(response, request_id, answer_headers)

    def _start_count(self, event: dict, request: Request, deadline: Deadline) -> StartedCount | None:
        """The rate count started beside the key lookup (one round trip instead of two) when the edge
        authorizer has already let this very key through: API Gateway's context names the prefix of
        the key it checked (ingest.authorizer; clients cannot set it). Without it (the local server,
        a direct invoke), or for another prefix, the count waits for the key check, so a request
        that does not hold a key never spends that key's budget."""
        vouched = ((event.get("requestContext") or {}).get("authorizer") or {}).get("keyPrefix")
        if not vouched:
            return None
        try:
            prefix = split_key(presented_key(request, self.endpoint.auth))
        except IngestError:
            return None  # authenticate answers it
        return self.rate_limiter.start(prefix, request.received_at, deadline) if prefix == vouched else None

    # --- the pipeline proper --------------------------------------------------------------------

    def ingest(self, request: Request, principal: Principal, deadline: Deadline) -> Outcome:
        body = request.wire_body
        try:
            body = decode_body(request, self.limits)
            raw_events = self.family.extract(self.family.parse(body, request), request, self.limits)
        except BadRequest as error:
            # The request as a whole is unusable: keep it raw so nothing is lost, then answer 400.
            violations = error.violations or (Violation(None, "", error.message),)
            self._keep_body_reject(request, principal, body, violations, deadline)
            raise
        models, errors = self.family.validate_request(raw_events, request)
        errors = dict(errors)
        records = {} if errors and self.family.all_or_nothing else self._records(models, request, principal, errors)
        outcome = Outcome(request, principal, [])
        if errors:
            outcome.reject_key = self._keep_rejects(request, principal, body, raw_events, errors, deadline)
        if errors and self.family.all_or_nothing:
            outcome.events = [
                EventOutcome(index, Status.REJECTED, tuple(errors.get(index, ()))) for index in range(len(raw_events))
            ]
            return outcome
        for index in range(len(models)):
            if index in records:
                outcome.events.append(EventOutcome(index, Status.STORED, record=records[index]))
            else:
                outcome.events.append(EventOutcome(index, Status.REJECTED, tuple(errors[index])))
        self.family.store_outcome(outcome, self.store, deadline, lambda: self._write(outcome, deadline))
        return outcome

    def _records(self, models: list, request: Request, principal: Principal, errors: dict) -> dict[int, Record]:
        """The valid events' records. An event whose item DynamoDB would refuse (over 400 KB) is
        the client's mistake: it joins the rejected ones (errors), it is never a 5xx.

        Each record gets its origin, `<SHA-256 of the body as received>/<index>`, when the family
        generates ids (FamilySpec.generated_id_field): an id derived from it is the same on a
        byte-identical resend, so a retry after a failed request is recognised, not stored twice."""
        digest = hashlib.sha256(request.wire_body).hexdigest() if self.endpoint.spec.generated_id_field else ""
        records = {}
        for index, model in enumerate(models):
            if model is None:
                continue
            record = self.family.record(model, request, principal, f"{digest}/{index}")
            if len(record.payload) > layout.MAX_PAYLOAD_BYTES:
                errors[index] = [Violation(index, self.family.path(index, ()),
                                           f"the event is {len(record.payload):,} bytes once stored; the limit is "
                                           f"{layout.MAX_PAYLOAD_BYTES:,} bytes per event")]
                continue
            records[index] = record
        return records

    def _write(self, outcome: Outcome, deadline: Deadline) -> None:
        """The dedup write: one conditional PutItem per item key, in parallel within the budget.
        Keep-first writes only where nothing live is stored (a racing writer loses and is a
        duplicate); overwrites only what was received no later (a replayed or delayed event never
        replaces a newer one). Expiry and liveness count from now, the moment of storing, not from
        when the request was first received (a replay of an old reject is stored for the full
        retention)."""
        now = int(time.time())
        tenant, family = outcome.principal.tenant, self.endpoint.family
        # Each stream keeps the shard count of its first write (a change of stream_shards applies to
        # new streams only); read once per process, then cached.
        streams = dict.fromkeys(event.record.stream for event in outcome.events if event.record is not None)
        partitions = layout.Partitions(tenant, family, self.shards, {
            stream: self.store.stream_shards(tenant, family, stream, self.shards, deadline, record=True)
            for stream in streams
        })
        overwrite = self.endpoint.write_policy.overwrites
        # One event per item key: the batch's own duplicates are settled here, before any write.
        winner_by_key: dict[ItemKey, EventOutcome] = {}
        for event in outcome.events:
            if event.record is None:
                continue
            key = event.key = partitions.key(event.record.stream, event.record.dedup_key)
            previous = winner_by_key.get(key)
            if previous is None:
                winner_by_key[key] = event
            elif overwrite:  # the same key earlier in the batch: the last one wins
                previous.status = Status.DUPLICATE
                winner_by_key[key] = event
            else:  # keep-first: the earlier one in the batch stays
                event.status = Status.DUPLICATE
        if not winner_by_key:
            return
        items_of = layout.EventItems(
            tenant=tenant,
            family=family,
            endpoint=self.endpoint.name,
            request_id=outcome.request.request_id,
            received_at=outcome.request.received_at,
            expires_at=layout.expires_at(now, self.retention_seconds),
        )
        condition, values = (layout.newer_wins(now, outcome.request.received_at) if overwrite
                             else layout.keep_first(now))
        events = list(winner_by_key.values())
        # An overwrite returns what it replaced (ALL_OLD: no read units, no extra call): a family whose
        # answer never shows duplicates (DataHub) still counts them for the operator (EventsDuplicate,
        # the request log line) from the write itself, never from a lookup before it.
        answers = self.store.put_if([(items_of.item(key, event.record), condition, values)
                                     for key, event in winner_by_key.items()], deadline, replaced=overwrite,
                                    stored_on_failure=self.family.answers_with_stored)
        for event, answer in zip(events, answers):
            if isinstance(answer, ConditionNotMet):  # already stored (keep-first), or a newer one is (overwrite)
                event.status = Status.DUPLICATE
                event.stored = answer.item
            elif answer is not None and layout.is_live(answer, now):  # overwrote the live item of the same key
                event.status = Status.DUPLICATE
        outcome.write_calls = len(events)

    # --- rejects --------------------------------------------------------------------------------

    def reject_key(self, request: Request, principal: Principal) -> RejectKey:
        """Where a reject of this request is kept (ingest.layout): named by its content, so a retry
        of the same bytes overwrites it instead of keeping a second copy."""
        name = layout.reject_name(principal.tenant, self.endpoint.name, request.method, request.path,
                                  request.wire_body, request.replay_of)
        return RejectKey.of(principal.tenant, self.endpoint.name, request.received_at, name)

    def reject_prefix(self, request: Request, principal: Principal) -> str:
        return self.reject_key(request, principal).stem

    def _reject_meta(self, key: RejectKey, request: Request, violations) -> dict:
        return layout.reject_meta(key, request, family=self.endpoint.family, violations=violations,
                                  kept_headers=self.endpoint.spec.kept_headers)

    def _keep_body_reject(self, request, principal, body: bytes, violations, deadline: Deadline) -> str | None:
        if not self.family.keeps_raw_rejects:
            return None
        key = self.reject_key(request, principal)
        self.store.put_objects(layout.body_reject(key, self._reject_meta(key, request, violations), body), deadline)
        return key.json_key

    def _keep_rejects(self, request, principal, body: bytes, raw_events: list, errors: dict, deadline) -> str | None:
        if not self.family.keeps_raw_rejects:
            return None
        violations = [violation for index in sorted(errors) for violation in errors[index]]
        slices = None if self.family.all_or_nothing else event_slices(body, len(raw_events))
        if slices is None:
            return self._keep_body_reject(request, principal, body, violations, deadline)
        # Partial acceptance: keep only the rejected events, each as the bytes the client sent for
        # it, so the accepted ones' dropped fields are not kept anywhere.
        key = self.reject_key(request, principal)
        rejected = {index: slices[index] for index in sorted(errors)}
        event_errors = {index: [violation.as_dict() for violation in errors[index]] for index in rejected}
        self.store.put_objects(layout.events_reject(key, self._reject_meta(key, request, violations), body, rejected,
                                                    event_errors), deadline)
        return key.json_key

    # --- edges ----------------------------------------------------------------------------------

    def _deadline(self, context) -> Deadline:
        budget = self.settings.aws_budget_seconds
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        if remaining is not None:
            budget = min(budget, max(0.0, (remaining() - RESPONSE_MARGIN_MS) / 1000))
        return Deadline(budget)

    def _observe(self, response: Response, principal: Principal | None, outcome: Outcome | None,
                 request_id: str, started: float) -> None:
        counts = {status.value: outcome.count(status) if outcome else 0 for status in Status}
        if metrics.dimension_set.get("endpoint") != self.endpoint.name:  # once per flush (per invocation)
            metrics.add_dimension(name="endpoint", value=self.endpoint.name)
        metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
        for status, count in counts.items():
            metrics.add_metric(name=f"Events{status.capitalize()}", unit=MetricUnit.Count, value=count)
        if response.status >= 500:
            metrics.add_metric(name="ServerErrors", unit=MetricUnit.Count, value=1)
        logger.info(
            "request",
            endpoint=self.endpoint.name,
            tenant=principal.tenant if principal else None,
            key_prefix=principal.key_prefix if principal else None,  # the readable part only, never the key
            request_id=request_id,
            status=response.status,
            events=counts,
            reject_key=outcome.reject_key if outcome else None,
            write_calls=outcome.write_calls if outcome else 0,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )

    @staticmethod
    def _to_apigw(response: Response, request_id: str, answer_headers: dict[str, str] | None = None) -> dict:
        # The family's own headers come last: a dialect may set any of them itself.
        headers = {"Content-Type": response.content_type, "X-Request-Id": request_id, **(answer_headers or {}),
                   **response.headers}
        return {"statusCode": response.status, "headers": headers, "body": response.body.decode("utf-8"), "isBase64Encoded": False}

    def error_answer(self, error: IngestError, request_id: str) -> dict:
        """An API Gateway proxy answer in this endpoint's dialect for an error found before the handler ran
        (the local gateway's framing checks): the same headers the pipeline puts on every answer."""
        return self._to_apigw(self.family.render_error(error), request_id)


def keyless_principal(endpoint: Endpoint) -> Principal:
    """Who calls a keyless route: nobody's tenant. Its items go under the operator's own partition
    (ingest.layout.KEYLESS_TENANT, which no tenant name can spell), and its rate limit counts every
    caller of the route together, on a counter no key prefix can spell (prefixes are 8 letters or digits)."""
    return Principal(tenant=layout.KEYLESS_TENANT, key_prefix=f"{layout.KEYLESS_TENANT}.{endpoint.name}",
                     scopes=(Scope(endpoint.family),), rate_limit=endpoint.keyless_rate_limit)


def event_slices(body: bytes, count: int) -> list[tuple[int, int]] | None:
    """Where each of a request's `count` events sits in its decoded body: the elements of a
    top-level array, or the whole body when it is the one event itself. None when the events sit
    elsewhere (an envelope object): the whole body is kept then, byte for byte, as for an
    all-or-nothing family."""
    try:
        slices = jsonslices.array_slices(body)
    except ValueError:
        return [(0, len(body))] if count == 1 else None
    return slices if len(slices) == count else None
