"""Earnings on PostgreSQL and SQLite, from plays accrued by the real jobs: a party's balances,
statement pages and per-track / per-station breakdowns are its own, add up to what the ledger
posted it in the period (holds, releases and claims included), and the rollup they read stays
equal to a rebuild from the journal."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import delete
from sqlalchemy.orm import Session

from central.cli import cli
from central.errors import QueryError
from central.extensions import db, utc_now
from central.ledger.queries import balance
from central.plays.queries import TimeRange, time_range
from central.royalties import earnings, holds, jobs, periods, rollup, store
from central.royalties.rights import PoolShares, RightsLine
from central.royalties.suspense import claim_track_suspense
from central.times import ms_of
from tests.integration.central import rows
from tests.integration.central.royalties.conftest import TARIFF, add_card, card_document

pytestmark = pytest.mark.integration

AMA, KOFI, LABEL = "artist:ama:earnings", "artist:kofi:earnings", "label:adomi:earnings"
DAY_MS = 86_400_000
WIDE_MS = 366 * DAY_MS


@pytest.fixture(params=["postgresql", "sqlite"])
def any_app(request: pytest.FixtureRequest) -> Flask:
    """pg_app or the SQLite app."""
    return request.getfixturevalue("pg_app" if request.param == "postgresql" else "app")


@pytest.fixture
def session(any_app: Flask) -> Iterator[Session]:
    """The app's session in an app context."""
    with any_app.app_context():
        yield db.session


@pytest.fixture
def accrued(session: Session) -> dict:
    """Track A (master: Ama 40 %, the label 60 %; no composition shares, so that pool waits in
    suspense) played 3 times at joy-fm and twice at peace-fm, track B (Kofi's) twice at joy-fm;
    every play accrued by accrue_batch. Returns the stations, tracks and play ids."""
    joy, peace = rows.add_station(session, "joy-fm"), rows.add_station(session, "peace-fm")
    a, b = rows.add_track(session, "A"), rows.add_track(session, "B")
    a.isrc, b.isrc = "GHA012600001", "GHA012600002"
    master = (RightsLine(AMA, "performer", 4000), RightsLine(LABEL, "label", 6000))
    store.set_track_shares(session, a.id, PoolShares("master", "GHA012600001", master))
    kofi = (RightsLine(KOFI, "performer", 10000),)
    store.set_track_shares(session, b.id, PoolShares("master", "GHA012600002", kofi))
    plays = {"A": [], "B": []}
    for n, (track, station) in enumerate([(a, joy)] * 3 + [(a, peace)] * 2 + [(b, joy)] * 2):
        start_ms = rows.T0_MS + n * 10 * rows.MINUTE_MS
        plays[track.external_id].append(rows.add_play(session, station, track, start_ms).id)
    session.commit()
    add_card(session, card_document())
    jobs.accrue_batch(session, 100, TARIFF)
    return {"joy": joy, "peace": peace, "plays": plays}


def around_now(days: int = 1) -> TimeRange:
    """[now - days, now + days): every transfer of the test."""
    now_ms = ms_of(utc_now())
    return time_range(now_ms - days * DAY_MS, now_ms + days * DAY_MS, WIDE_MS)


def this_month() -> TimeRange:
    """The current UTC month: a span the rollup answers whole."""
    first = periods.month_start_ms(ms_of(utc_now()))
    return time_range(first, periods.next_month_ms(first), WIDE_MS)


def by_key(breakdown: earnings.Breakdown) -> dict[str, int]:
    """{track or station: amount_minor} of a breakdown."""
    return {row.get("track") or row["station"]: row["amount_minor"] for row in breakdown.rows}


def assert_adds_up(session: Session, code: str, span: TimeRange) -> None:
    """Both breakdowns total the statement's movement over `span`, rows plus other."""
    page = earnings.statement_page(session, code, span)
    for by in earnings.BREAKDOWN_BY:
        found = earnings.breakdown(session, code, by, span)
        assert found.total_minor == page.closing_minor - page.opening_minor
        assert found.total_minor == found.other_minor + sum(r["amount_minor"] for r in found.rows)


def assert_rollup_is_rebuilt(session: Session) -> None:
    """The rollup the postings kept equals one rebuilt from the journal."""
    kept = rollup.stored_rows(session)
    rollup.rebuild(session)
    assert rollup.stored_rows(session) == kept
    session.rollback()


def test_balances_are_the_callers_parties_only(session: Session, accrued: dict) -> None:
    """A party's balances are its accounts' (zero for one with no account yet); a party out of
    scope is not found; a see-all caller must name one."""
    ama = balance(session, AMA).balance_minor
    assert ama > 0
    found = earnings.balances(session, frozenset({AMA, "artist:new:earnings"}))
    assert [(b.code, b.balance_minor) for b in found] == [(AMA, ama), ("artist:new:earnings", 0)]
    assert earnings.balances(session, frozenset({AMA}), KOFI) == []
    assert [b.code for b in earnings.balances(session, None, KOFI)] == [KOFI]
    with pytest.raises(QueryError, match="party"):
        earnings.balances(session, None)


