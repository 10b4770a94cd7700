"""`zamio playlog` end to end on SQLite: import seeded songs, log a made-up broadcast."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from central.catalog import store
from central.cli import cli
from central.extensions import db
from edge_agent.fingerprint import FINGERPRINT_VERSION, REFERENCE, SAMPLE_RATE_HZ, fingerprint
from tests import synth, transforms

SONG_S = 60.0


@pytest.fixture
def catalogue(tmp_path: Path) -> dict[str, np.ndarray]:
    """Three seeded songs, written as WAV files and listed in a manifest."""
    songs = {f"song-{seed}": transforms.song(seed, SONG_S) for seed in (41, 42, 43)}
    for name, samples in songs.items():
        synth.write_wav(tmp_path / f"{name}.wav", samples, SAMPLE_RATE_HZ)
    tracks = [{"id": n, "path": f"{n}.wav", "title": n.upper()} for n in songs]
    synth.write_manifest(tmp_path / "catalogue.json", tracks)
    return songs


def broadcast(songs: dict[str, np.ndarray], seed: int) -> tuple[np.ndarray, list[tuple]]:
    """Talk, song-41 at +3 % speed, unknown music, song-43 from its 10th second; with truth."""
    talk = transforms.speech(8.0, seed)
    fast = transforms.speed(songs["song-41"], 1.03)
    unknown = transforms.song(999, 40.0)
    partial = songs["song-43"][int(10 * SAMPLE_RATE_HZ) :]
    parts = [talk, fast, unknown, partial]
    starts = np.cumsum([0] + [len(p) for p in parts]) / SAMPLE_RATE_HZ
    truth = [("song-41", starts[1], starts[2], 1.03), ("song-43", starts[3], starts[4], 1.0)]
    return np.concatenate(parts), truth


def test_playlog_reports_the_broadcast_plays(
    runner: FlaskCliRunner, catalogue: dict[str, np.ndarray], tmp_path: Path
) -> None:
    """Each catalogue song on air is one play with start, end and speed; unknown music is not."""
    result = runner.invoke(cli, ["catalog", "import", str(tmp_path / "catalogue.json")])
    assert result.exit_code == 0, result.output
    samples, truth = broadcast(catalogue, seed=5)
    recording = synth.write_wav(tmp_path / "radio.wav", samples, SAMPLE_RATE_HZ)
    result = runner.invoke(cli, ["playlog", str(recording), "--json"])
    assert result.exit_code == 0, result.output
    plays = json.loads(result.stdout)
    assert [p["track_id"] for p in plays] == [t[0] for t in truth]
    for play, (_, start_s, end_s, speed) in zip(plays, truth, strict=True):
        assert play["start_s"] == pytest.approx(start_s, abs=2.0)
        assert play["end_s"] == pytest.approx(end_s, abs=2.0)
        assert play["speed_ratio"] == pytest.approx(speed, abs=0.005)
        assert 0.5 < play["confidence"] <= 1.0
    text = runner.invoke(cli, ["playlog", str(recording)])
    assert text.exit_code == 0
    assert text.stdout.count("\n") == len(truth)


def test_playlog_names_a_bad_recording(runner: FlaskCliRunner, tmp_path: Path) -> None:
    """A corrupt recording is a one-line error, not a traceback."""
    bad = synth.corrupt_file(tmp_path / "bad.mp3", seed=3)
    result = runner.invoke(cli, ["playlog", str(bad)])
    assert result.exit_code != 0
    assert "bad.mp3" in result.output
    assert "Traceback" not in result.output


def test_playlog_refuses_a_catalogue_of_another_fingerprint_version(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    """Tracks fingerprinted with another version make playlog refuse instead of missing them."""
    samples = transforms.song(44, 20.0)
    with app.app_context():
        store.register_track(
            db.session,
            external_id="old",
            title="old",
            artist=None,
            isrc=None,
            duration_ms=20000,
            content_hash="0123456789abcdef",
            fingerprints=fingerprint(samples, REFERENCE),
            fingerprint_version=FINGERPRINT_VERSION - 1,
        )
        db.session.commit()
    recording = synth.write_wav(tmp_path / "radio.wav", samples, SAMPLE_RATE_HZ)
    result = runner.invoke(cli, ["playlog", str(recording)])
    assert result.exit_code != 0
    assert f"no version {FINGERPRINT_VERSION} fingerprints" in result.output


def test_playlog_splits_a_song_restarted_from_the_top(
    runner: FlaskCliRunner, tmp_path: Path
) -> None:
    """Issue 12: a song aired 104 s, then restarted from 0:00 at +3.8 % for 36 s, is two plays
    (one 104 s, one 36 s), not one play across both."""
    song = transforms.song(47, 150.0)
    synth.write_wav(tmp_path / "long.wav", song, SAMPLE_RATE_HZ)
    synth.write_manifest(tmp_path / "catalogue.json", [{"id": "long", "path": "long.wav"}])
    result = runner.invoke(cli, ["catalog", "import", str(tmp_path / "catalogue.json")])
    assert result.exit_code == 0, result.output
    rate = SAMPLE_RATE_HZ
    restart = transforms.speed(song[: int(36 * 1.038 * rate)], 1.038)
    parts = [transforms.speech(6.0, 2), song[: 104 * rate], restart, transforms.speech(6.0, 3)]
    recording = synth.write_wav(tmp_path / "radio.wav", np.concatenate(parts), rate)
    result = runner.invoke(cli, ["playlog", str(recording), "--json"])
    assert result.exit_code == 0, result.output
    plays = json.loads(result.stdout)
    assert [p["track_id"] for p in plays] == ["long", "long"]
    assert plays[0]["start_s"] == pytest.approx(6.0, abs=2.0)
    assert plays[0]["end_s"] == pytest.approx(110.0, abs=3.0)
    assert plays[1]["start_s"] == pytest.approx(110.0, abs=3.0)
    assert plays[1]["end_s"] == pytest.approx(110.0 + len(restart) / rate, abs=3.0)
    assert plays[1]["speed_ratio"] == pytest.approx(1.038, abs=0.005)


@pytest.mark.parametrize(("aired", "expected"), [("original", "orig"), ("edit", "edit")])
def test_playlog_logs_one_play_for_a_song_and_its_edit(
    runner: FlaskCliRunner, tmp_path: Path, aired: str, expected: str
) -> None:
    """Issue 22: with a song and its radio edit (its seconds 10-50) both imported, airing either
    is one play, as update_plays counts it: the original when it aired, the edit when it did."""
    rate = SAMPLE_RATE_HZ
    original = transforms.song(48, 70.0)
    edit = original[10 * rate : 50 * rate]
    synth.write_wav(tmp_path / "orig.wav", original, rate)
    synth.write_wav(tmp_path / "edit.wav", edit, rate)
    tracks = [{"id": "orig", "path": "orig.wav"}, {"id": "edit", "path": "edit.wav"}]
    synth.write_manifest(tmp_path / "catalogue.json", tracks)
    result = runner.invoke(cli, ["catalog", "import", str(tmp_path / "catalogue.json")])
    assert "near-duplicate of orig" in result.output
    on_air = {"original": original, "edit": edit}[aired]
    parts = [transforms.speech(6.0, 4), on_air, transforms.speech(6.0, 5)]
    recording = synth.write_wav(tmp_path / "radio.wav", np.concatenate(parts), rate)
    result = runner.invoke(cli, ["playlog", str(recording), "--json"])
    assert result.exit_code == 0, result.output
    assert [p["track_id"] for p in json.loads(result.stdout)] == [expected]
