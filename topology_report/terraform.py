"""Reading Terraform: the JSON of `terraform show -json` on a plan file or on a state
(format_version 0.x and 1.x), and raw state files (`terraform.tfstate`, version 4).

The design: each Terraform resource instance becomes the equivalent CloudFormation resource
(terraform_types.py says which, and which properties), with its Terraform address as the
logical ID, in one template of one stage. The analysis then runs unchanged: the same
tiers, single points of failure, verdict, capacity and cost, named by Terraform address.

Values a plan leaves unknown until apply (`after_unknown`) are read from the configuration
instead: the references of `configuration...expressions` are followed, through module
calls, module outputs and module variables, to the resources they name, which become
`Fn::GetAtt [address, attribute]` (so a subnet list becomes the subnets it names, and
their AZs decide). What cannot be followed (a local value, a data source read at apply
time, a computed attribute nothing sets) becomes an explicit unknown with the reason, which
the report lists and never turns into a yes or a no.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from .stages import ReportError

UNKNOWN = "TopologyReport::Unknown"  # {UNKNOWN: reason}: a value the plan does not fix

# Providers whose resources hold no infrastructure (random names, timers, local files,
# provisioner hooks): not part of the topology.
HELPER_PROVIDERS = {"random", "null", "time", "tls", "local", "archive", "external", "http",
                    "template", "terraform", "cloudinit"}

# Attributes that identify a resource, so that a known value (a state's, or a plan's for a
# resource that exists) names it: IDs and ARNs everywhere; names only where an attribute
# is a reference (a DB subnet group, an Auto Scaling group or a bucket is named by name).
IDENTITY = ("id", "arn", "primary_network_interface_id", "invoke_arn", "qualified_arn")
NAMES = ("name", "bucket", "identifier", "cluster_identifier", "function_name")



def unknown(reason: str) -> dict:
    return {UNKNOWN: reason}


def is_unknown(value: object) -> bool:
    return isinstance(value, dict) and UNKNOWN in value


# --- addresses and references --------------------------------------------------------------

_STEP = re.compile(r'\s*(?:\.?\s*([A-Za-z_][\w-]*)|\[\s*(\d+|"(?:[^"\\]|\\.)*")\s*\])')


def parse_steps(text: str) -> list[str | int]:
    """`module.a["x"].aws_b.c[0].id` -> ["module", "a", "x", "aws_b", "c", 0, "id"], with
    index steps as int or str (keys keep no quotes). Names are str, indexes are int or
    a str key wrapped in a one-element tuple to tell it from a name."""
    out: list = []
    pos = 0
    while pos < len(text):
        m = _STEP.match(text, pos)
        if not m or m.end() == pos:
            break
        name, index = m.groups()
        if name is not None:
            out.append(name)
        elif index.startswith('"'):
            out.append((json.loads(index),))
        else:
            out.append(int(index))
        pos = m.end()
    return out


def _fmt_key(key: object) -> str:
    return f"[{key}]" if isinstance(key, int) else f"[{json.dumps(key)}]"


@dataclass
class Module:
    """One module instance: its address prefix ("" for the root, else `module.a[0].`) and
    the configuration of its module call (shared by the call's instances)."""
    prefix: str
    names: tuple[str, ...]  # module call names from the root
    keys: tuple  # the instance key of each call (None: no count or for_each)
    config: dict


@dataclass(eq=False)
class TfResource:
    address: str
    mode: str
    type: str
    name: str
    index: object  # count index (int), for_each key (str) or None
    provider: str
    module: Module
    values: dict
    after_unknown: object = None
    actions: list[str] = field(default_factory=list)
    config: dict = field(default_factory=dict)  # configuration resource block, if any

    @property
    def group(self) -> str:
        """The resource's address without its instance key."""
        mode = "data." if self.mode == "data" else ""
        return f"{self.module.prefix}{mode}{self.type}.{self.name}"

    @property
    def provider_short(self) -> str:
        """"aws", "random", ...: the provider's type name."""
        name = self.provider.rsplit("/", 1)[-1] if self.provider else ""
        return name or self.type.split("_", 1)[0]


@dataclass
class Resolved:
    """What an expression refers to: groups of resource instances (a group is every
    instance of one resource, in index order, or the one instance a reference names) and
    the reasons for what could not be followed."""
    groups: list[tuple[list[TfResource], str]] = field(default_factory=list)  # (instances, attr)
    reasons: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)  # resources with no instance in the plan
    filters: list[str] = field(default_factory=list)  # root variables it also uses
    by_count: bool = False  # the expression uses count.index
    by_key: bool = False  # the expression uses each.key / each.value


