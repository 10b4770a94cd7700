"""Top-ups on PostgreSQL: one payment is one credit however often (or however concurrently) it is
submitted, another amount under its reference is refused, and a top-up pays the station's
unfunded royalties, oldest first."""

from __future__ import annotations

import threading
import time
from datetime import date

import pytest
from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from central import worker
from central.auth.models import AuditEvent
from central.extensions import db
from central.funding import topups
from central.funding.errors import TopUpConflict, TopUpInvalid
from central.funding.models import TopUp
from central.ledger import queries
from central.ledger.models import Transfer
from central.royalties import jobs
from central.royalties.models import POSTED, UNFUNDED, RoyaltyAccrual
from tests.integration.central import rows
from tests.integration.funding.conftest import TARIFF, add_station, assert_ledger_ok

pytestmark = pytest.mark.integration

WALLET = "station:joy-fm:wallet"
TODAY = date(2026, 12, 1)
LOCK_WAIT_S_MAX = 20.0  # how long the test waits for the second connection to block


def request(
    amount_minor: int = 5000, reference: str = "FT2633401", **changes
) -> topups.TopUpRequest:
    """A bank top-up for joy-fm."""
    fields = {"station_code": "joy-fm", "amount_minor": amount_minor, "method": "bank",
              "reference": reference, **changes}  # fmt: skip
    return topups.TopUpRequest(**fields)


def counts(session: Session) -> tuple[int, int, int]:
    """(top-up rows, top-up transfers, top-up audit events)."""
    return (
        session.scalar(select(func.count()).select_from(TopUp)),
        session.scalar(select(func.count()).select_from(Transfer).where(Transfer.code == "topup")),
        session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "funding.topup")
        ),
    )


def test_a_top_up_submitted_twice_credits_the_wallet_once(pg_app: Flask) -> None:
    """The first credits the wallet (debit settlement:bank), is audited with its actor; the same
    method and reference again (other case, spaces, note) is that top-up, with nothing new."""
    with pg_app.app_context():
        add_station(db.session, "joy-fm")
        db.session.commit()
        first = topups.record_topup(db.session, request(note="slip 1"), "user:7", "api", TODAY)
        db.session.commit()
        again = topups.record_topup(
            db.session, request(reference=" ft2633401 ", note="typed again"), "user:8", "console",
            TODAY,
        )  # fmt: skip
        db.session.commit()
        assert first.created and not again.created and again.topup.id == first.topup.id
        row = db.session.get_one(TopUp, first.topup.id)
        assert (row.recorded_by, row.recorded_via, row.note) == ("user:7", "api", "slip 1")
        assert row.received_on == TODAY and row.reference == "FT2633401"
        assert queries.balance(db.session, WALLET).balance_minor == 5000
        assert queries.balance(db.session, "settlement:bank").balance_minor == 5000
        assert counts(db.session) == (1, 1, 1)
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "funding.topup"))
        assert event.actor == "user:7" and '"amount_minor": 5000' in event.changes_json
        assert_ledger_ok(db.session)


def test_another_amount_or_station_under_one_reference_is_refused(pg_app: Flask) -> None:
    """A reference recorded for 5000 is not 6000, nor a payment of another station: refused,
    saying when it was recorded; nothing is written."""
    with pg_app.app_context():
        add_station(db.session, "joy-fm")
        add_station(db.session, "peace-fm")
        db.session.commit()
        topups.record_topup(db.session, request(), "user:7", "api", TODAY)
        db.session.commit()
        with pytest.raises(TopUpConflict, match="FT2633401 was recorded on .* not 6000"):
            topups.record_topup(db.session, request(6000), "user:7", "api", TODAY)
        db.session.rollback()
        with pytest.raises(TopUpConflict, match="for another station"):
            topups.record_topup(
                db.session, request(station_code="peace-fm"), "user:7", "api", TODAY
            )
        db.session.rollback()
        assert counts(db.session) == (1, 1, 1)
        assert queries.balance(db.session, WALLET).balance_minor == 5000


def test_bad_top_ups_are_refused_before_anything_is_written(pg_app: Flask) -> None:
    """Unknown station, method, a reference with a space, a zero amount, an invoice of
    nobody: each says why."""
    with pg_app.app_context():
        add_station(db.session, "joy-fm")
        db.session.commit()
        for bad, reason in [
            (request(station_code="nowhere"), "no station nowhere"),
            (request(station_code="x\x00"), "no station"),
            (request(method="cheque"), "method"),
            (request(reference="FT 1"), "reference"),
            (request(0), "amount_minor"),
            (request(invoice_number="ZIO-2026-10-joy-fm"), "no invoice ZIO-2026-10-joy-fm"),
        ]:
            with pytest.raises(TopUpInvalid, match=reason):
                topups.record_topup(db.session, bad, "user:7", "api", TODAY)
            db.session.rollback()
        assert counts(db.session) == (0, 0, 0)


def _blocked_connections(session: Session) -> int:
    """How many other connections of this database wait for a lock now."""
    return int(
        session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
        )
    )


