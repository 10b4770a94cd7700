"""`zamio royalty`: rate cards, rights shares, station tariffs, accruals and their explanation,
holds, suspense claims, daily statements and blanket pools."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import distinct, func, select

from central import schema
from central.errors import StationError
from central.extensions import db
from central.ledger import queries as ledger_queries
from central.ledger.cli import statement_record
from central.ledger.errors import LedgerError
from central.ledger.models import Transfer
from central.ledger.money import format_minor, parse_minor
from central.royalties import cards, explain, holds, jobs, rights, rollup, store, suspense
from central.royalties.blanket import distribute_blanket
from central.royalties.errors import DocumentError, RoyaltyError
from central.royalties.models import SuspenseItem
from central.royalties.queries import explain_play, play_transfers
from central.times import iso_utc, now_ms

royalty_cli = AppGroup("royalty", help="Royalties: rate cards, shares, accruals, holds, claims.")
ratecard_cli = AppGroup("ratecard", help="Versions of the tariff: add one, list them.")
shares_cli = AppGroup("shares", help="Rights shares of a track: set them, show them.")
royalty_cli.add_command(ratecard_cli)
royalty_cli.add_command(shares_cli)
DOCUMENT_BYTES_MAX = 1_000_000


@contextmanager
def _errors() -> Iterator[None]:
    """Check the schema; turn a royalty, ledger or station error into a one-line CLI error."""
    schema.require_current_for_command(db.engine)
    try:
        yield
    except (RoyaltyError, LedgerError, StationError) as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None


def _document(path: Path) -> Any:
    """The JSON in `path`, or a ClickException saying where it is broken."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise click.ClickException(f"{path}: cannot be read: {error}") from None
    if len(text) > DOCUMENT_BYTES_MAX:
        raise click.ClickException(f"{path}: over {DOCUMENT_BYTES_MAX} bytes")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise click.ClickException(
            f"{path}: not JSON: {error.msg} at line {error.lineno}, column {error.colno}"
        ) from None


def _tariff_code() -> str:
    return current_app.config["ZAMIO"].royalty_tariff_code


@ratecard_cli.command("add")
@click.argument("path", metavar="FILE.json", type=click.Path(dir_okay=False, path_type=Path))
def ratecard_add(path: Path) -> None:
    """Add the rate card in FILE.json as the next version of its code."""
    with _errors():
        spec, problems = cards.parse_card(_document(path))
        if spec is None:
            raise DocumentError(f"{path}: not a rate card", problems)
        row = store.add_rate_card(db.session, spec)
        db.session.commit()
    click.echo(
        f"rate card {row.code} v{row.version} added: {row.currency}, effective from"
        f" {iso_utc(row.effective_from_ms)}, {len(spec.bands)} bands, {len(spec.lines)} lines"
    )


