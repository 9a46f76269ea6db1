"""session token generations, idempotent deletion callbacks, guest sign-ups per address

* ``players.session_gen`` (default 0): tokens carry it; signing out or linking Facebook
  moves it on, revoking older tokens. Tokens issued before it read as generation 0.
* ``deletion_requests.request_sha256`` (nullable, unique): a repeated data-deletion
  callback answers the code of the first one instead of deleting again.
* ``signup_limits``: guest sign-ups per client address in a fixed window.

Expand-only: the previous release writes none of these and runs unchanged (the new column
has a server default, the unique column is nullable, the table is unused by it).

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("players") as batch:
        batch.add_column(sa.Column("session_gen", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("deletion_requests") as batch:
        batch.add_column(sa.Column("request_sha256", sa.String(64), nullable=True))
        batch.create_unique_constraint("uq_deletion_requests_request_sha256", ["request_sha256"])
    op.create_table(
        "signup_limits",
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("address", name="pk_signup_limits"),
    )


def downgrade() -> None:
    op.drop_table("signup_limits")
    with op.batch_alter_table("deletion_requests") as batch:
        batch.drop_constraint("uq_deletion_requests_request_sha256", type_="unique")
        batch.drop_column("request_sha256")
    with op.batch_alter_table("players") as batch:
        batch.drop_column("session_gen")
