"""``python -m local_topology up|down|status``: the local topology's entry point (make local...)."""

from __future__ import annotations

import argparse
import re
import sys

from game_service.contract import ENV_PREFIX
from local_topology.topology import DEFAULT_STAGE, DEFAULT_STATE, Topology, TopologyError
from stacks.config import STAGES


def game_settings(pairs: list[str]) -> dict[str, str]:
    """``--env GAME_NAME=VALUE`` pairs: settings of the game service (its ``GAME_*`` variables),
    nothing else: the hosts' AWS and database settings are the topology's."""
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not re.fullmatch(ENV_PREFIX + r"[A-Z0-9_]+", name):
            raise TopologyError(f"--env takes {ENV_PREFIX}NAME=VALUE, a setting of the game service, got {pair!r}")
        out[name] = value
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_topology", description=__doc__)
    parser.add_argument("--state", default=str(DEFAULT_STATE), help="state folder (default: ./var/local)")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the topology and print its URL")
    up.add_argument("--stage", help=f"the stage whose shape to bring up: {', '.join(STAGES)} (default {DEFAULT_STAGE})")
    up.add_argument("--hosts", type=int, help="app hosts, round-robin over the stage's AZs (default: its min_instances)")
    up.add_argument("--workers", type=int,
                    help="worker hosts, for a stage with a worker tier (default: its worker_min_instances)")
    up.add_argument("--port", type=int, default=8080, help="front door port on 127.0.0.1 (default 8080)")
    up.add_argument("--no-netns", action="store_true", help="hosts as processes on separate ports, no namespaces")
    up.add_argument("--env", action="append", default=[], metavar="GAME_NAME=VALUE",
                    help="a setting of the game service for every host (its GAME_* variables, "
                         "game_service/core/config.py), e.g. GAME_RATE_LIMIT_WRITES=1000000 for a load test "
                         "(repeatable)")
    sub.add_parser("down", help="stop everything; no process, namespace or mount left")
    sub.add_parser("status", help="each host's AZ and health as the load balancer sees it")
    args = parser.parse_args(argv)

    topology = Topology(args.state)
    try:
        if args.command == "up":
            topology.up(args.hosts, stage=args.stage, workers=args.workers, front_port=args.port,
                        use_netns=not args.no_netns, extra_env=game_settings(args.env))
        elif args.command == "down":
            topology.down()
        else:
            print("\n".join(topology.status()))
    except TopologyError as exc:
        print(f"local: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