def test_breakdown_per_track_and_station_adds_up_to_the_ledger(
    session: Session, accrued: dict
) -> None:
    """Ama's credits split by track (A only) and by station (3 joy plays, 2 peace plays) add
    up to her balance, the same from the rollup (a whole month), from entries (a day) and from
    both (a span with partial months at each end)."""
    ama = balance(session, AMA).balance_minor
    spans = (around_now(), this_month(), around_now(45))
    for span in spans:
        tracks = earnings.breakdown(session, AMA, "track", span)
        stations = earnings.breakdown(session, AMA, "station", span)
        assert by_key(tracks) == {"A": ama} and tracks.other_minor == 0
        assert sum(by_key(stations).values()) == ama and set(by_key(stations)) == {
            "joy-fm", "peace-fm"
        }  # fmt: skip
        assert_adds_up(session, AMA, span)
    per_play = ama // 5  # five equal plays of A, split exactly
    assert by_key(earnings.breakdown(session, AMA, "station", spans[1])) == {
        "joy-fm": 3 * per_play, "peace-fm": 2 * per_play
    }  # fmt: skip
    assert earnings.breakdown(session, AMA, "track", spans[0], frozenset({KOFI})) is None
    before = time_range(0, ms_of(utc_now()) - DAY_MS, 10**15)
    assert earnings.breakdown(session, AMA, "track", before).total_minor == 0
    assert_rollup_is_rebuilt(session)


def test_holds_releases_and_claims_move_the_breakdown_as_the_ledger(
    session: Session, accrued: dict
) -> None:
    """A hold takes a play's credit back from its track, its release gives it again, a claim of
    suspense counts as other; at each step the breakdown totals the ledger and the rollup
    equals its rebuild."""
    ama = balance(session, AMA).balance_minor
    play = accrued["plays"]["A"][0]
    holds.hold_play(session, play, "disputed", "d-1", TARIFF, "b")
    session.commit()
    after_hold = by_key(earnings.breakdown(session, AMA, "track", around_now()))
    assert after_hold == {"A": ama - ama // 5} == {"A": balance(session, AMA).balance_minor}
    assert_adds_up(session, AMA, this_month())
    holds.release_hold(session, play, "r-1")
    claim = claim_track_suspense(session, "A", AMA, "claim-1", "composition")
    session.commit()
    for span in (around_now(), this_month()):
        found = earnings.breakdown(session, AMA, "track", span)
        assert by_key(found) == {"A": ama} and found.other_minor == claim.amount_minor > 0
        assert found.total_minor == balance(session, AMA).balance_minor
        assert_adds_up(session, AMA, span)
    assert_rollup_is_rebuilt(session)


def test_statement_pages_neither_repeat_nor_skip(session: Session, accrued: dict) -> None:
    """Pages of 2 lines, followed by next_cursor, are the lines of one big page, with the same
    running balances, ending at the closing balance."""
    holds.hold_play(session, accrued["plays"]["A"][1], "disputed", "d-1", TARIFF, "b")
    session.commit()
    span = around_now()
    whole = earnings.statement_page(session, AMA, span, 1000)
    lines, cursor = [], None
    while True:
        page = earnings.statement_page(session, AMA, span, 2, cursor)
        lines += page.lines
        cursor = page.next_cursor
        if cursor is None:
            break
    assert lines == whole.lines and len(lines) == 7  # 5 credits, a reversal, a pending hold
    assert whole.opening_minor == 0 and lines[-1]["balance_minor"] == whole.closing_minor
    assert whole.closing_minor == balance(session, AMA).balance_minor
    assert lines[-1]["state"] == "pending" and lines[-1]["play_id"] == accrued["plays"]["A"][1]
    assert earnings.statement_page(session, AMA, span, parties=frozenset({KOFI})) is None
    with pytest.raises(QueryError, match="cursor"):
        earnings.statement_page(session, AMA, span, 2, "bm90LWEtY3Vyc29y")


def test_royalty_explanation_is_scoped_like_its_play(session: Session, accrued: dict) -> None:
    """The explanation of A's play is Ama's, the label's and joy-fm's staff's to see, not
    Kofi's nor peace-fm's."""
    play = accrued["plays"]["A"][0]
    record = earnings.play_royalty(session, play, frozenset({AMA}))
    assert record["play_id"] == play and record["transfers"][0]["key"] == f"royalty:play:{play}"
    assert earnings.play_royalty(session, play, frozenset({LABEL})) is not None
    assert earnings.play_royalty(session, play, frozenset({KOFI})) is None
    assert earnings.play_royalty(session, play, None, frozenset({accrued["joy"].id})) is not None
    assert earnings.play_royalty(session, play, None, frozenset({accrued["peace"].id})) is None
    unaccrued = rows.add_play(session, accrued["joy"], rows.add_track(session, "C"), rows.T0_MS)
    session.commit()
    assert earnings.play_royalty(session, unaccrued.id, None)["state"] == earnings.NOT_ACCRUED


def test_rollup_command_checks_and_rebuilds(any_app: Flask, accrued: dict) -> None:
    """`zamio royalty rollup --check` passes on a kept rollup, fails once rows are lost, and
    `zamio royalty rollup` rebuilds them."""
    runner = any_app.test_cli_runner()
    result = runner.invoke(cli, ["royalty", "rollup", "--check"])
    assert result.exit_code == 0 and "matches the ledger" in result.output, result.output
    with any_app.app_context():
        db.session.execute(delete(rollup.EarningsPeriod).where(rollup.EarningsPeriod.key_id > 0))
        db.session.commit()
    with any_app.app_context():
        lost = len(rollup.stored_rows(db.session))
    result = runner.invoke(cli, ["royalty", "rollup", "--check"])
    assert result.exit_code == 1 and "differ from the ledger" in result.output
    with any_app.app_context():
        assert len(rollup.stored_rows(db.session)) == lost  # --check changed nothing
    result = runner.invoke(cli, ["royalty", "rollup"])
    assert result.exit_code == 0 and "rows changed" in result.output, result.output
    assert runner.invoke(cli, ["royalty", "rollup", "--check"]).exit_code == 0
