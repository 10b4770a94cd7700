"""`zamio user add|list|show|disable|enable|link|unlink|invite|reset|outbox`,
`zamio token create|list|revoke` and `zamio audit`: thin over central/auth's domain functions;
every write is audited as `cli:<login name>`."""

from __future__ import annotations

import getpass
import json
import sys

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from central import schema
from central.auth import actions, audit, keys, roles, tokens, users
from central.auth.errors import UserError
from central.auth.models import User
from central.extensions import db, utc_now
from central.stations import store as station_store
from central.times import at_ms, iso_datetime, now_ms, parse_instant_ms

user_cli = AppGroup("user", help="People: add, list, disable, link to stations and parties.")
token_cli = AppGroup("token", help="Personal access tokens of the API: create, list, revoke.")


def cli_login() -> str:
    """The audit log's actor for a command: the operating-system user running it."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def _ready() -> None:
    """The schema must be current before any of these commands touch it; they record their
    own audit events."""
    schema.require_current_for_command(db.engine)
    audit.recorded_by_command()


def _user(email: str) -> User:
    """The user with this email, or a clean command-line error."""
    try:
        return users.get_user(db.session, email)
    except UserError as error:
        raise click.ClickException(str(error)) from None


@user_cli.command("add")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(roles.ROLES))
@click.option("--station", "stations", multiple=True, help="A station's code (role station).")
@click.option("--party", "parties", multiple=True, help="An earnings account code it speaks for.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--invite", is_flag=True, help="Mail an invite link (the outbox), no password.")
def user_add(
    email: str,
    role: str,
    stations: tuple[str, ...],
    parties: tuple[str, ...],
    password_stdin: bool,
    invite: bool,
) -> None:
    """Add a user; prints a one-time password unless --password-stdin or --invite."""
    _ready()
    if password_stdin and invite:
        raise click.UsageError("--password-stdin or --invite, not both")
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif not invite:
        password = keys.new_password()
    try:
        user = users.add_user(db.session, email, role, password, stations, parties)
    except UserError as error:
        raise click.ClickException(str(error)) from None
    if invite:
        users.issue_one_time_token(
            db.session, user, "invite", current_app.config["ZAMIO"].public_url
        )
    record = users.user_record(user, station_store.codes_by_id(db.session))
    changes = {k: record[k] for k in ("email", "role", "stations", "parties")}
    audit.record(db.session, cli_login(), "cli", "user.add", "user", user.id, changes)
    db.session.commit()
    click.echo(f"user {user.email} added as {role}")
    if invite:
        click.echo("invite mailed: `zamio user outbox` shows it until a mailer sends it")
    elif not password_stdin:
        click.echo(f"one-time password (shown once, change it): {password}")


@user_cli.command("list")
@click.option("--role", type=click.Choice(roles.ROLES))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of lines.")
def user_list(role: str | None, as_json: bool) -> None:
    """Every user: email, role, active, links, last login."""
    _ready()
    codes = station_store.codes_by_id(db.session)
    rows = [users.user_record(u, codes) for u in users.all_users(db.session, role)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        links = " ".join(row["stations"] + row["parties"]) or "-"
        state = "active" if row["active"] else "disabled"
        click.echo(
            f"{row['email']:<32} {row['role']:<14} {state:<9} {links}  "
            f"last login {row['last_login_at'] or 'never'}"
        )


def _set_active(email: str, active: bool) -> None:
    """disable / enable."""
    _ready()
    user = _user(email)
    if not actions.set_user_active(db.session, cli_login(), "cli", user, active):
        click.echo(f"user {user.email} is already {'active' if active else 'disabled'}")
        return
    db.session.commit()
    click.echo(
        f"user {user.email} {'enabled' if active else 'disabled: their tokens stop working'}"
    )


@user_cli.command("disable")
@click.argument("email")
def user_disable(email: str) -> None:
    """Disable a user: their tokens and sessions stop working at once."""
    _set_active(email, False)


@user_cli.command("enable")
@click.argument("email")
def user_enable(email: str) -> None:
    """Enable a disabled user again."""
    _set_active(email, True)


@user_cli.command("link")
@click.argument("email")
@click.option("--station", "stations", multiple=True)
@click.option("--party", "parties", multiple=True)
def user_link(email: str, stations: tuple[str, ...], parties: tuple[str, ...]) -> None:
    """Link a user to more stations or parties."""
    _ready()
    user = _user(email)
    try:
        added = users.link(db.session, user, stations, parties)
        users.check_links(user)
    except UserError as error:
        raise click.ClickException(str(error)) from None
    if added:
        audit.record(db.session, cli_login(), "cli", "user.link", "user", user.id, {"added": added})
    db.session.commit()
    click.echo(f"user {user.email}: linked {', '.join(added) or 'nothing new'}")


@user_cli.command("unlink")
@click.argument("email")
@click.option("--station", "stations", multiple=True)
@click.option("--party", "parties", multiple=True)
def user_unlink(email: str, stations: tuple[str, ...], parties: tuple[str, ...]) -> None:
    """Remove links of a user (a user keeps at least one if their role needs it)."""
    _ready()
    user = _user(email)
    ids = {code: i for i, code in station_store.codes_by_id(db.session).items()}
    users.unlink(user, [ids[c] for c in stations if c in ids], parties)
    try:
        users.check_links(user)
    except UserError as error:
        raise click.ClickException(str(error)) from None
    removed = [f"station:{c}" for c in stations] + [f"party:{p}" for p in parties]
    audit.record(
        db.session, cli_login(), "cli", "user.unlink", "user", user.id, {"removed": removed}
    )
    db.session.commit()
    click.echo(f"user {user.email}: unlinked {', '.join(removed) or 'nothing'}")


@user_cli.command("invite")
@click.argument("email")
@click.option("--reset", "purpose", flag_value="reset", help="A password-reset link instead.")
@click.option("--show", is_flag=True, help="Also print the link's token (to hand over yourself).")
def user_invite(email: str, purpose: str | None, show: bool) -> None:
    """Mail a user an invite (or reset) link to choose their password."""
    _ready()
    user = _user(email)
    purpose = purpose or "invite"
    token = users.issue_one_time_token(
        db.session, user, purpose, current_app.config["ZAMIO"].public_url
    )
    audit.record(db.session, cli_login(), "cli", f"user.{purpose}", "user", user.id)
    db.session.commit()
    click.echo(f"{purpose} link mailed to {user.email} (see `zamio user outbox`)")
    if show:
        click.echo(token)


@user_cli.command("outbox")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
def user_outbox(limit: int) -> None:
    """Mail waiting in the embedded outbox (invites, password resets), newest first."""
    _ready()
    for message in users.outbox(db.session, limit=limit):
        state = "sent " + iso_datetime(message.sent_at) if message.sent_at else "unsent"
        click.echo(f"--- #{message.id} {iso_datetime(message.created_at)} ({state})")
        click.echo(f"To: {message.to_address}\nSubject: {message.subject}\n\n{message.body}")


@token_cli.command("create")
@click.argument("email")
@click.option("--scope", "scopes", multiple=True, help="Default: the role's read scopes.")
@click.option("--expires", default="90d", show_default=True, help="e.g. 12h, 30d, 2w (max 366d).")
@click.option("--name", default="cli", show_default=True, help="What the token is for.")
def token_create(email: str, scopes: tuple[str, ...], expires: str, name: str) -> None:
    """Make a token for a user; it is printed alone on the last line, once."""
    _ready()
    user = _user(email)
    try:
        span = tokens.parse_expires(expires)
        row, secret = tokens.create_token(db.session, user, name, scopes or None, span, utc_now())
    except UserError as error:
        raise click.ClickException(str(error)) from None
    changes = {"name": row.name, "scopes": row.scopes}
    audit.record(db.session, cli_login(), "cli", "token.create", "token", row.id, changes)
    db.session.commit()
    click.echo(
        f"token {row.id} for {user.email}: {row.scopes}, expires {iso_datetime(row.expires_at)}"
    )
    click.echo(secret)


@token_cli.command("list")
@click.argument("email")
@click.option("--all", "include_revoked", is_flag=True, help="Revoked ones too.")
def token_list(email: str, include_revoked: bool) -> None:
    """A user's tokens: id, prefix, name, scopes, expiry, last use (never the secret)."""
    _ready()
    user = _user(email)
    for token in tokens.user_tokens(db.session, user.id, include_revoked):
        record = tokens.token_record(token)
        state = f"revoked {record['revoked_at']}" if record["revoked_at"] else "active"
        click.echo(
            f"{record['id']:>5} {record['prefix']} {record['name']!r} {' '.join(record['scopes'])}"
            f" expires {record['expires_at']} last used {record['last_used_at'] or 'never'} {state}"
        )


