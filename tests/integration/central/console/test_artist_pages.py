"""The artists' and rights holders' pages on PostgreSQL, signed in through /login: the
dashboard's numbers are the API's for the same data, its charts' data the series functions',
another party's play is a 404, and the statement CSV is the API's statement, line by line."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask, template_rendered
from sqlalchemy import select

from central.auth import roles, tokens, users
from central.extensions import db, utc_now
from central.ledger import posting
from central.plays import queries
from central.royalties import earnings, jobs, statements, store
from central.royalties.rights import PoolShares, RightsLine
from central.stations.models import Station
from central.times import at_ms, now_ms
from tests.integration.central import rows
from tests.integration.central.console.conftest import PASSWORD, sign_in
from tests.integration.central.royalties.conftest import TARIFF, add_card, card_document

pytestmark = pytest.mark.integration

AMA, LABEL, KOFI = "artist:ama:earnings", "label:adomi:earnings", "artist:kofi:earnings"
DAY_MS = 86_400_000
OLD_DAYS = 70  # a play (and its royalty) before the dashboard's 30 days, some months back
_CHART = re.compile(r'<script type="application/json" id="([a-z-]+)-data">(.*?)</script>', re.S)


@pytest.fixture
def earned(pg_app: Flask, console_people, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Track A (Ama 40 %, the label 60 % of the master) and B (Kofi's): A played 70 days ago
    (accrued then, by the ledger's clock), twice at joy-fm two days ago and at peace-fm
    yesterday; B at joy-fm yesterday; all accrued now; an open play of A an hour ago."""
    now = now_ms()
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
        made = {"old": rows.add_play(session, joy, a, now - OLD_DAYS * DAY_MS).id}
        session.commit()
        add_card(session, card_document())
        then = at_ms(now - OLD_DAYS * DAY_MS + 3_600_000)
        monkeypatch.setattr(posting, "utc_now", lambda: then)  # the ledger's clock, back then
        jobs.accrue_batch(session, 100, TARIFF)
        monkeypatch.setattr(posting, "utc_now", utc_now)
        for name, track, station, ago_ms in [
            ("a1", a, joy, 2 * DAY_MS), ("a2", a, joy, 2 * DAY_MS - 600_000),
            ("a3", a, peace, DAY_MS), ("b1", b, joy, DAY_MS),
        ]:  # fmt: skip
            made[name] = rows.add_play(session, station, track, now - ago_ms).id
        made["open"] = rows.add_play(session, peace, a, now - 3_600_000, closed=False).id
        session.commit()
        jobs.accrue_batch(session, 100, TARIFF)
    return made


def api_token(app: Flask, email: str) -> str:
    """A token of every scope the user's role allows."""
    with app.app_context():
        user = users.get_user(db.session, email)
        scopes = roles.allowed_scopes(user.role)
        _, token = tokens.create_token(db.session, user, "t", scopes, timedelta(days=1), utc_now())
        db.session.commit()
    return token


def api(app: Flask, token: str, path: str, **params: Any) -> Any:
    """GET an API path as the token's user; its JSON (asserting a 200)."""
    response = app.test_client().get(
        path, headers={"Authorization": f"Bearer {token}"}, query_string=params
    )
    assert response.status_code == 200, response.json
    return response.json


@contextmanager
def rendered(app: Flask) -> Iterator[dict[str, dict]]:
    """The context of each template rendered meanwhile, by template name."""
    seen: dict[str, dict] = {}

    def record(sender: Flask, template: Any, context: dict, **_: Any) -> None:
        seen[template.name] = context

    template_rendered.connect(record, app)
    try:
        yield seen
    finally:
        template_rendered.disconnect(record, app)


def charts(html: str) -> dict[str, dict]:
    """The JSON data of each chart on a page, by chart id."""
    return {name: json.loads(body) for name, body in _CHART.findall(html)}


