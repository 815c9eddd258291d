#!/usr/bin/env python3
"""CDK entry point: ``cdk synth -c env=prod`` (default env: dev). Configuration lives in cdk.json."""

from __future__ import annotations

import aws_cdk as cdk

from infra.application import build_app

app = cdk.App()
build_app(app)
app.synth()
