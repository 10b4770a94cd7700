"""GET endpoints of /api/v1: stations, their devices, detections and plays, and one play.

Each view checks its parameters (params.py), calls a domain query and returns its dicts."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, NotFound

from central.api import auth, monitoring, params, records, responses
from central.errors import QueryError
from central.extensions import db, utc_now
from central.plays import queries
from central.stations import store as stations
from central.stations.models import Station
from central.times import iso_utc, now_ms

PLAYS_SPAN_MS_DEFAULT = 86_400_000  # plays of the last 24 h unless since/until say otherwise
DETECTIONS_SPAN_MS_DEFAULT = 3_600_000  # detections of the last hour
PLAYS_PARAMS = ("since", "until", "track", "status", "order", "limit", "cursor")
DETECTIONS_PARAMS = ("since", "until", "limit")

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")
# App-wide, not the blueprint's: a path no route matches belongs to no blueprint, and is refused
# without the token all the same.
blueprint.before_app_request(auth.guard_api)
blueprint.register_error_handler(QueryError, responses.query_error)
blueprint.app_errorhandler(HTTPException)(responses.http_error)


@blueprint.get("/stations")
def station_list() -> ResponseReturnValue:
    """Every station, by code."""
    now = utc_now()
    rows = [
        records.station_record(s, monitoring.station_health(db.session, s, now))
        for s in stations.stations(db.session)
    ]
    return jsonify(stations=rows)


@blueprint.get("/stations/<code>")
def station_detail(code: str) -> ResponseReturnValue:
    """One station."""
    station = _station(code)
    health = monitoring.station_health(db.session, station, utc_now())
    return jsonify(records.station_record(station, health))


@blueprint.get("/stations/<code>/devices")
def station_devices(code: str) -> ResponseReturnValue:
    """The station's devices, by code, each with its health."""
    station = _station(code)
    health = monitoring.device_health(db.session, station, utc_now())
    rows = [
        records.device_record(d, health.get(d.code))
        for d in sorted(station.devices, key=lambda d: d.code)
    ]
    return jsonify(station=station.code, devices=rows)


@blueprint.get("/stations/<code>/detections")
def station_detections(code: str) -> ResponseReturnValue:
    """The station's detections in [since, until) (default: the last hour), newest first."""
    values = params.check_args(request.args.to_dict(flat=False), DETECTIONS_PARAMS)
    span = params.time_range(values, now_ms(), DETECTIONS_SPAN_MS_DEFAULT)
    limit = params.limit(values, queries.DETECTIONS_LIMIT_DEFAULT, queries.DETECTIONS_LIMIT_MAX)
    station = _station(code)
    rows = queries.recent_detections(db.session, station.id, span, limit)
    return jsonify(station=station.code, **_span(span), limit=limit, detections=rows)


@blueprint.get("/stations/<code>/plays")
def station_plays(code: str) -> ResponseReturnValue:
    """The station's plays starting in [since, until) (default: the last 24 h), one page."""
    values = params.check_args(request.args.to_dict(flat=False), PLAYS_PARAMS)
    span = params.time_range(values, now_ms(), PLAYS_SPAN_MS_DEFAULT)
    which = params.play_filter(values)
    limit = params.limit(values, queries.PLAYS_LIMIT_DEFAULT, queries.PLAYS_LIMIT_MAX)
    station = _station(code)
    page = queries.station_plays(db.session, station.id, span, which, limit, values.get("cursor"))
    return jsonify(
        station=station.code,
        **_span(span),
        limit=limit,
        plays=page.plays,
        next_cursor=page.next_cursor,
    )


@blueprint.get("/plays/<int:play_id>")
def play_detail(play_id: int) -> ResponseReturnValue:
    """One play, by id."""
    play = queries.find_play(db.session, play_id)
    if play is None:
        raise NotFound(f"no play {play_id}")
    return jsonify(play)


def _station(code: str) -> Station:
    """The station with this code, or NotFound (404)."""
    if not stations.CODE.fullmatch(code):
        raise NotFound("no such station: codes are letters, digits, '.', '_' and '-'")
    station = stations.find_station(db.session, code)
    if station is None:
        raise NotFound(f"no station {code}")
    return station


def _span(span: queries.TimeRange) -> dict[str, Any]:
    """The range a response covers, in ISO-8601 and ms."""
    return {
        "since": iso_utc(span.since_ms),
        "since_ms": span.since_ms,
        "until": iso_utc(span.until_ms),
        "until_ms": span.until_ms,
    }
