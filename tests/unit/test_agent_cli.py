"""zamio-agent command line: fingerprint a file into a batch file, inspect it, fail cleanly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from edge_agent.batch import WINDOW_FRAMES, HashBatch, decode_batch
from edge_agent.batchfile import FILE_MAGIC, read_batch_file
from edge_agent.cli import main
from edge_agent.decode import decode_file
from edge_agent.fingerprint import FINGERPRINT_VERSION, fingerprint

REPO_ROOT = Path(__file__).resolve().parents[2]
RATE_HZ = 16000


def synth_music(seed: int, duration_s: float) -> np.ndarray:
    """Notes with harmonics and a little noise, made from `seed`: peaky like music."""
    rng = np.random.default_rng(seed)
    note_samples = int(0.25 * RATE_HZ)
    t = np.arange(note_samples) / RATE_HZ
    envelope = np.minimum(1.0, 20 * t) * np.exp(-3.0 * t)
    notes = []
    for _ in range(int(duration_s / 0.25)):
        tone = np.zeros(note_samples)
        for f0 in rng.uniform(220.0, 1200.0, 2):
            for harmonic, gain in ((1, 1.0), (2, 0.5), (3, 0.25)):
                tone += gain * np.sin(2 * np.pi * f0 * harmonic * t + rng.uniform(0, 6.3))
        notes.append(tone * envelope)
    signal = np.concatenate(notes) + 0.01 * rng.standard_normal(len(notes) * note_samples)
    return (0.3 * signal / np.abs(signal).max()).astype(np.float32)


@pytest.fixture
def song(tmp_path: Path) -> Path:
    """A 25 s synthetic song as a 16 kHz WAV file."""
    path = tmp_path / "song one.wav"
    soundfile.write(path, synth_music(seed=7, duration_s=25.0), RATE_HZ)
    return path


def read_batches(path: Path) -> list[HashBatch]:
    """Every batch of a batch file, decoded."""
    with path.open("rb") as stream:
        return [decode_batch(payload) for payload in read_batch_file(stream)]


def pairs(hashes: np.ndarray, anchors: np.ndarray) -> list[tuple[int, int]]:
    """(anchor frame, hash) pairs, sorted, to compare sets of fingerprints."""
    return sorted(zip(anchors.tolist(), hashes.tolist(), strict=True))


def test_fingerprint_batches_hold_exactly_the_whole_signal_hashes(
    song: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Chunked streaming plus windowing loses and duplicates nothing: batches == fingerprint()."""
    out = tmp_path / "song.zhbs"
    assert main(["fingerprint", str(song), "-o", str(out), "--device-id", "pi-7"]) == 0
    batches = read_batches(out)
    whole = fingerprint(decode_file(song))
    assert len(whole) > 100
    got = pairs(
        np.concatenate([b.hashes for b in batches]),
        np.concatenate([b.anchor_frames for b in batches]),
    )
    assert got == pairs(whole.hashes, whole.anchor_frames)
    assert [b.seq for b in batches] == list(range(len(batches)))
    assert len(batches) == -(-int(25.0 / 0.032) // WINDOW_FRAMES)  # 25 s of 32 ms frames
    starts = [b.first_frame for b in batches]
    assert starts == [i * WINDOW_FRAMES for i in range(len(batches))]
    assert {(b.device_id, b.source_id, b.fingerprint_version) for b in batches} == {
        ("pi-7", "song one", FINGERPRINT_VERSION)
    }
    summary = capsys.readouterr().err
    for word in ("audio", "25.0 s", f"batches          {len(batches)}", "per hash", "MB"):
        assert word in summary


def test_fingerprint_options_shape_the_batches(song: Path, tmp_path: Path) -> None:
    """--window-s, --source-id and --start-ms reach every batch."""
    out = tmp_path / "song.zhbs"
    argv = ["fingerprint", str(song), "-o", str(out), "--window-s", "5", "--source-id", "fm-1"]
    assert main([*argv, "--start-ms", "1700000000000"]) == 0
    batches = read_batches(out)
    assert {b.window_frames for b in batches[:-1]} == {156}  # 5 s / 32 ms, rounded
    assert all(b.source_id == "fm-1" and b.device_id == "local" for b in batches)
    assert [b.window_start_ms for b in batches[:2]] == [1_700_000_000_000, 1_700_000_004_992]


def test_inspect_prints_one_line_per_batch(
    song: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """inspect lists every batch with its seq, start, hash count and size."""
    out = tmp_path / "song.zhbs"
    assert main(["fingerprint", str(song), "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["inspect", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    batches = read_batches(out)
    assert len(lines) == 1 + len(batches)
    assert lines[0].split() == [
        "seq",
        "first_frame",
        "start_s",
        "window_start_utc",
        "frames",
        "hashes",
        "bytes",
    ]
    first = lines[1].split()
    assert first[0] == "0" and first[2] == "0.00" and first[5] == str(len(batches[0]))
    assert first[3] == "1970-01-01T00:00:00.000Z"


def assert_one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    """stderr holds exactly one error line and no traceback; return it."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and err.startswith("zamio-agent: error: ")
    return err


@pytest.mark.parametrize("kind", ["missing", "garbage", "silent", "short"])
def test_fingerprint_bad_input_exits_2(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unusable input file gives one clear line on stderr, exit 2, and no output file."""
    path = tmp_path / "input.wav"
    if kind == "garbage":
        path.write_bytes(np.random.default_rng(1).bytes(5000))
    elif kind == "silent":
        soundfile.write(path, np.zeros(5 * RATE_HZ, np.float32), RATE_HZ)
    elif kind == "short":
        soundfile.write(path, synth_music(seed=1, duration_s=1.0), RATE_HZ)
    out = tmp_path / "out.zhbs"
    assert main(["fingerprint", str(path), "-o", str(out)]) == 2
    assert str(path) in assert_one_line_error(capsys)
    assert not out.exists()


def test_fingerprint_unwritable_output_exits_1(
    song: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An output path that cannot be written gives one line on stderr and exit 1."""
    out = tmp_path / "no such dir" / "out.zhbs"
    assert main(["fingerprint", str(song), "-o", str(out)]) == 1
    assert "cannot write" in assert_one_line_error(capsys)


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"RIFF....WAVEfmt ", "not a batch file"),
        (FILE_MAGIC + b"\x01\x10\x00\x00\x00abc", "cut short"),
        (FILE_MAGIC + b"\x01\x05\x00\x00\x00ZHB\x02\x00", "truncated"),
    ],
)
def test_inspect_bad_file_exits_2(
    data: bytes, reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """inspect refuses a non-batch file, a cut record or a bad batch with one line and exit 2."""
    path = tmp_path / "bad.zhbs"
    path.write_bytes(data)
    assert main(["inspect", str(path)]) == 2
    assert reason in assert_one_line_error(capsys)


def test_inspect_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """inspect of a file that does not exist exits 2 with one line."""
    assert main(["inspect", str(tmp_path / "nothing.zhbs")]) == 2
    assert "cannot read" in assert_one_line_error(capsys)


@pytest.mark.parametrize(
    "extra",
    [["--window-s", "0"], ["--window-s", "ten"], ["--window-s", "100"], ["--device-id", "x" * 65]],
)
def test_bad_arguments_exit_2(extra: list[str], song: Path, tmp_path: Path) -> None:
    """Out-of-range options are usage errors (exit 2) before any work is done."""
    with pytest.raises(SystemExit) as raised:
        main(["fingerprint", str(song), "-o", str(tmp_path / "o.zhbs"), *extra])
    assert raised.value.code == 2


def test_python_m_edge_agent(song: Path, tmp_path: Path) -> None:
    """`python -m edge_agent` runs the same command line and returns its exit code."""
    out = tmp_path / "song.zhbs"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, "-m", "edge_agent"]
    done = subprocess.run(
        [*command, "fingerprint", str(song), "-o", str(out)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "MB" in done.stderr
    done = subprocess.run(
        [*command, "inspect", str(tmp_path / "missing")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr


def agent_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m edge_agent ARGS` from the repository, its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "edge_agent", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
        timeout=30,
        check=False,
    )


BAD_CONFIG = """device_id = "pi/01"
station_id = "joy-fm"
colour = "blue"
[uplink]
url = "http://broker:1883"
password = "hunter2-not-here"
[[source]]
id = "fm"
kind = "stream"
"""


def test_check_config_reports_every_problem(tmp_path: Path) -> None:
    """check-config lists each problem on its own line, exits 2, and never echoes a password."""
    config = tmp_path / "agent.toml"
    config.write_text(BAD_CONFIG)
    result = agent_cli("check-config", "--config", str(config))
    assert result.returncode == 2
    problems = [
        line for line in result.stderr.splitlines() if line.startswith("zamio-agent: config")
    ]
    assert len(problems) >= 5, result.stderr
    for fragment in ("device_id", "colour", "url", "password_file", "url is required"):
        assert fragment in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_run_with_a_bad_config_exits_at_once(tmp_path: Path) -> None:
    """`run` refuses an invalid config with exit 2 (systemd is told not to restart on 2)."""
    config = tmp_path / "agent.toml"
    config.write_text(BAD_CONFIG)
    result = agent_cli("run", "--config", str(config))
    assert result.returncode == 2 and "colour" in result.stderr


def test_check_config_prints_the_effective_settings(tmp_path: Path) -> None:
    """A valid config prints as JSON with defaults filled in and the password hidden."""
    (tmp_path / "secret").write_text("s3cret-value\n")
    config = tmp_path / "agent.toml"
    config.write_text(
        'device_id = "pi-01"\nstation_id = "joy-fm"\n'
        '[uplink]\nusername = "pi-01"\npassword_file = "secret"\n'
        '[[source]]\nid = "fm"\nkind = "stream"\nurl = "http://radio.example/live.mp3"\n'
    )
    env = {**os.environ, "ZAMIO_AGENT_HEALTH_DEAD_AIR_S": "20"}
    result = agent_cli("check-config", "--config", str(config), env=env)
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["health"]["dead_air_s"] == 20.0
    assert printed["sources"][0]["station_id"] == "joy-fm"
    assert "s3cret" not in result.stdout


def test_version_names_the_package_and_the_fingerprint(capsys: pytest.CaptureFixture[str]) -> None:
    """--version prints the installed version and the fingerprint version, and exits 0."""
    from importlib import metadata

    with pytest.raises(SystemExit) as raised:
        main(["--version"])
    assert raised.value.code == 0
    printed = capsys.readouterr().out.strip()
    assert printed == (
        f"zamio-agent {metadata.version('zamio')} (fingerprint version {FINGERPRINT_VERSION})"
    )


def test_window_option_shows_seconds_in_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    """--window-s takes seconds, and its help says so (not WINDOW_FRAMES)."""
    with pytest.raises(SystemExit):
        main(["fingerprint", "--help"])
    usage = capsys.readouterr().out
    assert "--window-s SECONDS" in usage and "WINDOW_FRAMES" not in usage


def test_check_config_refuses_a_directory_spool_and_a_far_future_start(tmp_path: Path) -> None:
    """check-config exits 2 for a spool path that is a directory and a start_ms in year 5138."""
    (tmp_path / "spool").mkdir()
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    config = tmp_path / "agent.toml"
    config.write_text(
        'device_id = "pi-01"\nstation_id = "joy-fm"\n[spool]\npath = "spool"\n'
        '[[source]]\nid = "log"\nkind = "file"\npath = "a.wav"\nstart_ms = 99999999999999\n'
    )
    result = agent_cli("check-config", "--config", str(config))
    assert result.returncode == 2, result.stdout
    assert f"[spool] path: {tmp_path / 'spool'} is a directory" in result.stderr
    assert "start_ms: must be UTC milliseconds from 2000-01-01 to 2100-01-01" in result.stderr
    assert "in the year 5138" in result.stderr
