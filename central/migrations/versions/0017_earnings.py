"""Earnings at scale: indexes for a party's plays and a period's transfers, and the monthly
earnings rollup (central/royalties/rollup.py), filled from the ledger as it stands.

Revision ID: 0017
Revises: 0014
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    """Add the indexes and earnings_month, and roll up the existing journal."""
    op.create_index("ix_play_track_id_start_ms", "play", ["track_id", "start_ms"])
    op.create_index("ix_play_start_ms", "play", ["start_ms"])
    op.create_index("ix_rights_share_party", "rights_share", ["party", "track_id"])
    op.create_index("ix_ledger_transfer_created_at", "ledger_transfer", ["created_at", "seq"])
    op.create_index(
        "ix_ledger_transfer_key_pattern",
        "ledger_transfer",
        ["idempotency_key"],
        postgresql_ops={"idempotency_key": "text_pattern_ops"},
    )
    op.create_table(
        "earnings_month",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("dimension", sa.String(length=8), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("key_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["ledger_account.id"]),
        sa.PrimaryKeyConstraint("account_id", "dimension", "month", "key_id"),
    )
    _roll_up_existing()


def _roll_up_existing():
    """The rollup of the journal so far, as `zamio royalty rollup --rebuild` computes it."""
    from sqlalchemy.orm import Session

    from central.royalties import rollup

    rollup.rebuild(Session(bind=op.get_bind()))


def downgrade():
    """Drop earnings_month and the indexes."""
    op.drop_table("earnings_month")
    op.drop_index("ix_ledger_transfer_key_pattern", table_name="ledger_transfer")
    op.drop_index("ix_ledger_transfer_created_at", table_name="ledger_transfer")
    op.drop_index("ix_rights_share_party", table_name="rights_share")
    op.drop_index("ix_play_start_ms", table_name="play")
    op.drop_index("ix_play_track_id_start_ms", table_name="play")
