"""Royalties: rate card versions (the database refuses to change one), rights shares, one
accrual per play, suspense items, blanket distributions; a station's class and time zone.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

IMMUTABLE = "rate card versions are immutable: add a new version instead"
_PG_FUNCTION = f"""
CREATE FUNCTION rate_card_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'royalties: % on rate_card refused: {IMMUTABLE}', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END $$;
"""


def upgrade():
    """Add the station's tariff columns, the royalty tables, and rate_card's guard."""
    with op.batch_alter_table("station", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("station_class", sa.String(length=32), server_default="A", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "timezone", sa.String(length=64), server_default="Africa/Accra", nullable=False
            )
        )
    _create_rate_card()
    _create_rights_share()
    _create_accrual()
    _create_suspense()
    _create_blanket()
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER rate_card_immutable BEFORE UPDATE OR DELETE ON rate_card"
            " FOR EACH ROW EXECUTE FUNCTION rate_card_refuse_change()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER rate_card_no_{event.lower()} BEFORE {event} ON rate_card BEGIN"
                f" SELECT RAISE(ABORT, 'royalties: {event} on rate_card refused: {IMMUTABLE}');"
                " END"
            )


def _create_rate_card():
    op.create_table(
        "rate_card",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("effective_from_ms", sa.BigInteger(), nullable=False),
        sa.Column("bands_json", sa.Text(), nullable=False),
        sa.Column("lines_json", sa.Text(), nullable=False),
        sa.Column("composition_share_bp", sa.Integer(), nullable=False),
        sa.Column("platform_fee_bp", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_card")),
        sa.UniqueConstraint("code", "version", name=op.f("uq_rate_card_code")),
    )


def _create_rights_share():
    op.create_table(
        "rights_share",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("pool", sa.String(length=16), nullable=False),
        sa.Column("work_code", sa.String(length=16), nullable=False),
        sa.Column("party", sa.String(length=128), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("share_bp", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["track_id"], ["track.id"], name=op.f("fk_rights_share_track_id_track")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rights_share")),
    )
    op.create_index("ix_rights_share_track_pool", "rights_share", ["track_id", "pool"])


def _create_accrual():
    op.create_table(
        "royalty_accrual",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("play_id", sa.Integer(), nullable=False),
        sa.Column("rate_card_id", sa.Integer(), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("explanation_json", sa.Text(), nullable=False),
        sa.Column("transfer_id", sa.Uuid(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.Column("hold_reason", sa.Text(), nullable=True),
        sa.Column("action_key", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["play_id"], ["play.id"], name=op.f("fk_royalty_accrual_play_id_play")
        ),
        sa.ForeignKeyConstraint(
            ["rate_card_id"], ["rate_card.id"],
            name=op.f("fk_royalty_accrual_rate_card_id_rate_card"),
        ),
        sa.ForeignKeyConstraint(
            ["transfer_id"], ["ledger_transfer.id"],
            name=op.f("fk_royalty_accrual_transfer_id_ledger_transfer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_royalty_accrual")),
        sa.UniqueConstraint("play_id", name=op.f("uq_royalty_accrual_play_id")),
    )  # fmt: skip
    op.create_index("ix_royalty_accrual_state", "royalty_accrual", ["state"])


def _create_suspense():
    op.create_table(
        "royalty_suspense",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("accrual_id", sa.Integer(), nullable=False),
        sa.Column("pool", sa.String(length=16), nullable=False),
        sa.Column("work_code", sa.String(length=16), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("claim_transfer_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["accrual_id"], ["royalty_accrual.id"],
            name=op.f("fk_royalty_suspense_accrual_id_royalty_accrual"),
        ),
        sa.ForeignKeyConstraint(
            ["claim_transfer_id"], ["ledger_transfer.id"],
            name=op.f("fk_royalty_suspense_claim_transfer_id_ledger_transfer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_royalty_suspense")),
    )  # fmt: skip
    op.create_index("ix_royalty_suspense_work_code", "royalty_suspense", ["work_code"])
    op.create_index("ix_royalty_suspense_accrual_id", "royalty_suspense", ["accrual_id"])


def _create_blanket():
    op.create_table(
        "royalty_blanket",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("pool_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("idempotency_key", sa.String(length=100), nullable=False),
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.Column("plays", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"], ["station.id"], name=op.f("fk_royalty_blanket_station_id_station")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_royalty_blanket")),
        sa.UniqueConstraint("station_id", "month", name=op.f("uq_royalty_blanket_station_id")),
    )


def downgrade():
    """Drop the royalty tables, rate_card's guard and the station's tariff columns."""
    op.drop_table("royalty_blanket")
    op.drop_index("ix_royalty_suspense_accrual_id", table_name="royalty_suspense")
    op.drop_index("ix_royalty_suspense_work_code", table_name="royalty_suspense")
    op.drop_table("royalty_suspense")
    op.drop_index("ix_royalty_accrual_state", table_name="royalty_accrual")
    op.drop_table("royalty_accrual")
    op.drop_index("ix_rights_share_track_pool", table_name="rights_share")
    op.drop_table("rights_share")
    op.drop_table("rate_card")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION rate_card_refuse_change()")
    with op.batch_alter_table("station", schema=None) as batch_op:
        batch_op.drop_column("timezone")
        batch_op.drop_column("station_class")
