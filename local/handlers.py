"""Load the real handler modules from functions/<name>/handler.py, once each."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ROOT / "functions"


@cache
def module(endpoint_name: str, functions: Path = FUNCTIONS) -> ModuleType:
    """functions/<endpoint_name>/handler.py, imported once; `functions`: another folder of handlers
    (e.g. a test's own)."""
    path = functions / endpoint_name / "handler.py"
    spec = importlib.util.spec_from_file_location(f"functions.{endpoint_name}.handler", path)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def load(endpoint_name: str, functions: Path = FUNCTIONS):
    """The route's Lambda entry point (`lambda_handler`)."""
    return module(endpoint_name, functions).lambda_handler


def pipeline(endpoint_name: str, functions: Path = FUNCTIONS):
    """The route's `Pipeline` (each route's handler module builds one at import): the local
    gateway answers its own errors (framing, methods) through it, in the route's dialect."""
    return module(endpoint_name, functions).pipeline
