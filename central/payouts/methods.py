"""Payout methods: a party registers where its money goes (a mobile-money number, checked with
the provider before first use, or a bank account for a manual export). Replacing a method is
audited and opens withdrawals only after ZAMIO_PAYOUTS_COOLING_OFF_HOURS, so whoever takes over
an account cannot empty it at once. Each function works in the caller's transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.auth import audit
from central.extensions import utc_now
from central.payouts import rules
from central.payouts.errors import MethodError, PayoutError
from central.payouts.models import BANK, MOMO, PayoutMethod
from central.payouts.provider import Provider, ProviderError
from central.payouts.withdrawals import Actor, active_method, method_record

MOMO_NETWORKS = ("mtn", "telecel", "airteltigo")  # Telecel: Vodafone Ghana since 2024
ACCOUNT_NAME_CHARS_MAX = 120


def add_momo(
    session: Session,
    actor: Actor,
    party: str,
    msisdn: str,
    network: str | None,
    provider: Provider | None,
    cooling_off_hours: int,
    account_name: str = "",
) -> PayoutMethod:
    """Register a mobile-money number as `party`'s method (replacing the active one). The
    provider checks that the account is active; an account it says is inactive is refused, and
    one it cannot check now is checked before the first payout. Without `network`, the one
    the number's prefix was issued to."""
    from central.payouts.msisdn import network_of, normalize_msisdn

    try:
        number = normalize_msisdn(msisdn)
    except (ValueError, PayoutError) as error:
        raise MethodError(str(error)) from None
    network = network or network_of(number)
    if network not in MOMO_NETWORKS:
        raise MethodError(f"network {network!r}: say which, one of {', '.join(MOMO_NETWORKS)}")
    checked_at = None
    if provider is not None:
        try:
            if not provider.account_active(number):
                raise MethodError(f"{number[:-4]}****: no active mobile-money account")
            checked_at = utc_now()
        except ProviderError:
            checked_at = None  # unreachable now: disburse.py checks it before the first payout
    return _replace(
        session, actor, PayoutMethod(
            party=party, kind=MOMO, network=network, msisdn=number, account_number=None,
            account_name=_name(account_name), checked_at=checked_at,
        ), cooling_off_hours,
    )  # fmt: skip


def add_bank(
    session: Session,
    actor: Actor,
    party: str,
    bank: str,
    account_number: str,
    account_name: str,
    cooling_off_hours: int,
) -> PayoutMethod:
    """Register a bank account as `party`'s method: its payouts go out by a manual export."""
    digits = "".join(account_number.split())
    if not digits.isalnum() or not 6 <= len(digits) <= 34:
        raise MethodError("a bank account number is 6-34 letters and digits")
    if not bank.strip() or len(bank.strip()) > 32:
        raise MethodError("name the bank in 1-32 characters")
    return _replace(
        session, actor, PayoutMethod(
            party=party, kind=BANK, network=bank.strip(), msisdn=None, account_number=digits,
            account_name=_name(account_name), checked_at=utc_now(),
        ), cooling_off_hours,
    )  # fmt: skip


def _replace(
    session: Session, actor: Actor, method: PayoutMethod, cooling_off_hours: int
) -> PayoutMethod:
    """Make `method` the party's active one; the one it replaces is kept, inactive."""
    now = utc_now()
    before = active_method(session, method.party)
    if before is not None:
        before.active = False
        before.removed_at = now
    method.usable_from = rules.method_usable_from(now, before is not None, cooling_off_hours)
    method.active = True
    method.created_by = actor.name
    method.created_at = now
    session.add(method)
    session.flush()
    changes = {"method": [None if before is None else before.id, method.id]}
    changes["number"] = [None, method_record(method)["number"]]
    via = actor.via if actor.via in audit.VIAS else "api"
    audit.record(session, actor.name, via, "payout.method", "party", method.party, changes)
    return method


def methods(session: Session, party: str) -> list[PayoutMethod]:
    """Every method the party registered, newest first."""
    query = select(PayoutMethod).where(PayoutMethod.party == party)
    return list(session.scalars(query.order_by(PayoutMethod.id.desc())))


def _name(text: str) -> str:
    """An account holder's name, trimmed; MethodError when too long."""
    text = (text or "").strip()
    if len(text) > ACCOUNT_NAME_CHARS_MAX:
        raise MethodError(f"the account name is at most {ACCOUNT_NAME_CHARS_MAX} characters")
    return text
