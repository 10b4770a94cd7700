"""Ledger: accounts, the append-only journal of transfers and entries, its chain head, and the
triggers that make the database itself refuse to change the journal.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24

SQLite rebuilds a table to alter it (Alembic batch mode) and drops its triggers with it: a later
migration that alters a ledger table must create that table's triggers again (see `_TRIGGERS`).
TRUNCATE is not refused (it is the table owner's right, and the tests empty tables with it):
run the application as a role that does not own the ledger tables, without TRUNCATE.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

APPEND_ONLY = "the ledger is append-only: post a new transfer (a reversal) instead"
_AVAILABLE = (
    "CASE WHEN normal_side = 'credit'"
    " THEN credits_posted_minor - debits_posted_minor - debits_pending_minor"
    " ELSE debits_posted_minor - credits_posted_minor - credits_pending_minor END"
)
_ACCOUNT_FIXED = ("id", "code", "kind", "currency", "normal_side", "created_at")

_PG_FUNCTIONS = f"""
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger: % on % refused: {APPEND_ONLY}', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END $$;

CREATE FUNCTION ledger_account_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'ledger: DELETE on ledger_account refused: accounts are permanent'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF {" OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in _ACCOUNT_FIXED)} THEN
        RAISE EXCEPTION 'ledger: UPDATE of account % refused: only its totals and floor change',
            OLD.code USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.debits_posted_minor < OLD.debits_posted_minor
            OR NEW.credits_posted_minor < OLD.credits_posted_minor THEN
        RAISE EXCEPTION 'ledger: UPDATE of account % refused: posted totals only grow',
            OLD.code USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE FUNCTION ledger_chain_head_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR NEW.id <> OLD.id OR NEW.seq <> OLD.seq + 1 THEN
        RAISE EXCEPTION 'ledger: % on ledger_chain_head refused: it only moves one seq forward',
            TG_OP USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
"""

# (trigger name, table, PostgreSQL timing and events, PostgreSQL function)
_PG_TRIGGERS = (
    ("ledger_transfer_append_only", "ledger_transfer", "UPDATE OR DELETE", "ledger_refuse_change"),
    ("ledger_entry_append_only", "ledger_entry", "UPDATE OR DELETE", "ledger_refuse_change"),
    ("ledger_account_guard", "ledger_account", "UPDATE OR DELETE", "ledger_account_guard"),
    ("ledger_chain_head_guard", "ledger_chain_head", "UPDATE OR DELETE", "ledger_chain_head_guard"),
)


def _sqlite_triggers() -> list[str]:
    """The same rules as SQLite triggers (RAISE(ABORT) undoes the statement)."""
    statements = []
    for table in ("ledger_transfer", "ledger_entry"):
        for event in ("UPDATE", "DELETE"):
            statements.append(
                f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} BEGIN"
                f" SELECT RAISE(ABORT, 'ledger: {event} on {table} refused: {APPEND_ONLY}'); END"
            )
    fixed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in _ACCOUNT_FIXED)
    statements += [
        "CREATE TRIGGER ledger_account_no_delete BEFORE DELETE ON ledger_account BEGIN"
        " SELECT RAISE(ABORT, 'ledger: DELETE on ledger_account refused: accounts are permanent');"
        " END",
        f"CREATE TRIGGER ledger_account_fixed BEFORE UPDATE ON ledger_account WHEN {fixed}"
        " OR NEW.debits_posted_minor < OLD.debits_posted_minor"
        " OR NEW.credits_posted_minor < OLD.credits_posted_minor BEGIN"
        " SELECT RAISE(ABORT, 'ledger: UPDATE of ledger_account refused: only its totals and"
        " floor change, posted totals only grow'); END",
        "CREATE TRIGGER ledger_chain_head_no_delete BEFORE DELETE ON ledger_chain_head BEGIN"
        " SELECT RAISE(ABORT, 'ledger: DELETE on ledger_chain_head refused'); END",
        "CREATE TRIGGER ledger_chain_head_forward BEFORE UPDATE ON ledger_chain_head"
        " WHEN NEW.id IS NOT OLD.id OR NEW.seq IS NOT OLD.seq + 1 BEGIN"
        " SELECT RAISE(ABORT, 'ledger: UPDATE on ledger_chain_head refused: it moves one seq"
        " forward'); END",
    ]
    return statements


def upgrade():
    """Create the ledger tables, then the triggers that keep the journal append-only."""
    _create_tables()
    if op.get_bind().dialect.name == "postgresql":
        # Account rows are updated by every posting: room on their page keeps the updates HOT
        # (no new index entries), about 3x faster than on full pages.
        op.execute("ALTER TABLE ledger_account SET (fillfactor = 50)")
        op.execute(_PG_FUNCTIONS)
        for name, table, events, function in _PG_TRIGGERS:
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {events} ON {table}"
                f" FOR EACH ROW EXECUTE FUNCTION {function}()"
            )
    else:
        for statement in _sqlite_triggers():
            op.execute(statement)


def _create_tables():
    """ledger_account, ledger_transfer, ledger_entry, ledger_chain_head."""
    _create_account()
    _create_transfer()
    _create_entry()
    op.create_table(
        "ledger_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_ledger_chain_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_chain_head")),
    )


def _create_account():
    """ledger_account: the one table whose rows change (totals, floor)."""
    op.create_table(
        "ledger_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("normal_side", sa.String(length=6), nullable=False),
        sa.Column("balance_min_minor", sa.BigInteger(), nullable=True),
        sa.Column("debits_posted_minor", sa.BigInteger(), nullable=False),
        sa.Column("credits_posted_minor", sa.BigInteger(), nullable=False),
        sa.Column("debits_pending_minor", sa.BigInteger(), nullable=False),
        sa.Column("credits_pending_minor", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "normal_side IN ('debit', 'credit')", name=op.f("ck_ledger_account_normal_side")
        ),
        sa.CheckConstraint(
            "debits_posted_minor >= 0 AND credits_posted_minor >= 0"
            " AND debits_pending_minor >= 0 AND credits_pending_minor >= 0",
            name=op.f("ck_ledger_account_totals_not_negative"),
        ),
        sa.CheckConstraint(
            f"balance_min_minor IS NULL OR {_AVAILABLE} >= balance_min_minor",
            name=op.f("ck_ledger_account_balance_rule"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_account")),
        sa.UniqueConstraint("code", name=op.f("uq_ledger_account_code")),
    )


def _create_transfer():
    """ledger_transfer: the journal, one row per transfer, chained by hash."""
    op.create_table(
        "ledger_transfer",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("pending_id", sa.Uuid(), nullable=True),
        sa.Column("reverses_id", sa.Uuid(), nullable=True),
        sa.Column("metadata_json", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["pending_id"], ["ledger_transfer.id"],
            name=op.f("fk_ledger_transfer_pending_id_ledger_transfer"),
        ),
        sa.ForeignKeyConstraint(
            ["reverses_id"], ["ledger_transfer.id"],
            name=op.f("fk_ledger_transfer_reverses_id_ledger_transfer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_transfer")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_ledger_transfer_idempotency_key")),
        sa.UniqueConstraint("pending_id", name=op.f("uq_ledger_transfer_pending_id")),
        sa.UniqueConstraint("reverses_id", name=op.f("uq_ledger_transfer_reverses_id")),
        sa.UniqueConstraint("seq", name=op.f("uq_ledger_transfer_seq")),
    )  # fmt: skip


def _create_entry():
    """ledger_entry: the legs of each transfer, indexed for statements."""
    op.create_table(
        "ledger_entry",
        sa.Column("transfer_seq", sa.BigInteger(), nullable=False),
        sa.Column("leg", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("side", sa.String(length=6), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("side IN ('debit', 'credit')", name=op.f("ck_ledger_entry_side")),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_ledger_entry_amount_positive")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["ledger_account.id"],
            name=op.f("fk_ledger_entry_account_id_ledger_account"),
        ),
        sa.ForeignKeyConstraint(
            ["transfer_seq"], ["ledger_transfer.seq"],
            name=op.f("fk_ledger_entry_transfer_seq_ledger_transfer"),
        ),
        sa.PrimaryKeyConstraint("transfer_seq", "leg", name=op.f("pk_ledger_entry")),
    )  # fmt: skip
    op.create_index("ix_ledger_entry_account_seq", "ledger_entry", ["account_id", "transfer_seq"])


def downgrade():
    """Drop the ledger tables (and with them their triggers), then the trigger functions."""
    op.drop_table("ledger_chain_head")
    op.drop_index("ix_ledger_entry_account_seq", table_name="ledger_entry")
    op.drop_table("ledger_entry")
    op.drop_table("ledger_transfer")
    op.drop_table("ledger_account")
    if op.get_bind().dialect.name == "postgresql":
        for function in ("ledger_refuse_change", "ledger_account_guard", "ledger_chain_head_guard"):
            op.execute(f"DROP FUNCTION {function}()")
