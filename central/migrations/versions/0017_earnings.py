"""Earnings at scale: indexes for a party's plays and a period's transfers, and the daily and
monthly earnings rollup (central/royalties/rollup.py), filled from the ledger as it stands.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"  # 0014 in the brief; after 0016 (uploads) now that main is merged in
branch_labels = None
depends_on = None


def upgrade():
    """Add the indexes and earnings_period, and roll up the existing journal."""
    op.create_index("ix_play_track_id_start_ms_id", "play", ["track_id", "start_ms", "id"])
    op.create_index("ix_play_start_ms_id", "play", ["start_ms", "id"])
    op.create_index("ix_rights_share_party", "rights_share", ["party", "track_id"])
    op.create_index("ix_ledger_transfer_created_at", "ledger_transfer", ["created_at", "seq"])
    op.create_index(
        "ix_ledger_transfer_key_pattern",
        "ledger_transfer",
        ["idempotency_key"],
        postgresql_ops={"idempotency_key": "text_pattern_ops"},
    )
    op.create_table(
        "earnings_period",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("dimension", sa.String(length=8), nullable=False),
        sa.Column("grain", sa.String(length=5), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("key_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["ledger_account.id"]),
        sa.PrimaryKeyConstraint("account_id", "dimension", "grain", "period", "key_id"),
    )
    _roll_up_existing()


def _roll_up_existing():
    """The rollup of the journal so far, as `zamio royalty rollup --rebuild` computes it."""
    from sqlalchemy.orm import Session

    from central.royalties import rollup

    rollup.rebuild(Session(bind=op.get_bind()))


def downgrade():
    """Drop earnings_period and the indexes."""
    op.drop_table("earnings_period")
    op.drop_index("ix_ledger_transfer_key_pattern", table_name="ledger_transfer")
    op.drop_index("ix_ledger_transfer_created_at", table_name="ledger_transfer")
    op.drop_index("ix_rights_share_party", table_name="rights_share")
    op.drop_index("ix_play_start_ms_id", table_name="play")
    op.drop_index("ix_play_track_id_start_ms_id", table_name="play")
