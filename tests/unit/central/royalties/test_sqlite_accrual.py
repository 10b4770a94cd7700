"""Royalties on the embedded default, SQLite: a play accrued, held, released and explained."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import text

from central.extensions import db
from central.ledger import queries
from central.ledger.verify import verify
from central.royalties import holds, jobs, rights, suspense
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


def test_suspense_of_a_track_with_no_code_on_sqlite(app: Flask) -> None:
    """On SQLite too: a track with no ISRC accrues to suspense listed by track; shares set later
    release the master pool to the label once; the composition is claimed by track; it verifies."""
    with app.app_context():
        station = rows.add_station(db.session, "joy-fm")
        track = rows.add_track(db.session, "T1")
        rows.add_play(db.session, station, track, rows.T0_MS)
        db.session.commit()
        assert jobs.accrue_batch(db.session, 10, "broadcast").states == {POSTED: 1}
        listed = {(w.pool, w.work_code, w.track) for w in suspense.works_in_suspense(db.session)}
        assert listed == {("composition", None, "T1"), ("master", None, "T1")}
        pools, _ = rights.parse_shares({"master": {"isrc": "GHA012600001", "shares": [
            {"party": "label:kasa:earnings", "role": "label", "share_bp": 10_000}]}})  # fmt: skip
        (release,) = suspense.set_shares(db.session, track.id, pools)
        assert suspense.set_shares(db.session, track.id, pools) == []
        claim = suspense.claim_track_suspense(db.session, "T1", "artist:ama:earnings", "c-1")
        db.session.commit()
        label = queries.balance(db.session, "label:kasa:earnings").balance_minor
        writer = queries.balance(db.session, "artist:ama:earnings").balance_minor
        assert (release.amount_minor, claim.amount_minor) == (label, writer)
        assert label + writer == 90 and claim.pool == "composition"
        assert suspense.works_in_suspense(db.session) == []
        assert verify(db.session).ok
