"""When stored batches were last searched for each track (retroactive re-matching).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    """Add track.rematched_at; tracks already registered count as searched for."""
    with op.batch_alter_table("track", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rematched_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(sa.text("UPDATE track SET rematched_at = created_at"))


def downgrade():
    """Drop track.rematched_at."""
    with op.batch_alter_table("track", schema=None) as batch_op:
        batch_op.drop_column("rematched_at")
