"""Royalties on the embedded default, SQLite: a play accrued, held, released and explained."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import text

from central.extensions import db
from central.ledger import queries
from central.ledger.verify import verify
from central.royalties import holds, jobs
from central.royalties.models import POSTED, RELEASED
from central.royalties.queries import explain_play
from tests.integration.central import rows


def test_accrue_hold_release_on_sqlite(app: Flask) -> None:
    """The default card prices 3 minutes at GHS 0.90; the hold and release post on SQLite too;
    the rate card's triggers exist there; the ledger verifies."""
    with app.app_context():
        station = rows.add_station(db.session, "joy-fm")
        play = rows.add_play(db.session, station, rows.add_track(db.session, "T1"), rows.T0_MS)
        db.session.commit()
        assert jobs.accrue_batch(db.session, 10, "broadcast").states == {POSTED: 1}
        holds.hold_play(db.session, play.id, "wrong song", "d-1", "broadcast", "b")
        assert holds.release_hold(db.session, play.id, "r-1").state == RELEASED
        db.session.commit()
        assert queries.balance(db.session, "station:joy-fm:wallet").balance_minor == -90
        record = explain_play(db.session, play.id)
        assert [t["state"] for t in record["transfers"]] == [
            "posted", "posted", "pending", "posted_from_pending"]  # fmt: skip
        triggers = db.session.scalars(
            text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'rate_card'")
        ).all()
        assert sorted(triggers) == ["rate_card_no_delete", "rate_card_no_update"]
        assert verify(db.session).ok
