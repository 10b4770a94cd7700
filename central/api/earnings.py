"""Earnings: the balances of the caller's parties, a party's statement for a period page by
page, what the ledger credited it per track or per station, and per month. Integers in minor
units."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint, Schema, fields, validators
from werkzeug.exceptions import NotFound

from central.api.schemas import (
    SpanOut,
    Strict,
    WholeNumber,
    cursor_field,
    instant_field,
    limit_field,
)
from central.api.stations import span_record
from central.auth.ownership import parties_asked
from central.auth.policy import current_principal, policy
from central.auth.roles import ADMIN, ARTIST, AUDITOR, RIGHTS_HOLDER
from central.errors import QueryError
from central.extensions import db
from central.ledger.queries import AccountBalance
from central.plays import queries
from central.royalties import earnings
from central.times import now_ms

EARNERS = (ADMIN, AUDITOR, ARTIST, RIGHTS_HOLDER)
STATEMENT_SPAN_MS_DEFAULT = 31 * 86_400_000  # the last 31 days unless since/until say otherwise
MONTHS_DEFAULT = 12
PARTY_FIELD = {"description": "a party code, e.g. artist:ama:earnings (default: your only one)"}

blueprint = APIBlueprint("earnings", __name__, url_prefix="/api/v1", tag="Earnings")


class PartyQuery(Strict):
    """party: one of the caller's parties (admins and auditors: any)."""

    party = fields.String(validate=validators.Length(1, 128), metadata=PARTY_FIELD)


class StatementQuery(PartyQuery):
    """party, since, until (default: the last 31 days, at most 366), limit, cursor."""

    since = instant_field("from")
    until = instant_field("until")
    limit = limit_field(earnings.STATEMENT_LIMIT_DEFAULT, earnings.STATEMENT_LIMIT_MAX)
    cursor = cursor_field()


class BreakdownQuery(PartyQuery):
    """party, by (track or station), since, until (default: the last 31 days, at most 366)."""

    by = fields.String(load_default="track", validate=validators.OneOf(earnings.BREAKDOWN_BY))
    since = instant_field("from")
    until = instant_field("until")


class SeriesQuery(PartyQuery):
    """party, months (the last n UTC months, this one included; default 12)."""

    months = WholeNumber(
        load_default=MONTHS_DEFAULT, validate=validators.Range(1, earnings.MONTHS_MAX),
        metadata={"description": f"how many months, ending with this one, 1-{earnings.MONTHS_MAX}"},
    )  # fmt: skip


class BalanceOut(Schema):
    """A party account's balances now, in minor units of its currency."""

    code = fields.String(required=True)
    kind = fields.String(required=True)
    currency = fields.String(required=True)
    normal_side = fields.String(required=True)
    balance_min_minor = fields.Integer(allow_none=True)
    balance_minor = fields.Integer(required=True)
    available_minor = fields.Integer(required=True)
    debits_posted_minor = fields.Integer(required=True)
    credits_posted_minor = fields.Integer(required=True)
    debits_pending_minor = fields.Integer(required=True)
    credits_pending_minor = fields.Integer(required=True)


class BalanceList(Schema):
    """The balances of the caller's parties (or of the party asked for), by code."""

    balances = fields.List(fields.Nested(BalanceOut), required=True)


class LineOut(Schema):
    """One entry of the account and its posted balance after it."""

    seq = fields.Integer(required=True)
    leg = fields.Integer(required=True)
    created_at = fields.String(allow_none=True)
    transfer_id = fields.String(required=True)
    key = fields.String(required=True)
    code = fields.String(required=True)
    state = fields.String(required=True)
    side = fields.String(required=True)
    amount_minor = fields.Integer(required=True)
    balance_minor = fields.Integer(required=True)
    play_id = fields.Integer(allow_none=True)


