"""Repository locations, absolute so synth and tests behave the same from any working directory."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CDK_JSON = REPO_ROOT / "cdk.json"
# One folder per catalog route, each holding the handler.py that `make handlers` writes. Read when the
# stack is built, so a test can synthesize from handlers it generated elsewhere.
FUNCTIONS_DIR = REPO_ROOT / "functions"

RUNTIME_LAYER_DIR = REPO_ROOT / "layers" / "runtime"
RUNTIME_PYTHON_DIR = RUNTIME_LAYER_DIR / "python"
DEPS_REQUIREMENTS = REPO_ROOT / "layers" / "deps" / "requirements.txt"
# The full dependency closure of DEPS_REQUIREMENTS, pinned with hashes (`make lock` writes it): what
# the layer is built from, with pip's --require-hashes.
DEPS_LOCK = REPO_ROOT / "layers" / "deps" / "requirements.lock.txt"
# Built artifacts (git-ignored): each asset root holds python/ as Lambda layers expect.
BUILD_DIR = REPO_ROOT / "build"
DEPS_LAYER_DIR = BUILD_DIR / "layers" / "deps"
