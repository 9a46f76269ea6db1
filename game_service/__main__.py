"""Entry points.

* ``python -m game_service``          local play: SQLite + local media dir, migrates, prints the URL;
  sessions survive a restart (the signing secret is kept in ``./var/session_secret``)
* ``python -m game_service migrate [--timeout SECONDS]``  the once-per-deploy database step
  (Alembic upgrade head under a PostgreSQL advisory lock, then the app role's grants; see
  ``game_service.migrate``). Exit 0 when done or when the database is already at a newer
  release's revision; 1 on timeout or a database error; 2 on a configuration error.
* ``python -m game_service serve``    production server (gunicorn + uvicorn workers)
* ``python -m game_service worker``   the job worker (``GAME_JOB_QUEUE_URL``; see
  ``game_service.jobs.worker``): until SIGTERM, which it honours without losing a message
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from game_service.core.config import ConfigError, get_settings


def _timeout_arg(args: list[str]) -> float:
    if not args:
        return 300.0
    if len(args) == 2 and args[0] == "--timeout":
        try:
            value = float(args[1])
        except ValueError:
            value = 0
        if value > 0:
            return value
    raise ValueError("usage: python -m game_service migrate [--timeout SECONDS]")


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "play"
    if cmd in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    if cmd not in ("play", "migrate", "serve", "worker"):
        print(f"unknown command {cmd!r}; use one of: play (default), migrate, serve, worker", file=sys.stderr)
        return 2
    from game_service.core import logs

    logs.configure("INFO")
    if cmd == "play":
        keep_local_session_secret()
    from game_service.core import db_auth

    try:
        settings = get_settings()
        db_auth.check(settings)  # the database secret exists and has its shape: a clear error now, not at the first request
    except ConfigError as exc:
        print(f"game_service: configuration error: {exc}", file=sys.stderr)
        return 2
    from game_service.migrate import MigrateError, migrate, upgrade_head

    if cmd == "migrate":
        try:
            timeout = _timeout_arg(argv[1:])
        except ValueError as exc:
            print(str(exc), file=sys.stderr)
            return 2
        return _migrate(settings, timeout, migrate, MigrateError)
    if cmd == "serve":
        from game_service.core.server import serve

        serve(settings)
        return 0
    if cmd == "worker":
        if not settings.job_queue_url:
            print("game_service: configuration error: the worker needs GAME_JOB_QUEUE_URL (an SQS queue's URL)",
                  file=sys.stderr)
            return 2
        from game_service.jobs import worker

        logs.configure(settings.log_level)
        worker.serve(settings)
        return 0
    # local play
    import uvicorn

    from game_service.main import create_app

    upgrade_head(settings)
    logs.configure(settings.log_level)
    url = f"http://{settings.bind}:{settings.port}/"
    print(f"\n  The game is running at {url}  (database: {settings.database_url}; Ctrl-C stops it)\n", flush=True)
    uvicorn.run(create_app(settings), host=settings.bind, port=settings.port, log_config=None, access_log=False)
    return 0


LOCAL_SECRET_FILE = Path("var") / "session_secret"


def keep_local_session_secret(path: Path = LOCAL_SECRET_FILE) -> None:
    """Local play signs sessions with a secret kept in ``./var/session_secret`` (made on the
    first run, readable by its owner only), so restarting ``make play`` keeps everyone signed
    in. A configured secret (``GAME_SESSION_SECRET``, ``GAME_APP_SECRET_ID``) wins."""
    if os.environ.get("GAME_SESSION_SECRET") or os.environ.get("GAME_APP_SECRET_ID"):
        return
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it just now
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(32))
    os.environ["GAME_SESSION_SECRET"] = path.read_text().strip()


def _migrate(settings, timeout: float, migrate, MigrateError) -> int:
    import signal

    def _expired(*_):
        raise MigrateError(f"migration did not finish within --timeout {timeout:g} s")

    # a backstop for what lock_timeout/statement_timeout cannot see (e.g. a stalled network);
    # PostgreSQL rolls back the migration's transaction when the process exits
    signal.signal(signal.SIGALRM, _expired)
    signal.alarm(int(timeout) + 10)
    try:
        migrate(settings, timeout=timeout)
    except (MigrateError, ConfigError) as exc:
        print(f"game_service migrate: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.alarm(0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
