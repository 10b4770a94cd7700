"""`zamio notify list|send-due|replay|digest|watch` and `zamio notify webhook add|list|delete`:
thin over the notifications' domain functions; writes audited as `cli:<login name>`."""

from __future__ import annotations

import json
from datetime import date

import click
from flask import current_app
from flask.cli import AppGroup

from central import schema
from central.auth import audit, users
from central.auth.cli import cli_login
from central.auth.errors import UserError
from central.extensions import db, utc_now
from central.notifications import (
    actions,
    delivery,
    digest,
    health_watch,
    jobs,
    mailer,
    outbox,
    webhooks,
)
from central.notifications.errors import NotificationError
from central.notifications.events import CHANNELS, EVENTS
from central.notifications.models import DELIVERY_STATES, NotificationDelivery

notify_cli = AppGroup("notify", help="Notifications: deliveries, digests, webhooks.")
webhook_cli = AppGroup("webhook", help="A user's webhook endpoints: add, list, delete.")
notify_cli.add_command(webhook_cli)


def _ready() -> None:
    """The schema must be current; these commands record their own audit events."""
    schema.require_current_for_command(db.engine)
    audit.recorded_by_command()


def _user_id(email: str) -> int:
    """The id of the user with this email, or a clean command-line error."""
    try:
        return users.get_user(db.session, email).id
    except UserError as error:
        raise click.ClickException(str(error)) from None


@notify_cli.command("list")
@click.option("--state", type=click.Choice(DELIVERY_STATES))
@click.option("--channel", type=click.Choice(CHANNELS))
@click.option("--user", "email", help="Only this user's (an email).")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of lines.")
def notify_list(
    state: str | None, channel: str | None, email: str | None, limit: int, as_json: bool
) -> None:
    """The newest deliveries: by email, SMS or webhook, their state, attempts and error."""
    _ready()
    user_id = None if email is None else _user_id(email)
    rows = delivery.recent_deliveries(db.session, limit, state, channel, user_id)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(
            f"{row['id']:>8}  {row['created_at']}  {row['event']:<18} {row['channel']:<8}"
            f" {row['state']:<8} {row['attempts']:>2}  {row['email']}"
            f"  {row['last_error'] or ''}".rstrip()
        )


@notify_cli.command("send-due")
def notify_send_due() -> None:
    """Send every delivery and outbox mail that is due, here and now (no worker needed)."""
    _ready()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    settings = app.config["ZAMIO"]
    now = utc_now()
    states = delivery.send_due(db.session, jobs.senders(app), now)
    mail = mailer.smtp_target(settings)
    ids = outbox.due_outbox(db.session, now, settings.notify_attempts_max)
    sent = outbox.send_outbox(db.session, mail, ids, now, settings.notify_retry_base_s,
                              settings.notify_attempts_max)  # fmt: skip
    shown = ", ".join(f"{n} {s}" for s, n in sorted(states.items())) or "no delivery due"
    click.echo(f"deliveries: {shown}; outbox: {sent} of {len(ids)} sent")


@notify_cli.command("replay")
@click.argument("delivery_id", type=int)
def notify_replay(delivery_id: int) -> None:
    """Send a webhook delivery again (a new delivery of the same notification); its id."""
    _ready()
    found = webhooks.webhook_delivery(db.session, delivery_id, None)
    if found is None:
        raise click.ClickException(f"no webhook delivery {delivery_id}")
    try:
        again = actions.replay_delivery(db.session, cli_login(), "cli", found)
    except NotificationError as error:
        raise click.ClickException(str(error)) from None
    again_id = again.id
    db.session.commit()
    state = db.session.get(NotificationDelivery, again_id)
    click.echo(f"delivery {again_id} replays {delivery_id}: {state.state if state else '?'}")
    click.echo(again_id)


@notify_cli.command("digest")
@click.option("--day", help="The UTC day, YYYY-MM-DD (default: the last one whose plays closed).")
@click.option("--force", is_flag=True, help="Read the day again: users not yet told are told.")
def notify_digest(day: str | None, force: bool) -> None:
    """Make a day's plays digest now: one message per artist or rights holder with plays."""
    _ready()
    settings = current_app.config["ZAMIO"]
    try:
        chosen = (
            date.fromisoformat(day)
            if day
            else digest.due_day(utc_now(), settings.plays_close_wait_s)
        )
    except ValueError:
        raise click.BadParameter("a day as YYYY-MM-DD", param_hint="--day") from None
    told = digest.send_digest(db.session, chosen, force)
    click.echo(f"plays.digest {chosen.isoformat()}: {told} users told")


@notify_cli.command("watch")
def notify_watch() -> None:
    """Tell stations' users and admins of devices offline and streams down or silent now."""
    _ready()
    minutes = current_app.config["ZAMIO"].notify_incident_min
    made = health_watch.notify_incidents(db.session, utc_now(), minutes)
    click.echo(f"health: {made} notifications made")


@webhook_cli.command("add")
@click.argument("email")
@click.argument("url")
@click.option("--event", "events", multiple=True, help=f"One of: {', '.join(EVENTS)}, or *.")
@click.option("--description")
def webhook_add(email: str, url: str, events: tuple[str, ...], description: str | None) -> None:
    """Add a webhook endpoint for a user; its signing secret is printed once, on the last
    line."""
    _ready()
    settings = current_app.config["ZAMIO"]
    try:
        row, secret = actions.add_webhook(
            db.session, cli_login(), "cli", _user_id(email), url, events or ("*",), description,
            settings.webhook_allow_private, current_app.config["SECRET_KEY"].encode(),
        )  # fmt: skip
    except NotificationError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(
        f"webhook {row.id} for {email}: {row.url} ({', '.join(json.loads(row.events_json))})"
    )
    click.echo("signing secret (shown once; ZamIO-Signature: t=...,v1=HMAC-SHA256):")
    click.echo(secret)


@webhook_cli.command("list")
@click.argument("email")
def webhook_list(email: str) -> None:
    """A user's webhook endpoints (never their secrets)."""
    _ready()
    for row in webhooks.user_endpoints(db.session, _user_id(email)):
        record = webhooks.endpoint_record(row)
        click.echo(f"{record['id']:>6}  {record['url']}  {' '.join(record['events'])}"
                   f"  secret {record['secret_hint']}")  # fmt: skip


@webhook_cli.command("delete")
@click.argument("webhook_id", type=int)
def webhook_delete(webhook_id: int) -> None:
    """Delete a webhook endpoint: nothing more is sent to it (its log stays)."""
    _ready()
    row = webhooks.find_endpoint(db.session, webhook_id, None)
    if row is None:
        raise click.ClickException(f"no webhook {webhook_id}")
    if actions.delete_webhook(db.session, cli_login(), "cli", row):
        db.session.commit()
        click.echo(f"webhook {webhook_id} deleted")
    else:
        click.echo(f"webhook {webhook_id} was already deleted")
