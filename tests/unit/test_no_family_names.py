"""No generic module names a family or a vendor.

What a generic module needs to know about a family it reads from the family's spec
(`ingest.spec.FamilySpec`), so it can neither dispatch on one nor keep a table of them. The import
contract (tests/unit/test_import_contract.py) keeps the imports honest; this keeps the names honest.

What is scanned: every core module (ingest/*.py outside ingest/families/, infra/*.py, cli/*.py,
local/*.py), its code only: identifiers (names, attributes, definitions, arguments, keywords, imports)
and string literals (f-string text included).

A hit: a word of a token that is a registered family's name (ingest.registry) or a vendor's name,
compared case-insensitively. Tokens split into words at anything not a letter or digit (`_`, `-`,
`/`, `:`, ...) and at camelCase humps, and adjacent humps also count joined (`DataHub`, `DoiT`), so
`DATAHUB_LIMIT`, `"datahub_events"`, `"/v1/logs"`, `"logs:<dataset>"` and `"DataHub provider"` are hits.

Allowed, and why:

* docstrings and comments: prose may name an example family ("e.g. the ops family's problem
  windows"); dispatching on a family or tabling families takes code, and code is what is scanned;
* ingest/registry.py: its one line per family is where family names belong;
* names that belong to another package: what an `import` of a non-project module binds (its own
  name, or an alias that only drops words of it), the attributes read through it, and the keywords
  passed to what it is called with (`from aws_cdk import aws_logs as logs`, `logs.LogGroup`,
  `click.UsageError`, `s3.Bucket(server_access_logs_bucket=...)`): those words are AWS's or
  click's, not a family's;
* in infra/ only, the word `logs` where it is AWS's (CloudWatch Logs, the API's and the bucket's
  access logs): preceded within its token by `access`, `execution` or `watch` (`self.access_logs`,
  `"ExecutionLogs"`, `"...CloudWatchLogs"`), and the construct id `"Logs"` of every function's log
  group (infra/lambda_platform.py), which cannot be renamed without replacing every log group.
  A bare `"logs"` in infra is still a hit.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from ingest import registry
from tests.conftest import ROOT

RUNTIME = Path("layers") / "runtime" / "python"

VENDORS = frozenset({"dashdive", "doit", "baselime", "dynatrace"})
NAMES = frozenset(registry.FAMILIES) | VENDORS
PROJECT_PACKAGES = frozenset({"ingest", "infra", "cli", "local", "tests", "events", "bench", "functions"})
REGISTRY = Path(RUNTIME / "ingest" / "registry.py")
AWS_LOGS_BEFORE = frozenset({"access", "execution", "watch"})
AWS_LOG_GROUP_ID = (Path("infra/lambda_platform.py"), "Logs")


def core_modules() -> list[Path]:
    patterns = [RUNTIME / "ingest" / "*.py", Path("infra/*.py"), Path("cli/*.py"), Path("local/*.py")]
    return sorted(path.relative_to(ROOT) for pattern in patterns for path in ROOT.glob(str(pattern)))


def words(token: str) -> list[list[str]]:
    """The token's words, lower case: one list per run of letters and digits, split at camelCase humps."""
    return [[hump.lower() for hump in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+", run)]
            for run in re.findall(r"[A-Za-z0-9]+", token)]


def flat(token: str) -> set[str]:
    return {word for run in words(token) for word in run}


def named(token: str) -> set[str]:
    """Family or vendor names among the token's words (adjacent humps joined count too)."""
    found = set()
    for run in words(token):
        for start in range(len(run)):
            for end in range(start + 1, len(run) + 1):
                if "".join(run[start:end]) in NAMES:
                    found.add("".join(run[start:end]))
    return found


def aws_logs_word(path: Path, token: str) -> bool:
    """infra/ only: every `logs` in the token is AWS's (see the rules above)."""
    if path.parts[0] != "infra":
        return False
    if (path, token) == AWS_LOG_GROUP_ID:
        return True
    flat = [word for run in words(token) for word in run]
    at = [index for index, word in enumerate(flat) if word == "logs"]
    return bool(at) and all(index > 0 and flat[index - 1] in AWS_LOGS_BEFORE for index in at)


class TokenCollector(ast.NodeVisitor):
    """The identifiers and string literals of a module's code, with their lines; no docstrings."""

    def __init__(self) -> None:
        self.tokens: list[tuple[int, str]] = []
        self.external: set[str] = set()  # names bound by imports of other packages
        self.docstrings: set[int] = set()

    def scan(self, tree: ast.Module) -> list[tuple[int, str]]:
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
                first = node.body[0]
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                    if isinstance(first.value.value, str):
                        self.docstrings.add(id(first.value))
            elif isinstance(node, ast.Import | ast.ImportFrom):
                self._import(node)
        self.visit(tree)
        return self.tokens

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        module = node.module if isinstance(node, ast.ImportFrom) else None
        for alias in node.names:
            top = (module or alias.name).split(".")[0]
            if isinstance(node, ast.ImportFrom) and node.level:  # relative: this package's own
                top = "ingest"
            # An alias that only drops words of the name stays the other package's (`aws_logs as logs`);
            # one that brings words of its own is ours, and scanned (`import json as datahub`).
            if top not in PROJECT_PACKAGES and (alias.asname is None or flat(alias.asname) <= flat(alias.name)):
                self.external.add(alias.asname or alias.name.split(".")[0])

    def _add(self, node: ast.AST, token: str | None) -> None:
        if token:
            self.tokens.append((getattr(node, "lineno", 0), token))

    def _is_external(self, node: ast.AST) -> bool:
        while isinstance(node, ast.Attribute):
            node = node.value
        return isinstance(node, ast.Name) and node.id in self.external

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.split(".")[0] in PROJECT_PACKAGES:
                self._add(node, alias.name)
                self._add(node, alias.asname)
            elif alias.asname not in self.external:
                self._add(node, alias.asname)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        ours = node.level or (node.module or "").split(".")[0] in PROJECT_PACKAGES
        if ours:
            self._add(node, node.module)
        for alias in node.names:
            if ours:
                self._add(node, alias.name)
                self._add(node, alias.asname)
            elif alias.asname not in self.external:
                self._add(node, alias.asname)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id not in self.external:
            self._add(node, node.id)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if not self._is_external(node.value):
            self._add(node, node.attr)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if self._is_external(node.func):  # another package's parameters: visit the values only
            self.visit(node.func)
            for argument in [*node.args, *(keyword.value for keyword in node.keywords)]:
                self.visit(argument)
            return
        self.generic_visit(node)

    def visit_keyword(self, node: ast.keyword) -> None:
        self._add(node, node.arg)
        self.generic_visit(node)

    def visit_arg(self, node: ast.arg) -> None:
        self._add(node, node.arg)
        self.generic_visit(node)

    def _definition(self, node) -> None:
        self._add(node, node.name)
        self.generic_visit(node)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _definition

    def visit_Global(self, node: ast.Global) -> None:
        for name in node.names:
            self._add(node, name)

    visit_Nonlocal = visit_Global

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and id(node) not in self.docstrings:
            self._add(node, node.value)


def family_or_vendor_names(path: Path, root: Path = ROOT) -> list[str]:
    """`path:line: names in 'token'` for every disallowed hit of one module (`path` relative to `root`)."""
    if path == REGISTRY:
        return []
    tree = ast.parse((root / path).read_text(), str(path))
    hits = []
    for line, token in TokenCollector().scan(tree):
        found = named(token)
        if found == {"logs"} and aws_logs_word(path, token):
            continue
        if found:
            hits.append(f"{path}:{line}: {', '.join(sorted(found))} in {token[:100]!r}")
    return hits


def test_no_generic_module_names_a_family_or_a_vendor():
    modules = core_modules()
    assert len(modules) > 40 and REGISTRY in modules  # the globs found the tree
    hits = [hit for path in modules for hit in family_or_vendor_names(path)]
    assert hits == [], "a generic module names a family or a vendor (read it from its spec):\n" + "\n".join(hits)


def test_the_scan_finds_a_family_in_code_but_not_in_prose(tmp_path):
    # Given a module that tables families in code, and names one only in a docstring and a comment
    source = '''"""Prose may name the datahub family."""
import click
import json as usage_json
from aws_cdk import aws_logs as logs

LIMITS = {"datahub": 1}  # a comment may name the ops family
DataHubRetention = 3
def route(family_name):
    if family_name == "logs":
        raise click.UsageError("see /v1/logs")
    return logs.LogGroup(None, "ExecutionLogs")
'''
    module = tmp_path / "infra" / "sample.py"
    module.parent.mkdir()
    module.write_text(source)
    # Then the code's names are found (an alias of our own, the string key, the camelCase name, the
    # comparison and the path), and the docstring, the comment, click's and CloudWatch's names are not
    hits = family_or_vendor_names(Path("infra/sample.py"), root=tmp_path)
    assert [hit.split(": ", 1)[1] for hit in hits] == [
        "usage in 'usage_json'", "datahub in 'datahub'", "datahub in 'DataHubRetention'", "logs in 'logs'",
        "logs in 'see /v1/logs'",
    ]
