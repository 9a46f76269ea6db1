"""Let Node work on one jsii call while this Python thread goes on with work of its own.

A CDK app in Python is two processes taking turns: Python sends a request to the jsii
runtime (Node) and waits for the answer, Node waits for the next request. ``in_background``
sends one task's requests from a thread, so that on a machine with two cores Node can, say,
start CloudFormation validation's engine while Python imports the stacks' modules
(docs/decisions.md, "Synth speed").

jsii's client is one pipe and is not made for threads. So from the first ``in_background``
on, every request to the runtime goes through one lock, and a task holds it from its start
to its end: any other thread's request waits until the task is done. The overlap
is with Python-only work (imports, config); a request from another thread is never
interleaved with the task's, it only waits.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from jsii._runtime import kernel  # the process-wide kernel every jsii module sends through

T = TypeVar("T")

_LOCK = threading.RLock()
_TASK = threading.local()  # on a task's thread: .sent, set at its first request


class _OneTaskAtATime:
    """The kernel's provider (the pipe to Node) with every request under ``_LOCK``."""

    def __init__(self, provider: Any) -> None:
        self._provider = provider

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._provider, name)
        if not callable(attribute):
            return attribute

        @functools.wraps(attribute)
        def locked(*args: Any, **kwargs: Any) -> Any:
            with _LOCK:
                sent = getattr(_TASK, "sent", None)
                if sent is not None:
                    sent.set()
                return attribute(*args, **kwargs)

        # every jsii call goes through here: wrap each of the provider's methods once
        setattr(self, name, locked)
        return locked


def in_background(task: Callable[[], T], *, name: str) -> Future[T]:
    """Run ``task`` (jsii calls) on a thread holding the kernel until it is done; return
    its future once the task's first request is on its way to Node (or the task is over).
    So the caller's next jsii request comes after the whole task, and the task's own Python
    work before that request (argument checks, serialization) does not contend for the GIL
    with the caller's."""
    if not isinstance(kernel.provider, _OneTaskAtATime):
        kernel.provider = _OneTaskAtATime(kernel.provider)
    future: Future[T] = Future()
    sent = threading.Event()

    def run() -> None:
        with _LOCK:
            _TASK.sent = sent
            try:
                future.set_result(task())
            except BaseException as error:  # handed to whoever asks for the result
                future.set_exception(error)
            finally:
                sent.set()

    threading.Thread(target=run, name=name, daemon=True).start()
    sent.wait()
    return future
