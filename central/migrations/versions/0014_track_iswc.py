"""A track's ISWC (its composition's work code), so composition suspense has a code to claim.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    """Add track.iswc (normalized, e.g. T0345246801), nullable."""
    with op.batch_alter_table("track", schema=None) as batch_op:
        batch_op.add_column(sa.Column("iswc", sa.String(length=11), nullable=True))


def downgrade():
    """Drop track.iswc."""
    with op.batch_alter_table("track", schema=None) as batch_op:
        batch_op.drop_column("iswc")
