"""What the report reads, whatever the front door (CloudFormation templates, cloud
assemblies, Terraform plans and states): stages of stacks, and the one error bad input gives."""

from __future__ import annotations

from dataclasses import dataclass, field


class ReportError(Exception):
    """Bad input or usage: the message says what and where. Exit code 2."""


@dataclass(eq=False)
class Stack:
    name: str
    template: dict
    path: str
    parent: "Stack | None" = None  # a nested stack's parent
    bound: dict = field(default_factory=dict)  # parameter -> the parent's expression
    logical_id: str | None = None  # the AWS::CloudFormation::Stack resource in the parent


@dataclass
class Stage:
    name: str
    stacks: list[Stack] = field(default_factory=list)
    source: str = ""
    notes: list[str] = field(default_factory=list)  # what was read and how (Terraform input)
    input: dict | None = None  # the input's format when it is not a template (Terraform)