def test_dashboard_numbers_are_the_apis(pg_app: Flask, console_client, earned) -> None:
    """Balance, per-day plays, per-month earnings, top stations and tracks and recent plays on
    Ama's dashboard equal what the API answers her for the same span."""
    client = console_client("artist")
    with rendered(pg_app) as seen:
        page = client.get("/")
    assert page.status_code == 200, page.text
    shown = seen["artist/dashboard.html"]
    token = api_token(pg_app, "ama@artists.test")
    span = {"since": shown["span"].since_ms, "until": shown["span"].until_ms}
    (balance,) = api(pg_app, token, "/api/v1/earnings")["balances"]
    assert shown["balance"].balance_minor == balance["balance_minor"] > 0
    assert shown["days"] == api(pg_app, token, "/api/v1/plays/daily", days=30)["days"]
    months = api(pg_app, token, "/api/v1/earnings/series", months=12)["months"]
    assert [{k: m[k] for k in ("month", "amount_minor", "entries")} for m in shown["months"]] == (
        months
    )
    assert sum(m["amount_minor"] for m in months) == balance["balance_minor"]
    for by, key in (("station", "top_stations"), ("track", "top_tracks")):
        api_rows = api(pg_app, token, "/api/v1/earnings/breakdown", by=by, **span)["rows"]
        assert [{k: r[k] for k in r if k != "currency"} for r in shown[key]] == api_rows[:5]
    assert [r["station"] for r in shown["top_stations"]] == ["joy-fm", "peace-fm"]
    recent = api(pg_app, token, "/api/v1/plays", order="desc", limit=10, **span)["plays"]
    assert [p["id"] for p in shown["recent"]] == [p["id"] for p in recent]
    assert [p["id"] for p in recent] == [earned[n] for n in ("open", "a3", "a2", "a1")]
    assert f"{balance['balance_minor'] // 100:,}.{balance['balance_minor'] % 100:02d}" in page.text
    for n in ("open", "a3", "a2", "a1"):
        assert f'href="/plays/{earned[n]}"' in page.text
    assert f'href="/plays/{earned["b1"]}"' not in page.text


def test_chart_data_is_the_series_functions(pg_app: Flask, console_client, earned) -> None:
    """The JSON beside each canvas is the plays-per-day and earnings-per-month series, as the
    domain functions give them (earnings as exact decimals of the currency)."""
    page = console_client("artist").get("/")
    assert page.status_code == 200
    drawn = charts(page.text)
    now = now_ms()
    with pg_app.app_context():
        days = queries.plays_per_day(db.session, queries.last_days(now, 30), frozenset({AMA}))
        months = earnings.monthly(db.session, AMA, earnings.last_months(now, 12)).months
    assert drawn["plays-chart"]["labels"] == [d["day"] for d in days]
    assert drawn["plays-chart"]["datasets"][0]["data"] == [d["plays"] for d in days]
    assert sum(d["plays"] for d in days) == 4  # a1, a2, a3 and the open one; not B's
    assert drawn["earnings-chart"]["labels"] == [m["month"] for m in months]
    assert drawn["earnings-chart"]["datasets"][0]["data"] == [
        statements.decimal_text(m["amount_minor"], "GHS") for m in months
    ]
    assert len([m for m in months if m["amount_minor"]]) == 2  # 70 days ago, and now
    assert 'role="img" aria-label="' in page.text and "Plays per UTC day</caption>" in page.text


def test_another_partys_play_is_404_and_ones_own_is_explained(console_client, earned) -> None:
    """Ama opens A's play with its price, split and transfers; B's play (Kofi's) is a 404 to
    her, as in the API; station staff see joy-fm's plays, not peace-fm's."""
    ama = console_client("artist")
    own = ama.get(f"/plays/{earned['a1']}")
    assert own.status_code == 200, own.text
    for text in ("broadcast v1", "per_second", AMA, LABEL, "Transfer", "Platform fee"):
        assert text in own.text
    assert ama.get(f"/plays/{earned['b1']}").status_code == 404
    assert ama.get("/plays/999999").status_code == 404
    unaccrued = ama.get(f"/plays/{earned['open']}")
    assert unaccrued.status_code == 200 and "not accrued" in unaccrued.text
    desk = console_client("station")
    assert desk.get(f"/plays/{earned['b1']}").status_code == 200
    assert desk.get(f"/plays/{earned['a3']}").status_code == 404
    assert console_client("admin").get(f"/plays/{earned['a3']}").status_code == 200


