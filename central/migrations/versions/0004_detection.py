"""Detections, and when each ingested batch was matched.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    """Create detection; add ingested_batch.matched_at."""
    op.create_table(
        "detection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ingested_batch_id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("window_start_ms", sa.BigInteger(), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("query_first_frame", sa.BigInteger(), nullable=False),
        sa.Column("query_last_frame", sa.BigInteger(), nullable=False),
        sa.Column("inliers", sa.Integer(), nullable=False),
        sa.Column("query_hashes", sa.Integer(), nullable=False),
        sa.Column("speed_ratio", sa.Float(), nullable=False),
        sa.Column("offset_frames", sa.Float(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("strong", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ingested_batch_id"],
            ["ingested_batch.id"],
            name=op.f("fk_detection_ingested_batch_id_ingested_batch"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["station.id"], name=op.f("fk_detection_station_id_station")
        ),
        sa.ForeignKeyConstraint(
            ["track_id"], ["track.id"], name=op.f("fk_detection_track_id_track")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_detection")),
    )
    op.create_index(
        op.f("ix_detection_ingested_batch_id"), "detection", ["ingested_batch_id"], unique=False
    )
    op.create_index(op.f("ix_detection_start_ms"), "detection", ["start_ms"], unique=False)
    with op.batch_alter_table("ingested_batch") as batch_op:
        batch_op.add_column(sa.Column("matched_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    """Drop detection and ingested_batch.matched_at."""
    with op.batch_alter_table("ingested_batch") as batch_op:
        batch_op.drop_column("matched_at")
    op.drop_table("detection")
