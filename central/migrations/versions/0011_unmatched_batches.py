"""The sweep of unmatched batches: a partial index of the stored batches not yet matched, so
finding the few a lost job left behind never scans the retention window.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_UNMATCHED = "matched_at IS NULL"


def upgrade():
    """Index ingested_batch.id where matched_at is null."""
    with op.batch_alter_table("ingested_batch", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ingested_batch_unmatched",
            ["id"],
            unique=False,
            postgresql_where=sa.text(_UNMATCHED),
            sqlite_where=sa.text(_UNMATCHED),
        )


def downgrade():
    """Drop the index."""
    with op.batch_alter_table("ingested_batch", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_ingested_batch_unmatched",
            postgresql_where=sa.text(_UNMATCHED),
            sqlite_where=sa.text(_UNMATCHED),
        )
