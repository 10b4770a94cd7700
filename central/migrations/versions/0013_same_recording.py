"""One airing, one play: tracks that share a recording (found at import), and which rule chose
each play's track.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    """Add track_near_duplicate and play.chosen_by (None for plays built before)."""
    op.create_table(
        "track_near_duplicate",
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("other_track_id", sa.Integer(), nullable=False),
        sa.Column("shared_ms", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["track_id"], ["track.id"],
            name=op.f("fk_track_near_duplicate_track_id_track"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["other_track_id"], ["track.id"],
            name=op.f("fk_track_near_duplicate_other_track_id_track"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("track_id", "other_track_id", name=op.f("pk_track_near_duplicate")),
    )  # fmt: skip
    op.create_index(
        op.f("ix_track_near_duplicate_other_track_id"), "track_near_duplicate", ["other_track_id"]
    )
    with op.batch_alter_table("play", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chosen_by", sa.String(length=200), nullable=True))


def downgrade():
    """Drop play.chosen_by and track_near_duplicate."""
    with op.batch_alter_table("play", schema=None) as batch_op:
        batch_op.drop_column("chosen_by")
    op.drop_index(op.f("ix_track_near_duplicate_other_track_id"), table_name="track_near_duplicate")
    op.drop_table("track_near_duplicate")
