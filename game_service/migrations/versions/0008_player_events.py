"""player_events: what a player's open pages should show now, for the live stream

Expand-only: one new table; the previous release never reads it and runs unchanged.

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "player_events",
        sa.Column("id", BigInt, autoincrement=True, nullable=False),
        sa.Column("player_id", BigInt, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("from_id", BigInt, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()),
        sa.ForeignKeyConstraint(["player_id"], ["players.id"], name="fk_player_events_player_id_players",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["from_id"], ["players.id"], name="fk_player_events_from_id_players",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_player_events"),
    )
    op.create_index("ix_player_events_player_id_id", "player_events", ["player_id", "id"])
    op.create_index("ix_player_events_created_at", "player_events", ["created_at"])
    op.create_index("ix_player_events_from_id", "player_events", ["from_id"])


def downgrade() -> None:
    op.drop_index("ix_player_events_from_id", table_name="player_events")
    op.drop_index("ix_player_events_created_at", table_name="player_events")
    op.drop_index("ix_player_events_player_id_id", table_name="player_events")
    op.drop_table("player_events")
