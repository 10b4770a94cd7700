"""Blanket pools on real PostgreSQL: a month's pool shared over the station's blanket plays by
weighted seconds, to the pesewa, once per station and month."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select

from central.extensions import db
from central.ledger.accounts import find_account
from central.ledger.models import Transfer
from central.royalties import jobs
from central.royalties.blanket import distribute_blanket
from central.royalties.errors import BlanketError
from central.royalties.models import BLANKET_WAIT, POSTED
from tests.integration.central import rows
from tests.integration.central.royalties.conftest import (
    TARIFF,
    accrual,
    add_card,
    assert_ledger_ok,
    balance,
    card_document,
    credits_and_station_debits,
    explanation,
)

pytestmark = pytest.mark.integration
OCTOBER_MS = rows.T0_MS + 30 * 86_400_000  # 2026-10-01T00:00Z (Accra is UTC all year)
AFTER_MS = OCTOBER_MS + 86_400_000
BLANKET_CARD = card_document(lines=[
    {"basis": "per_second", "rate": "0.005"},
    {"station_class": "C", "basis": "blanket", "rate": "1"},
])  # fmt: skip


@pytest.fixture
def month(pg_app: Flask) -> dict[str, int]:
    """Community station 'radio-c' (class C) with plays of 60, 120 and 180 s in September 2026
    and one in October; class A station 'joy-fm' with one in September. Name -> play id."""
    with pg_app.app_context():
        add_card(db.session, BLANKET_CARD)
        community = rows.add_station(db.session, "radio-c")
        community.station_class = "C"
        joy = rows.add_station(db.session, "joy-fm")
        track = rows.add_track(db.session, "T1")
        ids = {
            f"sep-{s}": rows.add_play(
                db.session, community, track, rows.T0_MS + n * 86_400_000, s * 1000
            ).id
            for n, s in enumerate((60, 120, 180))
        }
        ids["oct"] = rows.add_play(db.session, community, track, OCTOBER_MS + 3_600_000).id
        ids["joy"] = rows.add_play(db.session, joy, track, rows.T0_MS + 7_200_000).id
        db.session.commit()
        return ids


def test_pool_is_shared_by_weighted_seconds_to_the_pesewa(
    pg_app: Flask, month: dict[str, int]
) -> None:
    """GHS 1,000 over 60, 120 and 180 s: 166.67, 333.33 and 500.00 (the odd pesewa to the
    largest remainder); October and the per-second station are left out; one transfer per play,
    debiting the station the whole pool."""
    with pg_app.app_context():
        jobs.accrue_batch(db.session, 10, TARIFF)
        assert accrual(db.session, month["sep-60"]).state == BLANKET_WAIT
        done = distribute_blanket(db.session, "radio-c", "2026-09", 100_000, "pool-1", TARIFF,
                                  "batch-1", AFTER_MS)  # fmt: skip
        db.session.commit()
        parts = [accrual(db.session, month[f"sep-{s}"]).amount_minor for s in (60, 120, 180)]
        assert parts == [16_667, 33_333, 50_000] and done.plays == 3
        assert accrual(db.session, month["sep-60"]).state == POSTED
        assert accrual(db.session, month["oct"]).state == BLANKET_WAIT
        assert accrual(db.session, month["joy"]).amount_minor == 90  # per second, as before
        assert balance(db.session, "station:radio-c:wallet") == -100_000
        told = explanation(db.session, month["sep-120"])
        assert (told["basis"], told["weight"], told["total_weight"]) == (
            "blanket", 120_000_000, 360_000_000)  # fmt: skip
        credits, debits = credits_and_station_debits(db.session)
        assert credits == debits == 100_000 + 90
        assert_ledger_ok(db.session)


def test_a_month_is_shared_out_once(pg_app: Flask, month: dict[str, int]) -> None:
    """The same call again returns the first distribution; another pool is refused."""
    with pg_app.app_context():
        args = ("radio-c", "2026-09", 100_000, "pool-1", TARIFF, "batch-1", AFTER_MS)
        first = distribute_blanket(db.session, *args)
        db.session.commit()
        count = db.session.scalar(select(func.count()).select_from(Transfer))
        again = distribute_blanket(db.session, *args)
        assert again.id == first.id
        assert db.session.scalar(select(func.count()).select_from(Transfer)) == count == 3
        with pytest.raises(BlanketError, match="shared out already: GHS 1,000.00 under key pool-1"):
            distribute_blanket(db.session, "radio-c", "2026-09", 50_000, "pool-2", TARIFF, "b",
                               AFTER_MS)  # fmt: skip


def test_a_month_not_over_or_with_open_plays_is_refused(
    pg_app: Flask, month: dict[str, int]
) -> None:
    """Before its end, or with a play still open, a month cannot be shared out; nor can a
    month without blanket plays, nor a bad month."""
    with pg_app.app_context():
        with pytest.raises(BlanketError, match="not over yet"):
            distribute_blanket(db.session, "radio-c", "2026-10", 1000, "k", TARIFF, "b", AFTER_MS)
        db.session.rollback()
        station = rows.add_station(db.session, "radio-d")
        station.station_class = "C"
        track = rows.add_track(db.session, "T2")
        rows.add_play(db.session, station, track, rows.T0_MS, closed=False)
        db.session.commit()
        with pytest.raises(BlanketError, match="1 plays at radio-d are still open"):
            distribute_blanket(db.session, "radio-d", "2026-09", 1000, "k", TARIFF, "b", AFTER_MS)
        db.session.rollback()
        with pytest.raises(BlanketError, match="no closed plays under a blanket line"):
            distribute_blanket(db.session, "joy-fm", "2026-09", 1000, "k", TARIFF, "b", AFTER_MS)
        db.session.rollback()
        with pytest.raises(BlanketError, match="YYYY-MM"):
            distribute_blanket(db.session, "radio-c", "2026-9", 1000, "k", TARIFF, "b", AFTER_MS)
        db.session.rollback()
        assert balance_or_none() is None


def balance_or_none() -> int | None:
    """The radio-c wallet's balance, or None while it was never opened (nothing posted)."""
    account = find_account(db.session, "station:radio-c:wallet")
    return None if account is None else account.credits_posted_minor - account.debits_posted_minor
