#!/usr/bin/env python3
"""Plan examples/terraform/ offline and write the plans' JSON (`terraform show -json`).

    scripts/terraform-plans.py            # rewrite examples/terraform/plans/ and the corpus
                                          # twins' tests/topology_report/terraform/corpus/plans/
    scripts/terraform-plans.py --out DIR  # at the same paths under DIR (the tests' check)
    scripts/terraform-plans.py --only examples|corpus   # one of the two sets

What it needs, and where it looks:
- the Terraform CLI: $TERRAFORM, else `terraform` on the PATH;
- the AWS provider in a filesystem mirror (registry.terraform.io/hashicorp/aws/<version>/
  <os>_<arch>/): $TF_PLUGIN_MIRROR, else /opt/tf-plugins when it exists. Nothing is
  downloaded: the CLI configuration it writes (in a temporary folder, TF_CLI_CONFIG_FILE)
  installs hashicorp providers from the mirror only;
- no AWS account: `terraform plan -refresh=false` with dummy credentials, and the examples'
  provider blocks skip the credentials check, the account lookup and the metadata API.

The provider (hundreds of MB) is installed once into a plugin cache that outlives the run
($TF_PLUGIN_CACHE_DIR, else <tmp>/topology-report-terraform-plugins): each `terraform init`
after the first only links it. Exit 3 when Terraform or the mirror is missing (the message
says which), 1 when a Terraform command fails, 0 otherwise.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "terraform"
CORPUS = REPO / "tests" / "topology_report" / "terraform" / "corpus"
SOURCES = (EXAMPLES, CORPUS)  # copied into a work folder with their modules
DEFAULT_MIRROR = "/opt/tf-plugins"


# A plan made against a state: the starter's twin as it is now, against the state of one
# apply of an earlier version to moto (tests/topology_report/terraform/README.md): a
# plan with its `prior_state`, what `diff PLAN` reads as its before.
AGAINST_STATE = Path("examples/terraform/plans/changes/starter-against-its-state.plan.json")
STATES = {AGAINST_STATE: Path("tests/topology_report/terraform/state/starter-moto.tfstate")}


def _plans() -> list[tuple[Path, Path, dict[str, str]]]:
    """(root module, the plan's file, -var settings), paths relative to the repository:
    our stages' twins and their changes, and the corpus cases' twins (gzipped: the test
    data of tests/topology_report/test_terraform_corpus.py)."""
    plans = [(Path("examples/terraform/starter"),
              Path("examples/terraform/plans/starter.plan.json"), {}),
             (Path("examples/terraform/scale-out"),
              Path("examples/terraform/plans/scale-out.plan.json"), {}),
             (Path("examples/terraform/scale-out"),
              Path("examples/terraform/plans/changes/scale-out-one-nat-gateway.plan.json"),
              {"nat": "single-gateway"}),
             (Path("examples/terraform/scale-out"),
              Path("examples/terraform/plans/changes/scale-out-single-az-db.plan.json"),
              {"db_multi_az": "false"}),
             (Path("examples/terraform/starter"), AGAINST_STATE,
              {"app_ami": "ami-0e9271c829888680e"})]  # the image of that state's instance
    for case in sorted(p.parent.name for p in CORPUS.glob("*/main.tf")):
        if case != "modules" and not (CORPUS / "modules" / case).exists():
            plans.append((CORPUS.relative_to(REPO) / case,
                          CORPUS.relative_to(REPO) / "plans" / f"{case}.plan.json.gz", {}))
    return plans


PLANS = _plans()

# Fields that change from run to run without the plan changing (relevant_attributes comes
# in a different order each run: sorted).
VOLATILE = ("timestamp",)


class Missing(Exception):
    """Terraform or the provider mirror is not on this machine."""


def find_terraform() -> str:
    found = os.environ.get("TERRAFORM") or shutil.which("terraform")
    if not found or not os.access(found, os.X_OK):
        raise Missing("no Terraform CLI: put `terraform` on the PATH or set TERRAFORM")
    return found


def find_mirror() -> Path:
    configured = os.environ.get("TF_PLUGIN_MIRROR")
    mirror = Path(configured) if configured else Path(DEFAULT_MIRROR)
    provider = mirror / "registry.terraform.io" / "hashicorp" / "aws"
    if not provider.is_dir() or not any(provider.iterdir()):
        where = (f"TF_PLUGIN_MIRROR={configured}" if configured else
                 f"{DEFAULT_MIRROR} (TF_PLUGIN_MIRROR is not set)")
        raise Missing(f"no AWS provider in a filesystem mirror at {where}: expected "
                      f"registry.terraform.io/hashicorp/aws/<version>/<os>_<arch>/")
    return mirror


def cli_config(folder: Path, mirror: Path, cache: Path) -> Path:
    config = folder / "terraformrc"
    config.write_text(f"""\
provider_installation {{
  filesystem_mirror {{
    path    = {json.dumps(str(mirror))}
    include = ["registry.terraform.io/hashicorp/*"]
  }}
  direct {{
    exclude = ["registry.terraform.io/hashicorp/*"]
  }}
}}
plugin_cache_dir = {json.dumps(str(cache))}
disable_checkpoint = true
""")
    return config


def environment(config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "TF_VAR_", "TF_CLI_ARGS"))}
    env.update({"TF_CLI_CONFIG_FILE": str(config), "TF_IN_AUTOMATION": "1", "TF_INPUT": "0",
                "CHECKPOINT_DISABLE": "1", "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1",
                "AWS_EC2_METADATA_DISABLED": "true"})
    return env


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd[1:])}` in {cwd} failed ({done.returncode}):\n"
                           f"{done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def normalize(plan: dict) -> dict:
    out = {k: v for k, v in plan.items() if k not in VOLATILE}
    if isinstance(out.get("relevant_attributes"), list):
        out["relevant_attributes"] = sorted(out["relevant_attributes"], key=json.dumps)
    return out


def selected(only: str | None) -> list[tuple[Path, Path, dict[str, str]]]:
    """PLANS, or one set of them: ``examples`` (our stages' twins) or ``corpus``."""
    if only is None:
        return PLANS
    examples = [item for item in PLANS if item[1].parts[:2] == ("examples", "terraform")]
    return examples if only == "examples" else [item for item in PLANS if item not in examples]


def generate(out: Path, log=print, only: str | None = None) -> list[Path]:
    """Plan every root of PLANS (or of the set ``only`` names) into `out` (at the same paths
    as in the repository); the paths written."""
    plans = selected(only)
    terraform, mirror = find_terraform(), find_mirror()
    cache = Path(os.environ.get("TF_PLUGIN_CACHE_DIR")
                 or Path(tempfile.gettempdir()) / "topology-report-terraform-plugins")
    cache.mkdir(parents=True, exist_ok=True)
    workers = max(2, os.cpu_count() or 2)
    with tempfile.TemporaryDirectory(prefix="terraform-plans-") as tmp:
        work = Path(tmp) / "repo"
        for source in SOURCES:
            shutil.copytree(source, work / source.relative_to(REPO), ignore=shutil.ignore_patterns(
                ".terraform", "*.tfstate*", "plans", ".terraform.lock.hcl"))
        env = environment(cli_config(Path(tmp), mirror, cache))
        roots = sorted({root for root, _, _ in plans})

        def init(root: Path) -> None:
            run([terraform, "init", "-input=false", "-no-color", "-backend=false"],
                work / root, env)

        started = time.monotonic()
        # One at a time: without a lock file, each init may write the provider into the shared
        # plugin cache, and two at once collide there ("failed to create directory ... file
        # exists"); the first fills it, the others mostly link it.
        for root in roots:
            init(root)
        log(f"terraform init: {len(roots)} roots in {time.monotonic() - started:.1f}s")

        def plan(item: tuple[Path, Path, dict]) -> Path:
            root, name, variables = item
            binary = Path(tmp) / (str(name).replace("/", "_") + ".bin")
            args = [f"-var={k}={v}" for k, v in variables.items()]
            if name in STATES:  # read only: plan does not write the state it is given
                args.append(f"-state={REPO / STATES[name]}")
            run([terraform, "plan", "-refresh=false", "-input=false", "-lock=false",
                 "-no-color", f"-out={binary}", *args], work / root, env)
            shown = json.loads(run([terraform, "show", "-json", str(binary)], work / root, env))
            target = out / name
            target.parent.mkdir(parents=True, exist_ok=True)
            text = json.dumps(normalize(shown), separators=(",", ":")) + "\n"
            if target.suffix == ".gz":
                target.write_bytes(gzip.compress(text.encode(), compresslevel=9, mtime=0))
            else:
                target.write_text(text)
            return target

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            written = list(pool.map(plan, plans))
        log(f"terraform plan + show -json: {len(plans)} plans in "
            f"{time.monotonic() - started:.1f}s")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO,
                        help="a folder to write the plans in, at their paths in the repository "
                             "(default: the repository: examples/terraform/plans/ and "
                             "tests/topology_report/terraform/corpus/plans/)")
    parser.add_argument("--only", choices=("examples", "corpus"),
                        help="only our stages' twins (examples/terraform/) or only the corpus twins")
    args = parser.parse_args(argv)
    try:
        for path in generate(args.out, only=args.only):
            print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    except Missing as exc:
        print(f"terraform-plans: {exc}", file=sys.stderr)
        return 3
    except RuntimeError as exc:
        print(f"terraform-plans: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
