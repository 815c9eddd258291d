"""The families this service serves: one line per family package, by module path.

The catalog imports a package only when its routes are asked for, so a Lambda loads its own
family and no other (`ingest.catalog.route`). Adding a family is its package (which exports one
`SPEC`, an `ingest.spec.FamilySpec`) and one line here; docs/adding-a-family.md walks through it.
Names are plain strings on purpose: no core module imports a family.
"""

from __future__ import annotations

FAMILIES: dict[str, str] = {
    "datahub": "ingest.families.datahub",
    "usage": "ingest.families.usage",
    "logs": "ingest.families.logs",
    "ops": "ingest.families.ops",
}
