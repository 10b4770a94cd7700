"""Tests of the broadcast simulator (bench/simulate.py) on tone melodies made from a seed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from bench import accuracy, channel, simulate
from bench.programme import PRESETS, make_plan
from bench.truth import check_truth

SOURCE_RATE_HZ = 22050
DURATION_S = 300.0


def melody(rng: np.random.Generator, duration_s: float) -> np.ndarray:
    """Return a random melody of enveloped harmonic tones, one note every 0.2-0.5 s."""
    notes = []
    while sum(len(n) for n in notes) < duration_s * SOURCE_RATE_HZ:
        t = np.arange(int(rng.uniform(0.2, 0.5) * SOURCE_RATE_HZ)) / SOURCE_RATE_HZ
        frequency_hz = 110.0 * 2 ** (rng.integers(0, 48) / 12)
        tone = sum(np.sin(2 * np.pi * frequency_hz * k * t) / k for k in (1, 2, 3))
        notes.append(tone * np.exp(-3.0 * t) * rng.uniform(0.2, 0.6))
    return np.concatenate(notes)[: int(duration_s * SOURCE_RATE_HZ)].astype(np.float32)


def write_manifest(directory: Path, name: str, durations_s: list[float], seed: int) -> Path:
    """Write melodies as WAV files and a manifest listing them; return the manifest path."""
    rng = np.random.default_rng(seed)
    tracks = []
    for index, duration_s in enumerate(durations_s):
        path = directory / f"{name}{index}.wav"
        samples = melody(rng, duration_s)
        if index == 0:  # one stereo file, to cover the downmix
            samples = np.stack([samples, samples * 0.5], axis=1)
        soundfile.write(path, samples, SOURCE_RATE_HZ)
        row = {"id": f"{name}{index}", "title": f"{name} {index}", "duration_s": duration_s}
        tracks.append({**row, "path": str(path)})
    manifest = directory / f"{name}.json"
    manifest.write_text(json.dumps({"tracks": tracks}))
    return manifest


@pytest.fixture(scope="module")
def manifests(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Return (catalogue, held-out) manifests of synthetic tracks."""
    directory = tmp_path_factory.mktemp("corpus")
    catalogue = write_manifest(directory, "cat", [36.0, 42.0, 45.0, 48.0, 50.0, 40.0, 44.0], 1)
    heldout = write_manifest(directory, "held", [38.0, 46.0], 2)
    return catalogue, heldout


