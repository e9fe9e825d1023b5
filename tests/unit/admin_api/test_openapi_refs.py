"""Every ``$ref`` of the admin OpenAPI document points at a schema the document holds."""

from __future__ import annotations

from typing import Any

from admin_api.openapi import document


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(item) for item in node))
    return set()


def test_every_reference_resolves() -> None:
    """Nested request models (a tariff's blocks, a meter's key data) are in the components.

    Each ``#/components/<kind>/<name>`` reference names an entry of that kind.
    """
    spec = document()
    refs = _refs(spec)
    assert len(refs) > 10  # the document does use references
    missing = sorted(
        ref
        for ref in refs
        if ref.split("/")[-1] not in spec["components"].get(ref.split("/")[-2], {})
    )
    assert missing == []
