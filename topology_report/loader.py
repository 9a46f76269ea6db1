"""Reading CloudFormation templates: single files (JSON or YAML, short-form tags
included), folders of templates, CDK cloud assemblies and snapshot folders.

Everything here turns bad input into a `ReportError` with a message that names the
file and the problem; nothing else in the package has to care about the file system.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml


from .stages import ReportError, Stack, Stage  # noqa: F401 - re-exported: the package's input types
from .terraform_input import folder_stages, read_file  # plan/state JSON: a second front door


TEMPLATE_SUFFIXES = (".template.json", ".json", ".yaml", ".yml", ".template")


# --- YAML with CloudFormation's short-form tags (!Ref, !GetAtt, !Sub, ...) -----------------


class _CfnYamlLoader(yaml.SafeLoader):
    """SafeLoader that turns `!Ref X` into {"Ref": "X"}, `!GetAtt A.B` into
    {"Fn::GetAtt": ["A", "B"]}, `!Sub ...` into {"Fn::Sub": ...} and so on, and keeps
    dates (AWSTemplateFormatVersion) as plain strings."""


def _construct_short_form(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    return {"Fn::" + tag_suffix: value}


_CfnYamlLoader.add_multi_constructor("!", _construct_short_form)
_CfnYamlLoader.add_constructor(
    "tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node)
)


def parse_template_text(text: str, path: str) -> dict:
    """Parse JSON or YAML text into a template dict, or raise ReportError."""
    stripped = text.lstrip()
    if not stripped:
        raise ReportError(f"{path}: the file is empty, not a CloudFormation template")
    try:
        data = _parse(text, stripped, path)
    except RecursionError:
        raise ReportError(f"{path}: nested too deeply to be a CloudFormation template") from None
    validate_template(data, path)
    return data


def _parse(text: str, stripped: str, path: str) -> object:
    if stripped.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ReportError(
                f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            ) from None
    else:
        try:
            data = yaml.load(text, Loader=_CfnYamlLoader)  # noqa: S506 (SafeLoader subclass)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ReportError(f"{path}: invalid YAML{where}: {problem}") from None
    return data


def validate_template(data: object, path: str) -> None:
    if not isinstance(data, dict):
        raise ReportError(
            f"{path}: not a CloudFormation template (the top level is a "
            f"{type(data).__name__}, expected a mapping with a Resources section)"
        )
    resources = data.get("Resources")
    if resources is None:
        raise ReportError(f"{path}: not a CloudFormation template (no Resources section)")
    if not isinstance(resources, dict):
        raise ReportError(f"{path}: Resources must be a mapping of logical IDs to resources")
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            raise ReportError(f"{path}: resource {logical_id!r} has no Type")
        props = resource.get("Properties", {})
        if props is not None and not isinstance(props, dict):
            raise ReportError(f"{path}: resource {logical_id!r}: Properties must be a mapping")
    for section in ("Outputs", "Parameters"):
        value = data.get(section)
        if value is not None and not isinstance(value, dict):
            raise ReportError(f"{path}: {section} must be a mapping")


def read_template(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ReportError(f"{path}: not a text file (expected a JSON or YAML template)") from None
    except OSError as exc:
        raise ReportError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_template_text(text, str(path))


def _stack_name_from_file(path: Path) -> str:
    name = path.name
    for suffix in TEMPLATE_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


# --- nested stacks -----------------------------------------------------------------------

NESTED_STACK = "AWS::CloudFormation::Stack"


def _local_child(stack: Stack, raw: dict) -> Path | None:
    """The file of a nested stack when it is on this machine: a relative TemplateURL (as
    `aws cloudformation package` takes it) or CDK's `aws:asset:path` metadata."""
    base = Path(stack.path).parent
    meta = raw.get("Metadata") if isinstance(raw.get("Metadata"), dict) else {}
    candidates = [meta.get("aws:asset:path")]
    url = (raw.get("Properties") or {}).get("TemplateURL") if isinstance(
        raw.get("Properties"), dict) else None
    if isinstance(url, str) and "://" not in url and not url.startswith("s3:"):
        candidates.append(url)
    for c in candidates:
        if isinstance(c, str) and c:
            path = (base / c).resolve()
            if path.is_file():
                return path
    return None


def expand_nested(stage: Stage, depth: int = 0) -> Stage:
    """Add the children of nested stacks (AWS::CloudFormation::Stack) that are local files
    as stacks of the stage, their parameters bound to the parent's values. A child that
    is not on this machine stays a resource the report says it could not analyse."""
    queue = list(stage.stacks)
    seen = {s.path for s in stage.stacks}
    by_path = {str(Path(s.path).resolve()): s for s in stage.stacks}
    while queue:
        stack = queue.pop(0)
        level = 0
        p = stack.parent
        while p is not None:
            level, p = level + 1, p.parent
        if level >= 5:
            continue
        for logical_id, raw in (stack.template.get("Resources") or {}).items():
            if not isinstance(raw, dict) or raw.get("Type") != NESTED_STACK:
                continue
            path = _local_child(stack, raw)
            props = raw.get("Properties") if isinstance(raw.get("Properties"), dict) else {}
            bound = props.get("Parameters") if isinstance(props.get("Parameters"), dict) else {}
            known = by_path.get(str(path)) if path is not None else None
            if known is not None and known.parent is None and known is not stack:
                # The child is also a template of the folder: it is that nested stack.
                known.parent, known.bound, known.logical_id = stack, dict(bound), logical_id
                continue
            if path is None or str(path) in seen:
                continue
            seen.add(str(path))
            child = Stack(name=f"{stack.name}/{logical_id}", template=read_template(path),
                          path=str(path), parent=stack, bound=dict(bound),
                          logical_id=logical_id)
            stage.stacks.append(child)
            queue.append(child)
    return stage