@pytest.fixture(scope="module")
def clean_run(manifests: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Simulate the clean preset once; return paths, samples and truth."""
    out_dir = tmp_path_factory.mktemp("clean")
    audio_path, truth_path = simulate.simulate(*manifests, "clean", DURATION_S, 7, out_dir)
    samples, rate_hz = soundfile.read(audio_path, dtype="float32")
    return {"samples": samples, "rate_hz": rate_hz, "truth": json.loads(truth_path.read_text())}


def test_clean_programme_has_the_asked_length_and_a_sound_truth(clean_run: dict):
    """The FLAC lasts exactly the duration at 16 kHz and the truth breaks no invariant."""
    assert clean_run["rate_hz"] == 16000
    assert len(clean_run["samples"]) == DURATION_S * 16000
    assert check_truth(clean_run["truth"]) == []


def test_clean_truth_has_every_kind_of_segment(clean_run: dict):
    """Plays, a back-to-back repeat, talk and talk-over and crossfades are all on air."""
    summary = clean_run["truth"]["summary"]
    assert summary["plays"] >= 3
    assert summary["back_to_back_repeats"] >= 1
    assert summary["talk"] >= 1 and summary["crossfades"] >= 1
    assert all(row["track_id"].startswith("cat") for row in clean_run["truth"]["plays"])
    assert all(row["heldout_id"].startswith("held") for row in clean_run["truth"]["heldout"])


def test_music_is_where_the_truth_says(clean_run: dict, manifests: tuple[Path, Path]):
    """Mid-play, the broadcast is the source segment (scaled): correlation above 0.99."""
    rate_hz = clean_run["rate_hz"]
    catalogue = simulate.load_tracks(manifests[0])
    plan = make_plan(catalogue, simulate.load_tracks(manifests[1]), PRESETS["clean"], DURATION_S, 7)
    plays = [i for i in plan.items if i.draft.kind == "play" and not i.talk_overs]
    item = max(plays, key=lambda i: i.end_s - i.start_s)
    skip = round((item.end_s - item.start_s) / 2 - 5) * rate_hz  # to 5 s before the middle
    first = round(item.start_s * rate_hz) + skip
    on_air = clean_run["samples"][first : first + 10 * rate_hz]
    source_start_s = item.draft.source_start_s + skip / rate_hz
    source = simulate.audio.decode_segment(item.draft.track.path, source_start_s, 10.0, rate_hz)
    assert np.corrcoef(on_air, source[: len(on_air)])[0, 1] > 0.99


@pytest.mark.parametrize("preset", ["speedup", "tempo"])
def test_song_effects_change_on_air_durations(manifests: tuple[Path, Path], preset: str):
    """Speed and tempo presets record each play's ratio and shorten or lengthen it to match."""
    plan = make_plan(*(simulate.load_tracks(m) for m in manifests), PRESETS[preset], 600.0, 7)
    songs = [i for i in plan.items[:-1] if i.draft.kind in ("play", "heldout")]
    for item in songs:
        low, high = (1.02, 1.04) if preset == "speedup" else (0.97, 1.03)
        assert low <= item.time_ratio <= high
        assert item.end_s - item.start_s == pytest.approx(
            item.draft.source_duration_s / item.time_ratio
        )
    assert len({round(i.time_ratio, 4) for i in songs}) > 1


def test_presets_share_the_running_order(manifests: tuple[Path, Path]):
    """One seed airs the same tracks in the same order under every preset."""
    tracks = [simulate.load_tracks(m) for m in manifests]
    orders = [
        [
            (i.draft.kind, i.draft.track and i.draft.track.track_id)
            for i in make_plan(*tracks, p, 600.0, 3).items
        ]
        for p in PRESETS.values()
    ]
    shortest = min(len(order) for order in orders)
    assert all(order[: shortest - 1] == orders[0][: shortest - 1] for order in orders)


def test_hard_preset_through_the_command_line(manifests: tuple[Path, Path], tmp_path: Path):
    """The CLI writes DIR/hard.flac of the asked length and DIR/hard.truth.json."""
    argv = ["--catalogue", str(manifests[0]), "--heldout", str(manifests[1]), "--preset", "hard"]
    assert simulate.main([*argv, "--duration-s", "60", "--seed", "2", "--out", str(tmp_path)]) == 0
    info = soundfile.info(tmp_path / "hard.flac")
    assert (info.samplerate, info.frames) == (16000, 60 * 16000)
    assert json.loads((tmp_path / "hard.truth.json").read_text())["preset"] == "hard"


def test_near_duplicates_are_left_out(manifests: tuple[Path, Path]):
    """Excluded ids never reach the catalogue pool."""
    tracks = simulate.load_tracks(manifests[0], frozenset({"cat1", "cat2"}))
    assert {t.track_id for t in tracks} == {"cat0", "cat3", "cat4", "cat5", "cat6"}


def test_pink_noise_is_added_at_the_asked_snr():
    """add_pink_noise adds noise whose RMS is snr_db below the programme's RMS."""
    rng = np.random.default_rng(5)
    programme = np.sin(np.linspace(0, 2000 * np.pi, 160000)).astype(np.float32)
    noisy = channel.add_pink_noise(programme, 5.0, rng)
    snr_db = 20 * np.log10(channel.rms(programme) / channel.rms(noisy - programme))
    assert snr_db == pytest.approx(5.0, abs=0.01)


def test_pink_noise_falls_3_db_per_octave():
    """The pinking filter's power halves per octave (within 1 dB) between 100 Hz and 3.2 kHz."""
    noise = channel.pink_noise(2**20, np.random.default_rng(1))
    spectrum = np.abs(np.fft.rfft(noise)) ** 2
    frequencies_hz = np.fft.rfftfreq(len(noise), 1 / 16000)
    bands_db = [
        10 * np.log10(spectrum[(frequencies_hz >= f) & (frequencies_hz < 2 * f)].mean())
        for f in (100, 200, 400, 800, 1600, 3200)
    ]
    assert np.diff(bands_db) == pytest.approx([-3.0] * 5, abs=1.0)


def test_crossfade_fades_keep_power():
    """Equal-power fades: a fade-in and a fade-out of the same length sum to unit power."""
    ones = np.ones(16000, dtype=np.float32)
    rising = simulate.fade(ones, 1.0, 0.0, 16000)
    falling = simulate.fade(ones, 0.0, 1.0, 16000)
    assert np.allclose(rising**2 + falling**2, 1.0, atol=1e-5)


ORACLE_ZAMIO = """
import json, sys
from pathlib import Path
if sys.argv[1:3] == ["catalog", "import"]:
    sys.exit(0)
recording = Path(sys.argv[2])
truth = json.loads(recording.with_name(recording.stem + ".truth.json").read_text())
plays = [{**row, "start_s": row["start_s"] + 1.0} for row in truth["plays"]]
plays += [{**row, "track_id": "cat0"} for row in truth["heldout"]]
print(json.dumps(plays))
"""


def test_accuracy_runs_end_to_end_with_an_oracle(manifests: tuple[Path, Path], tmp_path: Path):
    """accuracy.py imports, simulates, runs playlog and scores; an oracle gets every play."""
    script = tmp_path / "oracle_zamio.py"
    script.write_text(ORACLE_ZAMIO)
    argv = ["--catalogue", str(manifests[0]), "--heldout", str(manifests[1]), "--seed", "8"]
    argv += ["--presets", "clean", "--duration-s", "120", "--workdir", str(tmp_path / "work")]
    assert accuracy.main([*argv, "--zamio", f"{sys.executable} {script}"]) == 0
    result = json.loads((tmp_path / "work" / "results.json").read_text())["presets"][0]["score"]
    assert result["recall"] == 1.0 and result["start_error_s_median"] == pytest.approx(1.0)
    assert result["fp"] == result["heldout_false_plays"] == 1  # seed 8 airs one held-out song
