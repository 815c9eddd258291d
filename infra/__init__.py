"""CDK app for Ingest API: one construct per file, composed by ``infra.stack.IngestApiStack``.

The runtime package (``ingest``) lives inside the runtime layer folder rather than being installed
into the CDK venv, so it is put on ``sys.path`` here: the stack reads the endpoint catalog, the
table specs and the settings contract from the very code the Lambdas run.
"""

from __future__ import annotations

import sys

from infra.paths import RUNTIME_PYTHON_DIR

if str(RUNTIME_PYTHON_DIR) not in sys.path:
    sys.path.insert(0, str(RUNTIME_PYTHON_DIR))
