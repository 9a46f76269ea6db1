"""Command line: `python -m topology_report [report|diff|diagram] ...`.

Exit codes: 0 fine; 1 diff found a gating regression (a new single point of failure or an
exceeded connection budget in a stage that must be distributed); 2 bad input or usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from .capacity import Params
from .cost import load_prices
from .loader import ReportError, load, select_stages
from .report import build, public
from .resilience import parse_policy

COMMANDS = ("report", "diff", "diagram", "rules")

DESCRIPTION = """\
"Is it distributed?": reads CloudFormation templates (a template file, JSON or YAML; a
folder of templates; a folder of stage folders such as tests/snapshots/; or a CDK cloud
assembly such as cdk.out/) and reports per tier how it is replicated, its single points of
failure, a verdict, the connection budget and growth headroom, and a monthly cost estimate.
"""

EPILOG = """\
commands:
  report INPUT...            the report of every stage found (default command)
  diff BEFORE AFTER          what changed in distribution terms; exit 1 on a gating regression
  diff PLAN                  the same for one Terraform plan: its prior_state against its planned values
  diagram INPUT...           a Mermaid diagram of each stage's topology
  rules                      the single-point-of-failure rules: id, tier, check, fix

exit codes: 0 fine, 1 diff found a gating regression, 2 bad input or usage.
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # usage errors exit 2 with one clear line
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stage", action="append", metavar="NAME",
                   help="only this stage (repeatable); default: every stage found")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--accept", action="append", default=[], metavar="LOGICAL_ID[=REASON]",
                   help="name a single point of failure as accepted (repeatable); templates "
                        "can also say so in resource Metadata: "
                        '{"TopologyReport": {"AcceptedSinglePointOfFailure": "reason"}}')
    p.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE",
                   help="a template parameter's value (repeatable); default: its Default. "
                        "Conditions and Fn::If are evaluated with these values")
    p.add_argument("--prices", metavar="FILE", help="price table (default: the dated "
                   "topology_report/prices.json)")
    p.add_argument("--policy", action="append", default=[], metavar="KEY=DURATION,...",
                   help="limits on the recovery estimates, e.g. rto.az=5m,rpo.az=0 (keys: "
                        "rto|rpo . instance|az|db|release|region); diff exits 1 when a change "
                        "breaks one (repeatable)")
    p.add_argument("--policy-file", action="append", default=[], metavar="FILE",
                   help="the same limits, one or more to a line, # comments (repeatable)")
    d = Params()
    g = p.add_argument_group("capacity model (all printed with the result; worker and pool "
                             "sizes only for keys missing from a template's GameService "
                             "metadata; without that metadata there is no connection budget)")
    g.add_argument("--rps-per-instance", type=float, default=d.rps_per_instance,
                   help="requests/s one 2-vCPU app instance serves (default %(default)s, "
                        "until the service benchmark measures it; scaled by vCPU)")
    g.add_argument("--workers-per-instance", type=int, default=d.workers_per_instance,
                   help="app worker processes per instance (default %(default)s)")
    g.add_argument("--db-pool-size", type=int, default=d.db_pool_size,
                   help="DB pool size per worker (default %(default)s)")
    g.add_argument("--db-max-overflow", type=int, default=d.db_max_overflow,
                   help="DB pool overflow per worker (default %(default)s)")
    g.add_argument("--db-reserved-connections", type=int, default=d.db_reserved_connections,
                   help="connections reserved for superusers (default %(default)s)")
    g.add_argument("--requests-per-player", type=float, default=d.requests_per_player,
                   help="requests/s one active player sends (default %(default)s)")
    g.add_argument("--db-rps-per-vcpu", type=float, default=d.db_rps_per_vcpu,
                   help="DB transactions/s per DB vCPU, an estimate (default %(default)s)")
    g.add_argument("--growth", default="10,100",
                   help="growth factors to check, comma-separated (default %(default)s)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m topology_report", description=DESCRIPTION, epilog=EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    p = sub.add_parser("report", help="the report of every stage found")
    p.add_argument("inputs", nargs="+", metavar="INPUT")
    p.add_argument("--side-by-side", action="store_true",
                   help="end with a table of the stages' verdicts and cost side by side")
    p.add_argument("--summary", action="store_true",
                   help="markdown for a README: verdicts, single points of failure, growth, "
                        "the stages side by side and a Mermaid diagram of each")
    _add_common(p)
    p = sub.add_parser("diff", help="before/after in distribution terms")
    p.add_argument("before", metavar="BEFORE")
    p.add_argument("after", metavar="AFTER", nargs="?",
                   help="left out: BEFORE is a Terraform plan, compared with the state it was "
                        "planned against (its prior_state)")
    p.add_argument("--stage-kind", choices=("auto", "scale-out", "starter"), default="auto",
                   help="scale-out: exit 1 on a new unaccepted single point of failure or an "
                        "exceeded connection budget; starter: report only; auto (default): "
                        "scale-out rules for a stage named 'scale-out', starter rules for "
                        "one named 'starter', scale-out rules for any other")
    p.add_argument("--markdown", action="store_true", help="markdown (for a CI job summary)")
    _add_common(p)
    p = sub.add_parser("diagram", help="Mermaid diagram of each stage")
    p.add_argument("inputs", nargs="+", metavar="INPUT")
    p.add_argument("--stage", action="append", metavar="NAME")
    p.add_argument("--markdown", action="store_true",
                   help="wrap each diagram in a ```mermaid block under a heading")
    p = sub.add_parser("rules", help="the single-point-of-failure rules")
    p.add_argument("--markdown", action="store_true", help="a markdown table")
    p.add_argument("--json", action="store_true", help="JSON")
    return parser


def _params(args: argparse.Namespace) -> Params:
    try:
        growth = tuple(int(x) for x in str(args.growth).split(",") if x.strip())
    except ValueError:
        raise ReportError(f"--growth: expected comma-separated integers, got {args.growth!r}") \
            from None
    numbers = {"--rps-per-instance": args.rps_per_instance,
               "--requests-per-player": args.requests_per_player,
               "--db-rps-per-vcpu": args.db_rps_per_vcpu,
               "--workers-per-instance": args.workers_per_instance}
    for name, value in numbers.items():
        if value <= 0:
            raise ReportError(f"{name} must be positive, got {value}")
    for name, value in {"--db-pool-size": args.db_pool_size,
                        "--db-max-overflow": args.db_max_overflow,
                        "--db-reserved-connections": args.db_reserved_connections}.items():
        if value < 0:
            raise ReportError(f"{name} must not be negative, got {value}")
    return Params(args.rps_per_instance, args.workers_per_instance, args.db_pool_size,
                  args.db_max_overflow, args.db_reserved_connections, args.requests_per_player,
                  args.db_rps_per_vcpu, growth)


def _accept(args: argparse.Namespace) -> dict[str, str]:
    out = {}
    for item in args.accept:
        key, _, reason = item.partition("=")
        out[key.strip()] = reason.strip()
    return out


def _parameters(args: argparse.Namespace) -> dict[str, str]:
    out = {}
    for item in getattr(args, "parameter", []) or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ReportError(f"--parameter: expected KEY=VALUE, got {item!r}")
        out[key.strip()] = value
    return out


def _load_all(inputs: list[str], wanted: list[str] | None):
    stages = []
    for path in inputs:
        stages.extend(load(path))
    return select_stages(stages, wanted)


def run(argv: list[str]) -> int:
    if argv and argv[0] not in COMMANDS and argv[0] not in ("-h", "--help"):
        argv = ["report", *argv]
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if args.command == "rules":
        from .rules import RULES, render_rules
        print(json.dumps([r.to_dict() for r in RULES], indent=2) if args.json
              else render_rules(markdown=args.markdown))
        return 0
    if args.command == "diagram":
        from .diagram import mermaid
        stages = _load_all(args.inputs, args.stage)
        print(mermaid(stages, markdown=args.markdown))
        return 0
    prices = load_prices(args.prices)
    params = _params(args)
    accept = _accept(args)
    if args.command == "diff":
        from .diff import run_diff
        return run_diff(args, prices, params, accept, _parameters(args))
    from .render import render_side_by_side, render_stage, render_summary
    stages = _load_all(args.inputs, args.stage)
    parameters = _parameters(args)
    policy = parse_policy(args.policy, args.policy_file)
    reports = [build(s, prices, params, accept, parameters, policy) for s in stages]
    if args.json:
        print(json.dumps([public(r) for r in reports], indent=2, default=str))
        return 0
    if args.summary:
        from .diagram import mermaid
        print(render_summary(reports))
        print()
        print(mermaid(stages, markdown=True))
        return 0
    print("\n\n".join(render_stage(r) for r in reports))
    if args.side_by_side or len(reports) > 1:
        print()
        print(render_side_by_side(reports))
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except ReportError as exc:
        print(f"topology_report: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - one clear line instead of a traceback
        if os.environ.get("TOPOLOGY_REPORT_DEBUG"):
            raise
        print(f"topology_report: error: could not analyse the templates "
              f"({type(exc).__name__}: {exc}); set TOPOLOGY_REPORT_DEBUG=1 for the traceback",
              file=sys.stderr)
        return 2
