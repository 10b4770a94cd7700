"""`zamio payouts method add|list`, `request`, `approve`, `reject`, `cancel`, `show`, `list`,
`check`, `reconcile`: the payout steps from the command line, through the same actions as the API
and the console. People are named by email; their party is their only one unless --party says."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import click
from flask import current_app
from flask.cli import with_appcontext

from central import schema
from central.auth import audit, users
from central.auth.errors import UnknownUser
from central.auth.models import User
from central.auth.roles import ADMIN, PARTY_ROLES
from central.extensions import db
from central.ledger.money import format_minor
from central.payouts import actions, disburse, jobs, methods, reconcile, withdrawals
from central.payouts.errors import PayoutError
from central.payouts.methods import MOMO_NETWORKS
from central.payouts.models import STATUSES
from central.payouts.withdrawals import Actor


@click.group("payouts")
def payouts_cli() -> None:
    """Payout methods, withdrawals, approvals and the reconciliation with the provider."""


@contextmanager
def _payout_errors() -> Iterator[None]:
    """A refused payout step as one line on stderr, exit 1, after rolling back."""
    schema.require_current_for_command(db.engine)
    audit.recorded_by_command()  # each step writes its own audit event
    try:
        yield
    except (PayoutError, UnknownUser) as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None


def _user(email: str) -> User:
    """The user of `email`; UnknownUser if there is none."""
    return users.get_user(db.session, email)


def _actor(user: User) -> Actor:
    """The payout actor of a user named on the command line."""
    return Actor(f"user:{user.id}", "cli", user.id)


def _party(user: User, party: str | None) -> str:
    """The party a user acts for: --party (theirs), or their only one."""
    own = sorted(p.party for p in user.parties)
    if user.role not in PARTY_ROLES and user.role != ADMIN:
        raise click.ClickException(f"{user.email} is {user.role}: payouts are for parties")
    if party is not None:
        if user.role != ADMIN and party not in own:
            raise click.ClickException(f"{user.email} does not speak for {party}")
        return party
    if len(own) != 1:
        raise click.ClickException(f"{user.email} speaks for {len(own)} parties: name --party")
    return own[0]


@payouts_cli.group("method")
def method_cli() -> None:
    """Where a party's money goes."""


@method_cli.command("add")
@click.argument("email")
@click.option("--msisdn", help="A mobile-money number (0241234567 or 233241234567).")
@click.option(
    "--network", type=click.Choice(MOMO_NETWORKS), help="Default: the one of the number's prefix."
)
@click.option("--bank", help="A bank's name, for a bank account instead of mobile money.")
@click.option("--account-number", help="The bank account's number (with --bank).")
@click.option("--name", "account_name", default="", help="The account holder's name.")
@click.option("--party", help="The party (default: the user's only one).")
@with_appcontext
def method_add(
    email: str, msisdn: str | None, network: str | None, bank: str | None,
    account_number: str | None, account_name: str, party: str | None,
) -> None:  # fmt: skip
    """Register EMAIL's payout method (replacing the active one, which starts a cooling-off)."""
    with _payout_errors():
        user = _user(email)
        chosen = _party(user, party)
        if bank:
            if not account_number:
                raise click.ClickException("--bank needs --account-number")
            method = actions.add_bank_method(
                current_app, _actor(user), chosen, bank, account_number, account_name
            )
        elif msisdn:
            method = actions.add_momo_method(
                current_app, _actor(user), chosen, msisdn, network, account_name
            )
        else:
            raise click.ClickException("give --msisdn, or --bank and --account-number")
    record = withdrawals.method_record(method)
    checked = "checked with the provider" if record["checked"] else "not checked yet"
    click.echo(
        f"payout method {method.id} for {chosen}: {record['kind']} {record['network']}"
        f" {record['number']} ({checked}; usable from {record['usable_from']})"
    )


@method_cli.command("list")
@click.argument("email")
@click.option("--party", help="The party (default: the user's only one).")
@with_appcontext
def method_list(email: str, party: str | None) -> None:
    """EMAIL's payout methods, newest first."""
    with _payout_errors():
        chosen = _party(_user(email), party)
        for method in methods.methods(db.session, chosen):
            r = withdrawals.method_record(method)
            state = "active" if r["active"] else "replaced"
            click.echo(f"{r['id']:>6}  {r['kind']:<5} {r['network']:<11} {r['number']:<16} {state}")


@payouts_cli.command("request")
@click.argument("email")
@click.argument("amount_minor", type=click.IntRange(1))
@click.option("--party", help="The party (default: the user's only one).")
@click.option("--key", help="An idempotency key: the same key again is the same withdrawal.")
@with_appcontext
def request_command(email: str, amount_minor: int, party: str | None, key: str | None) -> None:
    """EMAIL asks for AMOUNT_MINOR of their earnings; prints the withdrawal id on its last line."""
    with _payout_errors():
        user = _user(email)
        withdrawal = actions.request_withdrawal(
            current_app, _actor(user), _party(user, party), amount_minor, key
        )
    amount = format_minor(withdrawal.amount_minor, withdrawal.currency)
    click.echo(
        f"withdrawal of {amount} requested and held; {withdrawal.approvals_needed} approval(s)"
        " needed"
    )
    click.echo(str(withdrawal.id))


