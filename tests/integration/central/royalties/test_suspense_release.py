"""Issue 12 item 5 on real PostgreSQL: royalties of a track with no code are claimable per track,
and shares set later release past suspense to the new owners exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from central.extensions import db
from central.ledger.models import Transfer
from central.ledger.money import format_minor, split_minor
from central.royalties.models import SuspenseItem
from central.royalties.store import find_track
from central.royalties.suspense import RELEASE_CODE
from tests.integration.central.royalties.conftest import (
    accrual,
    assert_ledger_ok,
    balance,
    explanation,
    write_json,
)
from tests.integration.central.royalties.test_cli import ok, refused

pytestmark = pytest.mark.integration

WRITER, LABEL = "artist:ama:earnings", "label:kasa:earnings"
SHARES = {
    "composition": {"iswc": "T-034.524.680-1", "shares": [
        {"party": WRITER, "role": "writer", "share_bp": 5000},
        {"party": None, "role": "publisher", "share_bp": 5000}]},
    "master": {"isrc": "GH-A01-26-00001", "shares": [
        {"party": LABEL, "role": "label", "share_bp": 10_000}]},
}  # fmt: skip


@pytest.fixture
def no_code_plays(pg_app: Flask, row_plays: list[int]) -> list[int]:
    """The three plays of T1, with T1 stripped of its ISRC: nothing names its works."""
    with pg_app.app_context():
        find_track(db.session, "T1").isrc = None
        db.session.commit()
    return row_plays


def pools_of(pg_app: Flask, play_ids: list[int]) -> list[tuple[int, int]]:
    """(composition, master) minor of each play, from its stored explanation."""
    with pg_app.app_context():
        split = [explanation(db.session, p)["split"] for p in play_ids]
    return [(s["composition"]["amount_minor"], s["master"]["amount_minor"]) for s in split]


def test_no_code_suspense_is_listed_and_claimed_by_track(
    pg_app: Flask, pg_runner: FlaskCliRunner, no_code_plays: list[int]
) -> None:
    """A track with no ISRC or shares accrues to suspense under its track; `claim --track`
    moves it (both pools) once; the same key again answers the same claim; the ledger verifies."""
    ok(pg_runner, "royalty", "accrue")
    total = sum(c + m for c, m in pools_of(pg_app, no_code_plays))
    listed = ok(pg_runner, "royalty", "suspense")
    assert "composition (no code) track T1 claimable" in listed
    assert "master (no code) track T1 claimable" in listed
    assert "a track with no code is claimed with --track" in refused(
        pg_runner, "royalty", "claim", "", "--account", WRITER
    )
    claimed = ok(pg_runner, "royalty", "claim", "--track", "T1", "--account", WRITER,
                 "--key", "k1")  # fmt: skip
    assert (
        f"track T1 (composition+master): {format_minor(total, 'GHS')} of 6 suspense items"
        f" moved to {WRITER}" in claimed
    )
    again = ok(pg_runner, "royalty", "claim", "--track", "T1", "--account", WRITER, "--key", "k1")
    assert again.split("(transfer")[1] == claimed.split("(transfer")[1]
    assert "nothing to claim in suspense for track T1" in refused(
        pg_runner, "royalty", "claim", "--track", "T1", "--account", WRITER
    )
    assert "--pool goes with --track" in refused(
        pg_runner, "royalty", "claim", "T0345246801", "--pool", "master", "--account", WRITER
    )
    with pg_app.app_context():
        assert balance(db.session, WRITER) == total
        assert balance(db.session, "suspense:composition") == 0
        assert balance(db.session, "suspense:master") == 0
        assert_ledger_ok(db.session)
    assert ok(pg_runner, "royalty", "suspense") == ""


def test_shares_set_later_release_past_suspense_once(
    pg_app: Flask, pg_runner: FlaskCliRunner, no_code_plays: list[int], tmp_path: Path
) -> None:
    """The issue's scenario: accrue with no shares (all to suspense), set shares: the owned
    parts move to the owners in one transfer per pool, the unclaimed publisher's part waits under
    the ISWC; set them again: nothing more moves; `zamio ledger verify` passes."""
    ok(pg_runner, "royalty", "accrue")
    pools = pools_of(pg_app, no_code_plays)
    document = write_json(tmp_path, "shares.json", SHARES)
    first = ok(pg_runner, "royalty", "shares", "set", "T1", str(document))
    writer_minor = sum(split_minor(c, [5000, 5000])[0] for c, _ in pools)
    kept_minor = sum(c for c, _ in pools) - writer_minor
    master_minor = sum(m for _, m in pools)
    assert (
        f"track T1 composition: past suspense of 3 items released: {writer_minor} minor to the"
        f" owners, {kept_minor} kept under T0345246801" in first
    )
    assert f"track T1 master: past suspense of 3 items released: {master_minor} minor" in first
    second = ok(pg_runner, "royalty", "shares", "set", "T1", str(document))
    assert "released" not in second
    with pg_app.app_context():
        assert balance(db.session, WRITER) == writer_minor
        assert balance(db.session, LABEL) == master_minor
        assert balance(db.session, "suspense:master") == 0
        assert balance(db.session, "suspense:composition") == kept_minor
        releases = db.session.scalars(
            select(Transfer.idempotency_key).where(Transfer.code == RELEASE_CODE)
        ).all()
        track_id = find_track(db.session, "T1").id
        assert sorted(k.rsplit(":", 2)[0] for k in releases) == [
            f"suspense:release:{track_id}:composition",
            f"suspense:release:{track_id}:master",
        ]
        open_items = db.session.scalars(
            select(SuspenseItem).where(SuspenseItem.claim_transfer_id.is_(None))
        ).all()
        assert {(i.pool, i.work_code) for i in open_items} == {("composition", "T0345246801")}
        assert sum(i.amount_minor for i in open_items) == kept_minor
        assert accrual(db.session, no_code_plays[0]).state == "posted"
        assert_ledger_ok(db.session)
    listed = ok(pg_runner, "royalty", "suspense")
    assert f"composition T0345246801 claimable {kept_minor} held 0 minor" in listed
    publisher = "publisher:gold:earnings"
    ok(pg_runner, "royalty", "claim", "T-034.524.680-1", "--account", publisher)
    with pg_app.app_context():
        assert balance(db.session, publisher) == kept_minor
        assert balance(db.session, "suspense:composition") == 0
        count = db.session.scalar(select(func.count()).select_from(Transfer))
        assert_ledger_ok(db.session)
    assert "released" not in ok(pg_runner, "royalty", "shares", "set", "T1", str(document))
    with pg_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Transfer)) == count
