"""All resources of a stage's stacks in one place, with the references between them
resolved: Ref, Fn::GetAtt, Fn::Sub, Fn::ImportValue of another stack's export and
Fn::GetStackOutput of another stack's output."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .loader import Stack, Stage

PSEUDO = {"AWS::Region", "AWS::AccountId", "AWS::Partition", "AWS::URLSuffix",
          "AWS::StackName", "AWS::StackId", "AWS::NoValue", "AWS::NotificationARNs"}
_SUB_VAR = re.compile(r"\$\{([^!}][^}]*)\}")


@dataclass
class Resource:
    stack: Stack
    logical_id: str
    type: str
    props: dict
    metadata: dict
    raw: dict

    @property
    def key(self) -> str:
        return f"{self.stack.name}/{self.logical_id}"

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Resource) and other.key == self.key


class Model:
    def __init__(self, stage: Stage):
        self.stage = stage
        self.resources: list[Resource] = []
        self._by_stack: dict[str, dict[str, Resource]] = {}
        self._exports: dict[str, tuple[Stack, object]] = {}
        self._prop_refs: dict[str, list[Resource]] = {}
        for stack in stage.stacks:
            table = self._by_stack.setdefault(stack.name, {})
            for logical_id, raw in (stack.template.get("Resources") or {}).items():
                props, meta = raw.get("Properties"), raw.get("Metadata")
                res = Resource(stack, logical_id, raw["Type"],
                               props if isinstance(props, dict) else {},
                               meta if isinstance(meta, dict) else {}, raw)
                table[logical_id] = res
                self.resources.append(res)
        self._stacks_by_name = {s.name: s for s in stage.stacks}
        for stack in stage.stacks:
            for output in (stack.template.get("Outputs") or {}).values():
                if not isinstance(output, dict):
                    continue
                export = output.get("Export")
                if isinstance(export, dict):
                    name = self.literal(stack, export.get("Name"))
                    if isinstance(name, str):
                        self._exports[name] = (stack, output.get("Value"))

    # --- lookups ---------------------------------------------------------------------------

    def of_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources if r.type in types]

    def get(self, stack: Stack, logical_id: str) -> Resource | None:
        return self._by_stack.get(stack.name, {}).get(logical_id)

    def display(self, res: Resource) -> str:
        """The logical ID, with the stack's name when the stage has several stacks."""
        if len(self.stage.stacks) > 1:
            return f"{res.logical_id} ({res.stack.name})"
        return res.logical_id

    # --- values ----------------------------------------------------------------------------

    def literal(self, stack: Stack, value: object, depth: int = 0) -> object:
        """The literal value of a property when the template fixes it: numbers, strings,
        booleans, parameter defaults, simple Fn::Join / Fn::Sub of those. None otherwise."""
        if depth > 20:
            return None
        if isinstance(value, (str, int, float, bool)):
            return value
        if isinstance(value, list):
            return [self.literal(stack, v, depth + 1) for v in value]
        if not isinstance(value, dict) or len(value) != 1:
            return None
        (fn, arg), = value.items()
        if fn == "Ref" and isinstance(arg, str):
            if arg == "AWS::StackName":
                return stack.name
            param = (stack.template.get("Parameters") or {}).get(arg)
            if isinstance(param, dict) and "Default" in param:
                return param["Default"]
            return None
        if fn == "Fn::Join" and isinstance(arg, list) and len(arg) == 2:
            parts = self.literal(stack, arg[1], depth + 1)
            if isinstance(parts, list) and all(isinstance(p, (str, int)) for p in parts):
                return str(arg[0]).join(str(p) for p in parts)
            return None
        if fn == "Fn::Sub":
            text = arg if isinstance(arg, str) else (arg[0] if isinstance(arg, list) else None)
            if not isinstance(text, str):
                return None
            missing = False

            def repl(m: re.Match) -> str:
                nonlocal missing
                v = self.literal(stack, {"Ref": m.group(1)}, depth + 1)
                if v is None:
                    missing = True
                    return ""
                return str(v)

            out = _SUB_VAR.sub(repl, text)
            return None if missing else out
        if fn in ("Fn::ImportValue", "Fn::GetStackOutput"):
            target = (self.export(stack, arg) if fn == "Fn::ImportValue"
                      else self.stack_output(stack, arg))
            if target is not None:
                return self.literal(target[0], target[1], depth + 1)
        return None

    def number(self, stack: Stack, value: object) -> int | None:
        v = self.literal(stack, value)
        if isinstance(v, bool):
            return None
        if isinstance(v, (int, float)):
            return int(v)
        if isinstance(v, str):
            try:
                return int(v.strip())
            except ValueError:
                return None
        return None

    def boolean(self, stack: Stack, value: object) -> bool | None:
        v = self.literal(stack, value)
        if isinstance(v, bool):
            return v
        if isinstance(v, str) and v.lower() in ("true", "false"):
            return v.lower() == "true"
        return None

    def stack_output(self, stack: Stack, arg: object) -> tuple[Stack, object] | None:
        """Fn::GetStackOutput {StackName, OutputName[, Region]}: another stack's output."""
        if not isinstance(arg, dict):
            return None
        name = self.literal(stack, arg.get("StackName"))
        output = self.literal(stack, arg.get("OutputName"))
        target = self._stacks_by_name.get(name) if isinstance(name, str) else None
        if target is None or not isinstance(output, str):
            return None
        value = (target.template.get("Outputs") or {}).get(output)
        return (target, value.get("Value")) if isinstance(value, dict) else None

    def export(self, stack: Stack, name_value: object) -> tuple[Stack, object] | None:
        name = self.literal(stack, name_value)
        return self._exports.get(name) if isinstance(name, str) else None

    # --- references ------------------------------------------------------------------------

    def refs(self, stack: Stack, value: object, depth: int = 0) -> list[Resource]:
        """Every resource that `value` refers to, through Ref, GetAtt, Sub and
        ImportValue, in order of appearance, without duplicates."""
        found: list[Resource] = []
        self._walk(stack, value, found, depth)
        unique: list[Resource] = []
        for r in found:
            if r not in unique:
                unique.append(r)
        return unique

    def _walk(self, stack: Stack, value: object, found: list[Resource], depth: int) -> None:
        if depth > 40:
            return
        if isinstance(value, list):
            for v in value:
                self._walk(stack, v, found, depth + 1)
            return
        if not isinstance(value, dict):
            return
        if len(value) == 1:
            (fn, arg), = value.items()
            if fn == "Ref" and isinstance(arg, str):
                r = self.get(stack, arg)
                if r:
                    found.append(r)
                return
            if fn == "Fn::GetAtt":
                name = arg[0] if isinstance(arg, list) and arg else (
                    arg.split(".")[0] if isinstance(arg, str) else None)
                r = self.get(stack, name) if isinstance(name, str) else None
                if r:
                    found.append(r)
                return
            if fn in ("Fn::ImportValue", "Fn::GetStackOutput"):
                target = (self.export(stack, arg) if fn == "Fn::ImportValue"
                          else self.stack_output(stack, arg))
                if target is not None:
                    self._walk(target[0], target[1], found, depth + 1)
                return
            if fn == "Fn::Sub":
                text = arg if isinstance(arg, str) else (arg[0] if isinstance(arg, list) else "")
                for m in _SUB_VAR.finditer(text if isinstance(text, str) else ""):
                    r = self.get(stack, m.group(1).split(".")[0])
                    if r:
                        found.append(r)
                if isinstance(arg, list) and len(arg) > 1:
                    self._walk(stack, arg[1], found, depth + 1)
                return
        for v in value.values():
            self._walk(stack, v, found, depth + 1)

    def ref_one(self, res: Resource, prop: str, *types: str) -> Resource | None:
        for r in self.refs(res.stack, res.props.get(prop)):
            if not types or r.type in types:
                return r
        return None

    def referrers(self, target: Resource, *types: str) -> list[Resource]:
        """Resources (of the given types) whose properties refer to `target`."""
        out = []
        for r in self.resources:
            if types and r.type not in types:
                continue
            if r.key not in self._prop_refs:
                self._prop_refs[r.key] = self.refs(r.stack, r.props)
            if target in self._prop_refs[r.key]:
                out.append(r)
        return out
