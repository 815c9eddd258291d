"""Load the real handler modules from functions/<name>/handler.py, once each."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ROOT / "functions"


@cache
def load(endpoint_name: str, functions: Path = FUNCTIONS):
    """The route's `lambda_handler`; `functions`: another folder of handlers (e.g. a test's own)."""
    path = functions / endpoint_name / "handler.py"
    spec = importlib.util.spec_from_file_location(f"functions.{endpoint_name}.handler", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lambda_handler
