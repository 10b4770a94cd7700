"""What station staff are told: a top-up and an invoice each reach the station's active staff
once (in their inbox), with a link to the console page; other stations' staff hear nothing."""

from __future__ import annotations

import json
from datetime import date

import pytest
from flask import Flask
from sqlalchemy import select

from central.auth import users
from central.extensions import db
from central.funding import invoices, topups
from central.notifications.models import Notification
from tests.integration.funding.conftest import add_station

pytestmark = pytest.mark.integration

PASSWORD = "a long enough passphrase"


def test_top_ups_and_invoices_are_told_to_the_stations_staff(pg_app: Flask) -> None:
    """Two staff of joy-fm and one of peace-fm: joy-fm's top-up (recorded twice) and its
    invoice each make one notification per joy-fm user, with the amounts in their data."""
    with pg_app.app_context():
        add_station(db.session, "joy-fm", "limit:100000")
        add_station(db.session, "peace-fm")
        desk = users.add_user(db.session, "desk@joy.test", "station", PASSWORD, ("joy-fm",), ())
        boss = users.add_user(db.session, "boss@joy.test", "station", PASSWORD, ("joy-fm",), ())
        users.add_user(db.session, "desk@peace.test", "station", PASSWORD, ("peace-fm",), ())
        db.session.commit()
        joy_ids = sorted([desk.id, boss.id])
        request = topups.TopUpRequest("joy-fm", 2500, "momo", "MP-9")
        for _ in range(2):
            topups.record_topup(db.session, request, "user:1", "api", date(2025, 11, 3))
            db.session.commit()
        invoices.issue_invoice(db.session, "joy-fm", "2025-11", "cli:ops", "cli", 30, int(1e13))
        db.session.commit()
        told = db.session.scalars(select(Notification).order_by(Notification.id)).all()
        by_event = {}
        for n in told:
            by_event.setdefault(n.event, []).append(n)
        assert sorted(by_event) == ["funding.invoice", "funding.topup"]
        assert sorted(n.user_id for n in by_event["funding.topup"]) == joy_ids
        assert sorted(n.user_id for n in by_event["funding.invoice"]) == joy_ids
        topup = by_event["funding.topup"][0]
        assert "GHS 25.00" in topup.subject and topup.link == "/stations/joy-fm/funding"
        assert json.loads(topup.data_json)["reference"] == "MP-9"
        invoice = by_event["funding.invoice"][0]
        assert invoice.link == "/stations/joy-fm/invoices/ZIO-2025-11-joy-fm"
        assert json.loads(invoice.data_json)["amount_due_minor"] == 0
