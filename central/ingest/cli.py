"""`zamio ingest` (the MQTT listener), `zamio ingest quarantine` (what it refused) and
`zamio ingest gaps` (the seqs of each source not stored: missing, requested, recovered, lost)."""

from __future__ import annotations

import contextlib
import json
import logging
import signal

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from central import queues, schema, worker
from central.config import bind_address
from central.embedded.broker import PROTOCOL, EmbeddedBroker
from central.extensions import db
from central.ingest import accounting
from central.ingest.gaps import STATES
from central.ingest.listener import IngestListener
from central.ingest.quarantine import quarantine_page, quarantine_record
from central.schedule import InlineSchedule


@click.group("ingest", cls=AppGroup, invoke_without_command=True)
@click.option(
    "--client-id",
    default=None,
    help="MQTT client id, stable across restarts and unique per listener "
    "(default zamio-ingest-<host>; give each listener on one host its own).",
)
@with_appcontext
@click.pass_context
def ingest_cli(ctx: click.Context, client_id: str | None) -> None:
    """Listen for batches, statuses and events on the broker's shared subscription, store them
    and enqueue matching, until SIGTERM. With no ZAMIO_MQTT_URL it runs the broker itself (at
    ZAMIO_MQTT_BIND); with no ZAMIO_REDIS_URL it runs every job, periodic ones too, itself."""
    if ctx.invoked_subcommand is not None:
        return
    schema.require_current_for_command(db.engine)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = current_app._get_current_object()
    settings = app.config["ZAMIO"]
    queue = queues.settings_queue(settings.redis_url)
    with contextlib.ExitStack() as running:
        url, protocol = settings.mqtt_url, "5"
        if url is None:  # no broker configured: run one in this process
            broker = EmbeddedBroker(*bind_address(settings.mqtt_bind)).start()
            running.callback(broker.stop)
            url, protocol = broker.url, PROTOCOL
        if not queue.is_async:  # no Redis: jobs run here, and so do the periodic ones
            worker.use_app(app, queue)
            running.callback(InlineSchedule(queue).start().stop)
        listener = IngestListener(
            app,
            url,
            lambda pk: queues.enqueue_match_safely(queue, pk),
            client_id,
            protocol=protocol,
            policy=settings_policy(settings),
            on_settled=lambda station_pk: queues.enqueue_update_plays_safely(queue, station_pk),
        )
        signal.signal(signal.SIGTERM, lambda *_: listener.stop())
        signal.signal(signal.SIGINT, lambda *_: listener.stop())
        listener.run()
    click.echo(f"ingest stopped: {json.dumps(listener.counts)}")


def settings_policy(settings) -> accounting.Policy:
    """The gap requests' grace, interval and tries from the ZAMIO_INGEST_* settings."""
    return accounting.Policy(
        grace_s=settings.ingest_gap_grace_s,
        interval_s=settings.ingest_resend_interval_s,
        tries_max=settings.ingest_resend_tries_max,
    )


@ingest_cli.command("gaps")
@click.option(
    "--state",
    "states",
    type=click.Choice(STATES),
    multiple=True,
    help="Only gaps in this state (repeatable); default: all.",
)
@click.option("--limit", type=click.IntRange(1, 100_000), default=200, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of lines.")
def gaps_command(states: tuple[str, ...], limit: int, as_json: bool) -> None:
    """Seqs of each device's sources not stored, newest first: state, requests, why lost."""
    schema.require_current_for_command(db.engine)
    rows = accounting.gap_records(db.session, states, limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no gaps")
    for row in rows:
        line = (
            f"{row['first_seen_at']} {row['station']}/{row['device']} {row['source_id']} "
            f"seqs {row['seq_from']}..{row['seq_to']} ({row['seqs']}) {row['state']}"
        )
        if row["request_count"]:
            line += f", asked {row['request_count']}x, last {row['requested_at']}"
        if row["lost_reason"]:
            line += f", lost: {row['lost_reason']}"
        click.echo(line)


@ingest_cli.command("quarantine")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of lines.")
def quarantine_command(limit: int, as_json: bool) -> None:
    """The newest refused payloads: when, topic, reason, detail, size."""
    schema.require_current_for_command(db.engine)
    rows = [quarantine_record(q) for q in quarantine_page(db.session, limit)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(
            f"{row['received_at']} {row['reason']:<20} {row['topic']} "
            f"({row['payload_bytes']} B): {row['detail']}"
        )
