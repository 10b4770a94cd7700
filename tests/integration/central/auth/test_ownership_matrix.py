"""The ownership half of the authorization matrix, generated from the OpenAPI document: for
every operation whose policy names an ownership rule, every role it admits gets its own object
(2xx) and another party's (404, as if it did not exist)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask

from central.auth import roles, tokens, users
from central.extensions import db, utc_now
from central.funding.invoices import issue_invoice
from central.ledger.accounts import account_spec, open_account
from central.notifications.models import Notification, NotificationDelivery, WebhookEndpoint
from central.royalties.models import RightsShare
from tests.integration.central.auth.conftest import PEOPLE
from tests.integration.central.rows import T0_MS, add_play, add_track

pytestmark = pytest.mark.integration

_ARG = re.compile(r"{([^}]+)}")


def _share(track_id: int, party: str) -> RightsShare:
    """A whole master share of a track to `party`."""
    return RightsShare(
        track_id=track_id, pool="master", work_code=f"T{track_id}", party=party,
        role="performer", share_bp=10_000,
    )  # fmt: skip


def _withdrawal(party: str) -> str:
    """A withdrawal of GHS 20 asked for by `party` (with earnings and a MoMo number)."""
    from central.ledger import posting
    from central.ledger.accounts import account_spec, open_account
    from central.ledger.transfer import TransferRequest, credit, debit
    from central.payouts import methods, withdrawals

    actor = withdrawals.Actor("test", "api", None)
    open_account(db.session, account_spec("settlement:bank", "settlement"))
    open_account(db.session, account_spec(party, "artist_earnings"))
    legs = (debit("settlement:bank", 10_000), credit(party, 10_000))
    posting.post_transfer(db.session, TransferRequest(f"test:{party}", "royalty", legs))
    methods.add_momo(db.session, actor, party, "0241234567", "mtn", None, 24)
    return str(withdrawals.request(db.session, actor, party, 2_000, 1_000, 10**9).id)


def _notification_objects(user_id: int) -> dict[str, str]:
    """A user's notification, an endpoint (the matrix may delete it), and a delivery to a
    second endpoint (replayed: to a loopback address, so it fails without a request)."""
    note = Notification(user_id=user_id, event="payout.paid", subject="paid", body="paid",
                        data_json="{}")  # fmt: skip
    first, second = (
        WebhookEndpoint(user_id=user_id, url=f"https://127.0.0.1:9/{n}", events_json='["*"]',
                        secret_salt="00" * 16, secret_hint="abcd", active=True)
        for n in range(2)
    )  # fmt: skip
    db.session.add_all([note, first, second])
    db.session.flush()
    delivery = NotificationDelivery(notification_id=note.id, user_id=user_id, channel="webhook",
                                    endpoint_id=second.id, state="sent", attempts=1)  # fmt: skip
    db.session.add(delivery)
    db.session.flush()
    return {"notification": str(note.id), "webhook": str(first.id),
            "webhook_delivery": str(delivery.id)}  # fmt: skip


@pytest.fixture
def objects(pg_app: Flask, people) -> dict[str, dict[str, tuple[str, str | None]]]:
    """(own, other) object id per ownership rule and role: track A is the artist's, B the
    label's, C nobody's here; play 1 of A at joy-fm, 2 of C at peace-fm, 3 of B at joy-fm;
    each user has a spare token; joy-fm and peace-fm each an invoice of 2025-11. None: the
    role has no "other" (it sees everything)."""
    from central.stations.store import find_station

    with pg_app.app_context():
        joy, peace = find_station(db.session, "joy-fm"), find_station(db.session, "peace-fm")
        a, b, c = (add_track(db.session, x) for x in "ABC")
        db.session.add_all([
            _share(a.id, "artist:ama:earnings"),
            _share(b.id, "label:adomi:earnings"),
            _share(c.id, "artist:someone-else:earnings"),
        ])  # fmt: skip
        plays = [add_play(db.session, s, t, T0_MS + n) for n, (s, t) in
                 enumerate([(joy, a), (peace, c), (joy, b)])]  # fmt: skip
        spare, mine = {}, {}
        for role, (email, *_rest) in PEOPLE.items():
            user = users.get_user(db.session, email)
            row, _ = tokens.create_token(db.session, user, "spare", None, timedelta(days=1),
                                         utc_now())  # fmt: skip
            spare[role] = str(row.id)
            mine[role] = _notification_objects(user.id)
        earners = ("artist:ama:earnings", "label:adomi:earnings", "artist:someone-else:earnings")
        w1, w2, w3 = (_withdrawal(party) for party in earners)
        for code in ("joy-fm", "peace-fm"):  # postpaid wallets, each invoiced for a past month
            open_account(db.session, account_spec(f"station:{code}:wallet", "station_wallet",
                                                  unbounded=True))  # fmt: skip
            issue_invoice(db.session, code, "2025-11", "test", "cli", 30, int(1e13))
        db.session.commit()
        p1, p2, p3 = (str(p.id) for p in plays)
        ids = {"A": str(a.id), "B": str(b.id), "C": str(c.id)}
    see_all = {"admin": None, "auditor": None}
    return {
        "station": {"station": ("joy-fm", "peace-fm")} | {r: ("joy-fm", None) for r in see_all},
        "play": {"station": (p1, p2), "artist": (p1, p2), "rights_holder": (p3, p2)}
        | {r: (p1, None) for r in see_all},
        "track": {"artist": (ids["A"], ids["C"]), "rights_holder": (ids["B"], ids["C"])}
        | {r: (ids["A"], None) for r in see_all},
        "token": {r: (spare[r], spare["admin" if r != "admin" else "station"]) for r in PEOPLE},
        "invoice": {"station": ("ZIO-2025-11-joy-fm", "ZIO-2025-11-peace-fm")}
        | {r: ("ZIO-2025-11-joy-fm", None) for r in see_all},
        "withdrawal": {"artist": (w1, w3), "rights_holder": (w2, w3)}
        | {r: (w1, None) for r in see_all},
    } | {
        rule: {r: (mine[r][rule], mine["admin" if r != "admin" else "station"][rule])
               for r in PEOPLE}
        for rule in ("notification", "webhook", "webhook_delivery")
    }  # fmt: skip


def test_own_objects_answer_and_others_are_404(pg_app: Flask, people, objects, call) -> None:
    """Every owned operation × every role it admits × own and another's object."""
    spec = pg_app.test_client().get("/api/v1/openapi.json").json
    checked = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            declared = operation["x-zamio-policy"]
            if declared["owner"] is None:
                continue
            for role in declared["roles"]:
                if declared["scope"] and declared["scope"] not in roles.allowed_scopes(role):
                    continue
                own, other = objects[declared["owner"]][role]
                if other is not None:
                    response = call(method.upper(), _ARG.sub(other, path), people[role])
                    assert response.status_code == 404, (method, path, role, response.json)
                response = call(method.upper(), _ARG.sub(own, path), people[role])
                assert 200 <= response.status_code < 300, (method, path, role, response.json)
                checked += 1
    assert checked >= 20
