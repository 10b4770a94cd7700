"""Fixtures of the royalty tests: the show's plays built by the real pipeline (batches ingested,
matched and made into closed plays), or plays inserted as rows; helpers reading the ledger."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import pytest
import redis
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central import queues, worker
from central.extensions import db
from central.ledger import queries
from central.ledger.models import Account, Entry, Transfer
from central.ledger.verify import verify
from central.matching.jobs import match_batch
from central.plays.jobs import update_station_plays
from central.plays.models import Play
from central.royalties import cards, store
from central.royalties.models import RoyaltyAccrual
from central.stations.models import Station
from tests.integration.central import rows
from tests.integration.central.broadcast import (
    START_MS,
    Segment,
    broadcast,
    ingest,
    payloads,
    register_songs,
)

SONGS = {"A": 61, "B": 62, "C": 63}
# A 50 s, B whole (60 s), C 45 s, then four minutes of music outside the catalogue, so that all
# three plays close (as in tests/integration/central/plays/test_update_plays.py).
SHOW = [Segment(61, 5, 50), Segment(62, 60, 60), Segment(63, 125, 45), Segment(64, 175, 245)]
SHOW_S = 420
TARIFF = "broadcast"
WALLET = "station:joy-fm:wallet"


@pytest.fixture(scope="session")
def show_payloads() -> list[bytes]:
    """The batches of SHOW heard from START_MS (fingerprinted once per test session)."""
    return payloads(broadcast(SHOW, SHOW_S), START_MS)


@pytest.fixture
def songs(pg_app: Flask, redis_connection: redis.Redis) -> Iterator[dict[str, int]]:
    """Songs A, B and C in the catalogue, station joy-fm; jobs use the test app and queue."""
    ids = register_songs(pg_app, SONGS, 60.0)
    worker.use_app(pg_app, queues.pipeline_queue(redis_connection))
    yield ids
    worker.use_app(None)


def build_plays(app: Flask, encoded: list[bytes]) -> None:
    """Ingest and match the batches, then build and close the plays (nothing enqueued runs)."""
    for pk in ingest(app, encoded, START_MS + 10**6):
        match_batch(pk)
    with app.app_context():
        station_id = db.session.scalar(select(Station.id))
        update_station_plays(db.session, station_id, datetime.now(UTC), 7200)
        db.session.commit()


@pytest.fixture
def show_plays(pg_app: Flask, songs: dict[str, int], show_payloads: list[bytes]) -> dict[str, int]:
    """The show's three plays, closed, not accrued: track name -> play id."""
    build_plays(pg_app, show_payloads)
    names = {v: k for k, v in songs.items()}
    with pg_app.app_context():
        plays = db.session.scalars(select(Play).order_by(Play.start_ms)).all()
        assert [names[p.track_id] for p in plays] == ["A", "B", "C"]
        assert all(p.closed_at is not None for p in plays)
        return {names[p.track_id]: p.id for p in plays}


ROW_ISRC = "GHA012600001"


@pytest.fixture
def row_plays(pg_app: Flask) -> list[int]:
    """Three closed 3-minute plays (GHS 0.90 each by default) of track T1 (ISRC GHA012600001,
    no shares on file) at joy-fm on 2026-09-01, inserted as rows; their ids."""
    with pg_app.app_context():
        station = rows.add_station(db.session, "joy-fm")
        track = rows.add_track(db.session, "T1")
        track.isrc = ROW_ISRC
        ids = [
            rows.add_play(db.session, station, track, rows.T0_MS + n * 10 * rows.MINUTE_MS).id
            for n in range(3)
        ]
        db.session.commit()
    return ids


def per_second_minor(duration_ms: int, rate_micro_minor_per_s: int = 500_000) -> int:
    """duration x rate, rounded half to even (Fraction's round), computed independently."""
    return round(Fraction(duration_ms * rate_micro_minor_per_s, 1000 * 10**6))


def add_card(session: Session, document: dict) -> int:
    """Store a rate card document as the next version; its id."""
    spec, problems = cards.parse_card(document)
    assert not problems, problems
    row = store.add_rate_card(session, spec)
    session.commit()
    return row.id


def card_document(**changes: object) -> dict:
    """A GHS card 'broadcast' effective since 1970: 0.005/s everywhere, then `changes`."""
    return {
        "code": TARIFF,
        "effective_from": 0,
        "lines": [{"basis": "per_second", "rate": "0.005"}],
        **changes,
    }


def accrual(session: Session, play_id: int) -> RoyaltyAccrual:
    """The play's accrual (fails the test if there is none)."""
    found = session.scalar(select(RoyaltyAccrual).where(RoyaltyAccrual.play_id == play_id))
    assert found is not None, f"play {play_id} has no accrual"
    return found


def explanation(session: Session, play_id: int) -> dict:
    """The stored explanation of the play's accrual."""
    return json.loads(accrual(session, play_id).explanation_json)


def balance(session: Session, code: str) -> int:
    """The posted balance of an account, on its normal side."""
    return queries.balance(session, code).balance_minor


def credits_and_station_debits(session: Session) -> tuple[int, int]:
    """Sum of every royalty credit, and of every debit on station accounts (posted money)."""
    rows = session.execute(
        select(Entry.side, Account.code, func.sum(Entry.amount_minor))
        .join(Account, Account.id == Entry.account_id)
        .join(Transfer, Transfer.seq == Entry.transfer_seq)
        .where(Transfer.code == "royalty", Transfer.state == "posted")
        .group_by(Entry.side, Account.code)
    ).all()
    credits = sum(total for side, _, total in rows if side == "credit")
    debits = sum(
        total for side, code, total in rows if side == "debit" and code.startswith("station:")
    )
    return credits, debits


def assert_ledger_ok(session: Session) -> None:
    """`zamio ledger verify` finds no problem."""
    session.rollback()
    report = verify(session)
    session.rollback()
    assert report.ok, report.problems


def write_json(tmp_path: Path, name: str, document: object) -> Path:
    """`document` as a JSON file in tmp_path."""
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path
