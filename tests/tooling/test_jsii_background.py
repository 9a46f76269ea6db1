"""tooling/jsii_background.py: a task's jsii requests from a thread never mix with this
thread's on jsii's one pipe to Node, and what the task returns or raises comes back."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tooling.assembly import use_pinned_node

use_pinned_node()

from aws_cdk import Duration  # noqa: E402

from tooling.jsii_background import in_background  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CALLS = 300


def test_a_tasks_requests_and_this_threads_never_mix():
    # each call is a request and its answer; mixed on the pipe, an answer would reach the
    # wrong caller (a wrong number) or break the protocol
    def task() -> list[float]:
        return [Duration.seconds(i).to_seconds() for i in range(CALLS)]

    future = in_background(task, name="test-task")
    mine = [Duration.minutes(i).to_minutes() for i in range(CALLS)]
    assert future.result(timeout=120) == list(range(CALLS))
    assert mine == list(range(CALLS))


def test_this_threads_requests_wait_until_the_task_is_done():
    task_done = threading.Event()

    def task() -> float:
        value = sum(Duration.seconds(i).to_seconds() for i in range(CALLS))
        task_done.set()
        return value

    future = in_background(task, name="test-task")
    Duration.seconds(1).to_seconds()  # a request: it goes after the whole task
    assert task_done.is_set()
    assert future.result(timeout=120) == sum(range(CALLS))


def test_what_the_task_raises_comes_back_and_the_kernel_is_free_again():
    def task() -> None:
        Duration.seconds(1).to_seconds()
        raise ValueError("from the task")

    future = in_background(task, name="test-task")
    with pytest.raises(ValueError, match="from the task"):
        future.result(timeout=120)
    assert Duration.hours(2).to_minutes() == 120


# app.py has Node build CloudFormation validation's engine while Python imports the stacks'
# modules: a module that sent Node a request at import would wait for the engine instead
_IMPORTS_SEND = """
import json, os, sys
sys.path.insert(0, os.getcwd())
from tooling.assembly import use_pinned_node
use_pinned_node()
import aws_cdk
from jsii._runtime import kernel
sent = []
class Spy:
    def __init__(self, provider):
        self.provider = provider
    def __getattr__(self, name):
        sent.append(name)
        return getattr(self.provider, name)
kernel.provider = Spy(kernel.provider)
import stacks.config, stacks.stage
print(json.dumps(sent))
"""


def test_the_stacks_modules_send_node_nothing_when_imported():
    out = subprocess.run([sys.executable, "-c", _IMPORTS_SEND], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.splitlines()[-1]) == []
