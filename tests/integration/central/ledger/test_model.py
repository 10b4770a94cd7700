"""A model-based test on real PostgreSQL: random postings, splits, holds, posts, voids,
reversals and retries against a plain in-memory model; after every step the balances agree
and `verify` passes. LEDGER_MODEL_EXAMPLES=N runs N examples of 40 steps (default 20)."""

from __future__ import annotations

import os

import pytest
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from central.extensions import db
from central.ledger import posting
from central.ledger.accounts import KINDS
from central.ledger.errors import (
    AlreadyResolved,
    AlreadyReversed,
    BalanceRuleViolation,
    IdempotencyConflict,
    LedgerError,
    NotReversible,
)
from central.ledger.models import Account
from central.ledger.money import split_minor
from central.ledger.transfer import Leg, TransferRequest, credit, debit
from central.ledger.verify import verify
from tests.integration.central.ledger.conftest import CHART, open_chart

pytestmark = pytest.mark.integration

CODES = sorted(CHART)
SPLIT_TO = ["artist:1:earnings", "artist:2:earnings", "rights_holder:7:earnings",
            "society:ghamro:pool", "platform:fees", "suspense:composition"]  # fmt: skip
STATIONS = ["station:joy-fm:wallet", "station:peace-fm:wallet"]
# Floors as the chart opens them, written out again so the model does not use the code's rules.
FLOORS = {code: None if kind == "settlement" else -(limit or 0)
          for code, (kind, limit, _) in CHART.items()}  # fmt: skip
CREDIT_NORMAL = {code for code, (kind, _, _) in CHART.items() if KINDS[kind][0] == "credit"}
# Model totals per account: [debits posted, credits posted, debits pending, credits pending].
MOVES = {"posted": (1, 0), "pending": (0, 1), "post": (1, -1), "void": (0, -1)}
TOPUP_MINOR = 100_000


