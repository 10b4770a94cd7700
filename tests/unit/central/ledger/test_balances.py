"""central.ledger.balances: how each state moves totals, and the floor rule."""

from __future__ import annotations

import pytest

from central.ledger.balances import AccountState, apply, check_rules
from central.ledger.errors import BalanceRuleViolation, LedgerInconsistent
from central.ledger.transfer import (
    PENDING,
    POSTED,
    POSTED_FROM_PENDING,
    VOIDED,
    credit,
    debit,
)

WALLET = AccountState(1, "wallet", "GHS", "credit", -500, credits_posted_minor=1000)
ARTIST = AccountState(2, "artist", "GHS", "credit", 0)
ACCOUNTS = {"wallet": WALLET, "artist": ARTIST}
LEGS = (debit("wallet", 1200), credit("artist", 1200))


def test_posted_moves_posted_totals() -> None:
    """A posted transfer adds to posted debits and credits; balances follow the normal side."""
    after = apply(ACCOUNTS, LEGS, POSTED)
    assert after["wallet"].balance_minor == -200
    assert after["artist"].balance_minor == 1200
    check_rules(after)  # -200 is within the GHS 5 credit limit


def test_pending_reserves_then_post_or_void_resolves() -> None:
    """A hold lowers the available balance only; posting it moves it, voiding releases it."""
    held = apply(ACCOUNTS, LEGS, PENDING)
    assert held["wallet"].balance_minor == 1000 and held["wallet"].available_minor == -200
    assert held["artist"].available_minor == 0  # pending credits are not yet available
    posted = apply(held, LEGS, POSTED_FROM_PENDING)
    assert posted["wallet"].totals == (1200, 1000, 0, 0)
    voided = apply(held, LEGS, VOIDED)
    assert voided["wallet"].totals == WALLET.totals


def test_floor_is_enforced_on_available_balance() -> None:
    """Going past the credit limit, directly or by a hold, is a BalanceRuleViolation."""
    too_much = (debit("wallet", 1501), credit("artist", 1501))
    for state in (POSTED, PENDING):
        with pytest.raises(BalanceRuleViolation, match="wallet: available GHS -5.01"):
            check_rules(apply(ACCOUNTS, too_much, state))


def test_unbounded_account_has_no_floor() -> None:
    """balance_min_minor None: any balance is allowed (the settlement account)."""
    bank = AccountState(3, "bank", "GHS", "debit", None)
    payable = AccountState(4, "payable", "GHS", "debit", None)
    after = apply(
        {"bank": bank, "payable": payable}, (debit("payable", 10**9), credit("bank", 10**9)), POSTED
    )
    check_rules(after)
    assert after["bank"].balance_minor == -(10**9)


def test_releasing_more_than_held_is_inconsistent() -> None:
    """A void with no hold behind it means the stored totals are wrong: not a rule violation."""
    with pytest.raises(LedgerInconsistent):
        check_rules(apply(ACCOUNTS, LEGS, VOIDED))
