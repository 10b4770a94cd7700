"""Payouts: a party's payout methods and withdrawals; admins approve (two of them from the
four-eyes amount) or reject; the provider's callbacks; the reconciliation. Thin over
central/payouts/actions.py, which the console and the CLI use too."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint, Schema, fields, validators
from flask import current_app
from werkzeug.exceptions import BadRequest, Conflict, NotFound

from central.api import pagination
from central.api.earnings import PARTY_FIELD, PartyQuery
from central.api.idempotency import idempotent
from central.api.schemas import Strict, cursor_field, limit_field
from central.auth.ownership import parties_asked
from central.auth.policy import Principal, current_principal, policy, public
from central.auth.roles import ADMIN, ARTIST, AUDITOR, RIGHTS_HOLDER
from central.extensions import db
from central.payouts import actions, methods, reconcile, withdrawals
from central.payouts.errors import PayoutError, StepRefused, UnknownWithdrawal
from central.payouts.methods import MOMO_NETWORKS
from central.payouts.models import METHOD_KINDS, MOMO, STATUSES
from central.payouts.withdrawals import actor_of

PARTIES = (ARTIST, RIGHTS_HOLDER)
READERS = (ADMIN, AUDITOR, ARTIST, RIGHTS_HOLDER)
LIMIT_DEFAULT, LIMIT_MAX = 50, 200

blueprint = APIBlueprint("payouts", __name__, url_prefix="/api/v1/payouts", tag="Payouts")


class MethodIn(Strict):
    """A payout method: momo (msisdn, network) or bank (bank, account_number, account_name)."""

    party = fields.String(validate=validators.Length(1, 128), metadata=PARTY_FIELD)
    kind = fields.String(load_default=MOMO, validate=validators.OneOf(METHOD_KINDS))
    msisdn = fields.String(validate=validators.Length(1, 32))
    network = fields.String(
        validate=validators.OneOf(MOMO_NETWORKS),
        metadata={"description": "default: the network of the number's prefix"},
    )
    bank = fields.String(validate=validators.Length(1, 32))
    account_number = fields.String(validate=validators.Length(1, 40))
    account_name = fields.String(load_default="", validate=validators.Length(0, 120))


class MethodOut(Schema):
    """A payout method; the number shows its last 4 digits only."""

    id = fields.Integer(required=True)
    party = fields.String(required=True)
    kind = fields.String(required=True)
    network = fields.String(required=True)
    number = fields.String(required=True)
    account_name = fields.String(required=True)
    checked = fields.Boolean(required=True)
    usable_from = fields.String(required=True)
    active = fields.Boolean(required=True)


class MethodList(Schema):
    """The methods of the caller's parties (or of the party asked for), newest first."""

    methods = fields.List(fields.Nested(MethodOut), required=True)


class WithdrawalIn(Strict):
    """amount_minor to withdraw from party's available earnings."""

    party = fields.String(validate=validators.Length(1, 128), metadata=PARTY_FIELD)
    amount_minor = fields.Integer(required=True, strict=True, validate=validators.Range(1))


class ListQuery(PartyQuery):
    """party, status, limit, cursor."""

    status = fields.String(validate=validators.OneOf(STATUSES))
    limit = limit_field(LIMIT_DEFAULT, LIMIT_MAX)
    cursor = cursor_field()


class RejectIn(Strict):
    """Why the withdrawal is refused (the party is told)."""

    reason = fields.String(required=True, validate=validators.Length(1, 500))


class EventOut(Schema):
    """One step of a withdrawal's history."""

    at = fields.String(required=True)
    actor = fields.String(required=True)
    from_ = fields.String(data_key="from", allow_none=True, required=True)
    to = fields.String(required=True)
    detail = fields.String(required=True)


class WithdrawalOut(Schema):
    """A withdrawal: its state, money, approvals, method and what the provider said."""

    id = fields.Integer(required=True)
    party = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": list(STATUSES)})
    amount_minor = fields.Integer(required=True)
    currency = fields.String(required=True)
    approvals_needed = fields.Integer(required=True)
    approvals = fields.List(fields.String(), required=True)
    requested_by = fields.String(required=True)
    method = fields.Nested(MethodOut, allow_none=True, required=True)
    reference = fields.String(allow_none=True, required=True)
    hold_transfer_id = fields.String(allow_none=True, required=True)
    provider = fields.String(allow_none=True, required=True)
    provider_state = fields.String(allow_none=True, required=True)
    provider_reason = fields.String(allow_none=True, required=True)
    provider_id = fields.String(allow_none=True, required=True)
    submit_attempts = fields.Integer(required=True)
    last_error = fields.String(allow_none=True, required=True)
    created_at = fields.String(allow_none=True, required=True)
    updated_at = fields.String(allow_none=True, required=True)
    finished_at = fields.String(allow_none=True, required=True)
    history = fields.List(fields.Nested(EventOut))


