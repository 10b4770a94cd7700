"""Ledger verify runs kept (when, by whom, ok or the problems) for the console's overview, and
indexes for its counts of the last day: quarantined payloads, royalties accrued.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade():
    """Add ledger_verify_run and the two indexes."""
    op.create_table(
        "ledger_verify_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("via", sa.String(length=8), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("transfers", sa.BigInteger(), nullable=False),
        sa.Column("entries", sa.BigInteger(), nullable=False),
        sa.Column("accounts", sa.Integer(), nullable=False),
        sa.Column("head_seq", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("problems_json", sa.Text(), nullable=False),
        sa.Column("problems_omitted", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ledger_verify_run_at", "ledger_verify_run", ["at"])
    op.create_index("ix_quarantined_payload_received_at", "quarantined_payload", ["received_at"])
    op.create_index("ix_royalty_accrual_created_at", "royalty_accrual", ["created_at"])


def downgrade():
    """Drop them."""
    op.drop_index("ix_royalty_accrual_created_at", table_name="royalty_accrual")
    op.drop_index("ix_quarantined_payload_received_at", table_name="quarantined_payload")
    op.drop_index("ix_ledger_verify_run_at", table_name="ledger_verify_run")
    op.drop_table("ledger_verify_run")