class LedgerMachine(RuleBasedStateMachine):
    """The ledger against dictionaries of totals and sets of ids."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        session.rollback()  # a failed example must not leave the next one an aborted transaction
        session.execute(text("TRUNCATE ledger_entry, ledger_transfer, ledger_account,"
                             " ledger_chain_head RESTART IDENTITY CASCADE"))  # fmt: skip
        session.commit()
        open_chart(session, CHART)
        self.totals = {code: [0, 0, 0, 0] for code in CODES}
        self.legs: dict[str, list[Leg]] = {}  # transfer id: its legs
        self.state: dict[str, str] = {}  # transfer id: posted, pending, post, void
        self.resolved: set[str] = set()
        self.reversed: set[str] = set()
        self.requests: list[tuple[TransferRequest, str]] = []  # posted requests, their ids
        self.retries: list[tuple[str, str, str]] = []  # (action, target id, key) done, result id
        self.keys = 0
        for station in STATIONS:  # funded, so that most random postings can succeed
            self.post(debit_code="settlement:bank", credits=[(station, TOPUP_MINOR)], pending=False)

    def key(self) -> str:
        """A fresh idempotency key."""
        self.keys += 1
        return f"k:{self.keys}"

    def moved(self, legs: list[Leg], move: str) -> dict[str, list[int]]:
        """The model's totals after `legs` move as `move`."""
        posted_sign, pending_sign = MOVES[move]
        after = {code: list(t) for code, t in self.totals.items()}
        for leg in legs:
            column = 0 if leg.side == "debit" else 1
            after[leg.account][column] += posted_sign * leg.amount_minor
            after[leg.account][column + 2] += pending_sign * leg.amount_minor
        return after

    @staticmethod
    def breaks_a_floor(after: dict[str, list[int]]) -> bool:
        """True when an account's available balance is below its floor."""
        for code, (dp, cp, dh, ch) in after.items():
            available = cp - dp - dh if code in CREDIT_NORMAL else dp - cp - ch
            if FLOORS[code] is not None and available < FLOORS[code]:
                return True
        return False

    def attempt(self, legs: list[Leg], move: str, call) -> str | None:  # noqa: ANN001
        """Run `call`; expect a refusal when the model says a floor breaks; the new id."""
        after = self.moved(legs, move)
        if self.breaks_a_floor(after):
            with pytest.raises(BalanceRuleViolation):
                call()
            self.session.rollback()
            return None
        transfer = call()
        self.session.commit()
        self.totals = after
        self.legs[str(transfer.id)], self.state[str(transfer.id)] = legs, move
        return str(transfer.id)

    @rule(
        debit_code=st.sampled_from(CODES),
        credits=st.lists(st.tuples(st.sampled_from(CODES), st.integers(1, 20_000)), min_size=1,
                         max_size=4),
        pending=st.booleans(),
    )  # fmt: skip
    def post(self, debit_code: str, credits: list[tuple[str, int]], pending: bool) -> None:
        """A transfer of random legs, posted or held."""
        legs = [debit(debit_code, sum(a for _, a in credits))] + [credit(c, a) for c, a in credits]
        request = TransferRequest(self.key(), "adjustment", tuple(legs), pending=pending)
        new = self.attempt(legs, "pending" if pending else "posted",
                           lambda: posting.post_transfer(self.session, request))  # fmt: skip
        if new is not None:
            self.requests.append((request, new))

    @rule(
        station=st.sampled_from(STATIONS),
        total_minor=st.integers(1, 30_000),
        weights=st.lists(st.integers(0, 100), min_size=6, max_size=6).filter(lambda w: sum(w)),
    )
    def split(self, station: str, total_minor: int, weights: list[int]) -> None:
        """A royalty: one station debited, its split credited to up to six holders."""
        parts = split_minor(total_minor, weights)
        legs = [debit(station, total_minor)] + [
            credit(code, part) for code, part in zip(SPLIT_TO, parts) if part
        ]
        request = TransferRequest(self.key(), "royalty", tuple(legs), metadata={"w": weights})
        new = self.attempt(legs, "posted", lambda: posting.post_transfer(self.session, request))
        if new is not None:
            self.requests.append((request, new))

    @precondition(lambda self: any(s == "pending" for s in self.state.values()))
    @rule(pick=st.integers(0, 10**6), post=st.booleans())
    def resolve(self, pick: int, post: bool) -> None:
        """Post or void a hold; one that has its answer already is refused."""
        holds = sorted(t for t, s in self.state.items() if s == "pending")
        hold, key = holds[pick % len(holds)], self.key()
        call = posting.post_pending if post else posting.void_pending
        if hold in self.resolved:
            with pytest.raises(AlreadyResolved):
                call(self.session, hold, key)
            self.session.rollback()
            return
        new = self.attempt(self.legs[hold], "post" if post else "void",
                           lambda: call(self.session, hold, key))  # fmt: skip
        self.resolved.add(hold)
        self.retries.append(("post" if post else "void", hold, key))
        self.state[new] = "posted" if post else "void"

    @precondition(lambda self: self.state)
    @rule(pick=st.integers(0, 10**6))
    def reverse(self, pick: int) -> None:
        """Reverse any transfer: money once only, within the floors; holds and voids never."""
        ids = sorted(self.state)
        target, key = ids[pick % len(ids)], self.key()
        if self.state[target] in ("pending", "void"):
            with pytest.raises(NotReversible):
                posting.reverse(self.session, target, key)
        elif target in self.reversed:
            with pytest.raises(AlreadyReversed):
                posting.reverse(self.session, target, key)
        else:
            mirrored = [Leg(g.account, "credit" if g.side == "debit" else "debit", g.amount_minor)
                        for g in self.legs[target]]  # fmt: skip
            if self.attempt(mirrored, "posted", lambda: posting.reverse(self.session, target, key)):
                self.reversed.add(target)
                self.retries.append(("reverse", target, key))
            return
        self.session.rollback()

    @precondition(lambda self: self.requests)
    @rule(pick=st.integers(0, 10**6), conflict=st.booleans())
    def retry(self, pick: int, conflict: bool) -> None:
        """A request sent again: the same transfer back; with an amount changed, a conflict."""
        request, done = self.requests[pick % len(self.requests)]
        if not conflict:
            assert str(posting.post_transfer(self.session, request).id) == done
            self.session.commit()
            return
        first, second, *rest = request.legs
        changed = (Leg(first.account, first.side, first.amount_minor + 1),
                   Leg(second.account, second.side, second.amount_minor + 1), *rest)  # fmt: skip
        with pytest.raises(IdempotencyConflict):
            posting.post_transfer(self.session, TransferRequest(
                request.idempotency_key, request.code, changed, pending=request.pending,
                metadata=request.metadata))  # fmt: skip
        self.session.rollback()

    @precondition(lambda self: self.retries)
    @rule(pick=st.integers(0, 10**6))
    def retry_resolution(self, pick: int) -> None:
        """A post, void or reversal sent again with its key: no second effect."""
        action, target, key = self.retries[pick % len(self.retries)]
        call = {"post": posting.post_pending, "void": posting.void_pending,
                "reverse": posting.reverse}[action]  # fmt: skip
        try:
            call(self.session, target, key)
        except LedgerError as error:  # pragma: no cover - a failure of the test
            raise AssertionError(f"retry of {action} {target} refused: {error}") from None
        self.session.commit()

    @invariant()
    def balances_agree(self) -> None:
        """Every account's four totals are the model's."""
        rows = self.session.execute(
            select(Account.code, Account.debits_posted_minor, Account.credits_posted_minor,
                   Account.debits_pending_minor, Account.credits_pending_minor)
        ).all()  # fmt: skip
        self.session.rollback()
        assert {row[0]: list(row[1:]) for row in rows} == self.totals

    @invariant()
    def verify_passes(self) -> None:
        """`verify` finds no problem."""
        report = verify(self.session)
        self.session.rollback()
        assert report.problems == ()
        assert report.transfers == len(self.state)


def test_ledger_agrees_with_its_model(pg_app: Flask) -> None:
    """Random operations: balances and invariants agree with the model after every step."""
    examples = int(os.environ.get("LEDGER_MODEL_EXAMPLES", "20"))
    with pg_app.app_context():
        run_state_machine_as_test(
            lambda: LedgerMachine(db.session),
            settings=settings(
                max_examples=examples, stateful_step_count=40, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )  # fmt: skip