def _race(pg_app: Flask, second_amount_minor: int) -> tuple[tuple[bool, int], object]:
    """Two connections record the same reference: the first holds its transaction open until
    the second is blocked behind it (both saw no top-up yet), then commits. (created, id) of
    the first; of the second too, or the error it raised."""
    with pg_app.app_context():
        engine = db.engine
        first_session, second_session = Session(engine), Session(engine)
        watcher = Session(engine)
    outcome: dict[str, object] = {}

    def second() -> None:
        try:
            found = topups.record_topup(
                second_session, request(second_amount_minor), "user:2", "api", TODAY
            )
            second_session.commit()
            outcome["result"] = (found.created, found.topup.id)
        except Exception as error:  # noqa: BLE001 - the test asserts which one
            second_session.rollback()
            outcome["result"] = error

    first = topups.record_topup(first_session, request(), "user:1", "api", TODAY)
    thread = threading.Thread(target=second)
    thread.start()
    deadline = time.monotonic() + LOCK_WAIT_S_MAX
    while _blocked_connections(watcher) == 0 and thread.is_alive():
        assert time.monotonic() < deadline, "the second connection never waited for the first"
        watcher.rollback()
        time.sleep(0.05)
    first_session.commit()
    thread.join()
    mine = (first.created, first.topup.id)
    for s in (first_session, second_session, watcher):
        s.close()
    return mine, outcome["result"]


def test_two_connections_recording_one_payment_credit_it_once(pg_app: Flask) -> None:
    """Submitted at the same moment from two connections: the second waits for the first's
    locks, finds its transfer, then its row: one top-up, one transfer, one credit."""
    with pg_app.app_context():
        add_station(db.session, "joy-fm", "prepaid")
        db.session.commit()
    first, second = _race(pg_app, 5000)
    assert first[0] and second == (False, first[1])
    with pg_app.app_context():
        assert counts(db.session) == (1, 1, 1)
        assert queries.balance(db.session, WALLET).balance_minor == 5000
        assert_ledger_ok(db.session)


def test_two_connections_with_different_amounts_one_is_refused(pg_app: Flask) -> None:
    """At the same moment with 5000 and 7000: the first is recorded, the second is a conflict."""
    with pg_app.app_context():
        add_station(db.session, "joy-fm", "prepaid")
        db.session.commit()
    first, second = _race(pg_app, 7000)
    assert first[0] and isinstance(second, TopUpConflict), second
    with pg_app.app_context():
        assert counts(db.session) == (1, 1, 1)
        assert queries.balance(db.session, WALLET).balance_minor == 5000


def _states(session: Session, play_ids: list[int]) -> list[str]:
    """The accrual states of the plays, in order."""
    session.rollback()
    found = dict(
        session.execute(
            select(RoyaltyAccrual.play_id, RoyaltyAccrual.state).where(
                RoyaltyAccrual.play_id.in_(play_ids)
            )
        ).all()
    )
    return [found[p] for p in play_ids]


def test_a_top_up_pays_the_unfunded_royalties_oldest_first(pg_app: Flask) -> None:
    """A prepaid wallet (floor 0) leaves three plays unfunded; a top-up enough for two posts
    the two oldest (by the inline job) and leaves the third; the next top-up posts it. Each
    accrual is posted once, the wallet never below 0, and peace-fm's unfunded play waits."""
    with pg_app.app_context():
        joy = add_station(db.session, "joy-fm", "prepaid")
        peace = add_station(db.session, "peace-fm", "prepaid")
        track = rows.add_track(db.session, "T1")
        plays = [rows.add_play(db.session, joy, track, rows.T0_MS + n * 600_000).id
                 for n in range(3)]  # fmt: skip
        other = rows.add_play(db.session, peace, track, rows.T0_MS).id
        db.session.commit()
        assert jobs.accrue_batch(db.session, 10, TARIFF).states == {UNFUNDED: 4}
        each = db.session.scalar(
            select(RoyaltyAccrual.amount_minor).where(RoyaltyAccrual.play_id == plays[0])
        )
        queue = worker.app_queue(pg_app)
        topups.record_and_fund(db.session, queue, request(2 * each + 1), "user:1", "api", TODAY)
        assert _states(db.session, plays + [other]) == [POSTED, POSTED, UNFUNDED, UNFUNDED]
        assert queries.balance(db.session, WALLET).balance_minor == 1
        topups.record_and_fund(
            db.session, queue, request(each, reference="FT2"), "user:1", "api", TODAY
        )
        assert _states(db.session, plays + [other]) == [POSTED, POSTED, POSTED, UNFUNDED]
        assert queries.balance(db.session, WALLET).balance_minor == 1
        royalty = select(func.count()).select_from(Transfer).where(Transfer.code == "royalty")
        assert db.session.scalar(royalty) == 3
        again = jobs.accrue_batch(db.session, 10, TARIFF)  # the scheduled sweep after it
        assert again.states == {UNFUNDED: 1} and db.session.scalar(royalty) == 3
        assert_ledger_ok(db.session)
