"""The one Lambda platform every function and layer targets.

The dependency layer holds compiled wheels (pydantic-core, orjson) for exactly this runtime and
architecture, so they are declared once and checked against the layer build recipe.
"""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_

from infra.layer_build import PLATFORM, PYTHON_VERSION

RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64

# A runtime or architecture bump without the matching layer recipe would import-fail at cold start.
if RUNTIME.name != f"python{PYTHON_VERSION}" or ARCHITECTURE.name != "arm64" or "aarch64" not in PLATFORM:
    raise RuntimeError(f"layer recipe {PLATFORM}/{PYTHON_VERSION} != {ARCHITECTURE.name}/{RUNTIME.name}")
