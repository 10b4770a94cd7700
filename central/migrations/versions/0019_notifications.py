"""Notifications: the inbox, each delivery (email, SMS, webhook), users' preferences, webhook
endpoints and their attempts log; the outbox's mail retried (attempts, next try, last error).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    """A foreign key named as the naming convention names it."""
    name = op.f(f"fk_{table}_{column}_{target.split('.')[0]}")
    return sa.ForeignKeyConstraint([column], [target], name=name, ondelete=ondelete)


def upgrade():
    """Add the five notification tables and the outbox's retry columns."""
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("data_json", sa.Text(), nullable=False),
        sa.Column("link", sa.String(length=500), nullable=True),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        _fk("notification", "user_id", "app_user.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
        sa.UniqueConstraint("event", "user_id", "dedupe_key", name=op.f("uq_notification_event")),
    )
    op.create_index("ix_notification_user_id_id", "notification", ["user_id", "id"])
    op.create_index("ix_notification_user_id_read_at", "notification", ["user_id", "read_at"])
    op.create_table(
        "notification_preference",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("channels_json", sa.Text(), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("quiet_start_min", sa.Integer(), nullable=True),
        sa.Column("quiet_end_min", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _fk("notification_preference", "user_id", "app_user.id", "CASCADE"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_preference")),
    )
    op.create_table(
        "webhook_endpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.Column("events_json", sa.Text(), nullable=False),
        sa.Column("secret_salt", sa.String(length=32), nullable=False),
        sa.Column("secret_hint", sa.String(length=8), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        _fk("webhook_endpoint", "user_id", "app_user.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoint")),
    )
    op.create_index(op.f("ix_webhook_endpoint_user_id"), "webhook_endpoint", ["user_id"])
    op.create_table(
        "notification_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("provider_ref", sa.String(length=200), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replay_of", sa.Integer(), nullable=True),
        _fk("notification_delivery", "endpoint_id", "webhook_endpoint.id", "CASCADE"),
        _fk("notification_delivery", "notification_id", "notification.id", "CASCADE"),
        _fk("notification_delivery", "replay_of", "notification_delivery.id", "SET NULL"),
        _fk("notification_delivery", "user_id", "app_user.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_delivery")),
    )
    op.create_index(
        "ix_notification_delivery_endpoint_id_id", "notification_delivery", ["endpoint_id", "id"]
    )
    op.create_index(
        op.f("ix_notification_delivery_notification_id"),
        "notification_delivery",
        ["notification_id"],
    )
    op.create_index(
        "ix_notification_delivery_state_next_attempt_at",
        "notification_delivery",
        ["state", "next_attempt_at"],
    )
    op.create_index(
        "ix_notification_delivery_user_channel",
        "notification_delivery",
        ["user_id", "channel", "created_at"],
    )
    op.create_table(
        "webhook_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("response_excerpt", sa.String(length=500), nullable=True),
        _fk("webhook_attempt", "delivery_id", "notification_delivery.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempt")),
        sa.UniqueConstraint("delivery_id", "attempt", name=op.f("uq_webhook_attempt_delivery_id")),
    )
    with op.batch_alter_table("outbox_message") as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_error", sa.String(length=500), nullable=True))


def downgrade():
    """Drop them."""
    with op.batch_alter_table("outbox_message") as batch_op:
        batch_op.drop_column("last_error")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("attempts")
    op.drop_table("webhook_attempt")
    op.drop_table("notification_delivery")
    op.drop_table("webhook_endpoint")
    op.drop_table("notification_preference")
    op.drop_table("notification")
