"""Where a command's tables and bucket are: the local emulator, a deployed stack, or explicit names.

Every command takes the same connection options (`@target_options`), so `--stack IngestApi-dev`
works after any command. Names start from the runtime's own settings (INGEST_* environment, the
same defaults `make serve` uses); `--stack` replaces them with the stack's outputs; an explicit
per-resource option (e.g. `--keys-table`) wins over both.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import boto3
import click
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

import cli  # noqa: F401  (puts the runtime package on sys.path)
from ingest.settings import Settings
from ingest.store import Store

# CloudFormation outputs of infra.stack.IngestApiStack → runtime settings fields.
STACK_OUTPUTS = {
    "EventsTableName": "events_table",
    "KeysTableName": "keys_table",
    "RejectsBucketName": "rejects_bucket",
}
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class Target:
    settings: Settings
    session: boto3.Session
    endpoint_url: str | None

    def client(self, service: str):
        config = Config(retries={"mode": "standard", "total_max_attempts": 3}, connect_timeout=5, read_timeout=30)
        return self.session.client(service, endpoint_url=self.endpoint_url, config=config)

    def store(self) -> Store:
        return Store(self.settings, dynamodb=self.client("dynamodb"), s3=self.client("s3"))


def resolve_target(
    stack: str | None, endpoint_url: str | None, region: str | None, profile: str | None, **names: str | None
) -> Target:
    if endpoint_url and urlsplit(endpoint_url).hostname in LOCAL_HOSTS:
        # The emulator takes any credentials; supply the ones `make serve` uses if none are set.
        from local.environment import apply_local_defaults

        apply_local_defaults()
    try:
        session = boto3.Session(profile_name=profile, region_name=region)
    except BotoCoreError as exc:
        raise click.ClickException(str(exc)) from exc
    overrides: dict[str, str] = {}
    if stack:
        overrides.update(_stack_outputs(session, stack, endpoint_url))
    overrides.update({field: value for field, value in names.items() if value})
    return Target(Settings(**overrides), session, endpoint_url)


def _stack_outputs(session: boto3.Session, stack: str, endpoint_url: str | None) -> dict[str, str]:
    cloudformation = session.client("cloudformation", endpoint_url=endpoint_url)
    try:
        [described] = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except (ClientError, BotoCoreError) as exc:
        raise click.ClickException(f"cannot read stack {stack!r}: {exc}") from exc
    outputs = {output["OutputKey"]: output["OutputValue"] for output in described.get("Outputs", [])}
    found = {field: outputs[name] for name, field in STACK_OUTPUTS.items() if name in outputs}
    if not found:
        raise click.ClickException(f"stack {stack!r} has none of the outputs {', '.join(STACK_OUTPUTS)}")
    return found


def target_options(*resources: str) -> Callable:
    """Connection options, plus `--<resource>` overrides (e.g. "keys_table" → --keys-table).

    The decorated command receives `target: Target` instead of the raw options."""

    def decorate(command: Callable) -> Callable:
        @click.option(
            "--stack", envvar="INGEST_STACK", help="CloudFormation stack (e.g. IngestApi-dev): names from its outputs."
        )
        @click.option(
            "--endpoint-url",
            envvar="AWS_ENDPOINT_URL",
            help="AWS endpoint, e.g. `make serve`'s emulator http://127.0.0.1:4566 (default: AWS itself).",
        )
        @click.option("--region", help="AWS region (default: from the environment or profile).")
        @click.option("--profile", help="AWS profile (default: from the environment).")
        @functools.wraps(command)
        def run(*args, stack, endpoint_url, region, profile, **kwargs):
            names = {resource: kwargs.pop(resource) for resource in resources}
            target = resolve_target(stack, endpoint_url, region, profile, **names)
            return command(*args, target=target, **kwargs)

        for resource in reversed(resources):
            flag = "--" + resource.replace("_", "-")
            run = click.option(
                flag, resource, help=f"{resource.replace('_', ' ').capitalize()} name (wins over --stack)."
            )(run)
        return run

    return decorate
