"""Central's own broker accounts (service accounts such as `zamio-ingest`), hashes only.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    """Create broker_account."""
    op.create_table(
        "broker_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broker_account")),
        sa.UniqueConstraint("name", name=op.f("uq_broker_account_name")),
    )


def downgrade():
    """Drop broker_account."""
    op.drop_table("broker_account")
