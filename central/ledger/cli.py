"""`zamio ledger`: accounts, balances, statements, verify, and manual transfers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import click
from flask.cli import AppGroup

from central import schema
from central.auth import audit
from central.auth.cli import cli_login
from central.extensions import db
from central.ledger import accounts, posting, queries, verify_runs
from central.ledger.accounts import KINDS
from central.ledger.errors import LedgerError
from central.ledger.models import Transfer
from central.ledger.money import DEFAULT_CURRENCY, format_minor
from central.ledger.transfer import Leg, TransferRequest, credit, debit
from central.times import iso_datetime, parse_instant_ms
from central.times import now_ms as times_now_ms

ledger_cli = AppGroup("ledger", help="The ledger: accounts, balances, statements, verify.")
account_cli = AppGroup("account", help="Open ledger accounts and list them.")
ledger_cli.add_command(account_cli)


@account_cli.command("add")
@click.argument("code")
@click.option("--kind", required=True, type=click.Choice(list(KINDS)), help="What it holds.")
@click.option("--currency", default=DEFAULT_CURRENCY, show_default=True)
@click.option("--credit-limit-minor", type=click.IntRange(min=0), help="May go this far below 0.")
@click.option("--unbounded/--bounded", default=None, help="No floor at all / floor 0 (or limit).")
def account_add(
    code: str, kind: str, currency: str, credit_limit_minor: int | None, unbounded: bool | None
) -> None:
    """Open account CODE (e.g. station:joy-fm:wallet); the same again is no change."""
    schema.require_current_for_command(db.engine)
    with _ledger_errors():
        spec = accounts.account_spec(code, kind, currency, credit_limit_minor, unbounded)
        accounts.open_account(db.session, spec)
    db.session.commit()
    floor = (
        "none" if spec.balance_min_minor is None else format_minor(spec.balance_min_minor, currency)
    )
    click.echo(f"account {code} open: {kind}, {spec.normal_side}-normal, floor {floor}")


@account_cli.command("list")
@click.option("--prefix", help="Only codes starting with this, e.g. 'station:'.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def account_list(prefix: str | None, as_json: bool) -> None:
    """Every account with its balances."""
    schema.require_current_for_command(db.engine)
    rows = [queries.account_balance(a) for a in accounts.accounts(db.session, prefix)]
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows], indent=2))
        return
    for r in rows:
        click.echo(
            f"{r.code:<40} {r.kind:<22} {format_minor(r.balance_minor, r.currency):>18}"
            f"  available {format_minor(r.available_minor, r.currency)}"
        )


@ledger_cli.command("balance")
@click.argument("account")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def balance_command(account: str, as_json: bool) -> None:
    """The balances of ACCOUNT: posted, available, pending."""
    schema.require_current_for_command(db.engine)
    with _ledger_errors():
        b = queries.balance(db.session, account)
    if as_json:
        click.echo(json.dumps(b.as_dict(), indent=2))
        return
    for line in balance_lines(b):
        click.echo(line)


def balance_lines(b: queries.AccountBalance) -> list[str]:
    """An account's balances as lines of text."""
    floor = "none" if b.balance_min_minor is None else format_minor(b.balance_min_minor, b.currency)
    return [
        f"{b.code}  {b.kind}, {b.normal_side}-normal, floor {floor}",
        f"  balance    {format_minor(b.balance_minor, b.currency)}",
        f"  available  {format_minor(b.available_minor, b.currency)}",
        f"  pending    debits {format_minor(b.debits_pending_minor, b.currency)}"
        f"  credits {format_minor(b.credits_pending_minor, b.currency)}",
    ]


