"""Plays: a list scoped to the caller (their parties' tracks, their stations; everything for
admins and auditors), one play by id, a play's royalty explanation, and plays per day."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint, Schema, fields, validators
from werkzeug.exceptions import NotFound

from central.api.schemas import (
    PlayOut,
    SpanOut,
    Strict,
    WholeNumber,
    cursor_field,
    instant_field,
    limit_field,
)
from central.api.stations import PLAYS_SPAN_MS_DEFAULT, span_record
from central.auth.ownership import parties_asked
from central.auth.policy import current_principal, policy
from central.auth.roles import ROLES
from central.extensions import db
from central.plays import queries
from central.royalties import earnings
from central.times import now_ms

DAYS_DEFAULT = 30
blueprint = APIBlueprint("plays", __name__, url_prefix="/api/v1", tag="Plays")


class PlaysQuery(Strict):
    """since, until (default: the last 24 h), track, station, status, order, limit, cursor."""

    since = instant_field("from")
    until = instant_field("until")
    track = fields.String(metadata={"description": "a track's external id"})
    station = fields.String(metadata={"description": "a station's code"})
    status = fields.String(metadata={"description": "open or closed"})
    order = fields.String(load_default="asc", metadata={"description": "asc or desc"})
    limit = limit_field(queries.PLAYS_LIMIT_DEFAULT, queries.PLAYS_LIMIT_MAX)
    cursor = cursor_field()


class DailyQuery(Strict):
    """days (the last n UTC days, today included; default 30), party (one of yours)."""

    days = WholeNumber(
        load_default=DAYS_DEFAULT, validate=validators.Range(1, queries.DAYS_MAX),
        metadata={"description": f"how many days, ending with today, 1-{queries.DAYS_MAX}"},
    )  # fmt: skip
    party = fields.String(
        validate=validators.Length(1, 128),
        metadata={"description": "only this one of your parties' tracks (default: all yours)"},
    )


class DayOut(Schema):
    """How many plays in scope started on one UTC day."""

    day = fields.String(required=True, metadata={"description": "YYYY-MM-DD, UTC"})
    plays = fields.Integer(required=True)


class DailyOut(SpanOut):
    """Plays per UTC day of the caller's tracks or stations, oldest first (a chart's series)."""

    days = fields.List(fields.Nested(DayOut), required=True)


class PlayPage(SpanOut):
    """One page of the plays the caller may see."""

    limit = fields.Integer(required=True)
    plays = fields.List(fields.Nested(PlayOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class LegOut(Schema):
    """One leg of a transfer."""

    account = fields.String(required=True)
    side = fields.String(required=True)
    amount_minor = fields.Integer(required=True)


class TransferOut(Schema):
    """A ledger transfer that carried the play's royalty, with its legs."""

    id = fields.String(required=True)
    seq = fields.Integer(required=True)
    key = fields.String(required=True)
    code = fields.String(required=True)
    state = fields.String(required=True)
    created_at = fields.String(allow_none=True)
    legs = fields.List(fields.Nested(LegOut), required=True)


class RoyaltyOut(Schema):
    """A play's accrual: amount (minor units), how it was priced and split, its transfers."""

    play_id = fields.Integer(required=True)
    state = fields.String(required=True, metadata={"description": "not_accrued: none yet"})
    amount_minor = fields.Integer(required=True)
    currency = fields.String(allow_none=True, required=True)
    batch_id = fields.String(allow_none=True, required=True)
    hold_reason = fields.String(allow_none=True)
    explanation = fields.Dict(required=True)
    transfers = fields.List(fields.Nested(TransferOut), required=True)


@blueprint.get("/plays")
@policy(ROLES, scope="plays:read")
@blueprint.input(PlaysQuery, location="query", arg_name="args")
@blueprint.output(PlayPage)
def play_list(args: dict[str, Any]) -> dict[str, Any]:
    """The plays starting in [since, until) (default: the last 24 h) of the caller's tracks or
    stations, filtered, one page."""
    span = queries.parse_time_range(
        args.get("since"), args.get("until"), now_ms(), PLAYS_SPAN_MS_DEFAULT
    )
    which = queries.play_filter(
        args.get("track"), args.get("status"), args["order"], args.get("station")
    )
    who = current_principal()
    page = queries.plays(
        db.session, span, which, args["limit"], args.get("cursor"), who.parties, who.station_ids
    )
    return {
        **span_record(span),
        "limit": args["limit"],
        "plays": page.plays,
        "next_cursor": page.next_cursor,
    }


@blueprint.get("/plays/<int:play_id>")
@policy(ROLES, scope="plays:read", owner="play")
@blueprint.output(PlayOut)
@blueprint.doc(responses=[404])
def play_detail(play_id: int) -> dict[str, Any]:
    """One play, by id: at one of the caller's stations, of one of their tracks."""
    who = current_principal()
    play = queries.find_play(db.session, play_id, who.parties, who.station_ids)
    if play is None:
        raise NotFound(f"no play {play_id}")
    return play


@blueprint.get("/plays/<int:play_id>/royalty")
@policy(ROLES, scope="plays:read", owner="play")
@blueprint.output(RoyaltyOut)
@blueprint.doc(responses=[404])
def play_royalty(play_id: int) -> dict[str, Any]:
    """How the play's royalty was priced and split, and the transfers that carried it (state
    not_accrued and no transfers while the play is open or waits for its accrual)."""
    who = current_principal()
    record = earnings.play_royalty(db.session, play_id, who.parties, who.station_ids)
    if record is None:
        raise NotFound(f"no play {play_id}")
    return record


@blueprint.get("/plays/daily")
@policy(ROLES, scope="plays:read")
@blueprint.input(DailyQuery, location="query", arg_name="args")
@blueprint.output(DailyOut)
@blueprint.doc(responses=[404])
def play_daily(args: dict[str, Any]) -> dict[str, Any]:
    """How many plays of the caller's tracks or stations started on each of the last `days`
    UTC days (today so far included); `party` narrows to one of the caller's parties."""
    who = current_principal()
    parties = parties_asked(who, args.get("party"))
    span = queries.last_days(now_ms(), args["days"])
    days = queries.plays_per_day(db.session, span, parties, who.station_ids)
    return {**span_record(span), "days": days}
