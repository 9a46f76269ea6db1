"""What a change does to each resource of a stack, read offline from two templates.

``classify(before=..., after=...)`` sorts every resource of one stack into added,
removed, modified in place, replaced or "may be replaced", with the property paths
that cause it. The rules, in the spirit of `cdk diff`:

* a changed property that the resource type's CloudFormation schema lists in
  ``createOnlyProperties`` replaces the resource (the provider schemas ship with
  cfn-lint, read offline; us-east-1's);
* a changed logical ID is a replacement when the removed and the added resource have
  the same type and the same construct path (``aws:cdk:path``), e.g. an instance whose
  ID carries its user data's hash; otherwise they are a deletion and an addition;
* cascades: a property that ``Ref``s a replaced resource gets a new value (a new
  physical ID), so it replaces its resource if it is create-only and modifies it
  otherwise; one that reads an attribute (``Fn::GetAtt``, ``${X.Attr}``) of a replaced
  resource, or a version attribute (``LatestVersionNumber``...) of one updated in
  place, *may* change (iterated to a fixed point);
* a changed property whose update CloudFormation calls "Conditional" (an EC2
  instance's InstanceType, UserData; an RDS instance's DBParameterGroupName...) "may
  be replaced", read from the service spec the pinned CDK CLI ships, exactly as
  `cdk diff` says it; the CLI spec's "always replaces" properties count as create-only;
* a create-only property whose old or new value is an intrinsic that cannot be
  compared here (``Fn::ImportValue``, ``Fn::GetStackOutput``, ``Fn::If``...) "may be
  replaced".

Not visible offline: a value resolved at deploy time that the template does not
show changing (the app's AMI comes from a public SSM parameter: a new Amazon Linux
release replaces the starter instance with an identical template).

CLI::

    python -m checks.changes BEFORE.template.json AFTER.template.json
    python -m checks.changes BEFORE_DIR AFTER_DIR   # snapshots dir vs a cloud assembly

The folder mode matches stacks by stage and name (as ``checks.snapshots``), masks
asset hashes on both sides, prints every replacement and deletion first, flagged
(``!! REPLACE stage/stack LogicalId (Type): because Prop.Path changed``), stateful
ones marked ``STATEFUL``, then the rest. Exit 1 when a stateful resource would be
replaced or deleted, else 0 (a stateful "MAY REPLACE" is flagged, not an error).
"""

from __future__ import annotations

import gzip
import json
import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Literal

ROOT_DIR = Path(__file__).resolve().parent.parent
Kind = Literal["added", "removed", "modified", "may-replace", "replaced"]
PathT = tuple[str | int, ...]

STATEFUL_TYPES = frozenset(
    {
        "AWS::RDS::DBInstance",
        "AWS::RDS::DBCluster",
        "AWS::SecretsManager::Secret",
        "AWS::S3::Bucket",
        "AWS::KMS::Key",
        "AWS::DynamoDB::Table",
        "AWS::EFS::FileSystem",
        "AWS::SQS::Queue",
    }
)
"""Types whose replacement or deletion loses data: flagged STATEFUL, exit code 1."""
LOG_TYPES = frozenset({"AWS::Logs::LogGroup"})
"""Not stateful for this purpose (a deploy does not depend on them) but worth a word: "logs"."""

# Resource attributes other than Properties whose change is an in-place update
# of the stack (no replacement by itself).
_ATTRIBUTES = ("DependsOn", "Metadata", "CreationPolicy", "UpdatePolicy", "DeletionPolicy", "UpdateReplacePolicy", "Condition")
# Attributes that change when their resource is updated in place (a new version).
_VERSION_ATTRIBUTES = frozenset({"LatestVersionNumber", "DefaultVersionNumber", "Version", "VersionId"})
_SUB_REF = re.compile(r"\$\{([^}!][^}]*)\}")


# --- schemas -----------------------------------------------------------------------


def _schemas_dir() -> Path:
    import cfnlint  # the package only; its data files are plain JSON

    return Path(cfnlint.__file__).resolve().parent / "data" / "schemas"


