"""Acknowledging cdk-nag findings, always with a reason.

cdk-nag 3 reads acknowledgements from CDK's ``Validations`` API. Each finding is
acknowledged on the construct that owns it (not by path, which moves when CDK
upgrades), and per finding where the rule reports one (``AwsSolutions-IAM5[...]``).
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule: str, reason: str, *, applies_to: list[str] | None = None) -> None:
    """Acknowledge ``rule`` on ``scope`` and its children.

    ``applies_to`` names the findings of a rule that reports several
    (e.g. ``["Resource::*"]`` for ``AwsSolutions-IAM5``); each becomes its own
    acknowledgement ``RULE[FINDING]``.
    """
    if len(reason.strip()) < 20:
        raise ValueError(f"acknowledging {rule} needs a reason a reviewer would accept, got {reason!r}")
    ids = [f"{rule}[{finding}]" for finding in applies_to] if applies_to else [rule]
    Validations.of(scope).acknowledge(*(Acknowledgment(id=i, reason=reason) for i in ids))