@token_cli.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id: int) -> None:
    """Revoke a token by id: it stops working at once."""
    _ready()
    token = tokens.find_token(db.session, token_id)
    if token is None:
        raise click.ClickException(f"no token {token_id}")
    if actions.revoke_token(db.session, cli_login(), "cli", token):
        db.session.commit()
        click.echo(f"token {token_id} revoked")
    else:
        click.echo(f"token {token_id} was already revoked")


@click.command("audit")
@click.option("--since", help="From: ISO-8601, epoch ms or relative (-7d).")
@click.option("--actor", help="e.g. user:3, cli:root, bootstrap.")
@click.option("--action", help="e.g. user.add, token.revoke.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of lines.")
@with_appcontext
def audit_command(
    since: str | None, actor: str | None, action: str | None, limit: int, as_json: bool
) -> None:
    """The audit log, oldest first: who changed what, when, through what."""
    _ready()
    start = None
    if since:
        try:
            start = at_ms(parse_instant_ms(since, now_ms()))
        except (ValueError, OverflowError) as error:
            raise click.BadParameter(str(error), param_hint="--since") from None
    rows = [
        audit.event_record(e)
        for e in audit.events(db.session, since=start, actor=actor, action=action, limit=limit)
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        changes = json.dumps(row["changes"], sort_keys=True) if row["changes"] else ""
        click.echo(
            f"{row['at']} {row['actor']:<16} {row['via']:<7} {row['action']:<20} "
            f"{row['object_type']}:{row['object_id']} {changes}"
        )