class StatementOut(SpanOut):
    """A party's posted balance before and after the period, and one page of its lines."""

    account = fields.Nested(BalanceOut, required=True)
    opening_minor = fields.Integer(required=True)
    closing_minor = fields.Integer(required=True)
    limit = fields.Integer(required=True)
    lines = fields.List(fields.Nested(LineOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class BreakdownRow(Schema):
    """What one track (or station) brought the party in the period."""

    track = fields.String()
    title = fields.String()
    artist = fields.String(allow_none=True)
    station = fields.String()
    name = fields.String()
    amount_minor = fields.Integer(required=True)
    entries = fields.Integer(required=True)


class MonthOut(Schema):
    """What the ledger posted to the party in one UTC month (month to date for this one)."""

    month = fields.String(required=True, metadata={"description": "YYYY-MM, UTC"})
    amount_minor = fields.Integer(required=True)
    entries = fields.Integer(required=True)


class SeriesOut(Schema):
    """A party's posted earnings per month, oldest first, from the ledger's monthly rollup."""

    account = fields.Nested(BalanceOut, required=True)
    months = fields.List(fields.Nested(MonthOut), required=True)


class BreakdownOut(SpanOut):
    """A party's posted movement in the period per track or station; other_minor came from no
    play (claims, releases, payouts); rows plus other make total_minor."""

    account = fields.Nested(BalanceOut, required=True)
    by = fields.String(required=True)
    rows = fields.List(fields.Nested(BreakdownRow), required=True)
    other_minor = fields.Integer(required=True)
    total_minor = fields.Integer(required=True)


@blueprint.get("/earnings")
@policy(EARNERS, scope="ledger:read")
@blueprint.input(PartyQuery, location="query", arg_name="args")
@blueprint.output(BalanceList)
@blueprint.doc(responses=[404])
def balance_list(args: dict[str, Any]) -> dict[str, Any]:
    """The balances of the caller's parties, or of `party` (admins and auditors must name one)."""
    who = current_principal()
    scope = parties_asked(who, args.get("party"))
    rows = earnings.balances(db.session, who.parties if scope is None else scope, args.get("party"))
    return {"balances": [_balance(b) for b in rows]}


@blueprint.get("/earnings/statement")
@policy(EARNERS, scope="ledger:read")
@blueprint.input(StatementQuery, location="query", arg_name="args")
@blueprint.output(StatementOut)
@blueprint.doc(responses=[404])
def statement(args: dict[str, Any]) -> dict[str, Any]:
    """A party's statement over [since, until): opening and closing balance, one page of lines."""
    party = _party(args)
    span = _span(args)
    page = earnings.statement_page(
        db.session, party, span, args["limit"], args.get("cursor"), current_principal().parties
    )
    if page is None:
        raise NotFound(f"no party {party[:80]}")
    return {
        **span_record(span),
        "account": _balance(page.account),
        "opening_minor": page.opening_minor,
        "closing_minor": page.closing_minor,
        "limit": args["limit"],
        "lines": page.lines,
        "next_cursor": page.next_cursor,
    }


@blueprint.get("/earnings/breakdown")
@policy(EARNERS, scope="ledger:read")
@blueprint.input(BreakdownQuery, location="query", arg_name="args")
@blueprint.output(BreakdownOut)
@blueprint.doc(responses=[404])
def breakdown(args: dict[str, Any]) -> dict[str, Any]:
    """What the ledger credited a party over [since, until), per track or per station."""
    party = _party(args)
    span = _span(args)
    found = earnings.breakdown(db.session, party, args["by"], span, current_principal().parties)
    if found is None:
        raise NotFound(f"no party {party[:80]}")
    return {
        **span_record(span),
        "account": _balance(found.account),
        "by": found.by,
        "rows": found.rows,
        "other_minor": found.other_minor,
        "total_minor": found.total_minor,
    }


@blueprint.get("/earnings/series")
@policy(EARNERS, scope="ledger:read")
@blueprint.input(SeriesQuery, location="query", arg_name="args")
@blueprint.output(SeriesOut)
@blueprint.doc(responses=[404])
def series(args: dict[str, Any]) -> dict[str, Any]:
    """What the ledger credited a party in each of the last `months` UTC months (a chart's
    series; the current month so far), in minor units."""
    party = _party(args)
    months = earnings.last_months(now_ms(), args["months"])
    found = earnings.monthly(db.session, party, months, current_principal().parties)
    if found is None:
        raise NotFound(f"no party {party[:80]}")
    return {"account": _balance(found.account), "months": found.months}


def _party(args: dict[str, Any]) -> str:
    """The party asked for (404 if not the caller's), or the caller's only one (else 400)."""
    who = current_principal()
    asked = args.get("party")
    if asked is not None:
        parties_asked(who, asked)
        return asked
    if who.parties is not None and len(who.parties) == 1:
        return next(iter(who.parties))
    raise QueryError("party: name one of the parties you speak for")


def _span(args: dict[str, Any]) -> queries.TimeRange:
    """[since, until) of an earnings query: the last 31 days by default, at most 366."""
    return queries.parse_time_range(
        args.get("since"), args.get("until"), now_ms(), STATEMENT_SPAN_MS_DEFAULT,
        earnings.EARNINGS_RANGE_MS_MAX,
    )  # fmt: skip


def _balance(found: AccountBalance) -> dict[str, Any]:
    """A balance as JSON."""
    return found.as_dict()
