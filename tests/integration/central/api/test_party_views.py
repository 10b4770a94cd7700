"""GET /api/v1/plays, /plays/{id}/royalty and /earnings[/statement|/breakdown] through the test
client with real tokens: each role sees its own plays and earnings, another party's are 404,
pages follow next_cursor, and the numbers are the ledger's."""

# ruff: noqa: F811  (pytest passes the imported fixtures `call` and `people` by parameter name)

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from central.extensions import db, utc_now
from central.ledger.queries import balance
from central.royalties import jobs, store
from central.royalties.rights import PoolShares, RightsLine
from central.stations.models import Station
from central.times import ms_of
from tests.integration.central import rows

# the accounts tests' fixtures (people of every role with tokens, and a client that sends them)
from tests.integration.central.auth.conftest import call, people  # noqa: F401
from tests.integration.central.royalties.conftest import TARIFF, add_card, card_document

pytestmark = pytest.mark.integration

AMA, LABEL, KOFI = "artist:ama:earnings", "label:adomi:earnings", "artist:kofi:earnings"
DAY = {"since": rows.T0_MS, "until": rows.T0_MS + 86_400_000}


@pytest.fixture
def accrued(pg_app: Flask, people) -> dict:
    """Track A (Ama 40 %, the label 60 % of the master) played twice at joy-fm and once at
    peace-fm, track B (Kofi's) once at joy-fm, all accrued; an open play of A at peace-fm.
    Returns the play ids by name."""
    with pg_app.app_context():
        session = db.session
        joy, peace = (session.scalar(select(Station).where(Station.code == c))
                      for c in ("joy-fm", "peace-fm"))  # fmt: skip
        a, b = rows.add_track(session, "A"), rows.add_track(session, "B")
        a.isrc, b.isrc = "GHA012600001", "GHA012600002"
        lines = (RightsLine(AMA, "performer", 4000), RightsLine(LABEL, "label", 6000))
        store.set_track_shares(session, a.id, PoolShares("master", "GHA012600001", lines))
        kofi = (RightsLine(KOFI, "performer", 10000),)
        store.set_track_shares(session, b.id, PoolShares("master", "GHA012600002", kofi))
        made = {}
        for n, (name, track, station) in enumerate(
            [("a1", a, joy), ("a2", a, joy), ("a3", a, peace), ("b1", b, joy)]
        ):
            made[name] = rows.add_play(session, station, track, rows.T0_MS + n * 600_000).id
        made["open"] = rows.add_play(session, peace, a, rows.T0_MS + 3_600_000, closed=False).id
        session.commit()
        add_card(session, card_document())
        jobs.accrue_batch(session, 100, TARIFF)
    return made


def play_ids(response) -> list[int]:
    """The ids of a page of plays (asserting a 200)."""
    assert response.status_code == 200, response.json
    return [p["id"] for p in response.json["plays"]]


def test_each_role_lists_its_own_plays(call, people, accrued) -> None:
    """The artist and the label see A's plays, station staff joy-fm's, the admin all; filters
    narrow within that."""
    everything = [accrued[n] for n in ("a1", "a2", "a3", "b1", "open")]
    assert play_ids(call("GET", "/api/v1/plays", people["admin"], query_string=DAY)) == everything
    mine = [accrued[n] for n in ("a1", "a2", "a3", "open")]
    assert play_ids(call("GET", "/api/v1/plays", people["artist"], query_string=DAY)) == mine
    assert play_ids(call("GET", "/api/v1/plays", people["rights_holder"], query_string=DAY)) == mine
    joy = [accrued[n] for n in ("a1", "a2", "b1")]
    assert play_ids(call("GET", "/api/v1/plays", people["station"], query_string=DAY)) == joy
    args = {**DAY, "station": "peace-fm", "status": "closed"}
    assert play_ids(call("GET", "/api/v1/plays", people["artist"], query_string=args)) == [
        accrued["a3"]
    ]
    args = {**DAY, "track": "B"}
    assert play_ids(call("GET", "/api/v1/plays", people["artist"], query_string=args)) == []


def test_play_pages_follow_next_cursor(call, people, accrued) -> None:
    """limit=1 pages give the artist's four plays once each, newest first, then null."""
    seen, cursor = [], None
    while True:
        args = {**DAY, "limit": 1, "order": "desc", **({"cursor": cursor} if cursor else {})}
        response = call("GET", "/api/v1/plays", people["artist"], query_string=args)
        seen += play_ids(response)
        cursor = response.json["next_cursor"]
        if cursor is None:
            break
    assert seen == [accrued[n] for n in ("open", "a3", "a2", "a1")]
    bad = call("GET", "/api/v1/plays", people["artist"], query_string={"cursor": "xyz"})
    assert bad.status_code == 400 and "cursor" in bad.json["detail"]


