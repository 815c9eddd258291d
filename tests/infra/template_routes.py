"""Routes of a synthesized template, for comparing the deployed API with the catalog.

Reusable outside tests/infra (e.g. a template ↔ catalog ↔ local-server test): it needs only the
template as a dict, no CDK.
"""

from __future__ import annotations

from typing import Any

ROOT = "/"


def template_routes(template_json: dict[str, Any]) -> set[tuple[str, str]]:
    """``{(HTTP_METHOD, "/full/{path}")}`` for every ``AWS::ApiGateway::Method`` in the template.

    Resource paths are rebuilt from ``AWS::ApiGateway::Resource`` ``PathPart``/``ParentId``
    chains; a parent that is not a Resource (``Fn::GetAtt [RestApi, RootResourceId]``) is the root.
    Works for a template with a single RestApi.
    """
    resources = template_json.get("Resources", {})
    parts = {
        logical_id: (resource["Properties"]["PathPart"], _ref(resource["Properties"]["ParentId"]))
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::ApiGateway::Resource"
    }
    return {
        (resource["Properties"]["HttpMethod"], _path_of(_ref(resource["Properties"]["ResourceId"]), parts))
        for resource in resources.values()
        if resource["Type"] == "AWS::ApiGateway::Method"
    }


def _ref(value: Any) -> str | None:
    """Logical ID of a ``{"Ref": id}``; None for anything else (the root resource's GetAtt)."""
    return value.get("Ref") if isinstance(value, dict) else None


def _path_of(logical_id: str | None, parts: dict[str, tuple[str, str | None]]) -> str:
    segments: list[str] = []
    seen: set[str] = set()
    while logical_id in parts:
        if logical_id in seen:  # a malformed template must not hang the test run
            raise ValueError(f"cycle in API resource parents at {logical_id}")
        seen.add(logical_id)
        path_part, logical_id = parts[logical_id]
        segments.append(path_part)
    return ROOT + "/".join(reversed(segments))
