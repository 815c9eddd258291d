"""The layers are enforced, not hoped for: the import contract (pyproject.toml `[tool.importlinter]`,
which `make test` runs as `lint-imports` before pytest) holds on the real tree, and each of its four
contracts really breaks on a module that violates it (written into a temporary copy of the packages:
the copy is what gets analysed, never the tree). tests/unit/test_no_family_names.py is its companion.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from ingest import registry
from tests.conftest import ROOT

RUNTIME = Path("layers") / "runtime" / "python"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
CONTRACTS = {
    "families-above-core": "Families import the core, never the reverse",
    "families-independent": "Families are independent of each other",
    "pipeline-entry-points": "Only entry points import the pipeline",
    "boto-in-data-access": "boto3 and botocore only in the data-access modules",
}


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """`lint-imports` over the packages under `root`, as `make test` runs it (and nothing else on the path)."""
    env = {**os.environ, "PYTHONPATH": f"{root / RUNTIME}{os.pathsep}{root}"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )


def broken_sections(output: str) -> dict[str, str]:
    """Contract name -> what the linter printed under it in its "Broken contracts" part."""
    _, _, broken = output.partition("Broken contracts")
    sections: dict[str, str] = {}
    names = [name for name in CONTRACTS.values() if re.search(rf"^{re.escape(name)}\n-+$", broken, re.M)]
    starts = sorted((broken.index(f"{name}\n-"), name) for name in names)
    for (start, name), following in zip(starts, [*starts[1:], (len(broken), None)]):
        sections[name] = broken[start:following[0]]
    return sections


def test_the_import_contract_holds_on_the_tree():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in CONTRACTS.values():
        assert re.search(rf"^{re.escape(name)} KEPT", result.stdout, re.M), result.stdout
    assert "Contracts: 4 kept, 0 broken." in result.stdout


def test_every_contract_breaks_on_a_module_that_violates_it(tmp_path):
    # Given a copy of the three root packages and the contract...
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / RUNTIME / "ingest", tmp_path / RUNTIME / "ingest", ignore=ignore)
    for package in ("cli", "local"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    # ...and in the copy only, one module per contract that breaks it
    family = sorted(registry.FAMILIES)[0]
    other = sorted(registry.FAMILIES)[1]
    leaks = {  # contract -> (the leak's path, its source, its module name)
        # (a) a core module imports a family
        "families-above-core": (
            "ingest/contract_leak_core.py", f"import ingest.families.{family}\n", "ingest.contract_leak_core"
        ),
        # (b) one family imports another
        "families-independent": (
            f"ingest/families/{family}/contract_leak_sibling.py", f"from ingest.families import {other}\n",
            f"ingest.families.{family}.contract_leak_sibling",
        ),
        # (c) a module that is no entry point imports the pipeline
        "pipeline-entry-points": (
            f"ingest/families/{other}/contract_leak_pipeline.py", "from ingest.pipeline import Pipeline\n",
            f"ingest.families.{other}.contract_leak_pipeline",
        ),
        # (d) boto3 outside the data-access modules
        "boto-in-data-access": ("cli/contract_leak_boto.py", "import boto3\n", "cli.contract_leak_boto"),
    }
    for path, source, _ in leaks.values():
        target = tmp_path / RUNTIME / path if path.startswith("ingest/") else tmp_path / path
        target.write_text(source)

    # When the linter runs over the copy
    result = lint_imports(tmp_path)

    # Then every contract is broken, each naming its leak: a module that exists only in the copy,
    # which proves the copy (not the tree) was analysed
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Contracts: 0 kept, 4 broken." in result.stdout, result.stdout
    sections = broken_sections(result.stdout)
    for contract_id, (_, _, module) in leaks.items():
        assert module in sections[CONTRACTS[contract_id]], (contract_id, result.stdout)
