"""`zamio playlog RECORDING`: the plays in a recording, one per line or as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import with_appcontext

from central import schema
from central.errors import FingerprintVersionError, SchemaError
from central.extensions import db
from central.matching.loader import load_index
from central.plays.playlog import play_record, playlog
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
        plays = playlog(index, recording)
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