def test_statement_csv_is_the_apis_statement(pg_app: Flask, console_client, earned) -> None:
    """This month's CSV (an attachment, a header row) has the API statement's lines in order,
    with minor units and their decimals; the page shows its opening and closing balance."""
    month = earnings.last_months(now_ms(), 1)[0]
    span = earnings.month_range(month)
    client = console_client("rights_holder")
    download = client.get(f"/statements/download?month={month}")
    assert download.status_code == 200, download.text
    assert download.headers["Content-Disposition"].startswith("attachment; filename=")
    assert download.mimetype == "text/csv"
    table = list(csv.reader(io.StringIO(download.text)))
    assert tuple(table[0]) == statements.COLUMNS
    token = api_token(pg_app, "label@adomi.test")
    statement = api(pg_app, token, "/api/v1/earnings/statement", since=span.since_ms,
                    until=span.until_ms, limit=1000)  # fmt: skip
    assert len(table) - 1 == len(statement["lines"]) == 3  # a1, a2, a3
    for row, line in zip(table[1:], statement["lines"]):
        got = dict(zip(statements.COLUMNS, row))
        assert int(got["seq"]) == line["seq"] and got["key"] == line["key"]
        assert int(got["amount_minor"]) == line["amount_minor"]
        assert int(got["balance_minor"]) == line["balance_minor"]
        assert got["amount"] == statements.decimal_text(line["amount_minor"], "GHS")
        assert int(got["play_id"]) == line["play_id"]
    page = client.get(f"/statements?month={month}")
    assert page.status_code == 200
    for amount in (statement["opening_minor"], statement["closing_minor"]):
        assert f"GHS {amount // 100:,}.{amount % 100:02d}" in page.text
    assert "Statement of label:adomi:earnings for " in page.text


def test_a_user_of_two_parties_picks_one(pg_app: Flask, console_people, earned) -> None:
    """Someone who speaks for Ama and Kofi sees Ama's (the first) by default, Kofi's when
    picked; a party not theirs is a 404 on the dashboard and the statement."""
    with pg_app.app_context():
        users.add_user(db.session, "both@artists.test", "artist", PASSWORD, (), (AMA, KOFI))
        db.session.commit()
    client = sign_in(pg_app, "both@artists.test")
    with rendered(pg_app) as seen:
        assert client.get("/").status_code == 200
        assert seen["artist/dashboard.html"]["party"] == AMA
        kofi = client.get(f"/?party={KOFI}")
        assert kofi.status_code == 200 and seen["artist/dashboard.html"]["party"] == KOFI
    assert [p["id"] for p in seen["artist/dashboard.html"]["recent"]] == [earned["b1"]]
    assert '<select id="party" name="party">' in kofi.text
    assert client.get(f"/?party={LABEL}").status_code == 404
    assert client.get(f"/statements?party={LABEL}").status_code == 404
    assert client.get(f"/statements/download?party={LABEL}").status_code == 404


def test_station_staff_and_admins_have_no_artist_pages(console_client, earned) -> None:
    """The statements and tracks pages are for artists and rights holders: 403 to others."""
    for role in ("station", "admin"):
        client = console_client(role)
        for path in ("/statements", "/tracks", "/statements/download"):
            assert client.get(path).status_code == 403, (role, path)


def test_the_series_apis_are_scoped(pg_app: Flask, earned) -> None:
    """/earnings/series and /plays/daily: another party is a 404; a bad months or days is a
    400; Kofi's series counts his one play."""
    token = api_token(pg_app, "ama@artists.test")
    client = pg_app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    for path in ("/api/v1/earnings/series", "/api/v1/plays/daily"):
        assert client.get(path, headers=headers, query_string={"party": KOFI}).status_code == 404
    bad = client.get("/api/v1/earnings/series", headers=headers, query_string={"months": 0})
    assert bad.status_code == 400
    bad = client.get("/api/v1/plays/daily", headers=headers, query_string={"days": 400})
    assert bad.status_code == 400
    with pg_app.app_context():
        users.add_user(db.session, "kofi@artists.test", "artist", PASSWORD, (), (KOFI,))
        db.session.commit()
    kofi = api(pg_app, api_token(pg_app, "kofi@artists.test"), "/api/v1/plays/daily", days=3)
    assert sum(d["plays"] for d in kofi["days"]) == 1 and len(kofi["days"]) == 3


def test_statement_lines_are_the_apis_pages_joined(pg_app: Flask, earned) -> None:
    """statement_lines, read one line at a time after the first page, gives the lines and
    running balances of the API's statement walked page by page (limit 1) and of one page."""
    month = earnings.month_range(earnings.last_months(now_ms(), 1)[0])
    token = api_token(pg_app, "label@adomi.test")
    walked, cursor = [], None
    while True:
        params = {"since": month.since_ms, "until": month.until_ms, "limit": 1}
        page = api(pg_app, token, "/api/v1/earnings/statement",
                   **params, **({"cursor": cursor} if cursor else {}))  # fmt: skip
        walked += page["lines"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    with pg_app.app_context():
        one_by_one = list(earnings.statement_lines(db.session, LABEL, month, batch_lines=1))
        at_once = list(earnings.statement_lines(db.session, LABEL, month))
        assert list(earnings.statement_lines(db.session, LABEL, month, frozenset({AMA}))) == []
    assert len(walked) == 3 and one_by_one == walked == at_once