@ratecard_cli.command("list")
@click.option("--code", help="Only this tariff's versions.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def ratecard_list(code: str | None, as_json: bool) -> None:
    """Every rate card version, with its bands and lines."""
    with _errors():
        rows = store.rate_cards(db.session, code)
    records = [store.card_record(row) for row in rows]
    if as_json:
        click.echo(json.dumps(records, indent=2))
        return
    for r in records:
        click.echo(
            f"{r['code']} v{r['version']}  {r['currency']}  from {r['effective_from']}"
            f"  fee {r['platform_fee_bp'] / 100:g} %"
            f"  composition {r['composition_share_bp'] / 100:g} %"
        )
        for b in r["bands"]:
            start, end = explain.hhmm(b["start_minute"]), explain.hhmm(b["end_minute"])
            click.echo(f"    band {b['name']}: {start}-{end}")
        for x in r["lines"]:
            click.echo(
                f"    class {x['station_class']:<6} band {x['band']:<10} {x['basis']:<10}"
                f" {x['rate_micro_minor']:>12,} micro-minor"
            )
    if not records:
        click.echo(
            f"no rate cards yet: plays are priced by the built-in card ({_tariff_code()} v1)"
        )


@shares_cli.command("set")
@click.argument("track_external_id", metavar="TRACK_EXTERNAL_ID")
@click.argument("path", metavar="FILE.json", type=click.Path(dir_okay=False, path_type=Path))
def shares_set(track_external_id: str, path: Path) -> None:
    """Replace the shares of the pools FILE.json gives for a track (each must add up to 100 %)."""
    with _errors():
        pools, problems = rights.parse_shares(_document(path))
        if problems:
            raise DocumentError(f"{path}: not a shares document", problems)
        track = store.find_track(db.session, track_external_id)
        releases = suspense.set_shares(db.session, track.id, pools)
        db.session.commit()
    for pool in pools:
        unclaimed = sum(1 for line in pool.lines if line.party is None)
        click.echo(
            f"track {track_external_id} {pool.pool} {pool.work_code}: {len(pool.lines)} shares"
            f" ({unclaimed} unclaimed)"
        )
    for r in releases:
        click.echo(
            f"track {track_external_id} {r.pool}: past suspense of {r.items} items released:"
            f" {r.amount_minor} minor to the owners, {r.kept_minor} kept under {r.work_code}"
            + (f" (transfer {r.transfer_id})" if r.transfer_id else "")
        )


@shares_cli.command("show")
@click.argument("track_external_id", metavar="TRACK_EXTERNAL_ID")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def shares_show(track_external_id: str, as_json: bool) -> None:
    """The shares on file for a track."""
    with _errors():
        track = store.find_track(db.session, track_external_id)
        pools = store.track_shares(db.session, track.id)
    record = {
        p.pool: {rights.WORK_CODE_KEYS[p.pool]: p.work_code,
                 "shares": [line.__dict__ for line in p.lines]}
        for p in pools.values()
    }  # fmt: skip
    if as_json:
        click.echo(json.dumps(record, indent=2))
        return
    for pool in rights.POOLS:
        if pool not in pools:
            click.echo(f"{pool}: no shares on file (its money goes to suspense)")
            continue
        click.echo(f"{pool} {pools[pool].work_code}")
        for line in pools[pool].lines:
            click.echo(
                f"    {line.role:<10} {line.share_bp / 100:>6.2f} %  {line.party or '(unclaimed)'}"
            )


@royalty_cli.command("station")
@click.argument("station_code", metavar="STATION")
@click.option("--class", "station_class", help="The class its rate card lines name, e.g. A.")
@click.option("--timezone", help="The IANA zone its time bands are local to, e.g. Africa/Accra.")
def station_command(station_code: str, station_class: str | None, timezone: str | None) -> None:
    """Show, or change, a station's tariff class and time zone."""
    with _errors():
        station = store.set_station_tariff(db.session, station_code, station_class, timezone)
        db.session.commit()
    click.echo(
        f"station {station.code}: class {station.station_class}, time zone {station.timezone}"
    )


@royalty_cli.command("accrue")
@click.option("--limit", type=click.IntRange(min=1), default=jobs.ACCRUE_PENDING_LIMIT,
              show_default=True, help="Plays at most in this batch.")  # fmt: skip
def accrue_command(limit: int) -> None:
    """Accrue closed plays with no accrual yet (and retry unfunded ones), now, as one batch."""
    with _errors():
        run = jobs.accrue_batch(db.session, limit, _tariff_code())
    states = ", ".join(f"{n} {state}" for state, n in sorted(run.states.items())) or "nothing to do"
    click.echo(f"batch {run.batch_id}: {len(run.play_ids)} plays: {states}")


@royalty_cli.command("explain")
@click.argument("play_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def explain_command(play_id: int, as_json: bool) -> None:
    """How a play's royalty was priced and split, and the transfers that carried it."""
    with _errors():
        record = explain_play(db.session, play_id)
    if as_json:
        click.echo(json.dumps(record, indent=2, sort_keys=True))
        return
    for line in explain.explain_lines(record):
        click.echo(line)


@royalty_cli.command("rollup")
@click.option("--check", is_flag=True, help="Only compare the stored rollup with the ledger.")
def rollup_command(check: bool) -> None:
    """Rebuild the earnings rollup (days, months) from the ledger (or, with --check, compare)."""
    with _errors():
        count, differ, example = rollup.rebuild_and_compare(db.session)
        (db.session.rollback if check else db.session.commit)()  # --check changes nothing
    if check and differ:
        raise click.ClickException(
            f"earnings rollup: {differ} rows differ from the ledger's {count}, e.g. {example}"
        )
    verb = "matches the ledger" if check else f"rebuilt ({differ} rows changed)"
    click.echo(f"earnings rollup: {count} rows, {verb}")


def _step_key(key: str | None, play_id: int) -> str:
    """The caller's key, or a fresh one per step of the play: `cli-<transfers so far>`."""
    return key or f"cli-{len(play_transfers(db.session, play_id))}"


@royalty_cli.command("hold")
@click.argument("play_id", type=int)
@click.option("--reason", required=True, help="Why (kept on the accrual and its transfers).")
@click.option("--key", help="Idempotency key (default: one per step of the play).")
def hold_command(play_id: int, reason: str, key: str | None) -> None:
    """Hold a play's royalty (a dispute): pending until released or voided."""
    with _errors():
        accrual = holds.hold_play(
            db.session, play_id, reason, _step_key(key, play_id), _tariff_code(),
            jobs.new_batch_id(),
        )  # fmt: skip
        db.session.commit()
    click.echo(f"play {play_id}: {format_minor(accrual.amount_minor, accrual.currency)} held")


@royalty_cli.command("release")
@click.argument("play_id", type=int)
@click.option("--key", help="Idempotency key (default: one per step of the play).")
def release_command(play_id: int, key: str | None) -> None:
    """Post the money a play's hold reserves."""
    with _errors():
        accrual = holds.release_hold(db.session, play_id, _step_key(key, play_id))
        db.session.commit()
    click.echo(f"play {play_id}: {format_minor(accrual.amount_minor, accrual.currency)} released")


@royalty_cli.command("void")
@click.argument("play_id", type=int)
@click.option("--key", help="Idempotency key (default: one per step of the play).")
def void_command(play_id: int, key: str | None) -> None:
    """Give back the money a play's hold reserves (the play earns nothing)."""
    with _errors():
        accrual = holds.void_hold(db.session, play_id, _step_key(key, play_id))
        db.session.commit()
    click.echo(f"play {play_id}: {format_minor(accrual.amount_minor, accrual.currency)} voided")


@royalty_cli.command("claim")
@click.argument("work_code", metavar="[WORK_CODE]", required=False)
@click.option("--track", "track_id", metavar="TRACK", help="Claim a track's suspense instead "
              "(its external id): money kept with no code, or all of the track's.")  # fmt: skip
@click.option("--pool", type=click.Choice(rights.POOLS), help="With --track: only this pool.")
@click.option("--account", required=True, help="The claimant's earnings account code.")
@click.option("--key", help="Idempotency key (default: one per claim of the work or track).")
def claim_command(
    work_code: str | None, track_id: str | None, pool: str | None, account: str, key: str | None
) -> None:
    """Release a work's suspense (ISWC or ISRC), or a track's (--track), to its claimant."""
    if (work_code is None) == (track_id is None):
        raise click.UsageError("give a WORK_CODE or --track TRACK (one of them)")
    if pool is not None and track_id is None:
        raise click.UsageError("--pool goes with --track")
    with _errors():
        if track_id is not None:
            claim = suspense.claim_track_suspense(
                db.session, track_id, account, key or _track_claim_key(track_id), pool
            )
            what, unit = f"track {track_id} ({claim.pool})", "suspense items"
        else:
            assert work_code is not None
            claim = suspense.claim_suspense(
                db.session, work_code, account, key or _claim_key(work_code)
            )
            what, unit = claim.work_code, "plays"
        db.session.commit()
    click.echo(
        f"{what}: {format_minor(claim.amount_minor, claim.currency)} of"
        f" {claim.items} {unit} moved to {claim.party} (transfer {claim.transfer_id})"
    )


def _track_claim_key(external_id: str) -> str:
    """cli-track-<track id>-<claims of the track so far>."""
    track = store.find_track(db.session, external_id)
    claims = db.session.scalar(
        select(func.count(Transfer.id)).where(
            Transfer.code == suspense.CLAIM_CODE,
            Transfer.idempotency_key.like(f"royalty:claim:cli-track-{track.id}-%"),
        )
    )
    return f"cli-track-{track.id}-{claims}"


def _claim_key(work_code: str) -> str:
    """cli-<code>-<claims of the work so far>."""
    try:
        _, code = rights.pool_of_code(work_code)
    except ValueError:
        return "cli"  # claim_suspense reports the bad code
    claims = db.session.scalar(
        select(func.count(distinct(SuspenseItem.claim_transfer_id))).where(
            SuspenseItem.work_code == code
        )
    )
    return f"cli-{code}-{claims}"


@royalty_cli.command("suspense")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def suspense_command(as_json: bool) -> None:
    """Works with unclaimed money in suspense (claimable, and still held)."""
    with _errors():
        works = suspense.works_in_suspense(db.session)
    if as_json:
        click.echo(json.dumps([w.__dict__ for w in works], indent=2))
        return
    for w in works:
        code = w.work_code or f"(no code) track {w.track}"
        click.echo(
            f"{w.pool:<12} {code:<14} claimable {w.claimable_minor:>10}"
            f"  held {w.held_minor:>10} minor"
        )


@royalty_cli.command("statement")
@click.argument("account")
@click.option("--day", required=True, help="The UTC day, YYYY-MM-DD.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def statement_command(account: str, day: str, as_json: bool) -> None:
    """An account's statement for one UTC day: opening balance, entries, closing balance."""
    try:
        since = datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC)
    except ValueError:
        raise click.BadParameter(f"{day!r}: a day as YYYY-MM-DD", param_hint="--day") from None
    with _errors():
        s = ledger_queries.statement(db.session, account, since, since + timedelta(days=1))
    if as_json:
        click.echo(json.dumps(statement_record(s), indent=2))
        return
    currency = s.account.currency
    click.echo(
        f"{s.account.code} on {day} (UTC)  opening {format_minor(s.opening_minor, currency)}"
    )
    for line in s.lines:
        signed = line.amount_minor if line.side == s.account.normal_side else -line.amount_minor
        click.echo(
            f"{line.seq:>8}  {line.created_at.strftime('%H:%M:%S')}  {line.code:<14}"
            f" {line.state:<19} {format_minor(signed, currency):>14}"
            f"  {format_minor(line.balance_minor, currency):>14}  {line.idempotency_key}"
        )
    if s.truncated:
        click.echo(f"... more than {len(s.lines)} entries that day", err=True)
    click.echo(f"closing {format_minor(s.closing_minor, currency)}")


@royalty_cli.command("blanket")
@click.argument("station_code", metavar="STATION")
@click.argument("month", metavar="YYYY-MM")
@click.option("--pool", "pool_text", required=True, help="The month's pool, e.g. 1500.00 (GHS).")
@click.option("--key", help="Idempotency key (default: blanket-STATION-MONTH).")
def blanket_command(station_code: str, month: str, pool_text: str, key: str | None) -> None:
    """Share a station's monthly blanket pool over the month's blanket plays."""
    with _errors():
        versions = store.tariff_versions(db.session, _tariff_code())
        currency = versions[-1].currency
        pool_minor = parse_minor(pool_text, currency)
        done = distribute_blanket(
            db.session, station_code, month, pool_minor, key or f"blanket-{station_code}-{month}",
            _tariff_code(), jobs.new_batch_id(), now_ms(),
        )  # fmt: skip
        db.session.commit()
    click.echo(
        f"{station_code} {month}: {format_minor(done.pool_minor, done.currency)} shared over"
        f" {done.plays} plays (batch {done.batch_id})"
    )
