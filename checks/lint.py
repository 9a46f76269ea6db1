"""cfn-lint on synthesized templates, with the project's written exceptions.

Exceptions (each with its reason):
* W3005 (a DependsOn already implied by a GetAtt): aws-cdk-lib writes both for the
  handler roles of its own custom resources (BucketDeployment, default-SG restriction);
  redundant and harmless, and not ours to change.
* E1022 where the value is ``Fn::GetStackOutput``: CDK's recommended weak cross-stack
  references use this intrinsic, which cfn-lint 1.58 does not know inside ``Fn::Join``
  and reports as "not of type 'string'". Any other E1022 still fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

IGNORED_RULES = {"W3005"}


def _is_known_false_positive(finding: dict) -> bool:
    rule = finding["Rule"]["Id"]
    return rule in IGNORED_RULES or (rule == "E1022" and "Fn::GetStackOutput" in finding["Message"])


def lint(paths: list[Path]) -> list[dict]:
    """Findings (errors, warnings, informational) cfn-lint reports, less the exceptions."""
    if not paths:
        return []
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), "--format", "json", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode not in (0, 2, 4, 6, 8, 10, 12, 14) or not proc.stdout.strip():
        if proc.returncode == 0:
            return []
        raise RuntimeError(f"cfn-lint failed to run (exit {proc.returncode}): {proc.stderr.strip()}")
    return [f for f in json.loads(proc.stdout) if not _is_known_false_positive(f)]


def format_finding(finding: dict) -> str:
    where = f"{finding['Filename']}:{finding['Location']['Start']['LineNumber']}"
    return f"{finding['Rule']['Id']} {finding['Message']} ({where})"


if __name__ == "__main__":
    found = lint([Path(p) for p in sys.argv[1:]])
    for f in found:
        print(format_finding(f))
    sys.exit(1 if found else 0)
