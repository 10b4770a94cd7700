"""accrue_royalty on real PostgreSQL and Redis/RQ, on plays the pipeline built: exact amounts,
parts that add up to the station's debit, suspense, explanations, idempotency, rate card
versions, and what an empty wallet does."""

from __future__ import annotations

from fractions import Fraction

import pytest
import redis
from flask import Flask
from rq import SimpleWorker
from sqlalchemy import func, select

from central import queues
from central.extensions import db
from central.ledger import posting
from central.ledger.accounts import account_spec, open_account
from central.ledger.models import Transfer
from central.ledger.transfer import TransferRequest, credit, debit
from central.plays.models import Play
from central.royalties import jobs, rights, store
from central.royalties.errors import AccrualError
from central.royalties.models import POSTED, UNFUNDED, SuspenseItem
from central.stations.models import Station
from tests.integration.central.broadcast import START_MS, ingest
from tests.integration.central.royalties.conftest import (
    TARIFF,
    WALLET,
    accrual,
    add_card,
    assert_ledger_ok,
    balance,
    card_document,
    credits_and_station_debits,
    explanation,
    per_second_minor,
)

pytestmark = pytest.mark.integration


def run_worker(connection: redis.Redis) -> None:
    """Work the pipeline queue until it is empty."""
    SimpleWorker([queues.pipeline_queue(connection)], connection=connection).work(burst=True)


def test_update_plays_chains_accrue_royalty_for_every_closed_play(
    pg_app: Flask, songs: dict[str, int], redis_connection: redis.Redis, show_payloads
) -> None:
    """Batches -> match_batch -> update_plays -> accrue_royalty through one RQ worker: each
    closed play is accrued once at GHS 0.005/s, the whole amount in suspense (no shares on file),
    the station's wallet debited exactly that (it goes negative: a payable), the ledger sound."""
    queue = queues.pipeline_queue(redis_connection)
    for pk in ingest(pg_app, show_payloads, START_MS + 10**6):
        queues.enqueue_match(queue, pk)
    run_worker(redis_connection)
    with pg_app.app_context():
        plays = db.session.scalars(select(Play).order_by(Play.start_ms)).all()
        assert len(plays) == 3 and all(p.closed_at is not None for p in plays)
        expected = [per_second_minor(p.duration_ms) for p in plays]
        assert [accrual(db.session, p.id).amount_minor for p in plays] == expected
        assert {accrual(db.session, p.id).state for p in plays} == {POSTED}
        assert balance(db.session, WALLET) == -sum(expected)
        in_suspense = balance(db.session, "suspense:composition") + balance(
            db.session, "suspense:master"
        )
        assert in_suspense == sum(expected)
        assert_ledger_ok(db.session)


def test_amounts_split_exactly_with_suspense_and_explanation(
    pg_app: Flask, show_plays: dict[str, int]
) -> None:
    """With a 10 % fee and shares for A (one publisher unknown), A's amount is duration x rate,
    its parts add up to the station's debit, suspense holds the publisher's part under the ISWC
    and the master pool under no code, and the explanation says how."""
    with pg_app.app_context():
        add_card(db.session, card_document(platform_fee_bp=1000))
        track_a = db.session.scalar(select(Play.track_id).where(Play.id == show_plays["A"]))
        pools, _ = rights.parse_shares({"composition": {"iswc": "T-034.524.680-1", "shares": [
            {"party": "artist:ama:earnings", "role": "writer", "share_bp": 7000},
            {"party": None, "role": "publisher", "share_bp": 3000}]}})  # fmt: skip
        store.set_track_shares(db.session, track_a, pools[0])
        db.session.commit()
        state = jobs.accrue_royalty(show_plays["A"])
        found = accrual(db.session, show_plays["A"])
        play = db.session.get(Play, show_plays["A"])
        amount = per_second_minor(play.duration_ms)
        assert (state, found.amount_minor) == (POSTED, amount)
        transfer = db.session.get(Transfer, found.transfer_id)
        debits = [e.amount_minor for e in transfer.entries if e.side == "debit"]
        credits = [e.amount_minor for e in transfer.entries if e.side == "credit"]
        assert debits == [amount] and sum(credits) == amount
        fee = balance(db.session, "platform:fees")
        composition = (amount - fee + 1) // 2  # halves; an odd unit goes to the first pool
        writer = balance(db.session, "artist:ama:earnings")
        assert abs(fee - Fraction(amount, 10)) < 1 and abs(writer - composition * 0.7) < 1
        assert writer + balance(db.session, "suspense:composition") == composition
        assert balance(db.session, "suspense:master") == amount - fee - composition
        items = db.session.scalars(select(SuspenseItem).order_by(SuspenseItem.pool)).all()
        assert [(i.pool, i.work_code) for i in items] == [
            ("composition", "T0345246801"), ("master", None)]  # fmt: skip
        assert sum(i.amount_minor for i in items) == amount - fee - writer
        told = explanation(db.session, show_plays["A"])
        assert told["rate_card"] == f"{TARIFF} v1" and told["seconds"] == play.duration_ms / 1000
        assert f"{play.duration_ms} ms x 500000" in told["formula"]
        assert told["split"]["composition"]["shares"][0]["account"] == "artist:ama:earnings"


