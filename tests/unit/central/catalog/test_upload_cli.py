"""`zamio catalog upload`, `upload-status` and `review list | approve | reject` on the embedded
defaults: the whole flow without the API."""

from __future__ import annotations

import json
from pathlib import Path

from flask.testing import FlaskCliRunner

from central.cli import cli
from edge_agent.fingerprint import SAMPLE_RATE_HZ
from tests import transforms
from tests.unit.central.catalog.uploading import AMA, KASA, song_file


def zamio(runner: FlaskCliRunner, *args: str, exit_code: int = 0) -> str:
    """Run a zamio command, assert its exit code, return what it printed."""
    result = runner.invoke(cli, list(args))
    assert result.exit_code == exit_code, result.output
    return result.output


def test_upload_review_and_approve_from_the_command_line(
    runner: FlaskCliRunner, tmp_path: Path
) -> None:
    """Ama uploads with the default master pool; Kasa's cut is held; the operator lists the
    review and approves it; both tracks are in the catalogue with their shares."""
    song = transforms.song(61, 50.0)
    path = song_file(tmp_path, "a.wav", song)
    out = zamio(runner, "catalog", "upload", str(path), "--title", "Odo", "--party", AMA,
                "--isrc", "GH-A01-26-00001")  # fmt: skip
    assert out == "upload 1: registered (100 %): track odo\n"
    shares = json.loads(zamio(runner, "royalty", "shares", "show", "odo", "--json"))
    assert shares["master"]["shares"] == [{"party": AMA, "role": "performer", "share_bp": 10000}]
    cut = song_file(tmp_path, "cut.wav", song[: 40 * SAMPLE_RATE_HZ])
    document = {"master": {"isrc": "GH-A01-26-00002", "shares": [
        {"party": KASA, "role": "label", "share_bp": 10000}]}}  # fmt: skip
    out = zamio(runner, "catalog", "upload", str(cut), "--title", "Cut", "--party", KASA,
                "--share", json.dumps(document))  # fmt: skip
    assert out == "upload 2: review (100 %): review 1\n"
    listed = zamio(runner, "catalog", "review", "list")
    assert listed.startswith("review 1: upload 2 'Cut' by cli:")
    assert "same_recording of odo, 40 s shared from 0 s (pending)" in listed
    page = json.loads(zamio(runner, "catalog", "review", "list", "--json"))
    assert [r["id"] for r in page["reviews"]] == [1] and page["next_cursor"] is None
    out = zamio(runner, "catalog", "review", "approve", "1", "--note", "licensed")
    assert out == "review 1: approved; upload 2 registered as track cut\n"
    assert zamio(runner, "catalog", "review", "list") == "0 reviews\n"
    status = json.loads(zamio(runner, "catalog", "upload-status", "2", "--json"))
    assert (status["state"], status["track_external_id"]) == ("registered", "cut")
    assert "cut " in zamio(runner, "catalog", "list") and "odo " in zamio(runner, "catalog", "list")


def test_refusals_and_failures_are_one_line_and_exit_1(
    runner: FlaskCliRunner, tmp_path: Path
) -> None:
    """A refused upload names every problem; a failed one prints its reason; rejecting twice
    and unknown ids are one-line errors."""
    text = tmp_path / "notes.wav"
    text.write_text("not audio")
    out = zamio(runner, "catalog", "upload", str(text), "--title", "X", "--party", AMA,
                "--isrc", "bad", exit_code=1)  # fmt: skip
    assert "upload refused: isrc: 'bad' is no ISRC" in out and "Traceback" not in out
    out = zamio(runner, "catalog", "upload", str(text), "--title", "X", "--party", AMA,
                exit_code=2)  # fmt: skip
    assert "give --share, or --isrc" in out
    short = song_file(tmp_path, "short.wav", transforms.song(62, 1.5))
    out = zamio(runner, "catalog", "upload", str(short), "--title", "X", "--party", AMA,
                "--isrc", "GH-A01-26-00001", exit_code=1)  # fmt: skip
    assert out == "upload 1: failed (100 %): too short: 1.50 s, need at least 3 s\n"
    assert "no upload 9" in zamio(runner, "catalog", "upload-status", "9", exit_code=1)
    assert "no review 4" in zamio(runner, "catalog", "review", "reject", "4", exit_code=1)