class Plan:
    """Every resource instance of a plan or state, with the configuration to follow
    references through."""

    def __init__(self, data: dict, kind: str, source: str):
        self.kind, self.source, self.data = kind, source, data
        self.resources: list[TfResource] = []
        self.groups: dict[str, list[TfResource]] = {}
        self.modules: dict[str, Module] = {}  # prefix -> module instance
        self.notes: list[str] = []
        self._by_id: dict[str, TfResource] = {}
        root_config = ((data.get("configuration") or {}).get("root_module") or {}) \
            if kind == "plan" else {}
        self.root = Module("", (), (), root_config if isinstance(root_config, dict) else {})
        self.modules[""] = self.root
        changes = {}
        if kind == "plan":
            for rc in data.get("resource_changes") or []:
                if isinstance(rc, dict) and isinstance(rc.get("address"), str):
                    changes[rc["address"]] = rc
            values = data.get("planned_values")
            root = values.get("root_module") if isinstance(values, dict) else None
            self._walk(root, changes)
        elif kind == "state":
            values = data.get("values")
            self._walk(values.get("root_module") if isinstance(values, dict) else None, {})
        else:
            self._raw_state(data)
        self.changes = changes
        self._by_name: dict[str, TfResource] = {}
        for res in self.resources:
            self.groups.setdefault(res.group, []).append(res)
            if res.mode != "managed":
                continue
            for key in IDENTITY:
                v = res.values.get(key)
                if isinstance(v, str) and len(v) >= 4:
                    self._by_id.setdefault(v, res)
            for key in NAMES:
                v = res.values.get(key)
                if isinstance(v, str) and len(v) >= 4:
                    self._by_name.setdefault(v, res)
        for members in self.groups.values():
            members.sort(key=lambda r: (isinstance(r.index, str), r.index if r.index
                                        is not None else -1))

    # --- reading ---------------------------------------------------------------------------

    def _module(self, address: str) -> Module:
        """The module instance of a child module address (`module.a[0].module.b`)."""
        prefix = address + "." if address else ""
        if prefix in self.modules:
            return self.modules[prefix]
        steps = parse_steps(address)
        names, keys = [], []
        i = 0
        while i + 1 < len(steps) and steps[i] == "module":
            names.append(steps[i + 1])
            key = None
            if i + 2 < len(steps) and not isinstance(steps[i + 2], str):
                key = steps[i + 2]
                key = key[0] if isinstance(key, tuple) else key
                i += 1
            keys.append(key)
            i += 2
        config = self.root.config
        for name in names:
            call = (config.get("module_calls") or {}).get(name) if isinstance(config, dict) \
                else None
            config = call.get("module") if isinstance(call, dict) else {}
            config = config if isinstance(config, dict) else {}
        module = Module(prefix, tuple(names), tuple(keys), config)
        self.modules[prefix] = module
        return module

    def _walk(self, module: object, changes: dict, depth: int = 0) -> None:
        if not isinstance(module, dict) or depth > 30:
            return
        mod = self._module(str(module.get("address") or ""))
        for raw in module.get("resources") or []:
            if not isinstance(raw, dict) or not isinstance(raw.get("address"), str):
                continue
            address = raw["address"]
            rc = changes.get(address) or {}
            change = rc.get("change") if isinstance(rc.get("change"), dict) else {}
            values = raw.get("values") if isinstance(raw.get("values"), dict) else {}
            res = TfResource(address, str(raw.get("mode") or "managed"), str(raw.get("type")),
                             str(raw.get("name")), raw.get("index"),
                             str(raw.get("provider_name") or ""), mod, values,
                             change.get("after_unknown"), list(change.get("actions") or []))
            res.config = self._config_of(mod, res)
            self.resources.append(res)
        for child in module.get("child_modules") or []:
            self._walk(child, changes, depth + 1)

    def _raw_state(self, data: dict) -> None:
        """A state file as Terraform keeps it (version 4): resources with instances."""
        version = data.get("version")
        if version != 4:
            raise ReportError(f"{self.source}: a Terraform state file of version {version}: "
                              f"this reader knows version 4 (Terraform 0.12 and later); "
                              f"`terraform show -json` turns any state into JSON it reads")
        for raw in data.get("resources") or []:
            if not isinstance(raw, dict):
                continue
            prefix = str(raw.get("module") or "")
            mod = self._module(prefix)
            mode = str(raw.get("mode") or "managed")
            provider = str(raw.get("provider") or "")
            m = re.search(r'provider\["([^"]+)"\]', provider)
            provider = m.group(1) if m else provider
            for inst in raw.get("instances") or []:
                if not isinstance(inst, dict):
                    continue
                key = inst.get("index_key")
                base = f"{mod.prefix}{'data.' if mode == 'data' else ''}{raw.get('type')}." \
                       f"{raw.get('name')}"
                address = base + (_fmt_key(key) if key is not None else "")
                attrs = inst.get("attributes") if isinstance(inst.get("attributes"), dict) \
                    else {}
                self.resources.append(TfResource(address, mode, str(raw.get("type")),
                                                 str(raw.get("name")), key, provider, mod,
                                                 attrs))

    @staticmethod
    def _config_of(mod: Module, res: TfResource) -> dict:
        wanted = f"{'data.' if res.mode == 'data' else ''}{res.type}.{res.name}"
        for block in mod.config.get("resources") or [] if isinstance(mod.config, dict) else []:
            if isinstance(block, dict) and block.get("address") == wanted:
                return block
        return {}

    # --- following references --------------------------------------------------------------

    def by_id(self, value: str, besides: TfResource | None = None,
              names: bool = False) -> TfResource | None:
        """The resource a known ID or ARN (or, with names=True, a name) is of."""
        res = self._by_id.get(value) or (self._by_name.get(value) if names else None)
        return res if res is not besides else None

    def resolve(self, refs: list[str], mod: Module, depth: int = 0) -> Resolved:
        """The resources a list of references (an expression's `references`) names, from
        module instance `mod`."""
        out = Resolved()
        if depth > 12:
            out.reasons.append("references nested too deeply to follow")
            return out
        refs = [r for r in refs if isinstance(r, str)]
        for ref in self._independent(refs):
            steps = parse_steps(ref)
            if not steps:
                continue
            head = steps[0]
            if head == "count":
                out.by_count = True
            elif head == "each":
                out.by_key = True
            elif head in ("path", "terraform", "self"):
                continue
            elif head == "local":
                out.reasons.append(f"computed from {ref} (a plan's JSON does not carry the "
                                   f"expressions of local values)")
            elif head == "data":
                out.reasons.append(f"computed from data source {'.'.join(map(str, steps[1:3]))}"
                                   f", which is read only at apply time")
            elif head == "var":
                self._variable(steps, ref, mod, out, depth)
            elif head == "module":
                self._module_output(steps, ref, mod, out, depth)
            elif len(steps) >= 2 and isinstance(steps[1], str):
                self._resource_ref(steps, mod, out)
        return out

    @staticmethod
    def _independent(refs: list[str]) -> list[str]:
        """The references an expression makes of its own. Terraform lists, for each
        reference `aws_subnet.a[0].id`, also the instance (`aws_subnet.a[0]`) and the
        resource (`aws_subnet.a`) it belongs to; a bare resource or module listed more often
        than those explain is a reference of its own too (`aws_subnet.a[count.index]`,
        `aws_subnet.a[*].id`)."""
        counts: dict[str, int] = {}
        for r in refs:
            counts[r] = counts.get(r, 0) + 1
        out = []
        for r in counts:
            longer = [o for o in counts if o != r and (o.startswith(r + ".") or
                                                       o.startswith(r + "["))]
            if not longer:
                out.append(r)
                continue
            steps = parse_steps(r)
            if steps and steps[0] not in ("module", "var", "local", "data", "count", "each",
                                          "path", "terraform", "self") and len(steps) == 2:
                # `aws_subnet.a`: explained once by each `aws_subnet.a[k]` listed, or by an
                # `aws_subnet.a.attr` (a resource without count)
                instances = sum(n for o, n in counts.items() if o.startswith(r + "[")
                                and len(parse_steps(o)) == 3)
                plain = any(o.startswith(r + ".") for o in longer)
                if counts[r] > instances and not (plain and not instances):
                    out.append(r)
        return out

    def _resource_ref(self, steps: list, mod: Module, out: Resolved) -> None:
        group = f"{mod.prefix}{steps[0]}.{steps[1]}"
        rest = steps[2:]
        members = self.groups.get(group, [])
        if rest and not isinstance(rest[0], str):
            key = rest[0][0] if isinstance(rest[0], tuple) else rest[0]
            attr = rest[1] if len(rest) > 1 and isinstance(rest[1], str) else "id"
            one = [m for m in members if m.index == key]
            if one:
                out.groups.append((one, attr))
            else:
                out.absent.append(f"{group}{_fmt_key(key)}")
            return
        attr = rest[0] if rest and isinstance(rest[0], str) else "id"
        if members:
            out.groups.append((list(members), attr))
        else:
            out.absent.append(group)

    def _variable(self, steps: list, ref: str, mod: Module, out: Resolved,
                  depth: int) -> None:
        """A module's variable: what the calling module's expression for it names. A
        variable with a value of its own (a root variable, a constant) names no resource;
        it may still pick among the resources beside it (kept in `filters`)."""
        parent = self.modules.get(self._parent_prefix(mod)) if mod.names else None
        call = ((parent.config.get("module_calls") or {}).get(mod.names[-1])
                if parent and isinstance(parent.config, dict) else None)
        expr = ((call or {}).get("expressions") or {}).get(str(steps[1])) \
            if isinstance(call, dict) else None
        if isinstance(expr, dict) and expr.get("references"):
            inner = self.resolve(expr["references"], parent, depth + 1)
            if inner.groups or inner.reasons or inner.absent:
                self._merge(out, inner, steps[2:])
                return
        out.filters.append(ref)

    @staticmethod
    def _parent_prefix(mod: Module) -> str:
        prefix = ""
        for name, key in zip(mod.names[:-1], mod.keys[:-1], strict=True):
            prefix += f"module.{name}" + (_fmt_key(key) if key is not None else "") + "."
        return prefix

    def _module_output(self, steps: list, ref: str, mod: Module, out: Resolved,
                       depth: int) -> None:
        if len(steps) < 2 or not isinstance(steps[1], str):
            return
        name, rest = steps[1], steps[2:]
        key = None
        if rest and not isinstance(rest[0], str):
            key = rest[0][0] if isinstance(rest[0], tuple) else rest[0]
            rest = rest[1:]
        if not rest or not isinstance(rest[0], str):
            return  # `module.x` alone: listed beside its outputs, which say more
        output, rest = rest[0], rest[1:]
        call = (mod.config.get("module_calls") or {}).get(name) \
            if isinstance(mod.config, dict) else None
        child_config = call.get("module") if isinstance(call, dict) else None
        outputs = (child_config or {}).get("outputs") or {}
        expr = (outputs.get(output) or {}).get("expression") \
            if isinstance(outputs.get(output), dict) else None
        base = f"{mod.prefix}module.{name}"
        instances = [m for p, m in self.modules.items()
                     if p.startswith(base) and m.names[:-1] == mod.names
                     and len(m.names) == len(mod.names) + 1 and m.names[-1] == name
                     and (key is None or m.keys[-1] == key)]
        if not isinstance(expr, dict):
            out.reasons.append(f"{ref}: the plan's configuration does not show this output")
            return
        if not instances:
            out.absent.append(base)  # a module called zero times (count = 0)
            return
        for child in instances:
            inner = self.resolve(expr.get("references") or [], child, depth + 1)
            self._merge(out, inner, rest)

    @staticmethod
    def _merge(out: Resolved, inner: Resolved, rest: list) -> None:
        """Add what an output or variable refers to; an index after it (`[0]`) picks that
        instance of a counted resource."""
        groups = inner.groups
        if rest and isinstance(rest[0], int) and len(groups) == 1:
            members, attr = groups[0]
            i = rest[0]
            groups = [([members[i]], attr)] if 0 <= i < len(members) else []
        out.groups.extend(groups)
        out.reasons.extend(inner.reasons)
        out.absent.extend(inner.absent)
        out.filters.extend(inner.filters)


