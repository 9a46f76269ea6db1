"""no recovery code at rest: the stored answers of recovery-code requests lose the code

A request for a recovery code with an Idempotency-Key kept its answer (the code, in
plaintext) for a replay, though only the code's hash is meant to be kept. From this release a
replay of such a key answers a 409 ``recovery_code_issued`` instead; this revision turns the
answers stored before it into that refusal.

Data only, no schema change: the previous release replays the refusal as it is (a 409 with
the service's error shape) and runs unchanged. Downgrade keeps the codes gone.

Revision ID: 0006
Revises: 0005
"""
import json

from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ISSUED = {
    "error": "recovery_code_issued",
    "detail": "this request already made a recovery code, which is shown only once; make a new one",
}


def upgrade() -> None:
    op.execute(
        sa.text(
            "UPDATE idempotency_keys SET status_code = 409, response = :response "
            "WHERE fingerprint LIKE 'POST /api/me/recovery-code %' AND status_code < 400"
        ).bindparams(response=json.dumps(ISSUED))
    )


def downgrade() -> None:
    pass
