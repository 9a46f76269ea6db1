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
