"""Process environment for running handlers outside Lambda (local server, invoke, tests)."""

from __future__ import annotations

import os

LOCAL_DEFAULTS = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "POWERTOOLS_SERVICE_NAME": "ingest-api",
    "POWERTOOLS_TRACE_DISABLED": "true",
    # EMF lines are for CloudWatch; locally the structured request log says the same.
    "POWERTOOLS_METRICS_DISABLED": "true",
}


def apply_local_defaults() -> None:
    """Set what Lambda would set, without overriding anything the caller chose."""
    for name, value in LOCAL_DEFAULTS.items():
        os.environ.setdefault(name, value)
