"""The Terraform front door: which files are Terraform JSON (`terraform show -json` of a plan
or a state, or a raw state file), and the stage each one becomes (terraform.py reads the
plan, terraform_types.py translates its resources into their CloudFormation equivalents)."""

from __future__ import annotations

import json
from pathlib import Path

from .stages import ReportError, Stack, Stage
from .terraform import Plan
from .terraform_types import translate

_SUFFIXES = (".plan.json", ".tfplan.json", ".tfstate.json", ".state.json", ".json",
             ".tfstate")


# --- detection -----------------------------------------------------------------------------


def kind_of(data: object) -> str | None:
    """"plan", "state" (both from `terraform show -json`), "raw-state" (a .tfstate file), or
    None when the data is not Terraform JSON."""
    if not isinstance(data, dict) or "Resources" in data:
        return None
    if "format_version" in data and any(k in data for k in (
            "planned_values", "resource_changes", "prior_state", "configuration")):
        return "plan"
    if "format_version" in data:  # a state (`values` is left out when it holds nothing)
        return "state"
    if isinstance(data.get("version"), int) and "terraform_version" in data and \
            isinstance(data.get("resources", []), list):
        return "raw-state"
    return None


def _sniff(text: str) -> bool:
    head = text[:4096]
    return '"format_version"' in head or '"terraform_version"' in head


def stage_name(path: Path) -> str:
    name = path.name
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return path.stem


def _read_json(path: Path) -> tuple[dict | None, bool]:
    """The Terraform JSON of a file (None when the file is not Terraform JSON), and whether
    it came wrapped in hashicorp/setup-terraform's wrapper output."""
    if path.suffix not in (".json", ".tfstate", ".txt"):
        return None, False
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return None, False  # the template reader says what is wrong with it
    wrapped = text.lstrip().startswith("[command]")
    if wrapped:
        # hashicorp/setup-terraform's wrapper (terraform_wrapper: true, its default) writes
        # the command line before the JSON and ::set-output lines after it
        text = next((line for line in text.splitlines() if line.startswith("{")), "")
    if not text.lstrip().startswith("{") or not _sniff(text):
        return None, False
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: "
                          f"{exc.msg}") from None
    return (data, wrapped) if kind_of(data) is not None else (None, False)


def read_file(path: Path) -> Stage | None:
    """The stage of a Terraform JSON file, or None when the file is not one (a
    CloudFormation template, say)."""
    data, wrapped = _read_json(path)
    return None if data is None else _file_stage(path, data, wrapped)


def _file_stage(path: Path, data: dict, wrapped: bool) -> Stage:
    stage = build_stage(data, kind_of(data), stage_name(path), str(path))
    if wrapped:
        stage.notes.insert(1, "the file is the output of hashicorp/setup-terraform's wrapper "
                              "(its command line and ::set-output lines around the JSON): "
                              "the JSON was taken from it (terraform_wrapper: false writes "
                              "the JSON alone)")
    return stage


def prior_and_planned(path: Path) -> tuple[Stage, Stage]:
    """A Terraform plan's two sides: the state it was planned against (its ``prior_state``)
    and its planned values, as two stages of the same name: what `diff PLAN` compares."""
    if not path.exists():
        raise ReportError(f"{path}: no such file or folder")
    data, wrapped = _read_json(path) if path.is_file() else (None, False)
    if data is None or kind_of(data) != "plan":
        raise ReportError(f"diff with one input reads a Terraform plan's prior_state as BEFORE: "
                          f"{path} is not the JSON of a Terraform plan (terraform show -json "
                          f"PLANFILE); give BEFORE and AFTER")
    stage = _file_stage(path, data, wrapped)
    prior = data.get("prior_state")
    if not isinstance(prior, dict) or kind_of(prior) != "state":
        raise ReportError(f"{path}: the plan has no prior_state (it was planned without a "
                          f"state, so everything in it is new): give BEFORE and AFTER")
    before = build_stage(prior, "state", stage.name, f"{path} (its prior_state)",
                         what="the state the plan was made against (its prior_state): the "
                              "resources before the change")
    return before, stage


def folder_stages(directory: Path) -> list[Stage]:
    """A stage for each Terraform JSON file directly in the folder (none: an empty list).
    A folder that mixes them with CloudFormation templates is refused."""
    stages, others = [], []
    for entry in sorted(directory.iterdir()):
        if not entry.is_file() or entry.suffix not in (".json", ".tfstate", ".yaml", ".yml",
                                                        ".template"):
            continue
        stage = read_file(entry)
        if stage is not None:
            stages.append(stage)
        elif entry.suffix in (".yaml", ".yml", ".template") or entry.name.endswith(
                ".template.json"):
            others.append(entry.name)
    if stages and others:
        raise ReportError(f"{directory}: holds both Terraform JSON ({stages[0].source}) and "
                          f"CloudFormation templates ({others[0]}): give them separately")
    return stages


def _format_version(data: dict, kind: str, source: str) -> str:
    if kind == "raw-state":
        return f"state file version {data.get('version')}"
    version = str(data.get("format_version") or "")
    major = version.split(".", 1)[0]
    if major not in ("0", "1"):
        raise ReportError(f"{source}: Terraform JSON of format_version {version!r}: this "
                          f"reader knows 0.x and 1.x")
    return f"format_version {version}"


def build_stage(data: dict, kind: str, name: str, source: str, what: str | None = None) -> Stage:
    """The stage of Terraform JSON of ``kind``; ``what`` says what was read (by default,
    from the kind)."""
    described = _format_version(data, kind, source)
    plan = Plan(data, kind, source)
    template, notes = translate(plan)
    tf_version = data.get("terraform_version")
    what = what or {"plan": "a Terraform plan (`terraform show -json` of a plan file): the planned "
                    "values, after the change",
            "state": "a Terraform state (`terraform show -json`): the resources as deployed",
            "raw-state": "a Terraform state file: the resources as deployed"}[kind]
    header = (f"read as {what}; {described}"
              + (f", Terraform {tf_version}" if tf_version else "")
              + f"; {len(template['Resources'])} resource(s) read as their CloudFormation "
                f"equivalents, named by Terraform address")
    if kind == "plan":
        header += _actions_text(plan)
        if data.get("errored") is True:
            notes.append("the plan errored: the planned values may be incomplete")
        elif data.get("complete") is False:
            notes.append("the plan is not complete (deferred changes or -target): resources "
                         "may be missing")
    stack = Stack(name=name, template=template, path=source)
    return Stage(name=name, stacks=[stack], source=source, notes=[header, *notes],
                 input={"kind": f"terraform-{kind}", "format": described,
                        "terraform_version": tf_version})


def _actions_text(plan: Plan) -> str:
    counts: dict[str, int] = {}
    for rc in plan.changes.values():
        if rc.get("mode", "managed") != "managed":
            continue
        actions = (rc.get("change") or {}).get("actions") or []
        kind = ("replace" if "delete" in actions and "create" in actions else
                actions[0] if len(actions) == 1 else "/".join(actions))
        counts[kind] = counts.get(kind, 0) + 1
    if not counts:
        return ""
    order = ["create", "update", "replace", "delete", "no-op", "read"]
    parts = [f"{counts[k]} to {k}" for k in order if counts.get(k)] + [
        f"{v} {k}" for k, v in counts.items() if k not in order]
    return "; its changes: " + ", ".join(parts)
