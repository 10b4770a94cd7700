"""`zamio station add|list|edit|remove`, `zamio device add|list|revoke|rotate|broker-files` and
`zamio broker account add|list|rotate|remove`."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import AppGroup

from central import schema
from central.errors import StationError
from central.extensions import db
from central.files import write_private
from central.stations import broker_files as files
from central.stations import credentials, store

station_cli = AppGroup("station", help="Register stations, change or remove them, list them.")
device_cli = AppGroup("device", help="Register edge devices, revoke them, write broker files.")
broker_cli = AppGroup("broker", help="Central's own broker accounts (e.g. zamio-ingest).")
account_cli = AppGroup("account", help="Service accounts: add, list, rotate, remove.")
broker_cli.add_command(account_cli)


def _run(action, *args, **kwargs):
    """Call a store function; its StationError becomes a clean command-line error."""
    schema.require_current_for_command(db.engine)
    try:
        return action(db.session, *args, **kwargs)
    except StationError as error:
        raise click.ClickException(str(error)) from None


@station_cli.command("add")
@click.argument("code")
@click.option("--name", required=True, help="The station's name, as listeners know it.")
@click.option("--stream-url", help="Its public stream, for stream scans (no box needed).")
def station_add(code: str, name: str, stream_url: str | None) -> None:
    """Register station CODE (the {station} of MQTT topics)."""
    schema.require_current_for_command(db.engine)
    try:
        store.add_station(db.session, code, name, stream_url)
    except StationError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"station {code} added")


@station_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def station_list(as_json: bool) -> None:
    """Every station with its devices and stream link."""
    schema.require_current_for_command(db.engine)
    rows = [
        {
            "code": s.code,
            "name": s.name,
            "stream_url": s.stream_url,
            "devices": [d.code for d in s.devices],
        }
        for s in store.stations(db.session)
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        devices = ",".join(row["devices"]) or "-"
        click.echo(
            f"{row['code']:<24} {row['name']:<32} devices {devices:<20} {row['stream_url'] or ''}"
        )


def password_file_option(command):
    """--password-file FILE: write the new password there (0600, atomically), not to stdout."""
    return click.option(
        "--password-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write the password to this file (mode 0600) instead of printing it.",
    )(command)


@device_cli.command("add")
@click.argument("code")
@click.option("--station", "station_code", required=True, help="The station it listens to.")
@password_file_option
def device_add(code: str, station_code: str, password_file: Path | None) -> None:
    """Register device CODE; prints its broker password, which is not shown again."""
    new = _run(store.add_device, code, station_code)
    _hand_over(new.password, password_file)
    db.session.commit()
    done = "restored (was revoked)" if new.restored else "added"
    click.echo(f"device {code} {done} to station {station_code}")
    _echo_password(code, new.password, "the agent's password_file", password_file)


def _hand_over(password: str, password_file: Path | None) -> None:
    """Write the new password to `password_file` before the commit: a failed write keeps the
    old password in force rather than leaving a stored hash nobody has the password of."""
    if password_file is not None:
        try:
            write_private(password_file, password)
        except OSError as error:
            raise click.ClickException(f"cannot write {password_file}: {error}") from None


def _echo_password(user: str, password: str, where: str, password_file: Path | None) -> None:
    then = "then run `zamio device broker-files` and restart the broker"
    if password_file is not None:
        click.echo(f"broker user {user}: password written to {password_file} (0600); {then}")
        return
    click.echo(f"broker user {user}, password {password}  (shown once: put it in {where}, {then})")


@device_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def device_list(as_json: bool) -> None:
    """Every device: station, active or revoked."""
    schema.require_current_for_command(db.engine)
    rows = [
        {
            "code": d.code,
            "station": d.station.code,
            "active": d.active,
            "created_at": d.created_at.isoformat(),
            "revoked_at": d.revoked_at.isoformat() if d.revoked_at else None,
        }
        for d in store.devices(db.session)
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        state = "active" if row["active"] else f"revoked {row['revoked_at']}"
        click.echo(f"{row['code']:<24} station {row['station']:<24} {state}")


@device_cli.command("revoke")
@click.argument("code")
def device_revoke(code: str) -> None:
    """Revoke device CODE: central refuses its batches; rewrite the broker files to lock it out."""
    schema.require_current_for_command(db.engine)
    try:
        store.revoke_device(db.session, code)
    except StationError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"device {code} revoked")


@device_cli.command("rotate")
@click.argument("code")
@password_file_option
def device_rotate(code: str, password_file: Path | None) -> None:
    """A new broker password for device CODE, printed once; the old one works until the broker
    files are rewritten and the broker reloaded."""
    new = _run(store.reset_device_password, code)
    _hand_over(new.password, password_file)
    db.session.commit()
    _echo_password(code, new.password, "the agent's password_file", password_file)


@device_cli.command("broker-files")
@click.option(
    "--dynsec",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The dynamic-security plugin's config (what deploy/mosquitto.conf uses).",
)
@click.option("--passwords", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--acl", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--group",
    help="Group that may read the files (the broker's, e.g. mosquitto); default: the group of"
    " the existing file, else of its directory.",
)
def broker_files(
    dynsec: Path | None, passwords: Path | None, acl: Path | None, group: str | None
) -> None:
    """Write Mosquitto's files (0640, each replaced atomically) for the active devices and the
    service accounts: the dynamic-security config, or a password_file and acl_file (these
    cannot stop a device subscribing to other topics: see README)."""
    if dynsec is None and (passwords is None or acl is None):
        raise click.UsageError("give --dynsec, or both --passwords and --acl")
    schema.require_current_for_command(db.engine)
    active = store.devices(db.session, active_only=True)
    services = store.accounts(db.session)
    try:
        for path, text in _broker_texts(active, services, dynsec, passwords, acl):
            files.write_broker_file(path, text, files.target_gid(path, group))
    except StationError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{len(active)} device(s), {len(services)} broker account(s) written")
    if not services:
        click.echo(
            "warning: no broker account, so the ingest cannot log in:"
            " `zamio broker account add zamio-ingest`",
            err=True,
        )
    click.echo("restart mosquitto to apply" if dynsec else "reload mosquitto (SIGHUP) to apply")


def _broker_texts(active, services, dynsec, passwords, acl) -> list[tuple[Path, str]]:
    """(path, text) of each file asked for."""
    texts = []
    if dynsec is not None:
        config = credentials.dynsec_config(
            ((d.code, d.station.code, d.password_hash) for d in active),
            ((a.name, a.password_hash) for a in services),
        )
        texts.append((dynsec, config))
    if passwords is not None and acl is not None:
        users = [(d.code, d.password_hash) for d in active]
        users += [(a.name, a.password_hash) for a in services]
        texts.append((passwords, credentials.password_file(users)))
        pairs = ((d.code, d.station.code) for d in active)
        texts.append((acl, credentials.acl_file(pairs, (a.name for a in services))))
    return texts


@station_cli.command("edit")
@click.argument("code")
@click.option("--name", help="A new name.")
@click.option("--stream-url", help="A new stream link (a running scan restarts on it).")
@click.option("--no-stream-url", is_flag=True, help="Drop the stream link (its scan stops).")
def station_edit(code: str, name: str | None, stream_url: str | None, no_stream_url: bool) -> None:
    """Change station CODE's name or stream link."""
    if stream_url is not None and no_stream_url:
        raise click.UsageError("give --stream-url or --no-stream-url, not both")
    _run(store.edit_station, code, name, stream_url, no_stream_url)
    db.session.commit()
    click.echo(f"station {code} changed")


