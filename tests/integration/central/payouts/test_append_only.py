"""A withdrawal's approvals and history are append-only: PostgreSQL and SQLite refuse UPDATE
and DELETE on payout_approval and payout_event, as they do on the audit log."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from central.extensions import db

pytestmark = pytest.mark.integration

ROWS = {
    "payout_event": "INSERT INTO payout_event (withdrawal_id, at, actor, from_status, to_status,"
    " detail) VALUES (1, CURRENT_TIMESTAMP, 'test', NULL, 'requested', 'held')",
    "payout_approval": "INSERT INTO payout_approval (withdrawal_id, user_id, actor, at)"
    " VALUES (1, 7, 'user:7', CURRENT_TIMESTAMP)",
}
WITHDRAWAL = (
    "INSERT INTO payout_method (id, party, kind, network, account_name, usable_from, active,"
    " created_by, created_at) VALUES (1, 'artist:a:earnings', 'momo', 'mtn', '',"
    " CURRENT_TIMESTAMP, true, 'test', CURRENT_TIMESTAMP);"
    "INSERT INTO payout_withdrawal (id, party, method_id, amount_minor, currency, status,"
    " approvals_needed, requested_by, submit_attempts, checks, created_at, updated_at)"
    " VALUES (1, 'artist:a:earnings', 1, 1000, 'GHS', 'requested', 1, 'test', 0, 0,"
    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
)


@pytest.mark.parametrize("which", ["pg_app", "app"])
def test_history_and_approvals_cannot_be_changed(which: str, request) -> None:
    """Each table takes an insert, then refuses the update and the delete of it."""
    app: Flask = request.getfixturevalue(which)
    with app.app_context():
        for statement in WITHDRAWAL.split(";"):
            db.session.execute(text(statement))
        for insert in ROWS.values():
            db.session.execute(text(insert))
        db.session.commit()
        for table in ROWS:
            for change in (f"UPDATE {table} SET actor = 'forger'", f"DELETE FROM {table}"):
                with pytest.raises(DatabaseError, match="refused"):
                    db.session.execute(text(change))
                db.session.rollback()
