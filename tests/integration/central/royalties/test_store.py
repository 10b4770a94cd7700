"""Royalty rows on real PostgreSQL: rate card versions cannot be changed, shares are checked
per pool when written, a station's tariff settings are checked."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from central.errors import StationError
from central.extensions import db
from central.ledger.accounts import account_spec, open_account
from central.royalties import store
from central.royalties.errors import SharesError
from central.royalties.rights import COMPOSITION, MASTER, PoolShares, RightsLine
from tests.integration.central.royalties.conftest import add_card, card_document

pytestmark = pytest.mark.integration


def test_the_database_refuses_to_change_a_rate_card_version(pg_app: Flask) -> None:
    """UPDATE and DELETE of a stored version fail in the database itself: add a version."""
    with pg_app.app_context():
        card_id = add_card(db.session, card_document())
        for statement in ("UPDATE rate_card SET platform_fee_bp = 9000", "DELETE FROM rate_card"):
            with pytest.raises(DBAPIError, match="rate card versions are immutable"):
                db.session.execute(text(statement))
            db.session.rollback()
        assert store.rate_cards(db.session)[0].id == card_id


def test_shares_are_checked_per_pool_when_written(pg_app: Flask, row_plays: list[int]) -> None:
    """Not 100 %, a role of the other pool, an ISRC other than the track's, a party whose
    account is of another kind: each refused with its reason, nothing written."""
    with pg_app.app_context():
        track_id = store.find_track(db.session, "T1").id
        open_account(db.session, account_spec("artist:ama:earnings", "rights_holder_earnings"))
        iswc, other_isrc = "T0345246801", "GHA012600002"
        cases = [
            ("shares add up to 99.99 %", COMPOSITION, iswc, "artist:kofi:earnings", "writer", 9999),
            ("role 'label' is not one of writer, publisher", COMPOSITION, iswc, None, "label",
             10_000),
            (r"ISRC GHA012600002 is not the track's \(GHA012600001\)", MASTER, other_isrc, None,
             "label", 10_000),
            ("account artist:ama:earnings is a rights_holder_earnings, not artist_earnings",
             COMPOSITION, iswc, "artist:ama:earnings", "writer", 10_000),
            ("'T0345246802': ISWC check digit", COMPOSITION, "T0345246802", None, "writer",
             10_000),
        ]  # fmt: skip
        for reason, pool, code, party, role, share_bp in cases:
            shares = PoolShares(pool, code, (RightsLine(party, role, share_bp),))
            with pytest.raises(SharesError, match=reason):
                store.set_track_shares(db.session, track_id, shares)
        assert store.track_shares(db.session, track_id) == {}


def test_setting_a_pool_replaces_only_that_pool(pg_app: Flask, row_plays: list[int]) -> None:
    """A new master pool replaces the old one and leaves the composition pool as it was."""
    with pg_app.app_context():
        track_id = store.find_track(db.session, "T1").id
        composition = PoolShares(COMPOSITION, "T0345246801", (RightsLine(None, "writer", 10_000),))
        store.set_track_shares(db.session, track_id, composition)
        for party in ("label:one:earnings", "label:two:earnings"):
            master = PoolShares(MASTER, "GHA012600001", (RightsLine(party, "label", 10_000),))
            store.set_track_shares(db.session, track_id, master)
        db.session.commit()
        pools = store.track_shares(db.session, track_id)
        assert pools[COMPOSITION] == composition
        assert pools[MASTER].lines == (RightsLine("label:two:earnings", "label", 10_000),)


def test_a_stations_class_and_zone_are_checked(pg_app: Flask, row_plays: list[int]) -> None:
    """A class with a space or an unknown zone is refused; good ones are kept."""
    with pg_app.app_context():
        with pytest.raises(StationError, match="station class 'A B'"):
            store.set_station_tariff(db.session, "joy-fm", "A B", None)
        with pytest.raises(StationError, match="IANA name"):
            store.set_station_tariff(db.session, "joy-fm", None, "Accra")
        with pytest.raises(StationError, match="no station nope"):
            store.set_station_tariff(db.session, "nope", "B", None)
        station = store.set_station_tariff(db.session, "joy-fm", "B", "Africa/Lagos")
        assert (station.station_class, station.timezone) == ("B", "Africa/Lagos")
