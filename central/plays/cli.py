"""`zamio playlog RECORDING`: the plays in a recording; `zamio plays`: a station's play log."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import with_appcontext

from central import schema
from central.catalog import near_duplicates
from central.errors import FingerprintVersionError, QueryError, SchemaError
from central.extensions import db
from central.matching.loader import load_index
from central.plays import queries
from central.plays.playlog import play_record, playlog
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
    if as_json:
        click.echo(json.dumps(records, indent=1))
        return
    for r in records:
        click.echo(
            f"{r['start'][:19]}Z  {r['end'][:19]}Z  {_clock(r['duration_ms'] / 1000):>8}  "
            f"{r['track']['external_id']}  {r['track']['title']}  {r['track']['artist'] or '-'}  "
            f"{r['confidence']:.2f}  {r['status']}"
        )
    click.echo(f"{len(records)} plays at {station.code} from {span_text(span)}", err=True)


def span_text(span: queries.TimeRange) -> str:
    """'<since> until <until>' in ISO-8601 UTC."""
    return f"{iso_utc(span.since_ms)} until {iso_utc(span.until_ms)}"