@station_cli.command("remove")
@click.argument("code")
def station_remove(code: str) -> None:
    """Delete station CODE and its devices, if nothing was ever recorded for them."""
    _run(store.remove_station, code)
    db.session.commit()
    click.echo(f"station {code} removed; rewrite the broker files to lock its devices out")


@account_cli.command("add")
@click.argument("name")
@password_file_option
def account_add(name: str, password_file: Path | None) -> None:
    """Add service account NAME (zamio-ingest, zamio-ingest-<listener>); prints its password
    once."""
    new = _run(store.add_account, name)
    _hand_over(new.password, password_file)
    db.session.commit()
    click.echo(f"broker account {name} added")
    _echo_password(name, new.password, "ZAMIO_MQTT_URL", password_file)


@account_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def account_list(as_json: bool) -> None:
    """Every service account (names only: passwords are never kept)."""
    rows = [
        {
            "name": a.name,
            "created_at": a.created_at.isoformat(),
            "rotated_at": a.rotated_at.isoformat() if a.rotated_at else None,
        }
        for a in _run(store.accounts)
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(
            f"{row['name']:<24} created {row['created_at']}  rotated {row['rotated_at'] or '-'}"
        )


@account_cli.command("rotate")
@click.argument("name")
@password_file_option
def account_rotate(name: str, password_file: Path | None) -> None:
    """A new password for service account NAME, printed once."""
    new = _run(store.rotate_account, name)
    _hand_over(new.password, password_file)
    db.session.commit()
    _echo_password(name, new.password, "ZAMIO_MQTT_URL", password_file)


@account_cli.command("remove")
@click.argument("name")
def account_remove(name: str) -> None:
    """Delete service account NAME; rewrite the broker files to lock it out."""
    _run(store.remove_account, name)
    db.session.commit()
    click.echo(f"broker account {name} removed; rewrite the broker files and reload the broker")
