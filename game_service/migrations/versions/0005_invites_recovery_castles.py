"""invites, recovery_codes, castles: friends by invite link, guest accounts that survive a
lost device, and one thing coins buy that grows

Expand-only: three new tables; the previous release never reads them and runs unchanged.
Each row belongs to one player and goes with it (ON DELETE CASCADE).

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _player_fk() -> sa.Column:
    return sa.Column("player_id", BigInt, sa.ForeignKey("players.id", ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "invites",
        sa.Column("code", sa.String(32), primary_key=True),
        _player_fk(),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()),
        sa.UniqueConstraint("player_id", name="uq_invites_player_id"),
    )
    op.create_table(
        "recovery_codes",
        _player_fk(),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()),
        sa.PrimaryKeyConstraint("player_id", name="pk_recovery_codes"),
        sa.UniqueConstraint("code_hash", name="uq_recovery_codes_code_hash"),
    )
    op.create_table(
        "castles",
        _player_fk(),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()),
        sa.PrimaryKeyConstraint("player_id", name="pk_castles"),
        sa.CheckConstraint("level >= 0", name="ck_castles_level_nonnegative"),
    )


def downgrade() -> None:
    op.drop_table("castles")
    op.drop_table("recovery_codes")
    op.drop_table("invites")
