"""Ownership rules: whether the object a request names is the caller's. One function per kind
of object, by the name a policy gives (`owner="play"`); an object that does not exist is not
the caller's either (the view would 404 it anyway).

A principal's scope has two dimensions, each None for "no restriction": `station_ids` (station
staff) and `parties` (artists, rights holders). An object is theirs when it is within both."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from central.extensions import db

if TYPE_CHECKING:
    from central.auth.policy import Principal

Rule = Callable[["Principal", dict[str, Any]], bool]
RULES: dict[str, Rule] = {}


def rule(name: str) -> Callable[[Rule], Rule]:
    """Register an ownership rule under `name`."""

    def register(function: Rule) -> Rule:
        RULES[name] = function
        return function

    return register


def owns(principal: Principal, name: str, view_args: dict[str, Any]) -> bool:
    """Whether the object the view arguments name is within the principal's scope."""
    return RULES[name](principal, view_args)


def track_parties(track_id: int) -> set[str]:
    """The parties a track's rights shares pay."""
    from central.royalties.models import RightsShare

    query = select(RightsShare.party).where(RightsShare.track_id == track_id)
    return {p for p in db.session.scalars(query) if p is not None}


def within(principal: Principal, station_id: int | None, track_id: int | None) -> bool:
    """Whether an object at `station_id` about `track_id` is within the principal's scope."""
    if principal.station_ids is not None and station_id not in principal.station_ids:
        return False
    if principal.parties is None:
        return True
    return track_id is not None and bool(track_parties(track_id) & principal.parties)


@rule("station")
def _station(principal: Principal, view_args: dict[str, Any]) -> bool:
    """/stations/<code>/...: the station is one of the caller's."""
    from central.stations import store

    if principal.station_ids is None:
        return principal.parties is None
    station = store.find_station(db.session, str(view_args.get("code", "")))
    return station is not None and station.id in principal.station_ids


@rule("play")
def _play(principal: Principal, view_args: dict[str, Any]) -> bool:
    """/plays/<play_id>: played at one of the caller's stations, of one of their tracks."""
    from central.plays.models import Play

    if principal.sees_all:
        return True
    play = db.session.get(Play, int(view_args["play_id"]))
    return play is not None and within(principal, play.station_id, play.track_id)


@rule("track")
def _track(principal: Principal, view_args: dict[str, Any]) -> bool:
    """/tracks/<track_id>: one of the caller's parties is paid by it."""
    if principal.parties is None:
        return principal.station_ids is None
    return bool(track_parties(int(view_args["track_id"])) & principal.parties)


@rule("party")
def _party(principal: Principal, view_args: dict[str, Any]) -> bool:
    """/parties/<party>/...: the caller speaks for that party."""
    if principal.parties is None:
        return principal.station_ids is None
    return str(view_args.get("party", "")) in principal.parties


@rule("invoice")
def _invoice(principal: Principal, view_args: dict[str, Any]) -> bool:
    """/invoices/<number>: an invoice of one of the caller's stations."""
    from central.funding.invoices import find_invoice

    if principal.station_ids is None:
        return principal.parties is None
    invoice = find_invoice(db.session, str(view_args.get("number", "")))
    return invoice is not None and invoice.station_id in principal.station_ids


@rule("withdrawal")
def _withdrawal(principal: Principal, view_args: dict[str, Any]) -> bool:
    """/payouts/withdrawals/<withdrawal_id>: a withdrawal of one of the caller's parties."""
    from central.payouts.models import Withdrawal

    withdrawal = db.session.get(Withdrawal, int(view_args["withdrawal_id"]))
    if withdrawal is None or principal.station_ids is not None:
        return False
    return principal.parties is None or withdrawal.party in principal.parties


@rule("token")
def _token(principal: Principal, view_args: dict[str, Any]) -> bool:
    """/tokens/<token_id>: the caller's own token (nobody else's, admins included)."""
    from central.auth.models import ApiToken

    token = db.session.get(ApiToken, int(view_args["token_id"]))
    return token is not None and token.user_id == principal.user_id


@rule("notification")
def _notification(principal: Principal, view_args: dict[str, Any]) -> bool:
    """/notifications/<notification_id>/...: one of the caller's own (admins included)."""
    from central.notifications.models import Notification

    row = db.session.get(Notification, int(view_args["notification_id"]))
    return row is not None and row.user_id == principal.user_id


@rule("webhook")
def _webhook(principal: Principal, view_args: dict[str, Any]) -> bool:
    """/webhooks/<webhook_id>/...: one of the caller's own endpoints (admins included)."""
    from central.notifications.models import WebhookEndpoint

    row = db.session.get(WebhookEndpoint, int(view_args["webhook_id"]))
    return row is not None and row.user_id == principal.user_id


@rule("webhook_delivery")
def _webhook_delivery(principal: Principal, view_args: dict[str, Any]) -> bool:
    """/webhook-deliveries/<delivery_id>/...: a delivery to one of the caller's endpoints."""
    from central.notifications.models import NotificationDelivery

    row = db.session.get(NotificationDelivery, int(view_args["delivery_id"]))
    return row is not None and row.channel == "webhook" and row.user_id == principal.user_id


def parties_asked(principal: Principal, party: str | None) -> frozenset[str] | None:
    """The parties a request for `party` (None: all of the caller's) may see: None for every
    party; NotFound for a party that is not the caller's."""
    from werkzeug.exceptions import NotFound

    if party is None:
        return principal.parties
    if principal.parties is not None and party not in principal.parties:
        raise NotFound(f"no party {party[:80]}")
    if principal.station_ids is not None and principal.parties is None:
        raise NotFound(f"no party {party[:80]}")
    return frozenset({party})
