"""The AWS API emulator the deploy rehearsal runs against: moto's server, in this process,
on a free loopback port, with the fixes of `checks.rehearsal.moto_fixes` applied.

    python -m checks.rehearsal.emulator [--port N]     # runs until Ctrl-C; prints the endpoint

Clients reach it as a real endpoint: ``AWS_ENDPOINT_URL=http://localhost:PORT`` (the AWS SDKs,
the CDK CLI and boto3 honour it) and any credentials. ``localhost``, not ``127.0.0.1``: moto
reads the bucket of a path-style S3 URL (a template URL) from the host name, and
``127.0.0.1`` would become a bucket named ``127``.
"""

from __future__ import annotations

import argparse
import logging
import re
import signal
import socket
import sys
import threading
import urllib.request
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

ACCOUNT = "123456789012"  # moto's account: STS GetCallerIdentity answers it for any credentials
REGION = "us-east-1"
log = logging.getLogger("checks.rehearsal.emulator")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Endpoint:
    url: str  # http://localhost:PORT
    port: int
    skipped_types: set[str] = field(default_factory=set)
    """Resource types moto's CloudFormation skipped so far ("No Moto CloudFormation support")."""

    def client_env(self) -> dict[str, str]:
        """What a client process needs to talk to the emulator: the endpoint and dummy
        credentials (the caller removes the user's own AWS configuration)."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "rehearsal",
            "AWS_SECRET_ACCESS_KEY": "rehearsal",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
        }


class _SkippedTypes(logging.Handler):
    _PATTERN = re.compile(r"No Moto CloudFormation support for (\S+)")

    def __init__(self, into: set[str]) -> None:
        super().__init__(logging.WARNING)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        match = self._PATTERN.search(record.getMessage())
        if match:
            self.into.add(match.group(1))


@contextmanager
def running(port: int | None = None) -> Iterator[Endpoint]:
    """moto's server with the fixes applied and no resources, stopped (and the fixes
    undone) on exit, whatever happens inside. Its notes go to the
    ``checks.rehearsal.emulator`` logger."""
    from moto.server import ThreadedMotoServer

    from checks.rehearsal import moto_fixes

    port = port or free_port()
    endpoint = Endpoint(url=f"http://localhost:{port}", port=port)
    moto_log = logging.getLogger("moto")
    skipped = _SkippedTypes(endpoint.skipped_types)
    moto_log.addHandler(skipped)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    undo = moto_fixes.apply()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    try:
        with warnings.catch_warnings():
            # moto also warns per skipped resource; the handler above keeps the list
            warnings.filterwarnings("ignore", message="Tried to parse", category=UserWarning)
            server.start()
            # moto's state lives in this process: start from an empty AWS, whatever ran before
            urllib.request.urlopen(urllib.request.Request(f"{endpoint.url}/moto-api/reset", method="POST"), timeout=30)
            yield endpoint
    finally:
        server.stop()
        undo()
        moto_log.removeHandler(skipped)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m checks.rehearsal.emulator", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=None, help="loopback port (default: a free one)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="emulator: %(message)s", stream=sys.stderr)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with running(args.port) as endpoint:
        print(f"emulator: {endpoint.url} (account {ACCOUNT}, {REGION}); Ctrl-C stops it", flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