class WithdrawalList(Schema):
    """A page of withdrawals, newest first."""

    withdrawals = fields.List(fields.Nested(WithdrawalOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class MismatchOut(Schema):
    """One withdrawal whose status, ledger and provider disagree."""

    withdrawal_id = fields.Integer(required=True)
    kind = fields.String(required=True)
    status = fields.String(required=True)
    ledger = fields.String(allow_none=True, required=True)
    provider = fields.String(allow_none=True, required=True)
    detail = fields.String(required=True)


class RunOut(Schema):
    """One reconciliation run."""

    id = fields.Integer(required=True)
    at = fields.String(required=True)
    actor = fields.String(required=True)
    checked = fields.Integer(required=True)
    mismatches = fields.Integer(required=True)
    unreachable = fields.Integer(required=True)
    report = fields.List(fields.Nested(MismatchOut), required=True)


class RunList(Schema):
    """The latest reconciliation runs, newest first."""

    runs = fields.List(fields.Nested(RunOut), required=True)


class CallbackOut(Schema):
    """The callback was taken: the status is asked of the provider itself."""

    accepted = fields.Boolean(required=True)


def one_party(principal: Principal, party: str | None) -> str:
    """The one party a write is for: the one asked (it must be the caller's), or the caller's
    only one; BadRequest when that is ambiguous."""
    asked = parties_asked(principal, party)
    if party is not None:
        return party
    if asked is None or len(asked) != 1:
        raise BadRequest("name the party (you speak for several, or for any)")
    return next(iter(asked))


def http_error(error: PayoutError) -> Exception:
    """The HTTP error of a refused payout step."""
    if isinstance(error, UnknownWithdrawal):
        return NotFound(str(error))
    if isinstance(error, StepRefused):
        return Conflict(str(error))
    return BadRequest(str(error))


@blueprint.get("/methods")
@policy(READERS, scope="ledger:read")
@blueprint.input(PartyQuery, location="query", arg_name="query")
@blueprint.output(MethodList)
@blueprint.doc(responses=[400, 404])
def method_list(query: dict[str, Any]) -> dict[str, Any]:
    """Payout methods of the caller's parties (admins and auditors: of the party asked)."""
    asked = parties_asked(current_principal(), query.get("party"))
    if asked is None:
        raise BadRequest("name the party")
    found = [m for party in sorted(asked) for m in methods.methods(db.session, party)]
    return {"methods": [withdrawals.method_record(m) for m in found]}


@blueprint.post("/methods")
@policy((ADMIN, *PARTIES), scope="payouts:write")
@idempotent
@blueprint.input(MethodIn, arg_name="body")
@blueprint.output(MethodOut, status_code=201)
@blueprint.doc(responses=[400, 404])
def method_add(body: dict[str, Any]) -> dict[str, Any]:
    """Register where the party's money goes (replacing its active method: withdrawals open
    again after the cooling-off period). A MoMo number is checked with the provider."""
    principal = current_principal()
    party = one_party(principal, body.get("party"))
    actor = actor_of(principal, "api")
    try:
        if body["kind"] == MOMO:
            if not body.get("msisdn"):
                raise BadRequest("momo needs msisdn")
            method = actions.add_momo_method(
                current_app, actor, party, body["msisdn"], body.get("network"),
                body["account_name"],
            )  # fmt: skip
        else:
            if not body.get("bank") or not body.get("account_number"):
                raise BadRequest("bank needs bank and account_number")
            method = actions.add_bank_method(
                current_app, actor, party, body["bank"], body["account_number"],
                body["account_name"],
            )  # fmt: skip
    except PayoutError as error:
        db.session.rollback()
        raise http_error(error) from None
    return withdrawals.method_record(method)


@blueprint.get("/withdrawals")
@policy(READERS, scope="ledger:read")
@blueprint.input(ListQuery, location="query", arg_name="query")
@blueprint.output(WithdrawalList)
@blueprint.doc(responses=[400, 404])
def withdrawal_list(query: dict[str, Any]) -> dict[str, Any]:
    """Withdrawals of the caller's parties (admins and auditors: all), newest first."""
    asked = parties_asked(current_principal(), query.get("party"))
    after = None
    if query.get("cursor"):
        (after,) = pagination.decode("withdrawals", query["cursor"], 1)
    limit = query["limit"]
    rows = withdrawals.listing(db.session, asked, query.get("status"), after, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = pagination.encode("withdrawals", [rows[-1].id]) if more else None
    return {"withdrawals": [withdrawals.record(w) for w in rows], "next_cursor": cursor}


@blueprint.post("/withdrawals")
@policy((ADMIN, *PARTIES), scope="payouts:write")
@idempotent
@blueprint.input(WithdrawalIn, arg_name="body")
@blueprint.output(WithdrawalOut, status_code=201)
@blueprint.doc(responses=[400, 404, 409])
def withdrawal_request(body: dict[str, Any]) -> dict[str, Any]:
    """Ask for a withdrawal of at least ZAMIO_PAYOUTS_MINIMUM_MINOR and at most the available
    balance; the money is held at once. Send an Idempotency-Key to retry safely."""
    principal = current_principal()
    party = one_party(principal, body.get("party"))
    try:
        withdrawal = actions.request_withdrawal(
            current_app, actor_of(principal, "api"), party, body["amount_minor"]
        )
    except PayoutError as error:
        raise http_error(error) from None
    return _full(withdrawal.id)


def _full(withdrawal_id: int) -> dict[str, Any]:
    """A withdrawal with its history."""
    withdrawal = withdrawals.get(db.session, withdrawal_id)
    events = withdrawals.history(db.session, withdrawal_id)
    history = [withdrawals.event_record(e) for e in events]
    return withdrawals.record(withdrawal) | {"history": [_event_out(e) for e in history]}


def _event_out(event: dict[str, Any]) -> dict[str, Any]:
    """A history step for EventOut (`from` is a Python keyword)."""
    return {**{k: v for k, v in event.items() if k != "from"}, "from_": event["from"]}


@blueprint.get("/withdrawals/<int:withdrawal_id>")
@policy(READERS, scope="ledger:read", owner="withdrawal")
@blueprint.output(WithdrawalOut)
@blueprint.doc(responses=[404])
def withdrawal_show(withdrawal_id: int) -> dict[str, Any]:
    """A withdrawal of one of the caller's parties, with its history."""
    try:
        return _full(withdrawal_id)
    except UnknownWithdrawal as error:
        raise NotFound(str(error)) from None


@blueprint.post("/withdrawals/<int:withdrawal_id>/cancel")
@policy(PARTIES, scope="payouts:write", owner="withdrawal")
@blueprint.output(WithdrawalOut)
@blueprint.doc(responses=[404, 409])
def withdrawal_cancel(withdrawal_id: int) -> dict[str, Any]:
    """Take back a withdrawal no admin approved yet; the money is available again."""
    return _step(lambda actor: actions.cancel(current_app, actor, withdrawal_id), withdrawal_id)


@blueprint.post("/withdrawals/<int:withdrawal_id>/approve")
@policy([ADMIN], scope="admin")
@blueprint.output(WithdrawalOut)
@blueprint.doc(responses=[404, 409])
def withdrawal_approve(withdrawal_id: int) -> dict[str, Any]:
    """Approve a withdrawal (not your own; from the four-eyes amount a second admin must too);
    the last approval needed sends it to the provider."""
    return _step(lambda actor: actions.approve(current_app, actor, withdrawal_id), withdrawal_id)


@blueprint.post("/withdrawals/<int:withdrawal_id>/reject")
@policy([ADMIN], scope="admin")
@blueprint.input(RejectIn, arg_name="body")
@blueprint.output(WithdrawalOut)
@blueprint.doc(responses=[404, 409])
def withdrawal_reject(withdrawal_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """Refuse a withdrawal before it is sent; the money goes back to the party."""
    return _step(
        lambda actor: actions.reject(current_app, actor, withdrawal_id, body["reason"]),
        withdrawal_id,
    )


def _step(step, withdrawal_id: int) -> dict[str, Any]:  # noqa: ANN001 (actor -> Withdrawal)
    """Run a step as the caller; its refusal as an HTTP error."""
    try:
        step(actor_of(current_principal(), "api"))
    except PayoutError as error:
        raise http_error(error) from None
    return _full(withdrawal_id)


@blueprint.get("/reconcile")
@policy([ADMIN, AUDITOR], scope="ledger:read")
@blueprint.output(RunList)
def reconcile_runs() -> dict[str, Any]:
    """The latest reconciliations of payouts against the provider, newest first."""
    return {"runs": [reconcile.run_record(r) for r in reconcile.runs(db.session)]}


@blueprint.post("/reconcile")
@policy([ADMIN], scope="admin")
@blueprint.output(RunOut, status_code=201)
@blueprint.doc(responses=[409])
def reconcile_run() -> dict[str, Any]:
    """Reconcile now: every payout the provider may know of, against its status there."""
    run = actions.reconcile_now(current_app, actor_of(current_principal(), "api"))
    if run is None:
        raise Conflict("no payout provider is set (ZAMIO_MOMO_URL)")
    return reconcile.run_record(run)


@blueprint.route("/callbacks/<provider>/<reference>", methods=["PUT", "POST"])
@public
@blueprint.output(CallbackOut)
@blueprint.doc(responses=[404])
def provider_callback(provider: str, reference: str) -> dict[str, Any]:
    """The provider's callback about a transfer (MTN MoMo's X-Callback-Url). Its body is never
    trusted: it only makes ZamIO ask the provider for the status now."""
    if not actions.callback(current_app, provider[:32], reference[:64]):
        raise NotFound("no such payout")
    return {"accepted": True}
