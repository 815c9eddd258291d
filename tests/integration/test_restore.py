"""The restore runbook (docs/operations.md, "Restore") against a real moto server: steps 1-2 restore
the events table from a backup into a new table and give it its TTL; step 3 points the service at
it (the stack sets INGEST_EVENTS_TABLE from cdk.json ``existing_tables``, asserted on the template
in tests/infra/test_operations.py); then what was stored before the loss is served again, and a
resend stores nothing twice."""

from __future__ import annotations

import json
import uuid

from ingest import catalog, layout, schema
from ingest.pipeline import Pipeline
from tests.conftest import partition_items
from tests.integration.keys_support import credential, handle


def datahub(key: str) -> dict:
    return {**credential(catalog.get("datahub_events"), key), "Content-Type": "application/json"}


def test_a_table_restored_from_a_backup_serves_what_was_lost(settings, store, new_key, http_event):
    ingest, remove, read = (Pipeline(catalog.get(name), settings) for name in
                            ("datahub_events", "delete_datahub_events", "read_datahub_event"))
    key, tenant = new_key()
    provider = f"Restore{uuid.uuid4().hex[:6]}"
    events = [{"provider": provider, "id": f"e{n}", "time": "2024-03-10T23:00:00Z"} for n in range(3)]
    body = json.dumps({"events": events}).encode()
    assert handle(ingest, http_event("datahub_events", body, datahub(key)))["statusCode"] == 201
    read_path = f"/datahub/v1/events/e1?provider={provider}"

    # A backup is taken (AWS Backup / on-demand), then the data is lost
    dynamodb = store.dynamodb
    backup_arn = dynamodb.create_backup(TableName=settings.events_table, BackupName=f"runbook-{uuid.uuid4().hex[:8]}")[
        "BackupDetails"]["BackupArn"]
    lost = json.dumps({"dataset": provider, "eventIds": ["e0", "e1", "e2"]}).encode()
    assert json.loads(handle(remove, http_event("delete_datahub_events", lost, datahub(key)))["body"])["deleted"] == 3
    assert handle(read, http_event("read_datahub_event", b"", datahub(key), path=read_path))["statusCode"] == 404

    # Step 1: restore into a new table; step 2: give it the TTL a restore does not copy
    restored = f"ingest-events-restored-{uuid.uuid4().hex[:8]}"
    dynamodb.restore_table_from_backup(TargetTableName=restored, BackupArn=backup_arn)
    assert schema.EVENTS.ttl_attribute == layout.EXPIRES_AT == "expires_at"  # the attribute the runbook names
    dynamodb.update_time_to_live(
        TableName=restored, TimeToLiveSpecification={"Enabled": True, "AttributeName": schema.EVENTS.ttl_attribute}
    )
    table = dynamodb.describe_table(TableName=restored)["Table"]
    assert {index["IndexName"] for index in table.get("GlobalSecondaryIndexes", [])} == {
        index.name for index in schema.EVENTS.indexes
    }
    assert dynamodb.describe_time_to_live(TableName=restored)["TimeToLiveDescription"]["AttributeName"] == "expires_at"

    # Step 3: the service pointed at the restored table serves the lost events again
    pointed = settings.model_copy(update={"events_table": restored})
    read_restored = Pipeline(catalog.get("read_datahub_event"), pointed)
    answer = handle(read_restored, http_event("read_datahub_event", b"", datahub(key), path=read_path))
    assert answer["statusCode"] == 200, answer["body"]
    assert json.loads(answer["body"])["event"]["id"] == "e1"
    stored = partition_items(dynamodb, f"{tenant}#datahub#{provider}", restored)
    assert sorted(item["sk"]["S"] for item in stored) == ["e0", "e1", "e2"]

    # A client resending the same events after the switch stores nothing twice
    resend = Pipeline(catalog.get("datahub_events"), pointed)
    assert handle(resend, http_event("datahub_events", body, datahub(key)))["statusCode"] == 201
    again = partition_items(dynamodb, f"{tenant}#datahub#{provider}", restored)
    assert sorted(item["sk"]["S"] for item in again) == ["e0", "e1", "e2"]
    # The live table was never written by the restore
    assert partition_items(dynamodb, f"{tenant}#datahub#{provider}", settings.events_table) == []
