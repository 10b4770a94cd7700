"""Stations, their devices and health, detections and plays: a station's staff see their own
stations, admins and auditors every one."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint, Schema, fields
from werkzeug.exceptions import NotFound

from central.api import monitoring, records
from central.api.schemas import (
    DetectionOut,
    PlayOut,
    SpanOut,
    Strict,
    cursor_field,
    instant_field,
    limit_field,
)
from central.auth.policy import current_principal, policy
from central.auth.roles import ADMIN, AUDITOR, STATION
from central.extensions import db, utc_now
from central.plays import queries
from central.stations import store as stations
from central.stations.models import Station
from central.times import iso_utc, now_ms

PLAYS_SPAN_MS_DEFAULT = 86_400_000  # plays of the last 24 h unless since/until say otherwise
DETECTIONS_SPAN_MS_DEFAULT = 3_600_000  # detections of the last hour
STAFF = (ADMIN, AUDITOR, STATION)

blueprint = APIBlueprint("stations", __name__, url_prefix="/api/v1", tag="Stations")


class StationOut(Schema):
    """A station: code, name, stream (password hidden), its device codes and health."""

    code = fields.String(required=True)
    name = fields.String(required=True)
    stream_url = fields.String(allow_none=True)
    created_at = fields.String(allow_none=True)
    devices = fields.List(fields.String(), required=True)
    health = fields.Dict(allow_none=True)


class StationList(Schema):
    """Every station the caller may see, by code."""

    stations = fields.List(fields.Nested(StationOut), required=True)


class DeviceOut(Schema):
    """A device: code, active or revoked since when, and its health."""

    code = fields.String(required=True)
    active = fields.Boolean(required=True)
    created_at = fields.String(allow_none=True)
    revoked_at = fields.String(allow_none=True)
    health = fields.Dict(allow_none=True)


class DeviceList(Schema):
    """A station's devices."""

    station = fields.String(required=True)
    devices = fields.List(fields.Nested(DeviceOut), required=True)


class DetectionsQuery(Strict):
    """since, until (default: the last hour) and limit."""

    since = instant_field("from")
    until = instant_field("until")
    limit = limit_field(queries.DETECTIONS_LIMIT_DEFAULT, queries.DETECTIONS_LIMIT_MAX)


class DetectionPage(SpanOut):
    """A station's detections in a range, newest first."""

    station = fields.String(required=True)
    limit = fields.Integer(required=True)
    detections = fields.List(fields.Nested(DetectionOut), required=True)


class StationPlaysQuery(Strict):
    """since, until (default: the last 24 h), track, status, order, limit, cursor."""

    since = instant_field("from")
    until = instant_field("until")
    track = fields.String(metadata={"description": "a track's external id"})
    status = fields.String(metadata={"description": "open or closed"})
    order = fields.String(load_default="asc", metadata={"description": "asc or desc"})
    limit = limit_field(queries.PLAYS_LIMIT_DEFAULT, queries.PLAYS_LIMIT_MAX)
    cursor = cursor_field()


class StationPlayPage(SpanOut):
    """One page of a station's plays."""

    station = fields.String(required=True)
    limit = fields.Integer(required=True)
    plays = fields.List(fields.Nested(PlayOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


@blueprint.get("/stations")
@policy(STAFF, scope="stations:read")
@blueprint.output(StationList)
def station_list() -> dict[str, Any]:
    """Every station the caller may see, by code, with its health."""
    now = utc_now()
    scope = current_principal().station_ids
    rows = [
        records.station_record(s, monitoring.station_health(db.session, s, now))
        for s in stations.stations(db.session)
        if scope is None or s.id in scope
    ]
    return {"stations": rows}


@blueprint.get("/stations/<code>")
@policy(STAFF, scope="stations:read", owner="station")
@blueprint.output(StationOut)
@blueprint.doc(responses=[404])
def station_detail(code: str) -> dict[str, Any]:
    """One station."""
    station = _station(code)
    return records.station_record(
        station, monitoring.station_health(db.session, station, utc_now())
    )


@blueprint.get("/stations/<code>/devices")
@policy(STAFF, scope="stations:read", owner="station")
@blueprint.output(DeviceList)
@blueprint.doc(responses=[404])
def station_devices(code: str) -> dict[str, Any]:
    """The station's devices, by code, each with its health."""
    station = _station(code)
    health = monitoring.device_health(db.session, station, utc_now())
    rows = [
        records.device_record(d, health.get(d.code))
        for d in sorted(station.devices, key=lambda d: d.code)
    ]
    return {"station": station.code, "devices": rows}


@blueprint.get("/stations/<code>/detections")
@policy(STAFF, scope="plays:read", owner="station")
@blueprint.input(DetectionsQuery, location="query", arg_name="args")
@blueprint.output(DetectionPage)
@blueprint.doc(responses=[404])
def station_detections(code: str, args: dict[str, Any]) -> dict[str, Any]:
    """The station's detections in [since, until) (default: the last hour), newest first."""
    span = queries.parse_time_range(
        args.get("since"), args.get("until"), now_ms(), DETECTIONS_SPAN_MS_DEFAULT
    )
    station = _station(code)
    rows = queries.recent_detections(db.session, station.id, span, args["limit"])
    return {
        "station": station.code,
        **span_record(span),
        "limit": args["limit"],
        "detections": rows,
    }


@blueprint.get("/stations/<code>/plays")
@policy(STAFF, scope="plays:read", owner="station")
@blueprint.input(StationPlaysQuery, location="query", arg_name="args")
@blueprint.output(StationPlayPage)
@blueprint.doc(responses=[404])
def station_plays(code: str, args: dict[str, Any]) -> dict[str, Any]:
    """The station's plays starting in [since, until) (default: the last 24 h), one page."""
    span = queries.parse_time_range(
        args.get("since"), args.get("until"), now_ms(), PLAYS_SPAN_MS_DEFAULT
    )
    which = queries.play_filter(
        track_external_id=args.get("track"), status=args.get("status"), order=args["order"]
    )
    station = _station(code)
    page = queries.station_plays(
        db.session, station.id, span, which, args["limit"], args.get("cursor")
    )
    return {
        "station": station.code,
        **span_record(span),
        "limit": args["limit"],
        "plays": page.plays,
        "next_cursor": page.next_cursor,
    }


def _station(code: str) -> Station:
    """The station with this code, or NotFound (404)."""
    if not stations.CODE.fullmatch(code):
        raise NotFound("no such station: codes are letters, digits, '.', '_' and '-'")
    station = stations.find_station(db.session, code)
    if station is None:
        raise NotFound(f"no station {code}")
    return station


def span_record(span: queries.TimeRange) -> dict[str, Any]:
    """The range a response covers, in ISO-8601 and ms."""
    return {
        "since": iso_utc(span.since_ms),
        "since_ms": span.since_ms,
        "until": iso_utc(span.until_ms),
        "until_ms": span.until_ms,
    }
