"""Device health: each device's latest status, and the health events of its sources.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    """Create device_event (with its recent-events indexes) and device_status."""
    op.create_table(
        "device_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("detail_json", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["device.id"], name=op.f("fk_device_event_device_id_device")
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["station.id"], name=op.f("fk_device_event_station_id_station")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_event")),
        sa.UniqueConstraint(
            "device_id", "source_id", "kind", "at_ms", name=op.f("uq_device_event_device_id")
        ),
    )
    with op.batch_alter_table("device_event", schema=None) as batch_op:
        batch_op.create_index("ix_device_event_device_recent", ["device_id", "at_ms"], unique=False)
        batch_op.create_index(
            "ix_device_event_station_recent", ["station_id", "at_ms"], unique=False
        )

    op.create_table(
        "device_status",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("offline_reason", sa.String(length=200), nullable=True),
        sa.Column("offline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_json", sa.Text(), nullable=True),
        sa.Column("heartbeat_s", sa.Float(), nullable=True),
        sa.Column("sent_ms", sa.BigInteger(), nullable=True),
        sa.Column("started_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["device.id"], name=op.f("fk_device_status_device_id_device")
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_device_status")),
    )


def downgrade():
    """Drop device_status and device_event."""
    op.drop_table("device_status")
    with op.batch_alter_table("device_event", schema=None) as batch_op:
        batch_op.drop_index("ix_device_event_station_recent")
        batch_op.drop_index("ix_device_event_device_recent")

    op.drop_table("device_event")
