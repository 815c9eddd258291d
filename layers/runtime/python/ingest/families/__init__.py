"""One package per family (`ingest.families.<family>`), each exporting its `SPEC` (`ingest.spec.FamilySpec`).

`ingest.registry` names them; no core module imports one (the import contract in pyproject.toml).
docs/adding-a-family.md walks through adding one.
"""
