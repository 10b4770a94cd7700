"""Track uploads: a file sent to register a track and its progress, and the review of one whose
recording is already registered to other parties.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    """Add track_upload and track_review."""
    op.create_table(
        "track_upload",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("progress_percent", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("artist", sa.String(length=500), nullable=True),
        sa.Column("isrc", sa.String(length=12), nullable=True),
        sa.Column("iswc", sa.String(length=11), nullable=True),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("shares_json", sa.Text(), nullable=False),
        sa.Column("submitted_by", sa.String(length=64), nullable=False),
        sa.Column("parties_json", sa.Text(), nullable=False),
        sa.Column("filename", sa.String(length=500), nullable=True),
        sa.Column("container", sa.String(length=16), nullable=False),
        sa.Column("file_path", sa.String(length=1000), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("content_hash", sa.String(length=16), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("track_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["track_id"], ["track.id"],
            name=op.f("fk_track_upload_track_id_track"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_track_upload")),
    )  # fmt: skip
    op.create_index("ix_track_upload_state_updated_at", "track_upload", ["state", "updated_at"])
    op.create_index(op.f("ix_track_upload_track_id"), "track_upload", ["track_id"])
    op.create_table(
        "track_review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("upload_id", sa.Integer(), nullable=False),
        sa.Column("matched_track_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("shared_start_ms", sa.Integer(), nullable=False),
        sa.Column("shared_ms", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["upload_id"], ["track_upload.id"],
            name=op.f("fk_track_review_upload_id_track_upload"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["matched_track_id"], ["track.id"],
            name=op.f("fk_track_review_matched_track_id_track"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_track_review")),
        sa.UniqueConstraint("upload_id", name=op.f("uq_track_review_upload_id")),
    )  # fmt: skip
    op.create_index("ix_track_review_state_id", "track_review", ["state", "id"])


def downgrade():
    """Drop track_review and track_upload."""
    op.drop_index("ix_track_review_state_id", table_name="track_review")
    op.drop_table("track_review")
    op.drop_index(op.f("ix_track_upload_track_id"), table_name="track_upload")
    op.drop_index("ix_track_upload_state_updated_at", table_name="track_upload")
    op.drop_table("track_upload")
