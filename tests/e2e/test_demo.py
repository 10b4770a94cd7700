"""`zamio demo` end to end, as a newcomer runs it: no services, no configuration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from central.demo.programme import SYNTH_CATALOGUE
from central.ledger.money import split_minor

PER_SECOND_MICRO_MINOR = 500_000  # the built-in card: GHS 0.005 a second
EDGE_S_MAX = 2.5  # a play's edges are this close to when the song was on air


def _env(tmp_path: Path) -> dict[str, str]:
    """The environment of a fresh machine: no ZAMIO_* setting, a data dir of the test's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZAMIO_")}
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    return env


def _zamio(args: list[str], env: dict[str, str], timeout_s: float = 240) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "central", *args],
        env=env, capture_output=True, text=True, timeout=timeout_s,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path, dict[str, str]]:
    """One `zamio demo --keep --json` run, shared by the tests of this module."""
    tmp_path = tmp_path_factory.mktemp("demo")
    env = _env(tmp_path)
    report = json.loads(_zamio(["demo", "--keep", "--json"], env))
    return report, tmp_path / "data" / "zamio" / "demo", env


def test_the_play_log_is_the_programme(demo: tuple[dict, Path, dict[str, str]]) -> None:
    """Every registered song aired 30 s or more is one closed play, at the right time and speed;
    the 20 s song and the unregistered one give none."""
    report, _, _ = demo
    plays, programme = report["plays"], report["programme"]
    assert [p["track"] for p in plays] == ["zd-001", "zd-002", "zd-004"]
    assert programme["missed"] == [] and programme["extra"] == []
    aired = {a["track"]: a for a in programme["aired"]}
    for play in plays:
        song = aired[play["track"]]
        assert play["status"] == "closed"
        assert abs(play["start_s"] - song["start_s"]) <= EDGE_S_MAX, play
        assert abs(play["end_s"] - song["end_s"]) <= EDGE_S_MAX, play
    assert abs(plays[1]["speed_ratio"] - 1.02) < 0.005, "played 2 % fast"
    assert report["quarantined"] == 0


def test_an_artist_sees_their_plays_and_earnings_through_the_api(
    demo: tuple[dict, Path, dict[str, str]],
) -> None:
    """The demo's artist token reads their plays and their balance over /api/v1, the same as the
    ledger's, with read scopes only; another party's earnings are 404."""
    report, _, _ = demo
    view = report["artist_view"]
    balances = {b["code"]: b["balance_minor"] for b in report["balances"]}
    paid_out = report["payout"]["amount_minor"]  # after the view: half of it withdrawn
    assert view["balance_minor"] == balances[view["party"]] + paid_out > 0
    assert 1 <= view["plays"] <= len(report["plays"])
    assert view["others_status"] == 404
    reads = ["catalog:read", "ledger:read", "notifications:read", "plays:read"]
    assert sorted(view["scopes"]) == reads
    assert view["token_prefix"].startswith("zamio_pat_")


def test_balances_are_the_plays_royalties(demo: tuple[dict, Path, dict[str, str]]) -> None:
    """Each play is priced by the built-in card; the station owes their sum and the artists,
    label and publisher are credited their shares of it, to the pesewa; the ledger verifies."""
    report, _, _ = demo
    balances = {b["code"]: b["balance_minor"] for b in report["balances"]}
    expected: dict[str, int] = {}
    titles = {t.external_id: t for t in SYNTH_CATALOGUE}
    for play in report["plays"]:
        seconds_ms = round((play["end_s"] - play["start_s"]) * 1000)
        assert abs(play["royalty_minor"] - seconds_ms * PER_SECOND_MICRO_MINOR / 1e9) <= 1
        track = titles[play["track"]]
        composition, master = split_minor(play["royalty_minor"], [5000, 5000])
        for pool_minor, lines in ((composition, "composition"), (master, "master")):
            shares = track.shares()[lines]["shares"]
            parts = split_minor(pool_minor, [s["share_bp"] for s in shares])
            for share, part in zip(shares, parts, strict=True):
                expected[share["party"]] = expected.get(share["party"], 0) + part
    total = sum(p["royalty_minor"] for p in report["plays"])
    assert balances.pop("station:demo-fm:wallet") == -total
    payout = report["payout"]  # the first artist withdrew half of theirs, paid by the simulator
    assert payout["status"] == "paid" and payout["amount_minor"] == expected[payout["party"]] // 2
    assert balances.pop("settlement:momo:mtn") == -payout["amount_minor"]
    expected[payout["party"]] -= payout["amount_minor"]
    assert {k: v for k, v in balances.items() if v} == expected
    assert "artist:efua-nyarko:earnings" not in expected, "her song was on air only 20 s"
    # three royalties, and the payout's hold and its posting
    assert report["ledger"]["problems"] == [] and report["ledger"]["transfers"] == 5


def test_kept_data_is_there_for_the_other_commands(
    demo: tuple[dict, Path, dict[str, str]],
) -> None:
    """With --keep, `zamio plays` and `zamio ledger verify` read the demo's database."""
    report, folder, env = demo
    env = {**env, "ZAMIO_DATABASE_URL": report["database_url"]}
    assert report["database_url"] == f"sqlite:///{folder / 'zamio.db'}"
    listed = json.loads(_zamio(["plays", "--station", "demo-fm", "--json"], env))
    assert [p["track"]["external_id"] for p in listed] == ["zd-001", "zd-002", "zd-004"]
    assert "ledger ok" in _zamio(["ledger", "verify"], env)
