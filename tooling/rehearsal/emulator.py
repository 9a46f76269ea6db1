"""The AWS API emulator the deploy rehearsal runs against: moto's server, in this process,
on a free loopback port, with the fixes of `tooling.rehearsal.moto_fixes` applied.

    python -m tooling.rehearsal.emulator [--port N]     # runs until Ctrl-C; prints the endpoint

Clients reach it as a real endpoint: ``AWS_ENDPOINT_URL=http://localhost:PORT`` (the AWS SDKs,
the CDK CLI and boto3 honour it) and any credentials. ``localhost``, not ``127.0.0.1``: moto
reads the bucket of a path-style S3 URL (a template URL) from the host name, and
``127.0.0.1`` would become a bucket named ``127``.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

ACCOUNT = "123456789012"  # moto's account: STS GetCallerIdentity answers it for any credentials
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Endpoint:
    url: str  # http://localhost:PORT
    port: int

    def client_env(self) -> dict[str, str]:
        """What a client process needs to talk to the emulator: the endpoint and dummy
        credentials, nothing from the user's own AWS configuration."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "rehearsal",
            "AWS_SECRET_ACCESS_KEY": "rehearsal",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
        }


@contextmanager
def running(port: int | None = None) -> Iterator[Endpoint]:
    """moto's server with the fixes applied, stopped (and the fixes undone) on exit,
    whatever happens inside."""
    from moto.server import ThreadedMotoServer

    from tooling.rehearsal import moto_fixes

    port = port or free_port()
    # A custom resource's response URL (moto builds it from these; see moto_fixes).
    os.environ["MOTO_PORT"] = str(port)
    undo = moto_fixes.apply()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    try:
        server.start()
        yield Endpoint(url=f"http://localhost:{port}", port=port)
    finally:
        server.stop()
        undo()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.rehearsal.emulator", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=None, help="loopback port (default: a free one)")
    args = parser.parse_args(argv)
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
