"""ledger (player_id, id) index: a player's ledger page without a sort

``GET /api/me/ledger`` reads ``WHERE player_id = ? ORDER BY id DESC LIMIT n``; the unique
(player_id, op_key) index finds the rows but not in order. Expand-only: the previous release
runs unchanged with the extra index.

Revision ID: 0003
Revises: 0002
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_ledger_player_id_id", "ledger", ["player_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_ledger_player_id_id", table_name="ledger")
