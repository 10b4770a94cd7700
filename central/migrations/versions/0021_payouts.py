"""Payouts: payout methods, withdrawals with their approvals and history, reconciliation runs.
A withdrawal's approvals and history are append-only: the database refuses UPDATE and DELETE on
payout_approval and payout_event (triggers, as for the audit log).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


APPEND_ONLY = ("payout_approval", "payout_event")
_PG = """
CREATE FUNCTION payout_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % refused: a withdrawal''s approvals and history are append-only',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
END $$;
""" + "".join(
    f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
    " FOR EACH ROW EXECUTE FUNCTION payout_refuse_change();\n"
    for table in APPEND_ONLY
)
_SQLITE = [
    f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} BEGIN"
    f" SELECT RAISE(ABORT, '{event} on {table} refused: append-only'); END"
    for table in APPEND_ONLY
    for event in ("UPDATE", "DELETE")
]


def upgrade():
    """Add the payout tables, then the append-only triggers."""
    op.create_table(
        "payout_method",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("party", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("network", sa.String(length=32), nullable=False),
        sa.Column("msisdn", sa.String(length=15), nullable=True),
        sa.Column("account_number", sa.String(length=34), nullable=True),
        sa.Column("account_name", sa.String(length=120), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("usable_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('momo', 'bank')", name=op.f("ck_payout_method_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_method")),
    )
    with op.batch_alter_table("payout_method", schema=None) as batch_op:
        batch_op.create_index("ix_payout_method_party", ["party", "active"], unique=False)

    op.create_table(
        "payout_reconcile_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("checked", sa.Integer(), nullable=False),
        sa.Column("mismatches", sa.Integer(), nullable=False),
        sa.Column("unreachable", sa.Integer(), nullable=False),
        sa.Column("report_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_reconcile_run")),
    )
    with op.batch_alter_table("payout_reconcile_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payout_reconcile_run_at"), ["at"], unique=False)

    op.create_table(
        "payout_withdrawal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("party", sa.String(length=128), nullable=False),
        sa.Column("method_id", sa.Integer(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("approvals_needed", sa.SmallInteger(), nullable=False),
        sa.Column("requested_by", sa.String(length=120), nullable=False),
        sa.Column("requester_user_id", sa.Integer(), nullable=True),
        sa.Column("request_key", sa.String(length=200), nullable=True),
        sa.Column("hold_transfer_id", sa.Uuid(), nullable=True),
        sa.Column("reference", sa.Uuid(), nullable=True),
        sa.Column("provider", sa.String(length=32), nullable=True),
        sa.Column("provider_state", sa.String(length=12), nullable=True),
        sa.Column("provider_reason", sa.String(length=120), nullable=True),
        sa.Column("provider_id", sa.String(length=64), nullable=True),
        sa.Column("submit_attempts", sa.Integer(), nullable=False),
        sa.Column("checks", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_payout_withdrawal_amount_positive")),
        sa.CheckConstraint(
            "approvals_needed IN (1, 2)", name=op.f("ck_payout_withdrawal_approvals_needed")
        ),
        sa.ForeignKeyConstraint(
            ["method_id"],
            ["payout_method.id"],
            name=op.f("fk_payout_withdrawal_method_id_payout_method"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_withdrawal")),
        sa.UniqueConstraint("hold_transfer_id", name=op.f("uq_payout_withdrawal_hold_transfer_id")),
        sa.UniqueConstraint("reference", name=op.f("uq_payout_withdrawal_reference")),
        sa.UniqueConstraint("request_key", name=op.f("uq_payout_withdrawal_request_key")),
    )
    with op.batch_alter_table("payout_withdrawal", schema=None) as batch_op:
        batch_op.create_index("ix_payout_withdrawal_party", ["party", "id"], unique=False)
        batch_op.create_index(
            "ix_payout_withdrawal_status_check", ["status", "next_check_at"], unique=False
        )

    op.create_table(
        "payout_approval",
        sa.Column("withdrawal_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["withdrawal_id"],
            ["payout_withdrawal.id"],
            name=op.f("fk_payout_approval_withdrawal_id_payout_withdrawal"),
        ),
        sa.PrimaryKeyConstraint("withdrawal_id", "user_id", name=op.f("pk_payout_approval")),
    )
    op.create_table(
        "payout_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("withdrawal_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("from_status", sa.String(length=12), nullable=True),
        sa.Column("to_status", sa.String(length=12), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["withdrawal_id"],
            ["payout_withdrawal.id"],
            name=op.f("fk_payout_event_withdrawal_id_payout_withdrawal"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_event")),
    )
    with op.batch_alter_table("payout_event", schema=None) as batch_op:
        batch_op.create_index("ix_payout_event_withdrawal", ["withdrawal_id", "id"], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG)
    else:
        for statement in _SQLITE:
            op.execute(statement)


def downgrade():
    """Drop them."""
    with op.batch_alter_table("payout_event", schema=None) as batch_op:
        batch_op.drop_index("ix_payout_event_withdrawal")

    op.drop_table("payout_event")
    op.drop_table("payout_approval")
    with op.batch_alter_table("payout_withdrawal", schema=None) as batch_op:
        batch_op.drop_index("ix_payout_withdrawal_status_check")
        batch_op.drop_index("ix_payout_withdrawal_party")

    op.drop_table("payout_withdrawal")
    with op.batch_alter_table("payout_reconcile_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payout_reconcile_run_at"))

    op.drop_table("payout_reconcile_run")
    with op.batch_alter_table("payout_method", schema=None) as batch_op:
        batch_op.drop_index("ix_payout_method_party")

    op.drop_table("payout_method")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS payout_refuse_change()")
