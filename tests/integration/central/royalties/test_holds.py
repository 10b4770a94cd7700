"""Holds on real PostgreSQL: a play's royalty held (pending), then released or voided, each step
once whatever the retries; and suspense released to whoever claims the work."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.extensions import db
from central.ledger import queries
from central.ledger.errors import IdempotencyConflict
from central.ledger.models import Transfer
from central.royalties import holds, jobs
from central.royalties.errors import ClaimError, HoldError
from central.royalties.models import HELD, POSTED, RELEASED, VOIDED
from central.royalties.suspense import claim_suspense, works_in_suspense
from tests.integration.central.royalties.conftest import (
    TARIFF,
    WALLET,
    accrual,
    assert_ledger_ok,
    balance,
)

pytestmark = pytest.mark.integration
ISRC = "GHA012600001"
LABEL = "label:kasa:earnings"


def transfers(session: Session) -> int:
    """Transfers in the journal."""
    return session.scalar(select(func.count()).select_from(Transfer))


def hold(session: Session, play_id: int, key: str) -> str:
    """Hold the play under `key`, commit; the accrual's state."""
    state = holds.hold_play(session, play_id, "disputed by the station", key, TARIFF, "b").state
    session.commit()
    return state


def test_hold_then_release_moves_the_money_once(pg_app: Flask, row_plays: list[int]) -> None:
    """A posted GHS 0.90 is reversed into a hold (the wallet's posted balance back to 0, 0.90
    reserved), then posted again on release; every step repeated with its key changes nothing."""
    play = row_plays[0]
    with pg_app.app_context():
        jobs.accrue_batch(db.session, 1, TARIFF)
        assert balance(db.session, WALLET) == -90
        assert hold(db.session, play, "dispute-1") == HELD
        assert hold(db.session, play, "dispute-1") == HELD
        wallet = queries.balance(db.session, WALLET)
        assert (wallet.balance_minor, wallet.available_minor) == (0, -90)
        assert balance(db.session, "suspense:master") == 0 and transfers(db.session) == 3
        with pytest.raises(HoldError, match="held: nothing to hold"):
            holds.hold_play(db.session, play, "again", "dispute-2", TARIFF, "b")
        db.session.rollback()
        for _ in range(2):
            assert holds.release_hold(db.session, play, "ruling-1").state == RELEASED
            db.session.commit()
        assert transfers(db.session) == 4 and balance(db.session, WALLET) == -90
        assert balance(db.session, "suspense:master") == 45
        with pytest.raises(HoldError, match="released, not held"):
            holds.release_hold(db.session, play, "ruling-2")
        db.session.rollback()
        assert_ledger_ok(db.session)


def test_hold_then_void_gives_the_money_back_for_good(pg_app: Flask, row_plays: list[int]) -> None:
    """A voided hold leaves every account as before the accrual, and cannot be held again."""
    play = row_plays[0]
    with pg_app.app_context():
        jobs.accrue_batch(db.session, 1, TARIFF)
        hold(db.session, play, "dispute-1")
        assert holds.void_hold(db.session, play, "ruling-1").state == VOIDED
        db.session.commit()
        wallet = queries.balance(db.session, WALLET)
        assert (wallet.balance_minor, wallet.available_minor) == (0, 0)
        assert balance(db.session, "suspense:composition") == 0
        with pytest.raises(HoldError, match="voided: nothing to hold"):
            holds.hold_play(db.session, play, "again", "dispute-2", TARIFF, "b")
        db.session.rollback()
        assert_ledger_ok(db.session)


def test_a_released_hold_can_be_held_again_but_not_under_an_old_key(
    pg_app: Flask, row_plays: list[int]
) -> None:
    """A second dispute reverses the released posting; reusing the first hold's key is refused
    by the ledger (its transfers hold other content)."""
    play = row_plays[0]
    with pg_app.app_context():
        jobs.accrue_batch(db.session, 1, TARIFF)
        hold(db.session, play, "dispute-1")
        holds.release_hold(db.session, play, "ruling-1")
        db.session.commit()
        with pytest.raises(IdempotencyConflict):
            holds.hold_play(db.session, play, "again", "dispute-1", TARIFF, "b")
        db.session.rollback()
        assert hold(db.session, play, "dispute-2") == HELD
        assert balance(db.session, WALLET) == 0
        assert_ledger_ok(db.session)


