"""Alembic environment: runs migrations on the connection ``game_service.migrate`` opened.

``migrate`` holds the PostgreSQL advisory lock and the timeouts; this file only runs the
scripts. (The ``alembic`` CLI with ``sqlalchemy.url`` works too, without the lock.)
"""

from alembic import context
from sqlalchemy import create_engine, pool

from game_service.models import metadata

config = context.config


def run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif config.attributes.get("connection") is not None:
    run(config.attributes["connection"])
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.begin() as conn:
        run(conn)
    engine.dispose()
