"""Entry points.

* ``python -m game_service``          local play: SQLite + local media dir, migrates, prints the URL
* ``python -m game_service migrate``  Alembic upgrade head (under a PostgreSQL advisory lock)
* ``python -m game_service serve``    production server (gunicorn + uvicorn workers)
"""

from __future__ import annotations

import sys

from game_service.config import ConfigError, get_settings


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "play"
    if cmd in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    if cmd not in ("play", "migrate", "serve"):
        print(f"unknown command {cmd!r}; use one of: play (default), migrate, serve", file=sys.stderr)
        return 2
    from game_service import logs

    logs.configure("INFO")
    try:
        settings = get_settings()
    except ConfigError as exc:
        print(f"game_service: configuration error: {exc}", file=sys.stderr)
        return 2
    from game_service.migrate import upgrade_head

    if cmd == "migrate":
        upgrade_head(settings)
        return 0
    if cmd == "serve":
        from game_service.server import serve

        serve(settings)
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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
