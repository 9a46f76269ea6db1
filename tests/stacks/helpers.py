"""Small readers for synthesized templates (plain dicts)."""

from __future__ import annotations


def resources(template: dict, type_: str) -> dict[str, dict]:
    return {lid: r for lid, r in template.get("Resources", {}).items() if r["Type"] == type_}


def props(template: dict, type_: str) -> list[dict]:
    return [r.get("Properties", {}) for r in resources(template, type_).values()]


def only(template: dict, type_: str) -> dict:
    found = props(template, type_)
    assert len(found) == 1, f"expected exactly one {type_}, found {len(found)}"
    return found[0]


def of_tier(template: dict, type_: str) -> dict:
    """The one ``type_`` of the app tier (its logical ID starts with ``Tier``): the app stack
    also holds the release's migration instance (``Migration...``) and its launch template."""
    found = [r.get("Properties", {}) for lid, r in resources(template, type_).items() if lid.startswith("Tier")]
    assert len(found) == 1, f"expected exactly one {type_} of the app tier, found {len(found)}"
    return found[0]
