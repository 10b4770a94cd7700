"""Ingest: ingested_batch, quarantined_payload, batch_conflict.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    """Create the ingest tables."""
    op.create_table(
        "ingested_batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("batch_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("fingerprint_version", sa.Integer(), nullable=False),
        sa.Column("window_start_ms", sa.BigInteger(), nullable=False),
        sa.Column("window_frames", sa.Integer(), nullable=False),
        sa.Column("hash_count", sa.Integer(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("payload_hash", sa.String(length=16), nullable=False),
        sa.Column("duplicate_count", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["device.id"], name=op.f("fk_ingested_batch_device_id_device")
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["station.id"], name=op.f("fk_ingested_batch_station_id_station")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingested_batch")),
        sa.UniqueConstraint(
            "device_id", "source_id", "seq", name=op.f("uq_ingested_batch_device_id")
        ),
    )
    op.create_index(
        op.f("ix_ingested_batch_station_id"), "ingested_batch", ["station_id"], unique=False
    )
    op.create_index(
        op.f("ix_ingested_batch_window_start_ms"),
        "ingested_batch",
        ["window_start_ms"],
        unique=False,
    )
    op.create_table(
        "quarantined_payload",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=300), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.Column("payload_bytes", sa.Integer(), nullable=False),
        sa.Column("payload_head", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantined_payload")),
    )
    op.create_index(
        op.f("ix_quarantined_payload_reason"), "quarantined_payload", ["reason"], unique=False
    )
    op.create_table(
        "batch_conflict",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ingested_batch_id", sa.Integer(), nullable=False),
        sa.Column("payload_hash", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ingested_batch_id"],
            ["ingested_batch.id"],
            name=op.f("fk_batch_conflict_ingested_batch_id_ingested_batch"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_conflict")),
    )
    op.create_index(
        op.f("ix_batch_conflict_ingested_batch_id"),
        "batch_conflict",
        ["ingested_batch_id"],
        unique=False,
    )


def downgrade():
    """Drop the ingest tables."""
    op.drop_table("batch_conflict")
    op.drop_table("quarantined_payload")
    op.drop_table("ingested_batch")
