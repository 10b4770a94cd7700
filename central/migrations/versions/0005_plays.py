"""Plays; the detection index update_plays reads by; ingested_batch.plays_at.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    """Create play; index detection by station, track and start; add plays_at."""
    op.create_table(
        "play",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("speed_ratio", sa.Float(), nullable=False),
        sa.Column("inliers", sa.Integer(), nullable=False),
        sa.Column("detections", sa.Integer(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["station_id"], ["station.id"], name=op.f("fk_play_station_id_station")
        ),
        sa.ForeignKeyConstraint(["track_id"], ["track.id"], name=op.f("fk_play_track_id_track")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_play")),
        sa.UniqueConstraint("station_id", "track_id", "start_ms", name=op.f("uq_play_station_id")),
    )
    with op.batch_alter_table("play", schema=None) as batch_op:
        batch_op.create_index(
            "ix_play_station_id_start_ms", ["station_id", "start_ms"], unique=False
        )

    op.create_index(
        "ix_detection_station_track_start", "detection", ["station_id", "track_id", "start_ms"]
    )
    with op.batch_alter_table("ingested_batch", schema=None) as batch_op:
        batch_op.add_column(sa.Column("plays_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_ingested_batch_plays_pending",
            ["station_id"],
            unique=False,
            postgresql_where=sa.text("plays_at IS NULL"),
            sqlite_where=sa.text("plays_at IS NULL"),
        )


def downgrade():
    """Drop play, the detection index and ingested_batch.plays_at."""
    op.drop_index("ix_detection_station_track_start", table_name="detection")
    with op.batch_alter_table("ingested_batch", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_ingested_batch_plays_pending",
            postgresql_where=sa.text("plays_at IS NULL"),
            sqlite_where=sa.text("plays_at IS NULL"),
        )
        batch_op.drop_column("plays_at")

    with op.batch_alter_table("play", schema=None) as batch_op:
        batch_op.drop_index("ix_play_station_id_start_ms")

    op.drop_table("play")