def test_a_plays_royalty_is_its_parties_and_stations_only(call, people, accrued) -> None:
    """The artist reads A's royalty explanation; B's play and its royalty are 404 to her; A's
    open play's royalty is hers but not accrued yet; station staff read joy-fm's."""
    own = call("GET", f"/api/v1/plays/{accrued['a1']}/royalty", people["artist"])
    assert own.status_code == 200, own.json
    assert own.json["state"] == "posted" and own.json["amount_minor"] > 0
    shares = own.json["explanation"]["split"]["master"]["shares"]
    assert {s["party"] for s in shares} == {AMA, LABEL}
    for path in (f"/api/v1/plays/{accrued['b1']}", f"/api/v1/plays/{accrued['b1']}/royalty"):
        assert call("GET", path, people["artist"]).status_code == 404
    unaccrued = call("GET", f"/api/v1/plays/{accrued['open']}/royalty", people["artist"])
    assert unaccrued.status_code == 200, unaccrued.json
    assert unaccrued.json["state"] == "not_accrued" and unaccrued.json["transfers"] == []
    assert (
        call("GET", f"/api/v1/plays/{accrued['b1']}/royalty", people["station"]).status_code == 200
    )
    assert (
        call("GET", f"/api/v1/plays/{accrued['a3']}/royalty", people["station"]).status_code == 404
    )


def test_earnings_are_the_callers_parties(call, people, accrued, pg_app: Flask) -> None:
    """Balances of the artist's party; another party is 404; an admin names one (400 without);
    station staff have no earnings (403)."""
    with pg_app.app_context():
        ama = balance(db.session, AMA).balance_minor
    response = call("GET", "/api/v1/earnings", people["artist"])
    assert response.status_code == 200, response.json
    assert [(b["code"], b["balance_minor"]) for b in response.json["balances"]] == [(AMA, ama)]
    assert (
        call("GET", "/api/v1/earnings", people["artist"], query_string={"party": KOFI}).status_code
        == 404
    )
    assert call("GET", "/api/v1/earnings", people["admin"]).status_code == 400
    by_admin = call("GET", "/api/v1/earnings", people["admin"], query_string={"party": KOFI})
    assert by_admin.status_code == 200 and by_admin.json["balances"][0]["balance_minor"] > 0
    assert call("GET", "/api/v1/earnings", people["station"]).status_code == 403


def test_statement_and_breakdown_add_up_to_the_balance(
    call, people, accrued, pg_app: Flask
) -> None:
    """The artist's statement pages (limit 1) end at her balance; her breakdown by station
    splits it 2:1 between joy-fm and peace-fm; another party's statement is 404."""
    with pg_app.app_context():
        ama = balance(db.session, AMA).balance_minor
    now = ms_of(utc_now())
    span = {"since": now - 86_400_000, "until": now + 60_000}
    lines, cursor = [], None
    while True:
        args = {**span, "limit": 1, **({"cursor": cursor} if cursor else {})}
        response = call("GET", "/api/v1/earnings/statement", people["artist"], query_string=args)
        assert response.status_code == 200, response.json
        lines += response.json["lines"]
        cursor = response.json["next_cursor"]
        if cursor is None:
            break
    assert len(lines) == 3 and lines[-1]["balance_minor"] == ama == response.json["closing_minor"]
    args = {**span, "by": "station"}
    found = call("GET", "/api/v1/earnings/breakdown", people["artist"], query_string=args).json
    amounts = {r["station"]: r["amount_minor"] for r in found["rows"]}
    assert amounts == {"joy-fm": 2 * ama // 3, "peace-fm": ama // 3} and found["total_minor"] == ama
    other = {**span, "party": KOFI}
    assert (
        call("GET", "/api/v1/earnings/statement", people["artist"], query_string=other).status_code
        == 404
    )
    bad = call("GET", "/api/v1/earnings/breakdown", people["artist"], query_string={"by": "day"})
    assert bad.status_code == 400
    too_wide = {"since": 0, "until": now}
    assert (
        call(
            "GET", "/api/v1/earnings/breakdown", people["artist"], query_string=too_wide
        ).status_code
        == 400
    )
