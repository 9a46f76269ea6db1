"""players.gifts_waiting: count of unclaimed gifts kept on the player row

The state read was counting unclaimed gifts on every request; the counter makes it a
plain primary-key read. Backfilled from the gifts table.

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("players") as batch:
        batch.add_column(sa.Column("gifts_waiting", sa.Integer(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE players SET gifts_waiting = "
        "(SELECT count(*) FROM gifts WHERE gifts.recipient_id = players.id AND gifts.claimed_at IS NULL)"
    )
    with op.batch_alter_table("players") as batch:
        batch.create_check_constraint("ck_players_gifts_waiting_nonnegative", "gifts_waiting >= 0")


def downgrade() -> None:
    with op.batch_alter_table("players") as batch:
        batch.drop_constraint("ck_players_gifts_waiting_nonnegative", type_="check")
        batch.drop_column("gifts_waiting")
