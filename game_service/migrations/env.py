"""Alembic environment: runs migrations on the service's database.

On PostgreSQL the whole upgrade runs under a session advisory lock, so replicas that
all run ``python -m game_service migrate`` at boot do not race: one migrates, the
others wait and then find the schema at head.
"""

from alembic import context
from sqlalchemy import create_engine, pool, text

from game_service.models import metadata

MIGRATION_LOCK_KEY = 7_413_300_411  # arbitrary, constant for this application

config = context.config
url = config.attributes.get("sync_url") or config.get_main_option("sqlalchemy.url")


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        is_pg = connection.dialect.name == "postgresql"
        if is_pg:
            connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
            connection.commit()
        try:
            context.configure(
                connection=connection,
                target_metadata=metadata,
                render_as_batch=connection.dialect.name == "sqlite",
            )
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        finally:
            if is_pg:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY})
                connection.commit()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
