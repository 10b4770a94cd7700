"""`zamio rematch`: look for catalogue tracks in stored batches of the past."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from central import queues, schema, worker
from central.extensions import db, utc_now
from central.matching import rematch
from central.stations import store as stations
from central.times import now_ms as times_now_ms
from central.times import parse_instant_ms


@click.command("rematch")
@click.option("--since", required=True, help="From: ISO-8601, epoch ms, or an age (7d, 12h).")
@click.option("--until", default=None, help="To (default: now).")
@click.option("--station", "station_code", default=None, help="Only this station.")
@click.option(
    "--tracks",
    "which",
    type=click.Choice(["new", "all"]),
    default="new",
    show_default=True,
    help="new: tracks never searched for in the past; all: match every batch again.",
)
@with_appcontext
def rematch_command(since: str, until: str | None, station_code: str | None, which: str) -> None:
    """Enqueue re-matching of the stored batches heard in a time range; `zamio worker` runs it
    and update_plays adds the plays found."""
    schema.require_current_for_command(db.engine)
    now_ms = times_now_ms()
    try:
        since_ms = parse_instant_ms(since, now_ms)
        until_ms = parse_instant_ms(until, now_ms) if until else now_ms + 1
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    if since_ms >= until_ms:
        raise click.BadParameter("--since must be before --until")
    station_id = None
    if station_code is not None:
        station = stations.find_station(db.session, station_code)
        if station is None:
            raise click.ClickException(f"no station {station_code!r}")
        station_id = station.id
    track_ids = rematch.new_tracks(db.session) if which == "new" else None
    if track_ids == []:
        click.echo("no new tracks: every track has been searched for (use --tracks all)")
        return
    settings = current_app.config["ZAMIO"]
    queue = queues.settings_queue(settings.redis_url)
    worker.use_app(current_app._get_current_object(), queue)  # inline jobs run here, on this app
    try:
        count = rematch.enqueue_rematch(
            db.session, queue, since_ms, until_ms, track_ids, station_id
        )
    except queues.REDIS_DOWN as error:  # nothing is marked rematched: run it again later
        raise click.ClickException(queues.unavailable(settings.redis_url, error)) from None
    if track_ids is not None and station_id is None:
        rematch.mark_rematched(db.session, track_ids, utc_now())
        db.session.commit()
    tracks = "all tracks" if track_ids is None else f"{len(track_ids)} new tracks"
    done = "enqueued" if queue.is_async else "searched"
    click.echo(f"{done} {count} batches to search for {tracks}")