@lru_cache(maxsize=1)
def _provider_index() -> dict[str, str]:
    return json.loads((_schemas_dir() / "providers" / "us-east-1.json").read_text())


@lru_cache(maxsize=None)
def create_only_paths(resource_type: str) -> tuple[PathT, ...]:
    """The schema's createOnlyProperties of a type as paths under Properties
    (``"*"`` matches any list index), plus the properties the pinned CDK CLI's spec
    says always replace; empty for custom resources and unknown types."""
    paths: list[PathT] = []
    digest = _provider_index().get(resource_type)
    if digest is not None:
        schema = json.loads((_schemas_dir() / "resources" / f"{digest}.json").read_text())
        for pointer in schema.get("createOnlyProperties", []):
            paths.append(tuple(pointer.split("/")[2:]))  # "/properties/A/B" -> ("A", "B")
    paths += [(name,) for name in _cli_spec().get(resource_type, {}).get("yes", ()) if (name,) not in paths]
    return tuple(paths)


@lru_cache(maxsize=None)
def conditional_paths(resource_type: str) -> tuple[PathT, ...]:
    """Properties whose update *may* replace the resource (CloudFormation's
    "Conditional" update type, e.g. an EC2 instance's InstanceType or UserData), as the
    pinned CDK CLI's spec has them: `cdk diff` says "may be replaced" for them."""
    return tuple((name,) for name in _cli_spec().get(resource_type, {}).get("maybe", ()))


CLI_SPEC = ROOT_DIR / "node_modules" / "aws-cdk" / "db.json.gz"


@lru_cache(maxsize=1)
def _cli_spec() -> dict[str, dict[str, tuple[str, ...]]]:
    """{type: {"yes"|"maybe": property names}}: replacement data of the service spec the
    pinned CDK CLI ships (the source of `cdk diff`'s "requires replacement" / "may be
    replaced"). Empty when the CLI is not installed: then only the schemas count."""
    if not CLI_SPEC.exists():
        return {}
    with gzip.open(CLI_SPEC) as fh:
        entities = json.load(fh)["schema"]["resource"]["entities"]
    spec: dict[str, dict[str, tuple[str, ...]]] = {}
    for entity in entities:
        props = entity.get("properties", {})
        spec[entity["cloudFormationType"]] = {
            level: tuple(sorted(n for n, p in props.items() if p.get("causesReplacement") == level)) for level in ("yes", "maybe")
        }
    return spec


# --- template values ------------------------------------------------------------------


def _is_intrinsic(value: Any) -> bool:
    if not (isinstance(value, dict) and len(value) == 1):
        return False
    key = next(iter(value))
    return key in ("Ref", "Condition") or key.startswith("Fn::")


def _changed_paths(before: Any, after: Any, prefix: PathT = ()) -> Iterator[PathT]:
    """Paths where two values differ; an intrinsic is one leaf."""
    if before == after:
        return
    if isinstance(before, dict) and isinstance(after, dict) and not _is_intrinsic(before) and not _is_intrinsic(after):
        for key in sorted(set(before) | set(after)):
            yield from _changed_paths(before.get(key), after.get(key), (*prefix, key))
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for index, (b, a) in enumerate(zip(before, after)):
            yield from _changed_paths(b, a, (*prefix, index))
    else:
        yield prefix