# --- cloud assemblies ----------------------------------------------------------------------


def _read_manifest(directory: Path) -> dict:
    manifest = directory / "manifest.json"
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ReportError(f"{manifest}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    except OSError as exc:
        raise ReportError(f"{manifest}: cannot read: {exc.strerror}") from None
    if not isinstance(data, dict) or not isinstance(data.get("artifacts", {}), dict):
        raise ReportError(f"{manifest}: not a cloud assembly manifest (no artifacts mapping)")
    return data


def _assembly_stacks(directory: Path, manifest: dict) -> list[Stack]:
    stacks = []
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        if not isinstance(artifact, dict) or artifact.get("type") != "aws:cloudformation:stack":
            continue
        props = artifact.get("properties") or {}
        template_file = props.get("templateFile")
        if not template_file:
            raise ReportError(f"{directory}/manifest.json: stack {artifact_id} has no templateFile")
        name = props.get("stackName") or artifact.get("displayName") or artifact_id
        path = directory / template_file
        stacks.append(Stack(name=name, template=read_template(path), path=str(path)))
    return stacks


def load_assembly(directory: Path) -> list[Stage]:
    """A CDK cloud assembly: each nested assembly (a CDK Stage) is a stage; stacks at the
    top level form a stage of their own named after the folder."""
    manifest = _read_manifest(directory)
    stages = []
    top = _assembly_stacks(directory, manifest)
    if top:
        name = directory.resolve().name.removeprefix("assembly-")
        stages.append(Stage(name=name, stacks=top, source=str(directory)))
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        if not isinstance(artifact, dict) or artifact.get("type") != "cdk:cloud-assembly":
            continue
        props = artifact.get("properties") or {}
        sub = directory / props.get("directoryName", artifact_id)
        name = (props.get("displayName") or artifact.get("displayName")
                or artifact_id.removeprefix("assembly-"))
        sub_manifest = _read_manifest(sub)
        stacks = _assembly_stacks(sub, sub_manifest)
        if stacks:
            stages.append(Stage(name=name, stacks=stacks, source=str(sub)))
    for stage in stages:
        expand_nested(stage)
    if not stages:
        raise ReportError(f"{directory}: the cloud assembly holds no CloudFormation stacks")
    return stages


# --- folders -------------------------------------------------------------------------------


def _template_files(directory: Path) -> list[Path]:
    files = []
    for entry in sorted(directory.iterdir()):
        if entry.is_file() and entry.name.endswith(TEMPLATE_SUFFIXES):
            if entry.name in ("manifest.json", "tree.json", "cdk.out") or entry.name.endswith(
                (".assets.json", ".metadata.json", ".context.json")
            ) or entry.name in ("cdk.json", "package.json", "package-lock.json"):
                continue
            files.append(entry)
    return files


def _folder_stage(directory: Path, name: str) -> Stage:
    stacks = [
        Stack(name=_stack_name_from_file(f), template=read_template(f), path=str(f))
        for f in _template_files(directory)
    ]
    return Stage(name=name, stacks=stacks, source=str(directory))


def load(path_text: str) -> list[Stage]:
    """Stages found at a path: a template file, a folder of templates, a folder of stage
    folders (tests/snapshots/), or a cloud assembly (cdk.out/)."""
    path = Path(path_text)
    if not path.exists():
        raise ReportError(f"{path_text}: no such file or folder")
    if path.is_file():
        stage = read_file(path)
        if stage is not None:
            return [stage]
        return [expand_nested(Stage(name=_stack_name_from_file(path), stacks=[Stack(
            name=_stack_name_from_file(path), template=read_template(path), path=str(path))],
            source=str(path)))]
    if (path / "manifest.json").is_file():
        return load_assembly(path)
    terraform = folder_stages(path)
    if terraform:
        return terraform
    stage = _folder_stage(path, path.resolve().name)
    if stage.stacks:
        return [expand_nested(stage)]
    stages = []
    for sub in sorted(p for p in path.iterdir() if p.is_dir()):
        if (sub / "manifest.json").is_file():
            stages.extend(load_assembly(sub))
            continue
        sub_stage = _folder_stage(sub, sub.name)
        if sub_stage.stacks:
            stages.append(expand_nested(sub_stage))
    if not stages:
        raise ReportError(
            f"{path_text}: no CloudFormation templates found (looked for *.json, *.yaml, "
            f"*.yml files, stage sub-folders and a cloud assembly manifest.json)"
        )
    return stages


def select_stages(stages: list[Stage], wanted: list[str] | None) -> list[Stage]:
    if not wanted:
        return stages
    by_name = {s.name: s for s in stages}
    missing = [w for w in wanted if w not in by_name]
    if missing:
        raise ReportError(
            f"no stage named {', '.join(missing)} (found: {', '.join(by_name) or 'none'})"
        )
    return [by_name[w] for w in wanted]