# --- one resource's values -----------------------------------------------------------------

_MISSING = object()


class View:
    """A resource's values as the translation reads them: known values, unknown values
    followed through the configuration, and references turned into Fn::GetAtt."""

    def __init__(self, plan: Plan, res: TfResource):
        self.plan, self.res = plan, res
        self.expressions = res.config.get("expressions") if isinstance(
            res.config.get("expressions"), dict) else {}

    # the raw lookups

    def _lookup(self, path: tuple) -> tuple[str, object]:
        """("known", value), ("unknown", None) or ("absent", None)."""
        v, u = self.res.values, self.res.after_unknown
        for step in path:
            if u is True:
                return "unknown", None
            if isinstance(u, dict):
                u = u.get(step) if isinstance(step, str) else None
            elif isinstance(u, list):
                u = u[step] if isinstance(step, int) and 0 <= step < len(u) else None
            else:
                u = None
            if isinstance(v, dict) and isinstance(step, str):
                v = v.get(step)
            elif isinstance(v, list) and isinstance(step, int) and 0 <= step < len(v):
                v = v[step]
            else:
                v = None
        if u is True:
            return "unknown", None
        if v is None:
            return "absent", None
        if isinstance(v, list) and isinstance(u, list) and any(x is True for x in u):
            return "partial", [x for x, unk in zip(v, u + [False] * len(v)) if unk is not True
                               and x is not None]
        return "known", v

    def expression(self, path: tuple) -> dict | None:
        """The configuration's expression of an attribute (None: not set there)."""
        node: object = self.expressions
        for step in path:
            if isinstance(node, dict) and ("references" in node or "constant_value" in node):
                return node  # an expression for the whole attribute (a list, say)
            if isinstance(node, dict) and isinstance(step, str):
                node = node.get(step)
            elif isinstance(node, list) and isinstance(step, int):
                node = node[step] if 0 <= step < len(node) else None
            elif isinstance(node, list) and len(node) == 1:
                node = node[0].get(step) if isinstance(node[0], dict) else None
            else:
                return None
        return node if isinstance(node, dict) and (
            "references" in node or "constant_value" in node) else None

    def known(self, *path: object, default: object = None) -> object:
        state, v = self._lookup(tuple(path))
        return v if state == "known" else default

    def is_unknown(self, *path: object) -> bool:
        return self._lookup(tuple(path))[0] == "unknown"

    def blocks(self, *path: object) -> list[dict]:
        v = self.known(*path)
        return [b for b in v if isinstance(b, dict)] if isinstance(v, list) else []

    def count(self, *path: object) -> int:
        """How many blocks (known, or as the configuration writes them when unknown)."""
        state, v = self._lookup(tuple(path))
        if state == "known" and isinstance(v, list):
            return len(v)
        node: object = self.expressions
        for step in path:
            node = node.get(step) if isinstance(node, dict) and isinstance(step, str) else (
                node[step] if isinstance(node, list) and isinstance(step, int)
                and 0 <= step < len(node) else None)
        return len(node) if isinstance(node, list) else 0

    # what the translation puts in a property

    def value(self, *path: object, default: object = _MISSING, why: str | None = None) -> object:
        """A plain value: known, or a constant of the configuration, or (unknown) the
        default when the configuration does not set it, else an explicit unknown with the
        reason. None: absent (leave the property out)."""
        state, v = self._lookup(tuple(path))
        if state == "known":
            return v
        if state == "absent":
            return None
        expr = self.expression(tuple(path))
        if expr is None:
            if default is not _MISSING:
                return default
            return unknown(why or f"{_path_text(path)} is computed by the provider at apply "
                                  f"time (the configuration does not set it)")
        if "constant_value" in expr:
            return expr["constant_value"]
        return self._from_refs(path, expr, many=False, plain=True, default=default, why=why)

    def ref(self, *path: object, many: bool = False, default: object = _MISSING) -> object:
        """A reference to another resource: Fn::GetAtt [address, attribute] (a list of them
        with many=True), a literal the plan fixes, or an explicit unknown with the reason.
        None: absent, or it names only resources this plan does not create."""
        state, v = self._lookup(tuple(path))
        if state == "known":
            return self._subst(v)
        if state == "absent":
            return None
        known_part = self._subst(v) if state == "partial" else []
        expr = self.expression(tuple(path))
        if expr is None:
            if default is not _MISSING:
                return default
            return unknown(f"{_path_text(path)} is computed by the provider at apply time "
                           f"(the configuration does not set it)")
        if "constant_value" in expr:
            return self._subst(expr["constant_value"])
        found = self._from_refs(path, expr, many=many, plain=False, default=default)
        if many and isinstance(found, list):
            return (known_part if isinstance(known_part, list) else []) + found
        return found

    def _from_refs(self, path: tuple, expr: dict, many: bool, plain: bool,
                   default: object, why: str | None = None) -> object:
        resolved = self.plan.resolve(expr.get("references") or [], self.res.module)
        groups = self._narrow(resolved)
        seen: dict[TfResource, str] = {}
        for members, attr in groups:
            for m in members:
                seen.setdefault(m, attr)
        found = list(seen.items())
        attr_text = _path_text(path)
        others = list(dict.fromkeys(resolved.reasons + resolved.filters))
        if many and len(found) > 1 and others:
            # several resources with a variable or local value beside them:
            # `slice(aws_subnet.a[*].id, 0, var.n)`, `[for k in var.keys : local.ids[k]]`
            # keep some of them, which ones the plan's JSON does not show
            names = ", ".join(m.address for m, _ in found[:6])
            return unknown(f"{attr_text} is known only at apply time: it is some of "
                           f"{names} (named with {', '.join(others[:3])}: which ones it "
                           f"keeps depends on an expression the plan's JSON does not show)")
        if found and plain:
            names = ", ".join(f"{m.address}.{a}" for m, a in found[:4])
            return unknown(why or f"{attr_text} is known only at apply time (from {names})")
        if found and many:
            return [getatt(m, a) for m, a in found]
        if len(found) == 1:
            return getatt(*found[0])
        if found:
            return unknown(f"{attr_text} is one of {', '.join(m.address for m, _ in found[:6])}"
                           f": which one depends on an expression the plan's JSON does not "
                           f"show")
        if resolved.reasons:
            return unknown(f"{attr_text} is known only at apply time: "
                           + "; ".join(dict.fromkeys(resolved.reasons)))
        if resolved.absent:
            return None  # only names resources this plan does not create: not set
        if default is not _MISSING:
            return default
        return unknown(why or f"{attr_text} is known only at apply time")

    def _narrow(self, resolved: Resolved) -> list[tuple[list[TfResource], str]]:
        """With count.index (each.key) in the expression, a resource instance of index i
        (key k) names instance i (modulo their number) (key k) of each counted group it
        refers to: `aws_subnet.x[count.index].id`, `element(aws_nat_gateway.x[*].id,
        count.index)`."""
        index = self.res.index
        out = []
        for members, attr in resolved.groups:
            if len(members) > 1 and resolved.by_count and isinstance(index, int) and all(
                    isinstance(m.index, int) for m in members):
                members = [members[index % len(members)]]
            elif len(members) > 1 and resolved.by_key and isinstance(index, str):
                members = [m for m in members if m.index == index] or members
            out.append((members, attr))
        return out

    def _subst(self, value: object) -> object:
        """Known IDs, ARNs and names of other resources of the plan or state become
        references (only in attributes that are references)."""
        if isinstance(value, str):
            target = self.plan.by_id(value, besides=self.res, names=True)
            return getatt(target, "id") if target is not None else value
        if isinstance(value, list):
            return [self._subst(v) for v in value]
        return value

    def references(self) -> list[dict]:
        """Every resource this one's configuration (or, in a state, its values) names:
        what CloudFormation's analysis finds by walking all of a resource's properties."""
        found: dict[str, dict] = {}

        def walk(node: object, depth: int = 0) -> None:
            if depth > 12:
                return
            if isinstance(node, dict):
                if isinstance(node.get("references"), list):
                    resolved = self.plan.resolve(node["references"], self.res.module)
                    for members, attr in self._narrow(resolved):
                        for m in members:
                            if m is not self.res:
                                found.setdefault(m.address, getatt(m, attr))
                    return
                for v in node.values():
                    walk(v, depth + 1)
            elif isinstance(node, list):
                for v in node:
                    walk(v, depth + 1)

        walk(self.expressions)

        def ids(node: object, depth: int = 0) -> None:
            if depth > 8:
                return
            if isinstance(node, str):
                target = self.plan.by_id(node, besides=self.res)
                if target is not None:
                    found.setdefault(target.address, getatt(target, "id"))
            elif isinstance(node, dict):
                for k, v in node.items():
                    if k not in ("id", "arn", "tags", "tags_all"):
                        ids(v, depth + 1)
            elif isinstance(node, list):
                for v in node:
                    ids(v, depth + 1)

        ids(self.res.values)
        return list(found.values())

    def tags(self) -> dict:
        tags = self.known("tags")
        out = dict(tags) if isinstance(tags, dict) else {}
        for t in self.blocks("tag"):  # aws_autoscaling_group's tag blocks
            if isinstance(t.get("key"), str):
                out[t["key"]] = t.get("value")
        return out


def getatt(res: TfResource, attr: str) -> dict:
    return {"Fn::GetAtt": [res.address, attr]}


def _path_text(path: tuple) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p))
                   for i, p in enumerate(path))


# --- the stage -----------------------------------------------------------------------------