@payouts_cli.command("approve")
@click.argument("withdrawal_id", type=int)
@click.option("--by", "by", required=True, help="The approving admin's email.")
@with_appcontext
def approve_command(withdrawal_id: int, by: str) -> None:
    """Approve withdrawal ID as the admin --by; the last approval needed sends it."""
    with _payout_errors():
        admin = _admin(by)
        withdrawal = actions.approve(current_app, _actor(admin), withdrawal_id)
    click.echo(f"withdrawal {withdrawal.id}: {withdrawal.status}")


@payouts_cli.command("reject")
@click.argument("withdrawal_id", type=int)
@click.option("--by", "by", required=True, help="The rejecting admin's email.")
@click.option("--reason", required=True, help="Why (the party is told).")
@with_appcontext
def reject_command(withdrawal_id: int, by: str, reason: str) -> None:
    """Reject withdrawal ID; its money goes back to the party."""
    with _payout_errors():
        withdrawal = actions.reject(current_app, _actor(_admin(by)), withdrawal_id, reason)
    click.echo(f"withdrawal {withdrawal.id}: {withdrawal.status}")


@payouts_cli.command("cancel")
@click.argument("withdrawal_id", type=int)
@click.option("--by", "by", required=True, help="The email of a user of the party.")
@with_appcontext
def cancel_command(withdrawal_id: int, by: str) -> None:
    """Take back withdrawal ID before any approval; its money is available again."""
    with _payout_errors():
        user = _user(by)
        withdrawal = withdrawals.get(db.session, withdrawal_id)
        _party(user, withdrawal.party)
        withdrawal = actions.cancel(current_app, _actor(user), withdrawal_id)
    click.echo(f"withdrawal {withdrawal.id}: {withdrawal.status}")


def _admin(email: str) -> User:
    """The active admin of `email`."""
    user = _user(email)
    if user.role != ADMIN or not user.active:
        raise click.ClickException(f"{email} is not an active admin")
    return user


@payouts_cli.command("show")
@click.argument("withdrawal_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with its history).")
@with_appcontext
def show_command(withdrawal_id: int, as_json: bool) -> None:
    """Withdrawal ID: its status, money, approvals, what the provider said, its history."""
    with _payout_errors():
        withdrawal = withdrawals.get(db.session, withdrawal_id)
        events = withdrawals.history(db.session, withdrawal_id)
    if as_json:
        click.echo(withdrawals.dumps(withdrawal, events))
        return
    r = withdrawals.record(withdrawal)
    amount = format_minor(r["amount_minor"], r["currency"])
    click.echo(f"withdrawal {r['id']}  {r['status']}  {amount}  {r['party']}")
    approvals = ", ".join(r["approvals"]) or "-"
    click.echo(f"  approvals {len(r['approvals'])} of {r['approvals_needed']}: {approvals}")
    click.echo(f"  provider {r['provider'] or '-'}  reference {r['reference']}")
    click.echo(f"  state {r['provider_state'] or '-'}  reason {r['provider_reason'] or '-'}")
    for event in events:
        e = withdrawals.event_record(event)
        click.echo(
            f"  {e['at']}  {e['from'] or '-':>9} -> {e['to']:<9} {e['actor']}: {e['detail']}"
        )


@payouts_cli.command("list")
@click.option("--status", type=click.Choice(STATUSES))
@click.option("--party")
@click.option("--limit", type=click.IntRange(1, 200), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def list_command(status: str | None, party: str | None, limit: int, as_json: bool) -> None:
    """Withdrawals, newest first."""
    schema.require_current_for_command(db.engine)
    parties = None if party is None else [party]
    rows = withdrawals.listing(db.session, parties, status, None, limit)
    if as_json:
        click.echo(json.dumps([withdrawals.record(w) for w in rows], indent=2))
        return
    for w in rows:
        click.echo(f"{w.id:>8}  {w.status:<9} {format_minor(w.amount_minor, w.currency):>16}"
                   f"  {w.party}")  # fmt: skip


@payouts_cli.command("check")
@with_appcontext
def check_command() -> None:
    """Move on every withdrawal whose step is due now (what the periodic sweep does)."""
    schema.require_current_for_command(db.engine)
    provider = jobs.provider_for(current_app)
    if provider is None:
        raise click.ClickException("no payout provider is set (ZAMIO_MOMO_URL)")
    due = disburse.due(db.session)
    db.session.commit()
    for withdrawal_id in due:
        withdrawal = withdrawals.get(db.session, withdrawal_id)
        url = jobs.callback_url(current_app, provider, withdrawal)
        withdrawal = disburse.check(db.session, provider, withdrawal_id, url)
        click.echo(f"withdrawal {withdrawal_id}: {withdrawal.status}")
    click.echo(f"{len(due)} withdrawal(s) checked")


@payouts_cli.command("reconcile")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def reconcile_command(as_json: bool) -> None:
    """Compare the ledger's payouts with the provider's statuses; exit 1 on a mismatch."""
    schema.require_current_for_command(db.engine)
    audit.recorded_by_command()
    run = actions.reconcile_now(current_app, Actor("cli", "cli"))
    if run is None:
        raise click.ClickException("no payout provider is set (ZAMIO_MOMO_URL)")
    record = reconcile.run_record(run)
    if as_json:
        click.echo(json.dumps(record, indent=2))
    else:
        click.echo(f"checked {run.checked}, mismatches {run.mismatches}, unreachable"
                   f" {run.unreachable}")  # fmt: skip
        for m in record["report"]:
            click.echo(f"  withdrawal {m['withdrawal_id']}: {m['kind']}: {m['detail']}")
    if run.mismatches:
        raise SystemExit(1)
