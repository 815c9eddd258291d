"""`python -m cli keys ...` against moto: what it prints, what it stores, and that handlers agree."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest

from cli.keys import parse_duration
from ingest import catalog
from ingest.auth import hash_key
from ingest.schema import KEYS, create_table_kwargs
from tests.integration.keys_support import credential

DATAHUB = catalog.get("datahub_events")


def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


def post(invoke, http_event, key: str) -> int:
    body = json.dumps({"events": [{"provider": "cli", "time": "2024-03-10T23:00:00Z"}]}).encode()
    return invoke(DATAHUB.name, http_event(DATAHUB.name, body, credential(DATAHUB, key)))[0]


def test_create_prints_the_key_once_stores_only_its_hash_and_the_key_works(cli, store, invoke, http_event):
    owner = tenant()
    result = cli(
        "keys",
        "create",
        "--tenant",
        owner,
        "--scope",
        "datahub",
        "--scope",
        "logs:app-*",
        "--name",
        "ci",
        "--rate-limit",
        "120",
        "--json",
    )
    created = json.loads(result.output)
    key = created.pop("key")
    assert created["prefix"] == key[:8] and "key_hash" not in created
    assert (created["tenant"], created["name"], created["scopes"], created["rate_limit"], created["status"]) == (
        owner,
        "ci",
        ["datahub", "logs:app-*"],
        120,
        "active",
    )
    stored = store.get_key(key[:8])
    assert stored["key_hash"] == hash_key(key) and key not in json.dumps(stored)
    assert post(invoke, http_event, key) == 201

    human = cli("keys", "create", "--tenant", owner, "--scope", "*").output
    [shown] = [line.strip() for line in human.splitlines() if line.startswith("    ")]
    assert "shown only this once" in human and "1000 requests/minute" in human and "never" in human
    assert post(invoke, http_event, shown) == 201


def test_list_shows_every_key_of_a_tenant_without_secrets(cli):
    owner = tenant()
    keys = [
        json.loads(cli("keys", "create", "--tenant", owner, "--scope", "ops", "--json").output)["key"] for _ in range(2)
    ]
    listed = json.loads(cli("keys", "list", "--tenant", owner, "--json").output)
    assert sorted(record["prefix"] for record in listed) == sorted(key[:8] for key in keys)
    assert all("key_hash" not in record and record["status"] == "active" for record in listed)
    table = cli("keys", "list", "--tenant", owner).output
    assert table.splitlines()[0].split() == [
        "PREFIX",
        "TENANT",
        "NAME",
        "SCOPES",
        "LIMIT/MIN",
        "CREATED",
        "EXPIRES",
        "STATUS",
    ]
    assert all(key[:8] in table and key[9:] not in table for key in keys)
    assert cli("keys", "list", "--tenant", tenant()).output.strip() == "No keys."


def test_revoke_stops_the_key_on_its_next_request(cli, invoke, http_event):
    key = json.loads(cli("keys", "create", "--tenant", tenant(), "--scope", "datahub", "--json").output)["key"]
    assert post(invoke, http_event, key) == 201
    revoked = json.loads(cli("keys", "revoke", key[:8], "--json").output)
    assert revoked["status"] == "revoked" and revoked["newly_revoked"] is True
    assert post(invoke, http_event, key) == 401
    assert "Already revoked" in cli("keys", "revoke", key[:8]).output


def test_rotate_gives_a_new_key_and_keeps_the_old_one_for_the_overlap(cli, invoke, http_event):
    old = json.loads(cli("keys", "create", "--tenant", tenant(), "--scope", "datahub", "--json").output)["key"]
    rotated = json.loads(cli("keys", "rotate", old[:8], "--overlap", "2h", "--json").output)
    new = rotated["key"]
    assert rotated["old"]["prefix"] == old[:8] and rotated["old"]["expires_at"] and rotated["rotated_from"] == old[:8]
    assert post(invoke, http_event, old) == 201 and post(invoke, http_event, new) == 201
    # A second rotation of the new key with no overlap retires it at once.
    newest = json.loads(cli("keys", "rotate", new[:8], "--overlap", "0", "--json").output)["key"]
    assert post(invoke, http_event, new) == 401 and post(invoke, http_event, newest) == 201
    human = cli("keys", "rotate", newest[:8]).output
    assert "keeps working until" in human


def test_update_changes_the_rate_limit(cli, store):
    key = json.loads(cli("keys", "create", "--tenant", tenant(), "--scope", "datahub", "--json").output)["key"]
    assert json.loads(cli("keys", "update", key[:8], "--rate-limit", "7", "--json").output)["rate_limit"] == 7
    assert store.get_key(key[:8])["rate_limit"] == 7


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["keys", "create", "--tenant", "Bad Tenant", "--scope", "datahub"], "tenant"),
        (["keys", "create", "--tenant", "acme", "--scope", "billing"], "unknown family"),
        (["keys", "create", "--tenant", "acme"], "--scope"),
        (["keys", "create", "--tenant", "acme", "--scope", "datahub", "--rate-limit", "0"], "rate-limit"),
        (["keys", "revoke", "NOPE"], "8 letters or digits"),
        (["keys", "revoke", "ABCDEFGH.SGVsbG8gd29ybGQgZnJvbSBEYXNoZGl2ZSEgKGJhc2U2NCk="], "never the whole key"),
        (["keys", "rotate", "ABCDEFGH", "--overlap", "soon"], "duration"),
        (["keys", "update", "ABCDEFGH"], "nothing to change"),
    ],
)
def test_bad_input_is_a_clean_error(cli, args, message):
    result = cli(*args, expect=1 if args[1] == "update" else 2)
    assert message in result.output and "Traceback" not in result.output
    assert "SGVsbG8gd29ybGQ" not in result.output  # a pasted key is never echoed


def test_unknown_prefix_is_an_error(cli):
    for command in (["revoke", "ZZZZ9999"], ["rotate", "ZZZZ9999"], ["update", "ZZZZ9999", "--name", "x"]):
        assert "no key with prefix ZZZZ9999" in cli("keys", *command, expect=1).output


def test_a_revoked_key_cannot_be_rotated(cli):
    key = json.loads(cli("keys", "create", "--tenant", tenant(), "--scope", "datahub", "--json").output)["key"]
    cli("keys", "revoke", key[:8])
    assert "is revoked" in cli("keys", "rotate", key[:8], expect=1).output


def test_stack_option_reads_the_keys_table_from_the_stack_outputs(cli, aws_endpoint):
    """A deployed stack, as CloudFormation describes it (moto's CloudFormation and DynamoDB)."""
    stack, table = f"IngestApi-test-{uuid.uuid4().hex[:6]}", f"keys-{uuid.uuid4().hex[:8]}"
    kwargs = create_table_kwargs(KEYS, table)
    template = {
        "Resources": {
            "KeysTable": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    key: kwargs[key] for key in ("TableName", "KeySchema", "AttributeDefinitions", "BillingMode")
                },
            }
        },
        "Outputs": {"KeysTableName": {"Value": {"Ref": "KeysTable"}}},
    }
    boto3.client("cloudformation", endpoint_url=aws_endpoint).create_stack(
        StackName=stack, TemplateBody=json.dumps(template)
    )
    created = json.loads(cli("keys", "create", "--stack", stack, "--tenant", "acme", "--scope", "ops", "--json").output)
    item = boto3.client("dynamodb", endpoint_url=aws_endpoint).get_item(
        TableName=table, Key={"pk": {"S": created["prefix"]}}
    )
    assert item["Item"]["tenant"] == {"S": "acme"}
    listed = json.loads(cli("keys", "list", "--stack", stack, "--json").output)
    assert [record["prefix"] for record in listed] == [created["prefix"]]
    assert "cannot read stack" in cli("keys", "list", "--stack", "NoSuchStack", expect=1).output


def test_keys_table_option_wins(cli, aws_endpoint):
    table = f"keys-{uuid.uuid4().hex[:8]}"
    boto3.client("dynamodb", endpoint_url=aws_endpoint).create_table(**create_table_kwargs(KEYS, table))
    cli("keys", "create", "--keys-table", table, "--tenant", "acme", "--scope", "*")
    assert len(json.loads(cli("keys", "list", "--keys-table", table, "--json").output)) == 1


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0), ("90s", 90), ("30m", 1800), ("24h", 86400), ("7d", 604800), ("1d12h", 129600), ("2w", 1209600)],
)
def test_durations(text, seconds):
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "soon", "1x", "h", "1h 2m", "-1h"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)
