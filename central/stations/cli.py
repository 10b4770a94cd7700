"""`zamio station add|list` and `zamio device add|list|revoke|broker-files`."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import AppGroup

from central import schema
from central.errors import StationError
from central.extensions import db
from central.files import write_private
from central.stations import credentials, store

station_cli = AppGroup("station", help="Register stations and list them.")
device_cli = AppGroup("device", help="Register edge devices, revoke them, write broker files.")


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


@device_cli.command("add")
@click.argument("code")
@click.option("--station", "station_code", required=True, help="The station it listens to.")
def device_add(code: str, station_code: str) -> None:
    """Register device CODE; prints its broker password, which is not shown again."""
    schema.require_current_for_command(db.engine)
    try:
        new = store.add_device(db.session, code, station_code)
    except StationError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"device {code} added to station {station_code}")
    click.echo(
        f"broker user {code}, password {new.password}  (shown once: put it in the agent's"
        " password_file, then run `zamio device broker-files`)"
    )


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


@device_cli.command("broker-files")
@click.option("--passwords", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--acl", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option(
    "--reader",
    "readers",
    multiple=True,
    help="A broker user that may read all stations (central's ingest).",
)
def broker_files(passwords: Path, acl: Path, readers: tuple[str, ...]) -> None:
    """Write Mosquitto's password_file and acl_file for the active devices (then reload it)."""
    schema.require_current_for_command(db.engine)
    active = store.devices(db.session, active_only=True)
    write_private(passwords, credentials.password_file((d.code, d.password_hash) for d in active))
    write_private(acl, credentials.acl_file(((d.code, d.station.code) for d in active), readers))
    click.echo(f"{len(active)} device(s) written; reload mosquitto (SIGHUP) to apply")
