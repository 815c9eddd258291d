"""Synthesize the stack in-process exactly as ``app.py`` does (same cdk.json context, same
cdk-nag plugin) into a temporary cloud assembly, keeping what the tests inspect."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Template

from infra.application import build_app
from infra.config import load_cdk_json_context
from infra.paths import REPO_ROOT
from infra.stack import IngestApiStack

__all__ = ["REPO_ROOT", "Synthesized", "synthesize"]


@dataclass(frozen=True)
class Synthesized:
    stack: IngestApiStack
    outdir: Path
    template_json: dict
    template: Template
    # Policy validation (cdk-nag, CloudFormation Validate) raises at the end of synth, after the
    # templates are written; captured so that a finding fails one test, not every test.
    validation_error: str | None
    # Nested stacks' templates (e.g. "Monitoring": alarms, dashboard, topic), by construct id.
    nested: dict[str, dict] = field(default_factory=dict)

    @property
    def validation_report(self) -> dict:
        report = self.outdir / "validation-report.json"
        return json.loads(report.read_text()) if report.exists() else {"pluginReports": []}


# What the CDK CLI passes by default: construct paths and asset paths in resource Metadata.
CLI_CONTEXT = {"aws:cdk:enable-path-metadata": True, "aws:cdk:enable-asset-metadata": True}


def synthesize(env_name: str, outdir: Path, overrides: dict[str, Any] | None = None) -> Synthesized:
    """``overrides``: top-level keys replaced in the environment's cdk.json config (optional features)."""
    context = {**copy.deepcopy(load_cdk_json_context()), **CLI_CONTEXT, "env": env_name}
    context["environments"][env_name].update(copy.deepcopy(overrides or {}))
    app = cdk.App(context=context, outdir=str(outdir))
    stack = build_app(app)
    validation_error = None
    try:
        app.synth()
    except RuntimeError as exc:  # jsii surfaces the JS ValidationError as RuntimeError
        validation_error = str(exc)
    template_json = json.loads((outdir / stack.template_file).read_text())
    nested = {
        construct.node.id: json.loads((outdir / construct.template_file).read_text())
        for construct in stack.node.find_all()
        if isinstance(construct, cdk.NestedStack)
    }
    return Synthesized(stack, outdir, template_json, Template.from_json(template_json), validation_error, nested)
