"""jobs.sealed: a secret a job needs (the friends import's Facebook token), sealed

Expand-only: one nullable column; the previous release never reads it and runs unchanged.

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("sealed", sa.Text, nullable=True))


def downgrade() -> None:
    op.drop_column("jobs", "sealed")
