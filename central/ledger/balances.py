"""Account totals and balance rules, as pure functions: what a transfer would do to its accounts.

An account keeps four totals, like TigerBeetle's: debits and credits posted, and debits and
credits pending (held). Its balance is read on its normal side (a wallet, a liability of the
platform, is credit-normal: credits - debits). Its *available* balance also takes out what pending
transfers hold against it, but not what they would add. A balance rule is a floor,
`balance_min_minor`: the available balance may not go below it (0: never negative; -50000: a
GHS 500 credit limit; None: no rule, e.g. the settlement account money comes in through).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from central.ledger.errors import BalanceRuleViolation, LedgerInconsistent
from central.ledger.money import format_minor
from central.ledger.transfer import CREDIT, DEBIT, EFFECTS, Leg

TOTALS = ("debits_posted_minor", "credits_posted_minor", "debits_pending_minor",
          "credits_pending_minor")  # fmt: skip  # an account's four totals, as columns


@dataclass(frozen=True)
class AccountState:
    """An account's rule and its four totals, as locked for a posting."""

    id: int
    code: str
    currency: str
    normal_side: str  # DEBIT or CREDIT
    balance_min_minor: int | None
    debits_posted_minor: int = 0
    credits_posted_minor: int = 0
    debits_pending_minor: int = 0
    credits_pending_minor: int = 0

    @property
    def balance_minor(self) -> int:
        """The posted balance on the normal side."""
        return posted_balance(self.normal_side, self.debits_posted_minor, self.credits_posted_minor)

    @property
    def available_minor(self) -> int:
        """The posted balance less what pending transfers hold against it."""
        if self.normal_side == CREDIT:
            return self.balance_minor - self.debits_pending_minor
        return self.balance_minor - self.credits_pending_minor

    @property
    def totals(self) -> tuple[int, int, int, int]:
        """(debits posted, credits posted, debits pending, credits pending)."""
        return (
            self.debits_posted_minor,
            self.credits_posted_minor,
            self.debits_pending_minor,
            self.credits_pending_minor,
        )


def posted_balance(normal_side: str, debits_minor: int, credits_minor: int) -> int:
    """Credits - debits for a credit-normal account, debits - credits for a debit-normal one."""
    return credits_minor - debits_minor if normal_side == CREDIT else debits_minor - credits_minor


def apply(
    accounts: Mapping[str, AccountState], legs: Iterable[Leg], state: str
) -> dict[str, AccountState]:
    """The accounts a transfer of `state` touches, with their totals after it (by code)."""
    posted_sign, pending_sign = EFFECTS[state]
    after = {}
    for leg in legs:
        account = after.get(leg.account) or accounts[leg.account]
        if leg.side == DEBIT:
            account = replace(
                account,
                debits_posted_minor=account.debits_posted_minor + posted_sign * leg.amount_minor,
                debits_pending_minor=account.debits_pending_minor + pending_sign * leg.amount_minor,
            )
        else:
            account = replace(
                account,
                credits_posted_minor=account.credits_posted_minor + posted_sign * leg.amount_minor,
                credits_pending_minor=account.credits_pending_minor
                + pending_sign * leg.amount_minor,
            )
        after[leg.account] = account
    return after


def check_rules(after: Mapping[str, AccountState]) -> None:
    """Raise BalanceRuleViolation if an account would go below its floor (all named at once)."""
    if any(min(a.debits_pending_minor, a.credits_pending_minor) < 0 for a in after.values()):
        raise LedgerInconsistent("a pending total would go below zero: run `zamio ledger verify`")
    broken = [a for a in after.values() if rule_broken(a)]
    if broken:
        raise BalanceRuleViolation(
            "; ".join(
                f"{a.code}: available {format_minor(a.available_minor, a.currency)} would be"
                f" below its floor {format_minor(a.balance_min_minor or 0, a.currency)}"
                for a in sorted(broken, key=lambda a: a.code)
            )
        )


def rule_broken(account: AccountState) -> bool:
    """True when the account's available balance is below its floor."""
    floor = account.balance_min_minor
    return floor is not None and account.available_minor < floor


def account_state(row: Any) -> AccountState:
    """An AccountState from a ledger_account row (an Account, or a Core result row)."""
    return AccountState(
        row.id, row.code, row.currency, row.normal_side, row.balance_min_minor,
        row.debits_posted_minor, row.credits_posted_minor,
        row.debits_pending_minor, row.credits_pending_minor,
    )  # fmt: skip
