"""Station staff's pages: their station and nobody else's (404), live device health, the play
log of a day (filters, pages) and its CSV the same as the API's, and the wallet's statement."""

from __future__ import annotations

import csv
import dataclasses
import io
import re

import pytest
from flask import Flask

from central.extensions import db
from central.ledger import accounts, posting
from central.ledger.transfer import TransferRequest, credit, debit
from central.monitoring.store import record_event, record_status
from central.stations import store as stations
from central.times import now_ms
from tests.integration.central.rows import MINUTE_MS, T0_MS, add_play, add_track
from tests.unit.central.monitoring.payloads import EVENTS_TOPIC, STATUS_TOPIC, event, heartbeat

pytestmark = pytest.mark.integration

TOKEN = "zamio-test-token-0123456789_abcdefghijklmno"
DAY = "2026-09-01"  # T0_MS
NEXT_DAY_MS = T0_MS + 86_400_000
ROW_ID = re.compile(r'<tr id="play-(\d+)"')


@pytest.fixture
def log(pg_app: Flask, console_people) -> dict:
    """At joy-fm on DAY: 105 plays alternating tracks A and =B (a title a spreadsheet would
    run), the last one open; one play on the next day; one play at peace-fm. The API's token."""
    pg_app.config["ZAMIO"] = dataclasses.replace(pg_app.config["ZAMIO"], api_token=TOKEN)
    with pg_app.app_context():
        joy, peace = (
            stations.find_station(db.session, "joy-fm"),
            stations.find_station(db.session, "peace-fm"),
        )
        a, b = add_track(db.session, "A"), add_track(db.session, "=B", artist="@evil")
        for n in range(105):
            add_play(db.session, joy, (a, b)[n % 2], T0_MS + n * 10 * MINUTE_MS, closed=n < 104)
        add_play(db.session, joy, a, NEXT_DAY_MS + MINUTE_MS)
        add_play(db.session, peace, a, T0_MS)
        db.session.commit()
    return {"api": pg_app.test_client()}


def api_plays(log: dict, **params) -> list[dict]:
    """Every play of joy-fm's API log on DAY with these filters."""
    response = log["api"].get(
        "/api/v1/stations/joy-fm/plays",
        headers={"Authorization": f"Bearer {TOKEN}"},
        query_string={"since": T0_MS, "until": NEXT_DAY_MS, "limit": 1000, **params},
    )
    assert response.status_code == 200, response.json
    return response.json["plays"]


def page_ids(client, path: str) -> list[int]:
    """The play ids of a play log, following its pager to the end."""
    ids: list[int] = []
    while path:
        page = client.get(path)
        assert page.status_code == 200, page.text
        ids += [int(i) for i in ROW_ID.findall(page.text)]
        more = re.search(r'<a href="([^"]+)" rel="next"', page.text)
        path = more.group(1).replace("&amp;", "&") if more else ""
    return ids


def test_station_staff_land_on_their_station(console_client) -> None:
    """`/` for a one-station user is that station's page: health, devices, wallet, links."""
    page = console_client("station").get("/")
    assert page.status_code == 200
    assert "Station joy-fm" in page.text and "Health and devices" in page.text
    assert 'hx-get="/stations/joy-fm/health"' in page.text and "Wallet" in page.text


@pytest.mark.parametrize("tail", ["", "/health", "/plays", "/plays.csv", "/wallet"])
def test_another_stations_pages_are_404(console_client, tail: str) -> None:
    """joy-fm's staff get 404 for every page of peace-fm and of a station that does not exist;
    admins and auditors open peace-fm's; artists are refused (403)."""
    station = console_client("station")
    assert station.get(f"/stations/peace-fm{tail}").status_code == 404
    assert station.get(f"/stations/nope{tail}").status_code == 404
    assert station.get(f"/stations/joy-fm{tail}").status_code == 200
    for role in ("admin", "auditor"):
        assert console_client(role).get(f"/stations/peace-fm{tail}").status_code == 200
    assert console_client("artist").get(f"/stations/joy-fm{tail}").status_code == 403


def test_a_user_of_several_stations_gets_the_list(pg_app: Flask, console_people) -> None:
    """`/` for staff of two stations lists both, each with its devices' state."""
    from central.auth import users
    from tests.integration.central.console.conftest import PASSWORD, sign_in

    with pg_app.app_context():
        users.add_user(db.session, "two@x.test", "station", PASSWORD, ("joy-fm", "peace-fm"), ())
        db.session.commit()
    page = sign_in(pg_app, "two@x.test").get("/")
    assert page.status_code == 200 and "Your stations" in page.text
    assert "/stations/joy-fm" in page.text and "/stations/peace-fm" in page.text


