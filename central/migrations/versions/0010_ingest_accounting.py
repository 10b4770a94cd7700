"""Ingest accounting: each source's seq progress and the gaps in it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    """Create source_progress and seq_gap (with its per-source and due-request indexes)."""
    op.create_table(
        "source_progress",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("seq_first", sa.BigInteger(), nullable=False),
        sa.Column("seq_max", sa.BigInteger(), nullable=False),
        sa.Column("batches_count", sa.Integer(), nullable=False),
        sa.Column("seq_last", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["device.id"], name=op.f("fk_source_progress_device_id_device")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_progress")),
        sa.UniqueConstraint("device_id", "source_id", name=op.f("uq_source_progress_device_id")),
    )
    op.create_table(
        "seq_gap",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("seq_from", sa.BigInteger(), nullable=False),
        sa.Column("seq_to", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_request_ms", sa.BigInteger(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("request_count", sa.Integer(), nullable=False),
        sa.Column("recovered_count", sa.BigInteger(), nullable=False),
        sa.Column("lost_reason", sa.String(length=40), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"], ["device.id"], name=op.f("fk_seq_gap_device_id_device")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seq_gap")),
    )
    with op.batch_alter_table("seq_gap", schema=None) as batch_op:
        batch_op.create_index("ix_seq_gap_source", ["device_id", "source_id", "seq_from"])
        batch_op.create_index("ix_seq_gap_due", ["state", "next_request_ms"])


def downgrade():
    """Drop seq_gap and source_progress."""
    with op.batch_alter_table("seq_gap", schema=None) as batch_op:
        batch_op.drop_index("ix_seq_gap_due")
        batch_op.drop_index("ix_seq_gap_source")
    op.drop_table("seq_gap")
    op.drop_table("source_progress")
