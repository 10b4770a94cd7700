"""`zamio royalty ...` on real PostgreSQL: rate cards and shares from JSON files (hostile ones
refused with clear errors), accrual, explain, holds, claims, statements and blanket pools."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskCliRunner

from central.cli import cli
from central.extensions import db
from central.royalties.models import HELD, RELEASED, VOIDED
from tests.integration.central.royalties.conftest import (
    WALLET,
    accrual,
    balance,
    write_json,
)

pytestmark = pytest.mark.integration

CARD = {
    "code": "broadcast",
    "currency": "GHS",
    "effective_from": "2026-01-01T00:00:00Z",
    "platform_fee_bp": 1000,
    "bands": [{"name": "drive", "start": "06:00", "end": "10:00"}],
    "lines": [
        {"station_class": "*", "band": "*", "basis": "per_second", "rate": "0.005"},
        {"station_class": "A", "band": "drive", "basis": "per_second", "rate": "0.01"},
    ],
}
SHARES = {
    "composition": {
        "iswc": "T-034.524.680-1",
        "shares": [
            {"party": "artist:ama:earnings", "role": "writer", "share_bp": 5000},
            {"party": None, "role": "publisher", "share_bp": 5000},
        ],
    },
    "master": {
        "isrc": "GH-A01-26-00001",
        "shares": [{"party": "label:kasa:earnings", "role": "label", "share_bp": 10_000}],
    },
}


def zamio(runner: FlaskCliRunner, *args: str) -> Result:
    """Run `zamio ARGS` and return the result."""
    return runner.invoke(cli, list(args))


def ok(runner: FlaskCliRunner, *args: str) -> str:
    """Run `zamio ARGS`, fail the test unless it succeeds; its output, runs of spaces as one."""
    result = zamio(runner, *args)
    assert result.exit_code == 0, result.output
    return squash(result.output)


def squash(text: str) -> str:
    """Every line with its runs of spaces made one space (columns change, words do not)."""
    return "\n".join(" ".join(line.split()) for line in text.splitlines())


def refused(runner: FlaskCliRunner, *args: str) -> str:
    """Run `zamio ARGS`, fail the test unless it exits with an error message (no exception
    escaped); its output, squashed."""
    result = zamio(runner, *args)
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    return squash(result.output)


def test_rate_cards_are_added_as_versions_and_listed(
    pg_runner: FlaskCliRunner, tmp_path: Path
) -> None:
    """Each add is the next version; naming an old version is refused; list shows them all."""
    path = write_json(tmp_path, "card.json", CARD)
    assert "rate card broadcast v1 added: GHS, effective from 2026-01-01T00:00:00.000Z, 1 bands," \
        " 2 lines" in ok(pg_runner, "royalty", "ratecard", "add", str(path))  # fmt: skip
    assert "broadcast v2 added" in ok(pg_runner, "royalty", "ratecard", "add", str(path))
    old = write_json(tmp_path, "old.json", {**CARD, "version": 1})
    assert "versions are immutable and added in order; the next version is 3" in refused(
        pg_runner, "royalty", "ratecard", "add", str(old)
    )
    listed = ok(pg_runner, "royalty", "ratecard", "list")
    assert "broadcast v1 GHS from 2026-01-01T00:00:00.000Z fee 10 %" in listed
    assert "class A band drive per_second 1,000,000 micro-minor" in listed
    records = json.loads(ok(pg_runner, "royalty", "ratecard", "list", "--json"))
    assert [r["version"] for r in records] == [1, 2]


def test_hostile_documents_are_refused_with_clear_errors(
    pg_runner: FlaskCliRunner, row_plays: list[int], tmp_path: Path
) -> None:
    """Broken JSON says where; shares not adding up, a bad ISRC, an unknown track, a rate card
    with a bad band each say what is wrong; nothing is stored."""
    broken = tmp_path / "broken.json"
    broken.write_text('{"code": "broadcast",')
    assert "not JSON: Expecting property name enclosed in double quotes at line 1, column 22" in (
        refused(pg_runner, "royalty", "ratecard", "add", str(broken))
    )
    bad_card = write_json(tmp_path, "bad.json", {**CARD, "bands": [{"name": "x", "start": "25:00",
                                                                    "end": "26:00"}]})  # fmt: skip
    assert "band x: start and end are two different HH:MM" in refused(
        pg_runner, "royalty", "ratecard", "add", str(bad_card)
    )
    short = {
        "composition": {**SHARES["composition"], "shares": SHARES["composition"]["shares"][:1]}
    }
    out = refused(
        pg_runner, "royalty", "shares", "set", "T1", str(write_json(tmp_path, "s.json", short))
    )
    assert "composition: shares add up to 50 %, not 100 %" in out
    bad_isrc = {"master": {**SHARES["master"], "isrc": "GH-A01-2"}}
    out = refused(
        pg_runner, "royalty", "shares", "set", "T1", str(write_json(tmp_path, "i.json", bad_isrc))
    )
    assert "master: 'GH-A01-2' is no ISRC" in out
    good = str(write_json(tmp_path, "good.json", SHARES))
    assert "no track 'nope'" in refused(pg_runner, "royalty", "shares", "set", "nope", good)
    assert "none.json: cannot be read" in refused(
        pg_runner, "royalty", "ratecard", "add", str(tmp_path / "none.json")
    )
    assert "no rate cards yet" in ok(pg_runner, "royalty", "ratecard", "list")
    assert "composition: no shares on file" in ok(pg_runner, "royalty", "shares", "show", "T1")


def test_accrue_explain_and_statement(
    pg_app: Flask, pg_runner: FlaskCliRunner, row_plays: list[int], tmp_path: Path
) -> None:
    """Shares set, a batch accrued; explain shows price, split and legs (text and JSON); the
    day's statement of the writer has opening, entries, closing."""
    ok(pg_runner, "royalty", "ratecard", "add", str(write_json(tmp_path, "c.json", CARD)))
    assert "track T1 composition T0345246801: 2 shares (1 unclaimed)" in ok(
        pg_runner, "royalty", "shares", "set", "T1", str(write_json(tmp_path, "s.json", SHARES))
    )
    assert "3 plays: 3 posted" in ok(pg_runner, "royalty", "accrue", "--limit", "5")
    assert "0 plays: nothing to do" in ok(pg_runner, "royalty", "accrue")
    text = ok(pg_runner, "royalty", "explain", str(row_plays[0]))
    assert 'play 1 at joy-fm: T1 "Title T1", 2026-09-01T00:00:00.000Z' in text
    assert "accrual posted: GHS 0.90" in text and "rate card broadcast v1" in text
    assert "180000 ms x 500000 micro-minor/s / 1e9 = 90" in text
    assert "publisher 50.00 % GHS 0.20 suspense:composition (unclaimed)" in text
    assert "debit station:joy-fm:wallet" in text and "credit label:kasa:earnings" in text
    record = json.loads(ok(pg_runner, "royalty", "explain", str(row_plays[0]), "--json"))
    legs = record["transfers"][0]["legs"]
    assert sum(x["amount_minor"] for x in legs if x["side"] == "credit") == 90
    assert record["explanation"]["split"]["platform_fee"]["amount_minor"] == 9
    day = record["transfers"][0]["created_at"][:10]
    statement = ok(pg_runner, "royalty", "statement", "artist:ama:earnings", "--day", day)
    assert "opening GHS 0.00" in statement and "closing GHS 0.63" in statement
    assert statement.count("royalty posted GHS 0.21") == 3
    next_day = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    later = ok(pg_runner, "royalty", "statement", "artist:ama:earnings", "--day", next_day)
    assert "opening GHS 0.63" in later and "royalty:play" not in later
    assert "a day as YYYY-MM-DD" in refused(pg_runner, "royalty", "statement", WALLET, "--day", "x")
    assert "has no accrual" in refused(pg_runner, "royalty", "explain", "999")


