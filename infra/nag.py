"""cdk-nag (v3) wiring: the AwsSolutions pack runs as a CDK policy-validation plugin.

cdk-nag 3 no longer uses Aspects and ``NagSuppressions``: the pack is registered with
``Validations.of(app).add_plugins`` and findings are acknowledged with
``Validations.of(construct).acknowledge`` — one rule (or one ``Rule[finding]``) per call, always
with a reason. Synthesis fails if any unacknowledged finding remains.
"""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def apply_aws_solutions_checks(app: cdk.App) -> None:
    # Writing acknowledgments into each resource's Metadata (``cdk_nag.rules_to_suppress``) keeps
    # the reasons next to the resource in the template: reviewable in a diff and testable.
    cdk.Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True)
    )


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on ``construct`` (and its children) with a specific reason."""
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))
