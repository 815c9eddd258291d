"""Write the sample API Gateway events of `ops_events` under events/ops_events/ (re-run after edits).

One valid event per event type with its minimum fields, seed 004's coffee-machine annotation as the
page prints it, the body the official `dt` client sends (every optional field null), and one file
per rejection reason. Valid samples leave `start` unset, so they stay inside the time windows
whenever they are sent; the time rejections use fixed instants that stay out of them.
Usage: python -m events.make_ops
"""

from __future__ import annotations

import json

from events.make_events import write
from local.emulator import SAMPLE_KEY

ENDPOINT = "ops_events"

# Seed 004's example request body, byte for byte as the page prints it (timeoutMinutes 0 on an
# information-only type included: the original answers it 200).
COFFEE_MACHINE_ANNOTATION = b"""{
  "eventType": "CUSTOM_ANNOTATION",
  "timeoutMinutes": 0,
  "attachRules": {
    "tagRule": [
      {
        "meTypes": [
          "CUSTOM_DEVICE"
        ],
        "tags": [
          {
            "context": "CONTEXTLESS",
            "key": "IG-test"
          }
        ]
      }
    ]
  },
  "source": "OpsControl",
  "annotationType": "defect",
  "annotationDescription": "coffee machine is defective"
}"""

HOSTS = {"entityIds": ["HOST-0000000000000007"]}
TAGGED = {"tagRule": [{"meTypes": ["SERVICE"], "tags": [{"context": "KUBERNETES", "key": "app", "value": "checkout"}]}]}

# The minimum fields of each type (seed 004's "Parameters mapping"; CUSTOM_ALERT as the other
# problem-opening types).
MINIMUM_FIELDS: dict[str, dict] = {
    "AVAILABILITY_EVENT": {"title": "Checkout unreachable", "description": "health check fails"},
    "CUSTOM_ALERT": {"title": "Queue backlog", "description": "backlog above 10k messages"},
    "CUSTOM_ANNOTATION": {"annotationType": "defect", "annotationDescription": "coffee machine is defective"},
    "CUSTOM_CONFIGURATION": {"description": "pool size raised", "configuration": "db.pool.size"},
    "CUSTOM_DEPLOYMENT": {"deploymentName": "checkout-deploy-42", "deploymentVersion": "1.4.2"},
    "CUSTOM_INFO": {"description": "nightly batch finished"},
    "ERROR_EVENT": {"title": "Error rate up", "description": "5xx above 2%"},
    "MARKED_FOR_TERMINATION": {"description": "instance scheduled for shutdown"},
    "PERFORMANCE_EVENT": {"title": "Latency up", "description": "p95 above 800 ms"},
    "RESOURCE_CONTENTION": {"title": "CPU saturated", "description": "CPU above 95% for 10 minutes"},
}

OLD_INSTANT_MS = 1_700_000_000_000  # 2023-11-14: older than any window, whenever the sample is sent
FAR_FUTURE_MS = 4_102_444_800_000  # 2100-01-01


def event(event_type: str, attach_rules: dict | None = None, **fields) -> dict:
    return {
        "eventType": event_type,
        "attachRules": HOSTS if attach_rules is None else attach_rules,
        "source": "OpsControl",
        **MINIMUM_FIELDS.get(event_type, {}),
        **fields,
    }


def dt_client_body() -> dict:
    """What `dynatrace.environment_v1.event.EventService.create_event` posts: every optional key, null."""
    return {
        "eventType": "CUSTOM_INFO",
        "start": None,
        "end": None,
        "timeoutMinutes": None,
        "source": "dt-client",
        "annotationType": None,
        "annotationDescription": None,
        "attachRules": {"entityIds": ["HOST-0000000000000007"], "tagRule": None},
        "description": "sent the way the dt client sends it",
        "title": None,
        "customProperties": None,
        "allowDavisMerge": None,
    }


