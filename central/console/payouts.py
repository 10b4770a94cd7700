"""The console's payouts: artists and rights holders register where their money goes, ask for a
withdrawal and follow it; admins approve (two of them from the four-eyes amount) or reject,
watch what is in flight and run the reconciliation; auditors read. Thin over
central/payouts/actions.py, which the API and the CLI use too."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import NotFound

from central.auth.policy import current_principal, policy
from central.auth.roles import ADMIN, ARTIST, AUDITOR, RIGHTS_HOLDER
from central.console.artist import chosen_party
from central.extensions import db
from central.ledger.accounts import find_account
from central.ledger.queries import account_balance
from central.payouts import actions, methods, reconcile, withdrawals
from central.payouts.errors import PayoutError, UnknownWithdrawal
from central.payouts.methods import MOMO_NETWORKS
from central.payouts.models import APPROVED, IN_FLIGHT, REQUESTED, STATUSES, Withdrawal
from central.payouts.withdrawals import Actor, actor_of

blueprint = Blueprint("payouts_console", __name__)
PARTY_ROLES = (ARTIST, RIGHTS_HOLDER)
READERS = (ADMIN, AUDITOR, ARTIST, RIGHTS_HOLDER)
VIA = "console"
LIST_ROWS = 50


def _party() -> str | None:
    """The page's party (`?party=` or the form's), one of the user's; NotFound otherwise."""
    asked = request.values.get("party") or None
    return chosen_party(current_principal(), asked)


@blueprint.get("/payouts")
@policy(PARTY_ROLES, scope="ledger:read")
def payouts_page() -> ResponseReturnValue:
    """The party's available balance, payout method, withdrawal form and withdrawals."""
    return _page(_party(), None, 200)


def _page(party: str | None, error: str | None, status: int) -> ResponseReturnValue:
    """The payouts page of `party`, with an error from a refused form."""
    who = current_principal()
    settings = current_app.config["ZAMIO"]
    data: dict[str, Any] = {"party": party, "parties": sorted(who.parties or ())}
    if party is not None:
        account = find_account(db.session, party)
        data["balance"] = None if account is None else account_balance(account)
        data["methods"] = [withdrawals.method_record(m) for m in methods.methods(db.session, party)]
        rows = withdrawals.listing(db.session, {party}, None, None, LIST_ROWS)
        data["withdrawals"] = [withdrawals.record(w) for w in rows]
    page = render_template(
        "payouts/party.html", **data, error=error, message=request.args.get("done"),
        networks=MOMO_NETWORKS, minimum_minor=settings.payouts_minimum_minor,
        four_eyes_minor=settings.payouts_four_eyes_minor,
        cooling_off_hours=settings.payouts_cooling_off_hours,
    )  # fmt: skip
    return page, status


@blueprint.post("/payouts/method")
@policy(PARTY_ROLES, scope="payouts:write")
def method_add() -> ResponseReturnValue:
    """Register a mobile-money number (the API's POST /payouts/methods)."""
    party = _party()
    if party is None:
        raise NotFound("You speak for no party yet.")
    try:
        actions.add_momo_method(
            current_app, actor_of(current_principal(), VIA), party,
            request.form.get("msisdn", ""), request.form.get("network") or None,
            request.form.get("account_name", ""),
        )  # fmt: skip
    except PayoutError as error:
        db.session.rollback()
        return _page(party, str(error), 400)
    done = "Payout method saved."
    return redirect(url_for("payouts_console.payouts_page", party=party, done=done), 303)


@blueprint.post("/payouts/withdraw")
@policy(PARTY_ROLES, scope="payouts:write")
def withdraw() -> ResponseReturnValue:
    """Ask for a withdrawal (the API's POST /payouts/withdrawals); the money is held at once."""
    party = _party()
    if party is None:
        raise NotFound("You speak for no party yet.")
    text = request.form.get("amount", "").strip()
    amount_minor = _minor(text)
    if amount_minor is None:
        return _page(party, f"amount {text[:20]!r}: a sum like 250 or 250.50", 400)
    try:
        withdrawal = actions.request_withdrawal(
            current_app, actor_of(current_principal(), VIA), party, amount_minor
        )
    except PayoutError as error:
        return _page(party, str(error), 400)
    return redirect(url_for("payouts_console.detail", withdrawal_id=withdrawal.id), 303)


def _minor(text: str) -> int | None:
    """'250', '250.5' or '250.50' (major units, up to 2 decimals) in minor units; None if not."""
    whole, dot, cents = text.replace(",", "").partition(".")
    if not whole.isdigit() or (dot and not (cents.isdigit() and len(cents) <= 2)):
        return None
    return int(whole) * 100 + int((cents or "0").ljust(2, "0"))


