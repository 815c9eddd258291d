"""Load the real handler modules from functions/<name>/handler.py, once each."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@cache
def load(endpoint_name: str):
    path = ROOT / "functions" / endpoint_name / "handler.py"
    spec = importlib.util.spec_from_file_location(f"functions.{endpoint_name}.handler", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lambda_handler