def test_a_play_held_before_accrual_is_accrued_as_a_hold(
    pg_app: Flask, row_plays: list[int]
) -> None:
    """Held first: one pending transfer under the play's key; the batch leaves it alone; the
    release posts it."""
    play = row_plays[1]
    with pg_app.app_context():
        assert hold(db.session, play, "dispute-1") == HELD
        assert accrual(db.session, play).hold_reason == "disputed by the station"
        run = jobs.accrue_batch(db.session, 10, TARIFF)
        assert play not in run.play_ids and run.states == {POSTED: 2}
        keys = set(db.session.scalars(select(Transfer.idempotency_key)))
        assert jobs.play_key(play) in keys
        holds.release_hold(db.session, play, "ruling-1")
        db.session.commit()
        assert balance(db.session, WALLET) == -270
        assert_ledger_ok(db.session)


def test_nothing_to_hold_and_bad_keys_are_refused(pg_app: Flask, row_plays: list[int]) -> None:
    """A key with a space, an empty reason, an unknown play: errors, nothing written."""
    with pg_app.app_context():
        with pytest.raises(HoldError, match="printable ASCII"):
            holds.hold_play(db.session, row_plays[0], "why", "two words", TARIFF, "b")
        with pytest.raises(HoldError, match="reason"):
            holds.hold_play(db.session, row_plays[0], " ", "k", TARIFF, "b")
        with pytest.raises(HoldError, match="no accrual"):
            holds.void_hold(db.session, row_plays[0], "k")
        db.session.rollback()
        assert transfers(db.session) == 0


def test_claim_moves_a_works_suspense_to_its_claimant_once(
    pg_app: Flask, row_plays: list[int]
) -> None:
    """The master pool of a track with an ISRC and no shares waits in suspense; the label's
    claim moves all of it, once; a held play's part waits until released."""
    with pg_app.app_context():
        jobs.accrue_batch(db.session, 10, TARIFF)
        hold(db.session, row_plays[2], "dispute-1")
        [work] = [w for w in works_in_suspense(db.session) if w.pool == "master"]
        assert (work.work_code, work.claimable_minor, work.held_minor) == (ISRC, 90, 45)
        claim = claim_suspense(db.session, "GH-A01-26-00001", LABEL, "claim-1")
        db.session.commit()
        assert (claim.amount_minor, claim.items) == (90, 2)
        assert balance(db.session, LABEL) == 90 and balance(db.session, "suspense:master") == 0
        again = claim_suspense(db.session, ISRC, LABEL, "claim-1")
        assert again.transfer_id == claim.transfer_id
        with pytest.raises(ClaimError, match="another claim"):
            claim_suspense(db.session, ISRC, "label:other:earnings", "claim-1")
        with pytest.raises(ClaimError, match="nothing to claim"):
            claim_suspense(db.session, ISRC, LABEL, "claim-2")
        db.session.rollback()
        holds.release_hold(db.session, row_plays[2], "ruling-1")
        assert claim_suspense(db.session, ISRC, LABEL, "claim-2").amount_minor == 45
        db.session.commit()
        assert balance(db.session, LABEL) == 135
        assert_ledger_ok(db.session)


def test_a_claimed_play_cannot_be_held_and_bad_claims_are_refused(
    pg_app: Flask, row_plays: list[int]
) -> None:
    """Holding would take back suspense the claimant already has; a code that is neither ISWC
    nor ISRC, or a station as claimant, is refused."""
    with pg_app.app_context():
        jobs.accrue_batch(db.session, 10, TARIFF)
        claim_suspense(db.session, ISRC, LABEL, "claim-1")
        db.session.commit()
        with pytest.raises(HoldError, match="claimed already"):
            holds.hold_play(db.session, row_plays[0], "late", "dispute-1", TARIFF, "b")
        with pytest.raises(ClaimError, match="no ISWC nor ISRC"):
            claim_suspense(db.session, "GH-XYZ", LABEL, "claim-2")
        with pytest.raises(ClaimError, match="earnings account"):
            claim_suspense(db.session, ISRC, WALLET, "claim-3")
        db.session.rollback()