def ops_samples() -> dict[str, tuple[bytes, dict]]:
    """name -> (body, headers)"""
    js = lambda doc: json.dumps(doc, indent=2).encode()  # noqa: E731
    auth = {"Authorization": f"Api-Token {SAMPLE_KEY}", "Content-Type": "application/json"}
    samples: dict[str, tuple[bytes, dict]] = {
        f"valid_{event_type.lower()}": (js(event(event_type)), auth) for event_type in MINIMUM_FIELDS
    }
    deployment = event(
        "CUSTOM_DEPLOYMENT",
        TAGGED,
        deploymentProject="checkout",
        ciBackLink="https://ci.example.com/builds/42",
        remediationAction="https://ci.example.com/rollback/42",
        customProperties={"commit": "9f2c1e7", "approver": "ops"},
        timeseriesIds=["builtin:service.response.time"],
    )
    samples.update({
        # the seed's own token header spells the scheme "Api-token"
        "valid_coffee_machine_annotation": (
            COFFEE_MACHINE_ANNOTATION, {"Authorization": f"Api-token {SAMPLE_KEY}", "Content-Type": "application/json"}
        ),
        "valid_dt_client_nulls": (js(dt_client_body()), auth),
        "valid_deployment_all_optional_fields": (js(deployment), auth),
        "valid_problem_with_timeout": (js(event("ERROR_EVENT", timeoutMinutes=30, allowDavisMerge=False)), auth),
        "valid_configuration_original_and_changed": (
            js(event("CUSTOM_CONFIGURATION", original="20", changed="40")), auth
        ),
        "invalid_unknown_event_type": (js(event("CUSTOM_PARTY")), auth),
        "invalid_no_attach_rule": (js(event("CUSTOM_INFO", {})), auth),
        "invalid_attach_rules_missing": (js({k: v for k, v in event("CUSTOM_INFO").items() if k != "attachRules"}), auth),
        "invalid_empty_tag_list": (js(event("CUSTOM_INFO", {"tagRule": [{"meTypes": ["HOST"], "tags": []}]})), auth),
        "invalid_unknown_me_type": (
            js(event("CUSTOM_INFO", {"tagRule": [{"meTypes": ["COFFEE_MACHINE"], "tags": [{"context": "CONTEXTLESS", "key": "a"}]}]})),
            auth,
        ),
        "invalid_unknown_tag_context": (
            js(event("CUSTOM_INFO", {"tagRule": [{"meTypes": ["HOST"], "tags": [{"context": "OFFICE", "key": "a"}]}]})),
            auth,
        ),
        "invalid_tag_without_key": (
            js(event("CUSTOM_INFO", {"tagRule": [{"meTypes": ["HOST"], "tags": [{"context": "CONTEXTLESS"}]}]})), auth
        ),
        "invalid_timeout_zero_on_problem": (js(event("ERROR_EVENT", timeoutMinutes=0)), auth),
        "invalid_timeout_121_on_problem": (js(event("PERFORMANCE_EVENT", timeoutMinutes=121)), auth),
        "invalid_start_over_30_days_old": (js(event("CUSTOM_INFO", start=OLD_INSTANT_MS, end=OLD_INSTANT_MS)), auth),
        "invalid_problem_start_over_60_minutes_old": (js(event("AVAILABILITY_EVENT", start=OLD_INSTANT_MS)), auth),
        "invalid_start_far_future": (js(event("CUSTOM_ANNOTATION", start=FAR_FUTURE_MS)), auth),
        "invalid_end_before_start": (js(event("CUSTOM_INFO", end=OLD_INSTANT_MS)), auth),
        "invalid_wrong_types": (
            js(event("CUSTOM_INFO", {"entityIds": "HOST-1"}, source=42, start="yesterday",
                     customProperties={"build": 7}, timeseriesIds="cpu")),
            auth,
        ),
        "invalid_missing_required_field": (
            js({k: v for k, v in event("CUSTOM_DEPLOYMENT").items() if k != "deploymentVersion"}), auth
        ),
        "invalid_missing_source": (js({k: v for k, v in event("CUSTOM_INFO").items() if k != "source"}), auth),
        "invalid_not_applicable_field": (js(event("CUSTOM_ANNOTATION", title="not for annotations")), auth),
        "malformed_json": (b'{"eventType": "CUSTOM_INFO",}', auth),
        "empty_body": (b"", auth),
        "not_an_object": (js([event("CUSTOM_INFO")]), auth),
        "too_large": (js(event("CUSTOM_INFO", description="x" * (256 * 1024))), auth),
        "missing_token": (js(event("CUSTOM_INFO")), {"Content-Type": "application/json"}),
        "wrong_token": (js(event("CUSTOM_INFO")), {"Authorization": "Api-Token NOTAKEY1." + "A" * 48}),
        "wrong_scheme": (js(event("CUSTOM_INFO")), {"Authorization": f"Bearer {SAMPLE_KEY}"}),
    })
    return samples


if __name__ == "__main__":
    write(ENDPOINT, ops_samples())
