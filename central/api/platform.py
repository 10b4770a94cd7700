"""Admin over the platform: register a station, read the rate cards, and check the ledger
(auditors too: they read everything)."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint, Schema, fields, validators
from werkzeug.exceptions import BadRequest, Conflict

from central.api import monitoring, records
from central.api.idempotency import idempotent
from central.api.schemas import Strict
from central.api.stations import StationOut
from central.auth import audit
from central.auth.policy import current_principal, policy
from central.auth.roles import ADMIN, AUDITOR
from central.errors import StationError
from central.extensions import db, utc_now
from central.ledger.verify import verify
from central.royalties import store as royalties
from central.stations import store as stations
from central.stations.models import CODE_CHARS_MAX, NAME_CHARS_MAX, URL_CHARS_MAX

blueprint = APIBlueprint("platform", __name__, url_prefix="/api/v1", tag="Admin")


class StationIn(Schema):
    """A station to register: its code (the {station} of MQTT topics), name, public stream."""

    code = fields.String(required=True, validate=validators.Length(1, CODE_CHARS_MAX))
    name = fields.String(required=True, validate=validators.Length(1, NAME_CHARS_MAX))
    stream_url = fields.String(validate=validators.Length(1, URL_CHARS_MAX))


class RateCardOut(Schema):
    """A version of a tariff: its bands, lines, fee and composition share."""

    id = fields.Integer(required=True)
    code = fields.String(required=True)
    version = fields.Integer(required=True)
    currency = fields.String(required=True)
    effective_from = fields.String(required=True)
    effective_from_ms = fields.Integer(required=True)
    composition_share_bp = fields.Integer(required=True)
    platform_fee_bp = fields.Integer(required=True)
    bands = fields.List(fields.Dict(), required=True)
    lines = fields.List(fields.Dict(), required=True)


class RateCardList(Schema):
    """Every rate card version, oldest first."""

    ratecards = fields.List(fields.Nested(RateCardOut), required=True)


class RateCardsQuery(Strict):
    """code: one tariff's versions."""

    code = fields.String(validate=validators.Length(1, 32))


class VerifyOut(Schema):
    """What a full check of the ledger found: counts, the chain head, every problem."""

    ok = fields.Boolean(required=True)
    transfers = fields.Integer(required=True)
    entries = fields.Integer(required=True)
    accounts = fields.Integer(required=True)
    head_seq = fields.Integer(required=True)
    head_hash = fields.String(required=True)
    problems = fields.List(fields.String(), required=True)
    problems_omitted = fields.Integer(required=True)


@blueprint.post("/stations")
@policy([ADMIN], scope="admin")
@idempotent
@blueprint.input(StationIn, arg_name="body")
@blueprint.output(StationOut, status_code=201)
@blueprint.doc(responses=[400, 409])
def station_add(body: dict[str, Any]) -> dict[str, Any]:
    """Register a station (its devices are added with `zamio device add`)."""
    if stations.find_station(db.session, body["code"]) is not None:
        raise Conflict(f"station {body['code']} exists")
    try:
        station = stations.add_station(
            db.session, body["code"], body["name"], body.get("stream_url")
        )
    except StationError as error:
        db.session.rollback()
        raise BadRequest(str(error)) from None
    record = records.station_record(
        station, monitoring.station_health(db.session, station, utc_now())
    )
    changes = {"code": station.code, "name": station.name, "stream_url": record["stream_url"]}
    audit.record(db.session, current_principal().actor, "api", "station.add", "station",
                 station.code, changes)  # fmt: skip
    db.session.commit()
    return record


@blueprint.get("/ratecards")
@policy([ADMIN, AUDITOR], scope="ledger:read")
@blueprint.input(RateCardsQuery, location="query", arg_name="args")
@blueprint.output(RateCardList)
def ratecard_list(args: dict[str, Any]) -> dict[str, Any]:
    """Every rate card version (or one tariff's), with its bands and lines."""
    rows = royalties.rate_cards(db.session, args.get("code"))
    return {"ratecards": [royalties.card_record(row) for row in rows]}


@blueprint.get("/ledger/verify")
@policy([ADMIN, AUDITOR], scope="ledger:read")
@blueprint.output(VerifyOut)
def ledger_verify() -> dict[str, Any]:
    """Check the whole ledger now (read-only, one snapshot): every invariant, the hash chain."""
    report = verify(db.session).as_dict()
    db.session.rollback()  # end the snapshot's transaction
    return {**report, "problems": list(report["problems"])}
