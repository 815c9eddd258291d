"""Handler folders are made from the catalog (`make handlers`), and a test fails when they disagree."""

from __future__ import annotations

import shutil

from ingest import catalog
from local import scaffold


def test_every_handler_folder_is_the_catalogs_and_every_route_has_one():
    assert scaffold.disagreements() == []


def test_a_missing_a_changed_and_a_stray_folder_are_each_named(tmp_path):
    functions = tmp_path / "functions"
    shutil.copytree(scaffold.FUNCTIONS, functions)
    # Given one route's folder removed, another's handler edited by hand, and a folder with no route
    gone, edited = catalog.ENDPOINTS[0].name, catalog.ENDPOINTS[1].name
    shutil.rmtree(functions / gone)
    (functions / edited / "handler.py").write_text("def lambda_handler(event, context):\n    return {}\n")
    (functions / "no_such_route").mkdir()
    # Then each disagreement is named
    problems = scaffold.disagreements(functions)
    assert len(problems) == 3
    assert any(problem.startswith(f"{gone}: no ") for problem in problems)
    assert any(problem.startswith(f"{edited}: ") and "not the catalog's handler" in problem for problem in problems)
    assert any(problem.startswith("no_such_route: ") for problem in problems)
    # And `make handlers` writes the missing one back as the catalog's
    assert scaffold.write_missing(functions) == [functions / gone / "handler.py"]
    assert (functions / gone / "handler.py").read_text() == scaffold.handler_source(catalog.get(gone))


def test_each_handler_builds_its_own_routes_pipeline():
    for endpoint in catalog.ENDPOINTS:
        source = scaffold.handler_source(endpoint)
        assert f"Pipeline.of({endpoint.family!r}, {endpoint.name!r})" in source
        compile(source, endpoint.name, "exec")
