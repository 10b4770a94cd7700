"""Ledger accounts: their kinds, opening one (idempotent), finding and listing them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from central.extensions import utc_now
from central.ledger.errors import AccountConflict, InvalidAccount, InvalidTransfer, UnknownAccount
from central.ledger.models import ACCOUNT_CODE_CHARS_MAX, Account
from central.ledger.money import DEFAULT_CURRENCY, check_currency
from central.ledger.transfer import CREDIT, DEBIT

# kind: (normal side, floor when none is given). A floor of 0: never below zero; None: no rule.
KINDS: dict[str, tuple[str, int | None]] = {
    "station_wallet": (CREDIT, 0),  # prepaid: what the platform owes a station; may get a limit
    "station_payable": (DEBIT, None),  # postpaid: what a station owes the platform
    "artist_earnings": (CREDIT, 0),
    "rights_holder_earnings": (CREDIT, 0),  # publishers, labels, composers
    "society_pool": (CREDIT, 0),  # collective management societies (e.g. GHAMRO)
    "platform_fees": (CREDIT, 0),
    "suspense": (CREDIT, 0),  # shares of unidentified or unclaimed rights holders
    "hold": (CREDIT, 0),  # money set aside while a dispute is open
    "payout_clearing": (CREDIT, 0),  # sent to a payment provider, not yet confirmed
    "settlement": (DEBIT, None),  # the bank and mobile-money money comes in and goes out by
}
ACCOUNT_CODE = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._:@-]{{0,{ACCOUNT_CODE_CHARS_MAX - 1}}}")


@dataclass(frozen=True)
class AccountSpec:
    """What an account is: code (e.g. 'station:joy-fm:wallet'), kind, currency and floor."""

    code: str
    kind: str
    currency: str
    normal_side: str
    balance_min_minor: int | None


def account_spec(
    code: str,
    kind: str,
    currency: str = DEFAULT_CURRENCY,
    credit_limit_minor: int | None = None,
    unbounded: bool | None = None,
) -> AccountSpec:
    """A checked spec: the floor is -credit_limit_minor, none if unbounded, else the kind's."""
    if not ACCOUNT_CODE.fullmatch(code):
        raise InvalidAccount(
            f"account code {code!r}: 1-{ACCOUNT_CODE_CHARS_MAX} of A-Z a-z 0-9 . _ : @ -,"
            " starting with a letter or digit"
        )
    if kind not in KINDS:
        raise InvalidAccount(f"account kind {kind!r}: one of {', '.join(KINDS)}")
    try:
        check_currency(currency)
    except InvalidTransfer as error:
        raise InvalidAccount(str(error)) from None
    if credit_limit_minor is not None and (credit_limit_minor < 0 or unbounded):
        raise InvalidAccount("a credit limit is >= 0, and an unbounded account has none")
    normal_side, floor = KINDS[kind]
    if unbounded:
        floor = None
    elif credit_limit_minor is not None:
        floor = -credit_limit_minor
    elif unbounded is False and floor is None:
        floor = 0
    return AccountSpec(code, kind, currency, normal_side, floor)


def open_account(session: Session, spec: AccountSpec) -> Account:
    """The account of `spec`, made if new; AccountConflict if the code exists otherwise."""
    account = find_account(session, spec.code)
    if account is None:
        try:
            with session.begin_nested():
                account = Account(
                    code=spec.code, kind=spec.kind, currency=spec.currency,
                    normal_side=spec.normal_side, balance_min_minor=spec.balance_min_minor,
                    debits_posted_minor=0, credits_posted_minor=0, debits_pending_minor=0,
                    credits_pending_minor=0, created_at=utc_now(),
                )  # fmt: skip
                session.add(account)
        except IntegrityError:  # opened at the same moment by another transaction
            account = find_account(session, spec.code)
    if account is None:
        raise InvalidAccount(f"account {spec.code}: could not be opened")
    if _spec_of(account) != spec:
        raise AccountConflict(
            f"account {spec.code} exists as {_spec_of(account)}, not as asked ({spec})"
        )
    return account


def _spec_of(account: Account) -> AccountSpec:
    """The spec a stored account was opened with."""
    return AccountSpec(
        account.code, account.kind, account.currency, account.normal_side,
        account.balance_min_minor,
    )  # fmt: skip


def find_account(session: Session, code: str) -> Account | None:
    """The account with this code, or None."""
    return session.scalar(select(Account).where(Account.code == code))


def get_account(session: Session, code: str) -> Account:
    """The account with this code; UnknownAccount if there is none."""
    account = find_account(session, code)
    if account is None:
        raise UnknownAccount(f"no account {code}")
    return account


def accounts(
    session: Session,
    prefix: str | None = None,
    after_code: str | None = None,
    limit: int | None = None,
) -> list[Account]:
    """Every account by code, or those whose code starts with `prefix`; a page of `limit`
    after `after_code` when given."""
    query = select(Account).order_by(Account.code)
    if prefix:
        query = query.where(Account.code.startswith(prefix, autoescape=True))
    if after_code is not None:
        query = query.where(Account.code > after_code)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))
