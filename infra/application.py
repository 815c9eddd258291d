"""Build the app for one environment: shared by ``app.py`` (CLI) and the infra tests."""

from __future__ import annotations

import aws_cdk as cdk

from infra.config import DEFAULT_ENV, config_for
from infra.nag import apply_aws_solutions_checks
from infra.stack import IngestApiStack


def stack_name(env_name: str) -> str:
    return f"IngestApi-{env_name}"


def build_app(app: cdk.App) -> IngestApiStack:
    """Add the stack selected by ``-c env=<name>`` (default dev) and the cdk-nag checks to ``app``."""
    env_name = app.node.try_get_context("env") or DEFAULT_ENV
    config = config_for(env_name, app.node.try_get_context("environments"))
    stack = IngestApiStack(
        app,
        stack_name(config.name),
        config=config,
        # Both unset (the default) keeps the stack environment-agnostic: synth needs no credentials.
        env=cdk.Environment(account=config.account, region=config.region),
    )
    apply_aws_solutions_checks(app)
    return stack
