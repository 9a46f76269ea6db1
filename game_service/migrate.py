"""Run Alembic migrations with the package's own alembic.ini (works from any cwd)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from game_service.config import Settings

HERE = Path(__file__).resolve().parent


def alembic_config(settings: Settings) -> Config:
    cfg = Config(str(HERE / "alembic.ini"))
    cfg.set_main_option("script_location", str(HERE / "migrations"))
    cfg.attributes["sync_url"] = settings.sync_database_url
    return cfg


def upgrade_head(settings: Settings) -> None:
    command.upgrade(alembic_config(settings), "head")
