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


NO_VALUE = object()  # what Ref AWS::NoValue and a dropped Fn::If branch resolve to


class Model:
    def __init__(self, stage: Stage, parameters: dict[str, str] | None = None):
        self.stage = stage
        self.parameters = dict(parameters or {})  # --parameter KEY=VALUE overrides
        self.resources: list[Resource] = []
        # Resources left out because their own Condition is false, and those whose
        # Condition cannot be evaluated (kept, and reported as unknown).
        self.excluded: list[tuple[Stack, str, str]] = []
        self.conditional: dict[str, str] = {}  # resource key -> condition it depends on
        self._by_stack: dict[str, dict[str, Resource]] = {}
        self._exports: dict[str, tuple[Stack, object]] = {}
        self._prop_refs: dict[str, list[Resource]] = {}
        for stack in stage.stacks:
            table = self._by_stack.setdefault(stack.name, {})
            for logical_id, raw in (stack.template.get("Resources") or {}).items():
                cond = raw.get("Condition")
                if isinstance(cond, str):
                    value = self.condition(stack, cond)
                    if value is False:
                        self.excluded.append((stack, logical_id, cond))
                        continue
                props, meta = raw.get("Properties"), raw.get("Metadata")
                props = self.resolve_ifs(stack, props if isinstance(props, dict) else {})
                res = Resource(stack, logical_id, raw["Type"],
                               props if isinstance(props, dict) else {},
                               meta if isinstance(meta, dict) else {}, raw)
                if isinstance(cond, str) and value is None:
                    self.conditional[res.key] = cond
                table[logical_id] = res
                self.resources.append(res)
        self._stacks_by_name = {s.name: s for s in stage.stacks}
        self._children = {(s.parent.name, s.logical_id): s for s in stage.stacks if s.parent}
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

    # --- parameters and conditions ---------------------------------------------------------

    def parameter(self, stack: Stack, name: str) -> tuple[bool, object]:
        """(known, value) of a parameter: a nested stack's value from its parent, else a
        --parameter override, else its Default; list types split on commas."""
        params = stack.template.get("Parameters") or {}
        decl = params.get(name) if isinstance(params, dict) else None
        if not isinstance(decl, dict):
            return False, None
        if name in stack.bound:
            value = self.literal(stack.parent, stack.bound[name]) if stack.parent else None
            if value is None:
                return False, None
        elif not stack.parent and name in self.parameters:
            value = self.parameters[name]
        elif "Default" in decl:
            value = decl["Default"]
        else:
            return False, None
        ptype = str(decl.get("Type", ""))
        if isinstance(value, str) and (ptype.startswith("List<") or
                                       ptype == "CommaDelimitedList"):
            value = [v.strip() for v in value.split(",") if v.strip()]
        return True, value

    def condition(self, stack: Stack, name: str, depth: int = 0) -> bool | None:
        """A named condition's value, or None when it depends on something unknown."""
        conds = stack.template.get("Conditions") or {}
        expr = conds.get(name) if isinstance(conds, dict) else None
        return None if expr is None or depth > 20 else self._cond(stack, expr, depth + 1)

    def _cond(self, stack: Stack, expr: object, depth: int) -> bool | None:
        if isinstance(expr, bool):
            return expr
        if not isinstance(expr, dict) or len(expr) != 1 or depth > 20:
            return None
        (fn, arg), = expr.items()
        if fn == "Condition" and isinstance(arg, str):
            return self.condition(stack, arg, depth)
        if fn == "Fn::Equals" and isinstance(arg, list) and len(arg) == 2:
            a, b = (self.literal(stack, x) for x in arg)
            if a is None or b is None:
                return None
            return str(a).lower() == str(b).lower() if isinstance(a, bool) or isinstance(
                b, bool) else str(a) == str(b)
        if fn == "Fn::Not" and isinstance(arg, list) and len(arg) == 1:
            v = self._cond(stack, arg[0], depth + 1)
            return None if v is None else not v
        if fn in ("Fn::And", "Fn::Or") and isinstance(arg, list):
            values = [self._cond(stack, x, depth + 1) for x in arg]
            if fn == "Fn::And":
                return False if False in values else (None if None in values else True)
            return True if True in values else (None if None in values else False)
        return None

    def resolve_ifs(self, stack: Stack, value: object, depth: int = 0) -> object:
        """The value with every Fn::If whose condition is known replaced by its branch, and
        AWS::NoValue dropped; Fn::If on an unknown condition is kept as it is."""
        if depth > 60:
            return value
        if isinstance(value, list):
            out = [self.resolve_ifs(stack, v, depth + 1) for v in value]
            return [v for v in out if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (fn, arg), = value.items()
            if fn == "Ref" and arg == "AWS::NoValue":
                return NO_VALUE
            if fn == "Fn::If" and isinstance(arg, list) and len(arg) == 3 and \
                    isinstance(arg[0], str):
                chosen = self.condition(stack, arg[0])
                if chosen is not None:
                    return self.resolve_ifs(stack, arg[1] if chosen else arg[2], depth + 1)
        out = {k: self.resolve_ifs(stack, v, depth + 1) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not NO_VALUE}

    def why_unknown(self, stack: Stack, value: object, depth: int = 0) -> str:
        """Why `literal` cannot fix this value: what a reader should supply."""
        if depth > 10:
            return "not fixed by the template"
        if isinstance(value, dict) and len(value) == 1:
            (fn, arg), = value.items()
            if fn == "TopologyReport::Unknown":  # what a Terraform plan leaves unknown, and why
                return str(arg)
            if fn == "Ref" and isinstance(arg, str):
                if stack.parent and arg in stack.bound:
                    return self.why_unknown(stack.parent, stack.bound[arg], depth + 1)
                params = stack.template.get("Parameters") or {}
                if isinstance(params, dict) and arg in params:
                    return (f"parameter {arg} has no default (pass --parameter {arg}=VALUE)")
                return f"Ref {arg} is not a parameter or resource of these templates"
            if fn == "Fn::ImportValue":
                return (f"imported with Fn::ImportValue from a stack outside these templates "
                        f"({self.literal(stack, arg) or arg!r})")
            if fn == "Fn::If" and isinstance(arg, list) and arg:
                return f"depends on condition {arg[0]}, which depends on an unknown value"
            if fn == "Fn::GetAtt":
                return "an attribute known only once deployed (Fn::GetAtt)"
            for inner in (arg if isinstance(arg, list) else [arg]):
                if self.literal(stack, inner) is None and isinstance(inner, (dict, list)):
                    return self.why_unknown(stack, inner, depth + 1)
        if isinstance(value, list):
            for inner in value:
                if self.literal(stack, inner) is None:
                    return self.why_unknown(stack, inner, depth + 1)
        return "not fixed by the template"

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
            if arg in ("AWS::Partition", "AWS::URLSuffix"):
                return "aws" if arg == "AWS::Partition" else "amazonaws.com"
            known, v = self.parameter(stack, arg)
            return v if known else None
        if fn == "Fn::If" and isinstance(arg, list) and len(arg) == 3:
            chosen = self.condition(stack, arg[0]) if isinstance(arg[0], str) else None
            return None if chosen is None else self.literal(
                stack, arg[1] if chosen else arg[2], depth + 1)
        if fn == "Fn::Select" and isinstance(arg, list) and len(arg) == 2:
            index, items = self.literal(stack, arg[0], depth + 1), self.literal(
                stack, arg[1], depth + 1)
            try:
                return items[int(index)] if isinstance(items, list) else None
            except (ValueError, TypeError, IndexError):
                return None
        if fn == "Fn::FindInMap" and isinstance(arg, list) and len(arg) >= 3:
            keys = [self.literal(stack, k, depth + 1) for k in arg[:3]]
            table = stack.template.get("Mappings") or {}
            for k in keys:
                table = table.get(str(k)) if isinstance(table, dict) and k is not None else None
            return table if table is not None else None
        if fn == "Fn::Split" and isinstance(arg, list) and len(arg) == 2:
            text = self.literal(stack, arg[1], depth + 1)
            return text.split(str(arg[0])) if isinstance(text, str) else None
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
        if fn == "Fn::GetAtt":
            target = self.child_output(stack, arg)
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

    def child_output(self, stack: Stack, arg: object) -> tuple[Stack, object] | None:
        """Fn::GetAtt [NestedStack, Outputs.Name]: the output of a followed nested stack."""
        if isinstance(arg, str):
            name, _, attr = arg.partition(".")
        elif isinstance(arg, list) and len(arg) == 2:
            name, attr = arg
        else:
            return None
        if not isinstance(attr, str) or not attr.startswith("Outputs."):
            return None
        child = self._children.get((stack.name, name))
        outputs = (child.template.get("Outputs") or {}) if child else {}
        value = outputs.get(attr.removeprefix("Outputs.")) if isinstance(outputs, dict) else None
        return (child, value.get("Value")) if isinstance(value, dict) else None

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
                elif stack.parent and arg in stack.bound:
                    self._walk(stack.parent, stack.bound[arg], found, depth + 1)
                return
            if fn == "Fn::GetAtt":
                target = self.child_output(stack, arg)
                if target is not None:
                    self._walk(target[0], target[1], found, depth + 1)
                    return
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