@blueprint.get("/payouts/<int:withdrawal_id>")
@policy(READERS, scope="ledger:read", owner="withdrawal")
def detail(withdrawal_id: int) -> ResponseReturnValue:
    """A withdrawal, its approvals, what the provider said and its history; the steps the
    user may take (cancel; approve, reject)."""
    return _detail(withdrawal_id, None, 200)


def _detail(withdrawal_id: int, error: str | None, status: int) -> ResponseReturnValue:
    """The withdrawal page, with an error from a refused step."""
    try:
        withdrawal = withdrawals.get(db.session, withdrawal_id)
    except UnknownWithdrawal as missing:
        raise NotFound(str(missing)) from None
    who = current_principal()
    record = withdrawals.record(withdrawal)
    events = [withdrawals.event_record(e) for e in withdrawals.history(db.session, withdrawal_id)]
    approved_by_me = any(a.user_id == who.user_id for a in withdrawal.approvals)
    page = render_template(
        "payouts/detail.html", w=record, events=events, error=error,
        message=request.args.get("done"), in_flight=withdrawal.status in IN_FLIGHT,
        can_cancel=who.role in PARTY_ROLES and withdrawal.status == REQUESTED,
        can_decide=who.role == ADMIN and withdrawal.status == REQUESTED and not approved_by_me
        and who.user_id != withdrawal.requester_user_id,
        can_reject=who.role == ADMIN and withdrawal.status in (REQUESTED, APPROVED),
    )  # fmt: skip
    return page, status


@blueprint.post("/payouts/<int:withdrawal_id>/cancel")
@policy(PARTY_ROLES, scope="payouts:write", owner="withdrawal")
def cancel(withdrawal_id: int) -> ResponseReturnValue:
    """Take back a withdrawal no admin approved yet."""
    return _step(withdrawal_id, "cancelled",
                 lambda actor: actions.cancel(current_app, actor, withdrawal_id))  # fmt: skip


@blueprint.post("/payouts/<int:withdrawal_id>/approve")
@policy([ADMIN], scope="admin")
def approve(withdrawal_id: int) -> ResponseReturnValue:
    """One admin's approval; the last one needed sends the withdrawal."""
    return _step(withdrawal_id, "approved",
                 lambda actor: actions.approve(current_app, actor, withdrawal_id))  # fmt: skip


@blueprint.post("/payouts/<int:withdrawal_id>/reject")
@policy([ADMIN], scope="admin")
def reject(withdrawal_id: int) -> ResponseReturnValue:
    """Refuse a withdrawal before it is sent, with a reason the party is told."""
    reason = request.form.get("reason", "")

    def step(actor: Actor) -> Withdrawal:
        return actions.reject(current_app, actor, withdrawal_id, reason)

    return _step(withdrawal_id, "rejected", step)


def _step(withdrawal_id: int, word: str, step) -> ResponseReturnValue:  # noqa: ANN001
    """Run a step as the signed-in user; back to the withdrawal with what happened."""
    try:
        withdrawal = step(actor_of(current_principal(), VIA))
    except UnknownWithdrawal as missing:
        raise NotFound(str(missing)) from None
    except PayoutError as error:
        return _detail(withdrawal_id, str(error), 409)
    done = f"Withdrawal {withdrawal_id} {word}: now {withdrawal.status}."
    return redirect(url_for("payouts_console.detail", withdrawal_id=withdrawal_id, done=done), 303)


@blueprint.get("/admin/payouts")
@policy([ADMIN, AUDITOR], scope="ledger:read")
def queue() -> ResponseReturnValue:
    """Withdrawals by status (waiting for approval first) and the latest reconciliations."""
    status = request.args.get("status") or REQUESTED
    if status not in STATUSES:
        status = REQUESTED
    rows = withdrawals.listing(db.session, None, status, None, LIST_ROWS)
    runs = [reconcile.run_record(r) for r in reconcile.runs(db.session, 5)]
    return render_template(
        "payouts/admin.html", rows=[withdrawals.record(w) for w in rows], status=status,
        statuses=STATUSES, runs=runs, message=request.args.get("done"),
        error=request.args.get("error"),
    )  # fmt: skip


@blueprint.post("/admin/payouts/reconcile")
@policy([ADMIN], scope="admin")
def reconcile_now() -> ResponseReturnValue:
    """Reconcile the payouts with the provider now."""
    run = actions.reconcile_now(current_app, actor_of(current_principal(), VIA))
    if run is None:
        error = "No payout provider is set (ZAMIO_MOMO_URL)."
        return redirect(url_for("payouts_console.queue", error=error), 303)
    done = f"Reconciled {run.checked} payout(s): {run.mismatches} mismatch(es)."
    return redirect(url_for("payouts_console.queue", done=done), 303)