def test_health_shows_each_devices_live_state_and_events(pg_app: Flask, console_client) -> None:
    """An online device and its dead-air event, a never-seen one; the fragment is the same."""
    with pg_app.app_context():
        stations.add_device(db.session, "pi-01", "joy-fm")
        stations.add_device(db.session, "pi-09", "joy-fm")
        now = now_ms()
        record_status(db.session, STATUS_TOPIC, heartbeat(now), now)
        record_event(db.session, EVENTS_TOPIC, event("dead_air", now - 5_000), now)
        db.session.commit()
    client = console_client("station")
    fragment = client.get("/stations/joy-fm/health", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    for text in ("pi-01", "badge-online", "pi-09", "badge-never_seen", "badge-dead_air"):
        assert text in fragment.text
    assert "badge-dead_air" in client.get("/stations/joy-fm").text


def test_the_play_log_of_a_day_is_the_apis(console_client, log) -> None:
    """The day's plays, page after page, are exactly the API's for that day, in its order; the
    filters by track and status too; another day's play and another station's are not there."""
    client = console_client("station")
    assert page_ids(client, f"/stations/joy-fm/plays?day={DAY}") == [
        p["id"] for p in api_plays(log)
    ]
    assert len(page_ids(client, f"/stations/joy-fm/plays?day={DAY}")) == 105
    for params in ({"track": "A"}, {"status": "open"}, {"track": "=B", "status": "closed"}):
        query = "&".join(f"{k}={v}" for k, v in params.items()).replace("=B", "%3DB")
        ids = page_ids(client, f"/stations/joy-fm/plays?day={DAY}&{query}")
        assert ids == [p["id"] for p in api_plays(log, **params)]
    assert len(page_ids(client, "/stations/joy-fm/plays?day=2026-09-02")) == 1


@pytest.mark.parametrize("query", ["day=2026-13-01", "day=yesterday", "status=paused",
                                   "day=0001-01-01", "cursor=junk"])  # fmt: skip
def test_bad_play_log_arguments_are_400(console_client, log, query: str) -> None:
    """A malformed day, status or cursor is a 400 page, never a 500."""
    assert console_client("station").get(f"/stations/joy-fm/plays?{query}").status_code == 400


def test_the_csv_of_a_day_is_the_apis(console_client, log) -> None:
    """text/csv with a header row, one line per play of the API's log in order, times ISO-8601
    UTC, the same filters; a title a spreadsheet would run is quoted with a leading '."""
    client = console_client("station")
    response = client.get(f"/stations/joy-fm/plays.csv?day={DAY}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    plays = api_plays(log)
    assert [int(r["play_id"]) for r in rows] == [p["id"] for p in plays]
    for row, play in zip(rows, plays, strict=True):
        assert (row["start"], row["end"], row["status"]) == (play["start"], play["end"],
                                                            play["status"])  # fmt: skip
        assert row["start"].endswith("Z") and int(row["duration_ms"]) == play["duration_ms"]
    assert {r["track"] for r in rows} == {"A", "'=B"} and "'@evil" in {r["artist"] for r in rows}
    closed = client.get(f"/stations/joy-fm/plays.csv?day={DAY}&status=open")
    assert [int(r["play_id"]) for r in csv.DictReader(io.StringIO(closed.text))] == [
        p["id"] for p in api_plays(log, status="open")
    ]


def open_accounts() -> None:
    """joy-fm's wallet (no floor), Ama's earnings and the bank."""
    for code, kind, unbounded in (
        ("station:joy-fm:wallet", "station_wallet", True),
        ("artist:ama:earnings", "artist_earnings", None),
        ("settlement:bank", "settlement", None),
    ):
        accounts.open_account(db.session, accounts.account_spec(code, kind, unbounded=unbounded))


def royalty(key: str, amount_minor: int) -> None:
    """A royalty charged to joy-fm's wallet, paid to Ama."""
    legs = (
        debit("station:joy-fm:wallet", amount_minor),
        credit("artist:ama:earnings", amount_minor),
    )
    posting.post_transfer(db.session, TransferRequest(key, "royalty", legs))


def test_the_wallet_shows_what_is_owed_and_paid(pg_app: Flask, console_client) -> None:
    """Royalties charged to joy-fm's wallet and a payment in: the balances `zamio ledger
    balance` shows, and this month's lines with the balance after each."""
    with pg_app.app_context():
        open_accounts()
        royalty("royalty:test:1", 1250)
        posting.post_transfer(
            db.session,
            TransferRequest(
                "topup:test:1",
                "topup",
                (debit("settlement:bank", 500), credit("station:joy-fm:wallet", 500)),
            ),
        )
        db.session.commit()  # fmt: skip
    client = console_client("station")
    page = client.get("/stations/joy-fm/wallet")
    assert page.status_code == 200
    for text in ("GHS -7.50", "GHS 12.50", "GHS 5.00", "royalty", "topup"):
        assert text in page.text, text
    assert "GHS -7.50" in client.get("/stations/joy-fm").text
    earlier = client.get("/stations/joy-fm/wallet?month=2026-01")
    assert earlier.status_code == 200 and "Nothing charged or paid in this month" in earlier.text
    for month in ("2026-1", "9999-12", "june"):
        assert client.get(f"/stations/joy-fm/wallet?month={month}").status_code == 400


def test_the_wallet_statement_is_paged(pg_app: Flask, console_client) -> None:
    """55 royalties: 50 lines, then the rest after the pager's link; the last line's balance
    is the statement's closing balance, which is the wallet's."""
    with pg_app.app_context():
        open_accounts()
        for n in range(55):
            royalty(f"royalty:test:{n}", 100)
        db.session.commit()
    client = console_client("station")
    first = client.get("/stations/joy-fm/wallet")
    assert first.text.count("<td>royalty</td>") == 50
    more = re.search(r'<a href="([^"]+)" rel="next"', first.text)
    assert more is not None
    rest = client.get(more.group(1).replace("&amp;", "&"))
    assert rest.text.count("<td>royalty</td>") == 5 and 'rel="next"' not in rest.text
    assert rest.text.count("GHS -55.00") >= 3  # the last line, the closing, the balance
