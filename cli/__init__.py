"""Operator command line for Ingest API: `python -m cli --help` (from the repository root).

Not part of the Lambda layer. It imports the runtime package (`ingest`) from the layer folder, as
the CDK app does, so it runs from a plain checkout with the dev venv and no PYTHONPATH.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RUNTIME_PYTHON_DIR = REPO_ROOT / "layers" / "runtime" / "python"

if str(RUNTIME_PYTHON_DIR) not in sys.path:
    sys.path.insert(0, str(RUNTIME_PYTHON_DIR))
