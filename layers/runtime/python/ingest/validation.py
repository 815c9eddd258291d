"""Validation through the Powertools parser (`aws_lambda_powertools.utilities.parser.parse`).

Every family validates its events, and the DataHub delete route its body, through the two
functions here, so there is one place that calls the parser and one rule for how its errors become
per-event violations. How `parse` behaves with pydantic v2 (Powertools 3.x source) decides the rest:

* `parse(event, model)` validates with a TypeAdapter cached by `id(model)` (an LRU of 1,024); a
  TypeAdapter given as the model is cached and used as it is. So the adapters are the ones each
  family builds at import, and nothing else is accepted: an inline `list[Model]` is a new object
  on every call, and `parse` would build a new TypeAdapter (core schema and all, ~0.3 ms) for it on
  every request and fill the cache with them.
* `parse` calls `validate_json` for a `str` and `validate_python` for anything else. The pipeline
  has already decoded the body (orjson, strict RFC 8259, errors with line and column; the logs
  family keeps big integers exact) because it needs the document itself: to find the events, count
  them, and keep each rejected event raw. So the decoded document is passed: python mode, the same
  rules the models were written for. A `str` is refused, since `parse` would read it as JSON text
  rather than as the value; a bare string (a query parameter, a CLI time) is no event and stays on
  its own adapter's `validate_python`.
* A failure is pydantic's own `ValidationError`, not wrapped (the parser re-exports the very class),
  so `.errors()` keeps every location, e.g. `(1, "dimensions", 0, "key")` in a list of events.

No envelope: the pipeline reads the API Gateway event itself (see `ingest.request.Request`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import TypeVar

from aws_lambda_powertools.utilities.parser import ValidationError, parse
from pydantic import TypeAdapter

from ingest.errors import Violation

T = TypeVar("T")

# (event index, location inside the event, pydantic's error dict as given) -> the family's violation
ToViolation = Callable[[int, tuple, dict], Violation]


def parse_model(document: object, adapter: TypeAdapter[T]) -> T:
    """One decoded JSON document through the Powertools parser; raises pydantic's ValidationError."""
    if not isinstance(adapter, TypeAdapter):
        raise TypeError(f"pass a TypeAdapter built once at import, not {adapter!r}: parse() would adapt it per call")
    if isinstance(document, str):
        raise TypeError("parse() reads a str as JSON text; pass the decoded document")
    return parse(event=document, model=adapter)


def parse_events(
    raw_events: list,
    adapter: TypeAdapter,
    list_adapter: TypeAdapter,
    to_violation: ToViolation,
    *,
    keep_valid: bool = True,
) -> tuple[list, dict[int, list[Violation]]]:
    """The models of a request's events (None where rejected) and the violations by event index.

    The whole list goes through the parser in one call: with every event valid (the usual case),
    that is all. When it fails, its errors say which events failed and where; with `keep_valid`
    (partial acceptance) each other event is then parsed on its own, so it can still be stored.
    """
    try:
        return parse_model(raw_events, list_adapter), {}
    except ValidationError as exc:
        failures = exc.errors(include_url=False, include_context=False, include_input=False)
    errors: dict[int, list[Violation]] = defaultdict(list)
    for error in failures:
        index, *loc = error["loc"]
        errors[index].append(to_violation(index, tuple(loc), error))
    models: list = [None] * len(raw_events)
    if keep_valid:
        for index, raw in enumerate(raw_events):
            if index not in errors:
                models[index] = parse_model(raw, adapter)
    return models, dict(errors)