def test_hold_release_void_and_claim(
    pg_app: Flask, pg_runner: FlaskCliRunner, row_plays: list[int]
) -> None:
    """Hold, release, hold again, void, with default keys; a claim of the ISRC's suspense."""
    ok(pg_runner, "royalty", "accrue")
    play = str(row_plays[0])
    assert "GHS 0.90 held" in ok(pg_runner, "royalty", "hold", play, "--reason", "wrong song")
    assert "GHS 0.90 released" in ok(pg_runner, "royalty", "release", play)
    assert "released, not held" in refused(pg_runner, "royalty", "release", play)
    ok(pg_runner, "royalty", "hold", play, "--reason", "again")
    assert "voided" in ok(pg_runner, "royalty", "void", play)
    with pg_app.app_context():
        assert accrual(db.session, row_plays[0]).state == VOIDED
        assert accrual(db.session, row_plays[1]).state not in (HELD, RELEASED)
    listed = ok(pg_runner, "royalty", "suspense")
    assert "master GHA012600001 claimable 90" in listed
    claimed = ok(
        pg_runner, "royalty", "claim", "GH-A01-26-00001", "--account", "label:kasa:earnings"
    )
    assert "GHA012600001: GHS 0.90 of 2 plays moved to label:kasa:earnings" in claimed
    assert "nothing to claim" in refused(
        pg_runner, "royalty", "claim", "GHA012600001", "--account", "label:kasa:earnings"
    )
    with pg_app.app_context():
        assert balance(db.session, "label:kasa:earnings") == 90


def test_station_tariff_and_blanket(
    pg_app: Flask, pg_runner: FlaskCliRunner, row_plays: list[int], tmp_path: Path
) -> None:
    """A station moved to class C (blanket) and its September pool shared out by the CLI."""
    card = {
        **CARD,
        "lines": [*CARD["lines"], {"station_class": "C", "basis": "blanket", "rate": "1"}],
    }
    ok(pg_runner, "royalty", "ratecard", "add", str(write_json(tmp_path, "c.json", card)))
    assert "class C, time zone Africa/Lagos" in ok(
        pg_runner, "royalty", "station", "joy-fm", "--class", "C", "--timezone", "Africa/Lagos"
    )
    assert "IANA name" in refused(pg_runner, "royalty", "station", "joy-fm", "--timezone", "Mars")
    assert "3 plays: 3 blanket" in ok(pg_runner, "royalty", "accrue")
    out = ok(pg_runner, "royalty", "blanket", "joy-fm", "2026-09", "--pool", "10.00")
    assert "joy-fm 2026-09: GHS 10.00 shared over 3 plays" in out
    assert "GHS 10.00 shared" in ok(
        pg_runner, "royalty", "blanket", "joy-fm", "2026-09", "--pool", "10"
    )
    assert "not a GHS amount" in refused(
        pg_runner, "royalty", "blanket", "joy-fm", "2026-08", "--pool", "1.001"
    )
    with pg_app.app_context():
        assert balance(db.session, WALLET) == -1000
        assert sorted(accrual(db.session, p).amount_minor for p in row_plays) == [333, 333, 334]