@ledger_cli.command("statement")
@click.argument("account")
@click.option("--since", help="From (ISO-8601 UTC, epoch ms, or an age: 30d). Default: the start.")
@click.option("--until", help="Until, excluded. Default: now.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def statement_command(account: str, since: str | None, until: str | None, as_json: bool) -> None:
    """ACCOUNT's entries in a time range: opening balance, each entry, closing balance."""
    schema.require_current_for_command(db.engine)
    with _ledger_errors():
        s = queries.statement(db.session, account, _instant(since), _instant(until))
    if as_json:
        click.echo(json.dumps(statement_record(s), indent=2))
        return
    currency = s.account.currency
    click.echo(f"{s.account.code} ({currency})  opening {format_minor(s.opening_minor, currency)}")
    for line in s.lines:
        signed_minor = (
            line.amount_minor if line.side == s.account.normal_side else -line.amount_minor
        )
        click.echo(
            f"{line.seq:>8}  {iso_datetime(line.created_at)}  {line.code:<10} {line.state:<19}"
            f" {format_minor(signed_minor, currency):>16}"
            f"  {format_minor(line.balance_minor, currency):>16}  {line.idempotency_key}"
        )
    if s.truncated:
        click.echo(f"... more than {len(s.lines)} entries: narrow --since/--until", err=True)
    click.echo(f"closing {format_minor(s.closing_minor, currency)}")


def statement_record(s: queries.Statement) -> dict[str, Any]:
    """A statement as a JSON-ready dict."""
    return {
        "account": s.account.as_dict(),
        "since": iso_datetime(s.since) if s.since else None,
        "until": iso_datetime(s.until) if s.until else None,
        "opening_minor": s.opening_minor,
        "closing_minor": s.closing_minor,
        "truncated": s.truncated,
        "lines": [
            {**line.__dict__, "created_at": iso_datetime(line.created_at)} for line in s.lines
        ],
    }


@ledger_cli.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify_command(as_json: bool) -> None:
    """Check the whole ledger (the run is kept for the console's overview); exit 1 and list
    every problem when it is broken."""
    schema.require_current_for_command(db.engine)
    report, duration_ms = verify_runs.check(db.session)
    audit.recorded_by_command()  # record_run audits the run itself, with what it found
    run = verify_runs.record_run(db.session, report, duration_ms, cli_login(), "cli")
    db.session.commit()
    elapsed_s = run.duration_ms / 1000.0
    if as_json:
        click.echo(json.dumps({**report.as_dict(), "seconds": round(elapsed_s, 3)}, indent=2))
    else:
        for problem in report.problems:
            click.echo(f"problem: {problem}")
        if report.problems_omitted:
            click.echo(f"problem: ... and {report.problems_omitted} more")
        verdict = (
            "ok"
            if report.ok
            else f"BROKEN ({len(report.problems) + report.problems_omitted} problems)"
        )
        click.echo(
            f"ledger {verdict}: {report.transfers:,} transfers, {report.entries:,} entries,"
            f" {report.accounts:,} accounts; chain head seq {report.head_seq}"
            f" {report.head_hash[:16]}; {elapsed_s:.2f} s"
        )
    if not report.ok:
        raise SystemExit(1)


@ledger_cli.command("transfer")
@click.option("--key", required=True, help="Idempotency key: the same key again posts nothing.")
@click.option("--code", required=True, help="What it is for: topup, payout, adjustment, ...")
@click.option("--debit", "debits", multiple=True, metavar="ACCOUNT=MINOR", help="A debit leg.")
@click.option("--credit", "credits", multiple=True, metavar="ACCOUNT=MINOR", help="A credit leg.")
@click.option("--currency", default=DEFAULT_CURRENCY, show_default=True)
@click.option("--pending", is_flag=True, help="Hold it: post-pending or void-pending it later.")
@click.option("--note", help="A note kept in the transfer's metadata.")
def transfer_command(
    key: str, code: str, debits: tuple[str, ...], credits: tuple[str, ...], currency: str,
    pending: bool, note: str | None,
) -> None:  # fmt: skip
    """Post a transfer by hand (amounts in minor units: 1250 is GHS 12.50)."""
    schema.require_current_for_command(db.engine)
    with _ledger_errors():
        legs = tuple(_leg(debit, text) for text in debits) + tuple(_leg(credit, t) for t in credits)
        request = TransferRequest(
            key, code, legs, currency, pending, {"note": note} if note else None
        )
        _echo_posted(posting.post_transfer(db.session, request))


@ledger_cli.command("post-pending")
@click.argument("transfer_id")
@click.option("--key", required=True, help="Idempotency key of the posting.")
def post_pending_command(transfer_id: str, key: str) -> None:
    """Post the money pending transfer TRANSFER_ID holds."""
    schema.require_current_for_command(db.engine)
    with _ledger_errors():
        _echo_posted(posting.post_pending(db.session, transfer_id, key))


@ledger_cli.command("void-pending")
@click.argument("transfer_id")
@click.option("--key", required=True, help="Idempotency key of the void.")
def void_pending_command(transfer_id: str, key: str) -> None:
    """Release the money pending transfer TRANSFER_ID holds."""
    schema.require_current_for_command(db.engine)
    with _ledger_errors():
        _echo_posted(posting.void_pending(db.session, transfer_id, key))


@ledger_cli.command("reverse")
@click.argument("transfer_id")
@click.option("--key", required=True, help="Idempotency key of the reversal.")
def reverse_command(transfer_id: str, key: str) -> None:
    """Undo posted transfer TRANSFER_ID with a new transfer."""
    schema.require_current_for_command(db.engine)
    with _ledger_errors():
        _echo_posted(posting.reverse(db.session, transfer_id, key))


def _echo_posted(transfer: Transfer) -> None:
    """Commit, then print the transfer's id, seq and state."""
    db.session.commit()
    click.echo(
        f"transfer {transfer.id} seq {transfer.seq} {transfer.state} ({transfer.code},"
        f" key {transfer.idempotency_key})"
    )


def _leg(make: Any, text: str) -> Leg:
    """A leg from 'ACCOUNT=MINOR'."""
    account, _, amount = text.rpartition("=")
    if not account or not amount.strip().isdigit():
        raise click.BadParameter(f"{text!r}: use ACCOUNT=MINOR, e.g. station:joy-fm:wallet=1250")
    return make(account, int(amount))


@contextmanager
def _ledger_errors() -> Iterator[None]:
    """Turn a LedgerError into a one-line CLI error, after rolling back."""
    try:
        yield
    except LedgerError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None


def _instant(text: str | None) -> datetime | None:
    """A --since/--until option as an aware UTC datetime."""
    if text is None:
        return None
    now_ms = times_now_ms()
    try:
        return datetime.fromtimestamp(parse_instant_ms(text, now_ms) / 1000, UTC)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