def _references(value: Any, prefix: PathT = ()) -> Iterator[tuple[PathT, str, str | None]]:
    """(path, logical ID, attribute or None for Ref) of every reference in a value."""
    if isinstance(value, dict):
        if len(value) == 1 and "Ref" in value and isinstance(value["Ref"], str):
            yield prefix, value["Ref"], None
            return
        if len(value) == 1 and "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            if isinstance(target, str):
                target = target.split(".", 1)
            if isinstance(target, list) and target and isinstance(target[0], str):
                yield prefix, target[0], str(target[1]) if len(target) > 1 else ""
                return
        if len(value) == 1 and "Fn::Sub" in value:
            template = value["Fn::Sub"][0] if isinstance(value["Fn::Sub"], list) else value["Fn::Sub"]
            if isinstance(template, str):
                for name in _SUB_REF.findall(template):
                    logical_id, _, attribute = name.partition(".")
                    yield prefix, logical_id, attribute or None
        for key, item in value.items():
            yield from _references(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _references(item, (*prefix, index))


def _uncomparable(value: Any) -> bool:
    """Does the value hold an intrinsic whose deployed value this offline diff cannot know?"""
    if isinstance(value, dict):
        if _is_intrinsic(value) and next(iter(value)) not in ("Ref", "Fn::GetAtt", "Fn::Join", "Fn::Sub"):
            return True
        return any(_uncomparable(v) for v in value.values())
    if isinstance(value, list):
        return any(_uncomparable(v) for v in value)
    return False


def _matches(path: PathT, create_only: PathT) -> bool:
    """Does a change at ``path`` (under Properties) touch the create-only property?
    Either one lies inside the other; ``"*"`` matches a list index."""
    for a, b in zip(path, create_only):
        if b != "*" and str(a) != str(b):
            return False
    return True


def _get(value: Any, path: PathT) -> Any:
    for key in path:
        if isinstance(value, dict):
            value = value.get(key)
        elif isinstance(value, list) and isinstance(key, int) and key < len(value):
            value = value[key]
        else:
            return None
    return value


def dotted(path: PathT) -> str:
    return ".".join(str(p) for p in path)


# --- classification ---------------------------------------------------------------------


@dataclass
class ResourceChange:
    logical_id: str
    type: str
    kind: Kind
    changed: list[str] = field(default_factory=list)
    """Dotted paths (``Properties.X.Y``, ``Metadata...``) whose template value changed."""
    reasons: list[str] = field(default_factory=list)
    """Why it is replaced / may be replaced / modified by a cascade."""
    new_logical_id: str | None = None
    """For a replacement by a changed logical ID: the new one."""
    deletion_policy: str | None = None

    @property
    def stateful(self) -> bool:
        return self.type in STATEFUL_TYPES

    @property
    def logs(self) -> bool:
        return self.type in LOG_TYPES

    @property
    def destructive(self) -> bool:
        """Replaced or deleted: a new physical resource, or none."""
        return self.kind in ("replaced", "removed")


_RANK: dict[str, int] = {"modified": 0, "may-replace": 1, "replaced": 2}


def _cdk_path(resource: dict) -> str | None:
    return (resource.get("Metadata") or {}).get("aws:cdk:path")


def classify(*, before: dict, after: dict) -> dict[str, ResourceChange]:
    """Every resource that changes between two templates of one stack, by logical ID
    (the old ID for a replacement by a changed logical ID). Unchanged ones are absent."""
    old = before.get("Resources", {}) or {}
    new = after.get("Resources", {}) or {}
    result: dict[str, ResourceChange] = {}

    removed = [lid for lid in old if lid not in new]
    added = [lid for lid in new if lid not in old]
    renamed: dict[str, str] = {}  # new ID -> old ID
    by_path = {(_cdk_path(new[lid]), new[lid]["Type"]): lid for lid in added if _cdk_path(new[lid])}
    for lid in removed:
        key = (_cdk_path(old[lid]), old[lid]["Type"])
        if key[0] and key in by_path:
            renamed[by_path.pop(key)] = lid
    for lid in removed:
        if lid not in renamed.values():
            result[lid] = ResourceChange(lid, old[lid]["Type"], "removed", deletion_policy=old[lid].get("DeletionPolicy"))
    for lid in added:
        if lid not in renamed:
            result[lid] = ResourceChange(lid, new[lid]["Type"], "added")

    # Pairs present on both sides: (old ID, new ID).
    pairs = [(lid, lid) for lid in old if lid in new] + [(o, n) for n, o in renamed.items()]
    for old_id, new_id in pairs:
        b, a = old[old_id], new[new_id]
        changed = [("Properties", *p) for p in _changed_paths(b.get("Properties", {}), a.get("Properties", {}))]
        for attribute in _ATTRIBUTES:
            changed += [(attribute, *p) for p in _changed_paths(b.get(attribute), a.get(attribute))]
        change = ResourceChange(old_id, a["Type"], "modified", changed=[dotted(p) for p in changed])
        if b["Type"] != a["Type"]:
            change.kind = "replaced"
            change.reasons.append(f"Type changed from {b['Type']}")
        if old_id != new_id:
            change.kind = "replaced"
            change.new_logical_id = new_id
            change.reasons.append(f"logical ID changed to {new_id}")
        for path in changed:
            if path[0] != "Properties":
                continue
            prop_path = path[1:]
            for create_only in create_only_paths(a["Type"]):
                if not _matches(prop_path, create_only):
                    continue
                b_value = _get(b.get("Properties", {}), prop_path)
                a_value = _get(a.get("Properties", {}), prop_path)
                if _uncomparable(b_value) or _uncomparable(a_value):
                    _raise(change, "may-replace", f"{dotted(prop_path)} changed (create-only; an intrinsic this diff cannot resolve)")
                else:
                    _raise(change, "replaced", f"{dotted(prop_path)} changed")
                break
            else:
                if any(_matches(prop_path, c) for c in conditional_paths(a["Type"])):
                    _raise(change, "may-replace", f"{dotted(prop_path)} changed (may cause replacement)")
        if changed or change.kind != "modified":
            result[old_id] = change

    # Cascades, to a fixed point, over the *new* template's IDs: a Ref of a replaced
    # (or added) resource is a new value; an attribute of a replaced resource may be;
    # of a resource updated in place, only a version-like attribute changes.
    new_of = {o: n for o, n in pairs}
    while True:
        replaced_new = {new_of.get(lid, lid) for lid, c in result.items() if c.kind == "replaced"}
        replaced_new |= {lid for lid, c in result.items() if c.kind == "added"}
        modified_new = {new_of.get(lid, lid) for lid, c in result.items() if c.kind in ("may-replace", "modified")}
        grew = False
        for old_id, new_id in pairs:
            a = new[new_id]
            create_only = create_only_paths(a["Type"])
            for ref_path, target, attribute in _references(a.get("Properties", {})):
                if target == new_id:
                    continue
                if target in replaced_new:
                    definite = attribute is None
                elif target in modified_new and attribute in _VERSION_ATTRIBUTES:
                    definite = False
                else:
                    continue
                what = f"{target}.{attribute}" if attribute else target
                new_or_replaced = "new" if target not in new_of.values() else "replaced"
                reason = f"{dotted(ref_path)} references {new_or_replaced} {what}" if definite else f"{dotted(ref_path)} reads {what} (may change)"
                level: Kind = "modified"
                if any(_matches(ref_path, c) for c in create_only):
                    level = "replaced" if definite else "may-replace"
                    reason += ", create-only"
                elif any(_matches(ref_path, c) for c in conditional_paths(a["Type"])):
                    level = "may-replace"
                    reason += ", may cause replacement"
                change = result.get(old_id)
                if change is None:
                    change = result[old_id] = ResourceChange(old_id, a["Type"], "modified")
                    change.new_logical_id = new_id if new_id != old_id else None
                if reason not in change.reasons:
                    grew = True
                    _raise(change, level, reason)
        if not grew:
            return dict(sorted(result.items()))


def _raise(change: ResourceChange, level: Kind, reason: str) -> None:
    """Record why, and raise the change to ``level`` if that is worse."""
    if reason not in change.reasons:
        change.reasons.append(reason)
    if _RANK.get(level, 0) > _RANK.get(change.kind, 0):
        change.kind = level


# --- folders of templates -------------------------------------------------------------------


def _templates(folder: Path) -> dict[str, dict[str, Path]]:
    """{stage: {stack name: template}} of a cloud assembly or a snapshots folder."""
    if (folder / "manifest.json").exists():
        from checks.assembly import stage_templates

        return stage_templates(folder)
    return {
        stage_dir.name: {p.name.removesuffix(".template.json"): p for p in sorted(stage_dir.glob("*.template.json"))}
        for stage_dir in sorted(folder.iterdir())
        if stage_dir.is_dir() and any(stage_dir.glob("*.template.json"))
    }


def _load_masked(path: Path) -> dict:
    from checks.snapshots import masked

    return json.loads(masked(path))


@dataclass
class StackChanges:
    stage: str
    stack: str
    changes: dict[str, ResourceChange]
    note: str | None = None  # "new stack" / "stack removed"


def compare_folders(*, before: Path, after: Path, stage: str | None = None) -> list[StackChanges]:
    """Every stack of ``before`` and ``after`` (masked templates), matched by stage and name."""
    old, new = _templates(before), _templates(after)
    result = []
    for stage_name in sorted(set(old) | set(new)):
        if stage and stage_name != stage:
            continue
        stacks_old, stacks_new = old.get(stage_name, {}), new.get(stage_name, {})
        for stack in sorted(set(stacks_old) | set(stacks_new)):
            b = _load_masked(stacks_old[stack]) if stack in stacks_old else {}
            a = _load_masked(stacks_new[stack]) if stack in stacks_new else {}
            note = "new stack" if stack not in stacks_old else "stack removed" if stack not in stacks_new else None
            result.append(StackChanges(stage_name, stack, classify(before=b, after=a), note))
    return result


def _flag(change: ResourceChange) -> str:
    return " STATEFUL" if change.stateful else " (logs)" if change.logs else ""


def report_lines(*, stacks: list[StackChanges]) -> tuple[list[str], bool]:
    """The reviewer's summary, replacements and deletions first; and whether a stateful
    resource would be replaced or deleted."""
    flagged, rest = [], []
    stateful_hit = False
    for sc in stacks:
        where = f"{sc.stage}/{sc.stack.removeprefix(sc.stage + '-')}"
        if sc.note:
            rest.append(f"   {sc.note}: {where}")
        for c in sc.changes.values():
            label = f"{where} {c.logical_id} ({c.type})"
            if c.kind in ("replaced", "may-replace"):
                verb = "REPLACE" if c.kind == "replaced" else "MAY REPLACE"
                more = f" (+{len(c.reasons) - 3} more)" if len(c.reasons) > 3 else ""
                flagged.append(f"!! {verb}{_flag(c)} {label}: because {'; '.join(c.reasons[:3])}{more}")
            elif c.kind == "removed":
                policy = f" (DeletionPolicy {c.deletion_policy}: the resource is kept, out of the stack)" if c.deletion_policy in ("Retain", "RetainExceptOnCreate", "Snapshot") else ""
                flagged.append(f"!! DELETE{_flag(c)} {label}{policy}")
            elif c.kind == "added":
                rest.append(f"   add    {label}")
            else:
                what = ", ".join(c.changed[:6]) + (" ..." if len(c.changed) > 6 else "")
                if not what:
                    what = "; ".join(c.reasons)
                rest.append(f"   modify {label}: {what}")
            stateful_hit |= c.stateful and c.destructive
    return flagged + rest, stateful_hit


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3) or argv[0].startswith("-"):
        print("usage: python -m checks.changes BEFORE.json AFTER.json\n"
              "       python -m checks.changes BEFORE_DIR AFTER_DIR [stage]", file=sys.stderr)
        return 2
    before, after = Path(argv[0]), Path(argv[1])
    if before.is_dir() and after.is_dir():
        stacks = compare_folders(before=before, after=after, stage=argv[2] if len(argv) == 3 else None)
        header = (
            f"Replacements and deletions first: {before} -> {after}" + (f", stage {argv[2]}" if len(argv) == 3 else "")
            + "\n   (asset hashes masked on both sides: a code or static file change shows only where it changes a logical ID)"
        )
    else:
        # A masked snapshot against a raw template: mask both, or every hash is a change.
        both_masked = "<asset-hash>" in before.read_text() + after.read_text()
        load = _load_masked if both_masked else (lambda path: json.loads(path.read_text()))
        name = after.name.removesuffix(".json").removesuffix(".template")
        stacks = [StackChanges("-", name, classify(before=load(before), after=load(after)))]
        header = f"Replacements and deletions first ({before} -> {after})"
    lines, stateful_hit = report_lines(stacks=stacks)
    print(f"== {header}")
    if not lines:
        print("   no resource changes")
    for line in lines:
        print(line)
    if stateful_hit:
        print("!! a STATEFUL resource would be replaced or deleted: data at risk")
    return 1 if stateful_hit else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
