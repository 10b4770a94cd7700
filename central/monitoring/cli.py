"""`zamio status [--station CODE] [--json]`: each station's devices, their sources and events."""

from __future__ import annotations

import json
from typing import Any

import click
from flask.cli import with_appcontext

from central import schema
from central.errors import SchemaError, StationError
from central.extensions import db, utc_now
from central.monitoring.report import station_health
from central.times import iso_utc

AUDIBLE = ("up", "dead_air", "clipping")  # states in which a source's level means something


@click.command("status")
@click.option("--station", "station_code", metavar="CODE", help="Only this station.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of lines.")
@with_appcontext
def status_command(station_code: str | None, as_json: bool) -> None:
    """Device state (online, offline, stale, never seen), sources, spool, clock, latest events."""
    try:
        schema.require_current(db.engine)
        stations = station_health(db.session, utc_now(), station_code)
    except (SchemaError, StationError) as error:
        raise click.ClickException(str(error)) from None
    if as_json:
        click.echo(json.dumps(stations, indent=2))
        return
    for station in stations:
        for line in station_lines(station):
            click.echo(line)


def station_lines(station: dict[str, Any]) -> list[str]:
    """A station and its devices as indented lines."""
    lines = [f"{station['station']} ({station['name']})"]
    if not station["devices"]:
        lines.append("  no devices")
    for device in station["devices"]:
        lines += device_lines(device)
    return lines


def device_lines(device: dict[str, Any]) -> list[str]:
    """A device's state line, then one line per source and per recent event."""
    head = f"  {device['device']}  {device['state'].replace('_', ' ')}"
    if not device["active"]:
        head += " (revoked)"
    if device["last_seen_age_s"] is not None:
        head += f"  seen {_age(device['last_seen_age_s'])} ago"
    if device["state"] == "offline":
        head += f"  ({device['offline_reason'] or 'no reason'}, since {device['offline_since']})"
    spool, clock = device["spool"], device["clock"]
    if spool["depth"] is not None:
        head += f"  spool {spool['depth']}"
        if spool["depth"]:
            head += f" (oldest {_age((spool['oldest_age_ms'] or 0) / 1000)})"
    if clock["sync_state"] is not None:
        head += f"  clock {clock['sync_state']}"
    if device["uplink"]["last_error"]:
        head += f"  uplink error: {device['uplink']['last_error']}"
    lines = [head]
    if any(counts["gaps"] for counts in device.get("seq_gaps", {}).values()):
        lines.append(_gaps_line(device["seq_gaps"]))
    for source_id, source in device["sources"].items():
        lines.append(_source_line(source_id, source))
    for event in device["events"]:
        detail = " ".join(f"{k}={v}" for k, v in sorted(event["detail"].items()))
        lines.append(f"    {event['at']}  {event['source_id']}  {event['kind']}  {detail}".rstrip())
    return lines


def _gaps_line(counts: dict[str, dict[str, int]]) -> str:
    """The device's seqs not stored: missing (still asked for), lost, recovered after a gap
    opened; shown once a gap was ever seen (details: zamio ingest gaps)."""
    waiting = {"gaps": 0, "seqs": 0}
    for state in ("missing", "requested"):
        waiting = {key: waiting[key] + counts[state][key] for key in waiting}
    line = f"    seqs: {waiting['seqs']} missing ({waiting['gaps']} gaps)"
    line += f", {counts['lost']['seqs']} lost ({counts['lost']['gaps']} gaps)"
    return line + f", {counts['recovered']['seqs']} recovered"


def _source_line(source_id: str, source: dict[str, Any]) -> str:
    """One source: state, level, since when, restarts, last error."""
    line = f"    {source_id:<12} {source['state']:<9}"
    if source["level_dbfs"] is not None and source["state"] in AUDIBLE:
        line += f" {source['level_dbfs']:6.1f} dBFS"
    if source["since_ms"] is not None:
        line += f"  since {iso_utc(source['since_ms'])}"
    if source["restarts"]:
        line += f"  restarts {source['restarts']}"
    if source["last_error"]:
        line += f"  last error: {source['last_error']}"
    return line


def _age(seconds: float) -> str:
    """12 s, 5 min, 3 h, 2 d."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"
