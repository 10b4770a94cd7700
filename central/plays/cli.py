"""`zamio playlog RECORDING`: the plays in a recording; `zamio plays`: a station's play log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session

from central import schema
from central.catalog import near_duplicates
from central.errors import FingerprintVersionError, QueryError, SchemaError
from central.extensions import db
from central.ledger.money import format_minor
from central.matching.loader import load_index
from central.plays import queries
from central.plays.playlog import play_record, playlog
from central.royalties.models import PAID_STATES, RoyaltyAccrual
from central.stations import store as stations
from central.times import iso_utc
from central.times import now_ms as times_now_ms
from edge_agent.errors import DecodeError


@click.command("playlog")
@click.argument("recording", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of plays.")
@with_appcontext
def playlog_command(recording: Path, as_json: bool) -> None:
    """Find the catalogue's tracks played in RECORDING (any file ffmpeg reads)."""
    try:
        schema.require_current(db.engine)
        index = load_index(db.session)
        plays = playlog(index, recording, near_duplicates.linked_pairs(db.session))
    except (SchemaError, DecodeError, FingerprintVersionError) as error:
        raise click.ClickException(str(error)) from None
    if not index.tracks:
        click.echo("warning: the catalogue is empty; run `zamio catalog import` first", err=True)
    records = [play_record(p) for p in plays]
    if as_json:
        click.echo(json.dumps(records, indent=1))
        return
    for r in records:
        click.echo(
            f"{r['track_id']}  {r['title']}  {_clock(r['start_s'])}-{_clock(r['end_s'])}  "
            f"{r['duration_s']:.0f} s  confidence {r['confidence']:.2f}  "
            f"speed {r['speed_ratio']:.3f}"
        )
    click.echo(f"{len(records)} plays", err=True)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


PLAYS_SPAN_MS_DEFAULT = 86_400_000  # `zamio plays` shows the last 24 h unless told otherwise


@click.command("plays")
@click.option("--station", "station_code", required=True, help="The station's code.")
@click.option(
    "--since", help="From (ISO-8601 UTC, epoch ms, or an age: 7d). Default: 24 h before --until."
)
@click.option("--until", help="Until, excluded (same forms). Default: now.")
@click.option("--track", help="Only the plays of this track (its external id).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of plays.")
@with_appcontext
def plays_command(
    station_code: str, since: str | None, until: str | None, track: str | None, as_json: bool
) -> None:
    """The play log of a station: its plays that start in [--since, --until), oldest first."""
    schema.require_current_for_command(db.engine)
    now_ms = times_now_ms()
    try:
        span = queries.parse_time_range(since, until, now_ms, PLAYS_SPAN_MS_DEFAULT)
        which = queries.play_filter(track_external_id=track)
    except QueryError as error:
        raise click.BadParameter(str(error)) from None
    station = stations.find_station(db.session, station_code)
    if station is None:
        raise click.ClickException(f"no station {station_code} (see `zamio station list`)")
    records = list(queries.all_station_plays(db.session, station.id, span, which))
    royalties = play_royalties(db.session, [r["id"] for r in records])
    for r in records:
        r["royalty"] = royalties.get(r["id"])
    if as_json:
        click.echo(json.dumps(records, indent=1))
        return
    if records:
        for line in table(PLAYS_HEADER, [play_row(r) for r in records], PLAYS_RIGHT):
            click.echo(line)
    click.echo(f"{len(records)} plays at {station.code} from {span_text(span)}", err=True)


PLAYS_HEADER = ("start", "end", "on air", "track", "title", "artist", "conf", "status", "royalty")
PLAYS_RIGHT = frozenset({"on air", "conf"})  # numbers, aligned right
PLAY_IDS_PER_QUERY_MAX = 1000  # bound on the ids of one IN (...) list


def play_royalties(session: Session, play_ids: list[int]) -> dict[int, dict[str, Any]]:
    """{play id: its accrual's amount_minor, currency and state} for the plays that have one."""
    found = {}
    for start in range(0, len(play_ids), PLAY_IDS_PER_QUERY_MAX):
        chunk = play_ids[start : start + PLAY_IDS_PER_QUERY_MAX]
        rows = session.execute(
            select(
                RoyaltyAccrual.play_id,
                RoyaltyAccrual.amount_minor,
                RoyaltyAccrual.currency,
                RoyaltyAccrual.state,
            ).where(RoyaltyAccrual.play_id.in_(chunk))
        )
        for play_id, amount_minor, currency, state in rows:
            found[play_id] = {"amount_minor": amount_minor, "currency": currency, "state": state}
    return found


def play_row(record: dict[str, Any]) -> tuple[str, ...]:
    """One play as the cells of PLAYS_HEADER."""
    return (
        record["start"][:19] + "Z",
        record["end"][:19] + "Z",
        _clock(record["duration_ms"] / 1000),
        record["track"]["external_id"],
        record["track"]["title"],
        record["track"]["artist"] or "-",
        f"{record['confidence']:.2f}",
        record["status"],
        royalty_text(record["royalty"]),
    )


def royalty_text(royalty: dict[str, Any] | None) -> str:
    """'GHS 0.30', with the accrual's state when the money has not moved ('GHS 0.30 held');
    '-' when the play has no accrual."""
    if royalty is None:
        return "-"
    text = format_minor(royalty["amount_minor"], royalty["currency"])
    return text if royalty["state"] in PAID_STATES else f"{text} {royalty['state']}"


def table(header: tuple[str, ...], rows: list[tuple[str, ...]], right: frozenset[str]) -> list[str]:
    """`header` and `rows` as lines of columns two spaces apart, as wide as their widest cell."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows)]
    lines = []
    for cells in (header, *rows):
        padded = [
            cell.rjust(width) if name in right else cell.ljust(width)
            for name, cell, width in zip(header, cells, widths)
        ]
        lines.append("  ".join(padded).rstrip())
    return lines


def span_text(span: queries.TimeRange) -> str:
    """'<since> until <until>' in ISO-8601 UTC."""
    return f"{iso_utc(span.since_ms)} until {iso_utc(span.until_ms)}"
