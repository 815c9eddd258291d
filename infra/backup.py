"""AWS Backup of both tables (cdk.json ``backup``; off: point-in-time recovery only).

Point-in-time recovery (on for both tables, ``infra.storage``) restores any second of the last 35
days; AWS Backup adds scheduled recovery points kept as long as cdk.json says, in a vault the
stack owns, optionally copied to a vault in another account or region (``copy_to_vault_arn``) so
a lost account or region still leaves a copy. docs/operations.md has the restore runbook.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_backup as backup
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from constructs import Construct

from infra.config import BackupConfig, EnvConfig
from infra.nag import acknowledge

BACKUP_POLICY = "service-role/AWSBackupServiceRolePolicyForBackup"

_SCHEDULES = {
    "daily": events.Schedule.cron(hour="3", minute="0"),
    "weekly": events.Schedule.cron(week_day="SUN", hour="3", minute="0"),
    "monthly": events.Schedule.cron(day="1", hour="3", minute="0"),
}


class TableBackups(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvConfig,
        settings: BackupConfig,
        tables: list[dynamodb.ITable],
    ) -> None:
        super().__init__(scope, construct_id)
        self.vault = backup.BackupVault(
            self,
            "Vault",
            backup_vault_name=f"ingest-api-{config.name}",
            # A vault holding recovery points cannot be deleted; keep it whatever the stack does.
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        copy_actions = None
        if settings.copy_to_vault_arn:
            copy_actions = [
                backup.BackupPlanCopyActionProps(
                    destination_backup_vault=backup.BackupVault.from_backup_vault_arn(
                        self, "CopyVault", settings.copy_to_vault_arn
                    ),
                    delete_after=cdk.Duration.days(settings.delete_after_days),
                    move_to_cold_storage_after=_days(settings.move_to_cold_storage_after_days),
                )
            ]
        self.plan = backup.BackupPlan(
            self, "Plan", backup_plan_name=f"ingest-api-{config.name}", backup_vault=self.vault
        )
        self.plan.add_rule(
            backup.BackupPlanRule(
                rule_name=f"{settings.schedule}-tables",
                schedule_expression=_SCHEDULES[settings.schedule],
                delete_after=cdk.Duration.days(settings.delete_after_days),
                move_to_cold_storage_after=_days(settings.move_to_cold_storage_after_days),
                copy_actions=copy_actions,
            )
        )
        self.selection = self.plan.add_selection(
            "Tables",
            # Exactly these tables, by ARN (a restored table the stack points at included).
            resources=[backup.BackupResource.from_dynamo_db_table(table) for table in tables],
        )
        acknowledge(
            self.selection.node.find_child("Role"),
            f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{BACKUP_POLICY}]",
            "AWS Backup's documented managed policy for taking backups; the role is assumable only "
            "by backup.amazonaws.com and the selection names exactly the two tables.",
        )


def _days(days: int | None) -> cdk.Duration | None:
    return cdk.Duration.days(days) if days is not None else None