def test_the_job_twice_changes_nothing(pg_app: Flask, show_plays: dict[str, int]) -> None:
    """A second run (a retry, a requeue, accrue_pending after the chain) posts nothing new."""
    for play_id in show_plays.values():
        jobs.accrue_royalty(play_id)
    with pg_app.app_context():
        before = (
            db.session.scalar(select(func.count()).select_from(Transfer)),
            balance(db.session, WALLET),
            [accrual(db.session, p).batch_id for p in show_plays.values()],
        )
    for play_id in show_plays.values():
        jobs.accrue_royalty(play_id)
    with pg_app.app_context():
        assert jobs.accrue_batch(db.session, 100, TARIFF).play_ids == ()
        after = (
            db.session.scalar(select(func.count()).select_from(Transfer)),
            balance(db.session, WALLET),
            [accrual(db.session, p).batch_id for p in show_plays.values()],
        )
    assert before == after and before[0] == 3


def test_a_new_version_applies_from_its_date_only(
    pg_app: Flask, show_plays: dict[str, int]
) -> None:
    """Version 2 (0.01/s) takes effect between B's start and C's: A and B are priced by
    version 1, C by version 2."""
    with pg_app.app_context():
        v1 = add_card(db.session, card_document())
        v2 = add_card(db.session, card_document(effective_from=START_MS + 100_000, lines=[
            {"basis": "per_second", "rate": "0.01"}]))  # fmt: skip
        jobs.accrue_batch(db.session, 10, TARIFF)
        for name, card_id, rate in (("A", v1, 500_000), ("B", v1, 500_000), ("C", v2, 1_000_000)):
            found = accrual(db.session, show_plays[name])
            duration_ms = db.session.get(Play, show_plays[name]).duration_ms
            assert found.rate_card_id == card_id, name
            assert found.amount_minor == per_second_minor(duration_ms, rate), name


def test_a_class_priced_at_zero_records_an_accrual_without_transfer(
    pg_app: Flask, show_plays: dict[str, int]
) -> None:
    """A community station (class Z, rate 0) earns nothing: the accrual says so, no transfer."""
    with pg_app.app_context():
        add_card(db.session, card_document(lines=[
            {"basis": "per_second", "rate": "0.005"},
            {"station_class": "Z", "basis": "per_second", "rate": "0"}]))  # fmt: skip
        store.set_station_tariff(db.session, "joy-fm", "Z", None)
        db.session.commit()
        run = jobs.accrue_batch(db.session, 10, TARIFF)
        assert run.states == {POSTED: 3}
        found = accrual(db.session, show_plays["B"])
        assert (found.amount_minor, found.transfer_id) == (0, None)
        assert db.session.scalar(select(func.count()).select_from(Transfer)) == 0


def test_a_prepaid_wallet_leaves_accruals_unfunded_until_topped_up(
    pg_app: Flask, show_plays: dict[str, int]
) -> None:
    """A wallet an operator gave floor 0: the accruals wait, unfunded, with no transfer; after
    a top-up the next batch posts them, each once."""
    with pg_app.app_context():
        open_account(db.session, account_spec(WALLET, "station_wallet"))
        open_account(db.session, account_spec("settlement:bank", "settlement"))
        db.session.commit()
        first = jobs.accrue_batch(db.session, 10, TARIFF)
        assert first.states == {UNFUNDED: 3}
        assert accrual(db.session, show_plays["A"]).transfer_id is None
        topup = (debit("settlement:bank", 10_000), credit(WALLET, 10_000))
        posting.post_transfer(db.session, TransferRequest("topup:1", "topup", topup))
        db.session.commit()
        second = jobs.accrue_batch(db.session, 10, TARIFF)
        assert second.states == {POSTED: 3} and second.batch_id != first.batch_id
        total = sum(accrual(db.session, p).amount_minor for p in show_plays.values())
        assert balance(db.session, WALLET) == 10_000 - total
        assert accrual(db.session, show_plays["C"]).batch_id == second.batch_id
        assert credits_and_station_debits(db.session) == (total, total)
        assert_ledger_ok(db.session)


def test_open_and_unknown_plays_are_refused(pg_app: Flask, songs: dict[str, int]) -> None:
    """An open play is not accrued (it may still change); an unknown id says so."""
    with pg_app.app_context():
        station_id = db.session.scalar(select(Station.id))
        play = Play(station_id=station_id, track_id=songs["A"], start_ms=START_MS,
                    end_ms=START_MS + 60_000, speed_ratio=1.0, inliers=9, detections=3,
                    confidence=0.9)  # fmt: skip
        db.session.add(play)
        db.session.commit()
        with pytest.raises(AccrualError, match="still open"):
            jobs.accrue_play(db.session, play.id, TARIFF, "b")
        with pytest.raises(AccrualError, match="no play 999"):
            jobs.accrue_play(db.session, 999, TARIFF, "b")
        db.session.rollback()
        assert jobs.plays_to_accrue(db.session, 10) == []
