"""Catalogue: track and track_fingerprint.

Revision ID: 0001
Revises:
Create Date: 2025-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    """Create the catalogue tables."""
    op.create_table(
        "track",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("artist", sa.String(length=500), nullable=True),
        sa.Column("isrc", sa.String(length=12), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_track")),
        sa.UniqueConstraint("content_hash", name=op.f("uq_track_content_hash")),
        sa.UniqueConstraint("external_id", name=op.f("uq_track_external_id")),
    )
    op.create_table(
        "track_fingerprint",
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint_version", sa.Integer(), nullable=False),
        sa.Column("hash_count", sa.Integer(), nullable=False),
        sa.Column("hashes", sa.LargeBinary(), nullable=False),
        sa.Column("anchor_frames", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["track_id"],
            ["track.id"],
            name=op.f("fk_track_fingerprint_track_id_track"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "track_id", "fingerprint_version", name=op.f("pk_track_fingerprint")
        ),
    )


def downgrade():
    """Drop the catalogue tables."""
    op.drop_table("track_fingerprint")
    op.drop_table("track")
