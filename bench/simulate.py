"""Broadcast simulator: renders a planned radio programme to FLAC and writes its ground truth.

    python bench/simulate.py --catalogue /var/tmp/zamio-corpus/catalogue.json \\
        --heldout /var/tmp/zamio-corpus/heldout.json --preset fm --duration-s 3600 --seed 1 \\
        --out DIR

writes DIR/fm.flac (mono, 16-bit, 16 kHz by default) and DIR/fm.truth.json. What goes on air is
planned in bench/programme.py; the truth format is described in bench/truth.py. Song effects
(speed, tempo) are applied per segment by ffmpeg while decoding; segments are levelled, faded
and mixed with numpy; channel effects (bench/channel.py) then run on the whole mix.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import audio, channel, truth  # noqa: E402
from bench.dj import Speech  # noqa: E402
from bench.errors import ManifestError  # noqa: E402
from bench.programme import MUSIC_KINDS, PRESETS, Item, Plan, Track, make_plan  # noqa: E402

logger = logging.getLogger(__name__)

SAMPLE_RATE_HZ = 16000
SAMPLE_RATE_HZ_MIN = 16000
TARGET_RMS = 0.1  # every song and every standalone talk is levelled to -20 dBFS RMS
MUSIC_RMS_FLOOR = TARGET_RMS / 4  # talk-over on a near-silent intro is levelled against this
OUTPUT_PEAK = 0.98
SPEECH_CUT_FADE_S = 0.2  # fade when speech is cut to fit its slot
# From /work/shared/corpus/near_duplicates.json: tracks sharing recorded material with others.
NEAR_DUPLICATE_IDS = frozenset({"Pb0e61927c", "P610ccd929", "P6b2b477ea"})


def load_tracks(path: Path, exclude_ids: frozenset[str] = frozenset()) -> list[Track]:
    """Return the tracks of a manifest {"tracks": [{"id", "path", "title", "duration_s"}]}."""
    try:
        rows = json.loads(Path(path).read_text())["tracks"]
        tracks = [
            Track(
                str(r["id"]), str(r.get("title", r["id"])), str(r["path"]), float(r["duration_s"])
            )
            for r in rows
            if str(r["id"]) not in exclude_ids
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ManifestError(f"manifest {path}: unreadable: {exc!r}") from exc
    if not tracks:
        raise ManifestError(f"manifest {path}: no usable tracks")
    return tracks


def render(plan: Plan, sample_rate_hz: int, workers: int) -> np.ndarray:
    """Return the mixed programme of `plan` before channel effects."""
    programme = np.zeros(round(plan.duration_s * sample_rate_hz), dtype=np.float32)
    music = [item for item in plan.items if item.draft.kind in MUSIC_KINDS]
    talk = [item for item in plan.items if item.draft.kind == "talk"]
    with ThreadPoolExecutor(workers) as pool:
        speeches = [t.speech for item in plan.items for t in item.talk_overs]
        speeches += [item.draft.speech for item in talk]
        said = pool.map(lambda s: audio.synthesize(s, sample_rate_hz), speeches)
        for item, samples in zip(music, pool.map(lambda i: _music(i, sample_rate_hz), music)):
            _add(programme, item.start_s, samples, sample_rate_hz)
        said = list(said)
    over = [(t, item) for item in plan.items for t in item.talk_overs]
    for (talk_over, _), samples in zip(over, said[: len(over)]):
        _add_talk_over(
            programme, talk_over.start_s, talk_over.end_s, samples, talk_over.speech, sample_rate_hz
        )
    for item, samples in zip(talk, said[len(over) :]):
        _add(programme, item.start_s, _talk(item, samples, sample_rate_hz), sample_rate_hz)
    return programme


def _music(item: Item, sample_rate_hz: int) -> np.ndarray:
    """Return one song segment decoded with its effects, levelled and faded."""
    draft = item.draft
    assert draft.track is not None
    samples = audio.decode_segment(
        draft.track.path,
        draft.source_start_s,
        item.source_duration_s,
        sample_rate_hz,
        item.speed_ratio,
        item.tempo_ratio,
    )
    samples = audio.fit_length(samples, _span(item.start_s, item.end_s, sample_rate_hz))
    samples = _level(samples, TARGET_RMS)
    return fade(samples, item.fade_in_s, item.fade_out_s, sample_rate_hz)


def _talk(item: Item, samples: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """Return standalone talk levelled and fitted to its slot."""
    length = _span(item.start_s, item.end_s, sample_rate_hz)
    cut_fade_s = SPEECH_CUT_FADE_S if len(samples) > length else item.fade_out_s
    samples = _level(audio.fit_length(samples, length), TARGET_RMS)
    return fade(samples, item.fade_in_s, cut_fade_s, sample_rate_hz)


def _add_talk_over(
    programme: np.ndarray,
    start_s: float,
    end_s: float,
    samples: np.ndarray,
    speech: Speech,
    sample_rate_hz: int,
) -> None:
    """Mix speech over the music already in `programme`, `speech.level_db` above the music's RMS."""
    length = _span(start_s, end_s, sample_rate_hz)
    first = round(start_s * sample_rate_hz)
    cut_fade_s = SPEECH_CUT_FADE_S if len(samples) > length else 0.0
    samples = fade(audio.fit_length(samples, length), 0.0, cut_fade_s, sample_rate_hz)
    music_rms = max(channel.rms(programme[first : first + length]), MUSIC_RMS_FLOOR)
    _add(
        programme,
        start_s,
        _level(samples, music_rms * 10.0 ** (speech.level_db / 20.0)),
        sample_rate_hz,
    )


def _add(programme: np.ndarray, start_s: float, samples: np.ndarray, sample_rate_hz: int) -> None:
    """Add `samples` into `programme` from `start_s`, dropping what falls past its end."""
    first = round(start_s * sample_rate_hz)
    last = min(first + len(samples), len(programme))
    programme[first:last] += samples[: last - first]


def _span(start_s: float, end_s: float, sample_rate_hz: int) -> int:
    """Return how many samples the interval covers, rounded as `_add` places them."""
    return round(end_s * sample_rate_hz) - round(start_s * sample_rate_hz)


def _level(samples: np.ndarray, target_rms: float) -> np.ndarray:
    """Return `samples` scaled to `target_rms` (silence stays silence)."""
    current_rms = channel.rms(samples)
    if current_rms < 1e-9:
        return samples
    return (samples * (target_rms / current_rms)).astype(np.float32)


def fade(
    samples: np.ndarray, fade_in_s: float, fade_out_s: float, sample_rate_hz: int
) -> np.ndarray:
    """Return `samples` with equal-power (sine) fades in and out; lengths clipped to the signal."""
    out = samples.astype(np.float32, copy=True)
    fade_in = min(round(fade_in_s * sample_rate_hz), len(out))
    fade_out = min(round(fade_out_s * sample_rate_hz), len(out))
    if fade_in:
        out[:fade_in] *= np.sin(0.5 * np.pi * (np.arange(fade_in) + 0.5) / fade_in)
    if fade_out:
        out[len(out) - fade_out :] *= np.cos(0.5 * np.pi * (np.arange(fade_out) + 0.5) / fade_out)
    return out


def simulate(
    catalogue_path: Path,
    heldout_path: Path,
    preset_name: str,
    duration_s: float,
    seed: int,
    out_dir: Path,
    sample_rate_hz: int = SAMPLE_RATE_HZ,
    exclude_ids: frozenset[str] = NEAR_DUPLICATE_IDS,
) -> tuple[Path, Path]:
    """Generate one broadcast; return the paths of its FLAC and its truth JSON."""
    catalogue = load_tracks(catalogue_path, exclude_ids)
    heldout = load_tracks(heldout_path)
    plan = make_plan(catalogue, heldout, PRESETS[preset_name], duration_s, seed)
    started_s = time.monotonic()
    programme = render(plan, sample_rate_hz, os.cpu_count() or 2)
    rendered_s = time.monotonic()
    rng = np.random.default_rng([seed, 3, list(PRESETS).index(preset_name)])
    programme = channel.apply_channel(programme, plan.preset.channel, sample_rate_hz, rng)
    programme = _limit_peak(programme, OUTPUT_PEAK)
    logger.info(
        "simulate %s: mixed in %.1f s, channel in %.1f s",
        preset_name, rendered_s - started_s, time.monotonic() - rendered_s,
    )  # fmt: skip
    return _write(plan, programme, sample_rate_hz, Path(out_dir), (catalogue_path, heldout_path))


def _limit_peak(samples: np.ndarray, peak: float) -> np.ndarray:
    """Return `samples` scaled down, if needed, so their absolute peak is at most `peak`."""
    current = float(np.max(np.abs(samples))) if len(samples) else 0.0
    return samples if current <= peak else (samples * (peak / current)).astype(np.float32)


def _write(
    plan: Plan,
    programme: np.ndarray,
    sample_rate_hz: int,
    out_dir: Path,
    manifests: tuple[Path, Path],
) -> tuple[Path, Path]:
    """Write the FLAC, then the truth JSON (its presence marks a complete pair)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    audio_path = out_dir / f"{plan.preset.name}.flac"
    truth_path = out_dir / f"{plan.preset.name}.truth.json"
    audio.write_flac(audio_path, programme, sample_rate_hz)
    document = truth.truth(plan, sample_rate_hz)
    for problem in truth.check_truth(document):
        logger.warning("simulate %s: truth: %s", plan.preset.name, problem)
    document["audio"] = audio_path.name
    document["catalogue_manifest"], document["heldout_manifest"] = (str(p) for p in manifests)
    partial = truth_path.with_name(truth_path.name + ".part")
    partial.write_text(json.dumps(document, indent=1) + "\n")
    partial.replace(truth_path)
    return audio_path, truth_path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Return the command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalogue", type=Path, required=True, help="manifest of catalogue music")
    parser.add_argument(
        "--heldout", type=Path, required=True, help="manifest of music never to log"
    )
    parser.add_argument("--preset", choices=list(PRESETS), default="clean")
    parser.add_argument("--duration-s", type=float, default=3600.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--sample-rate-hz", type=int, default=SAMPLE_RATE_HZ)
    parser.add_argument(
        "--near-duplicates", type=Path, help='JSON whose "exclude" keys are left out'
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    if args.sample_rate_hz < SAMPLE_RATE_HZ_MIN:
        parser.error(f"--sample-rate-hz must be at least {SAMPLE_RATE_HZ_MIN}")
    if args.duration_s <= 0:
        parser.error("--duration-s must be positive")
    return args


def exclude_ids(near_duplicates_path: Path | None) -> frozenset[str]:
    """Return the catalogue ids to leave out: the built-in list plus those of the given file."""
    if near_duplicates_path is None:
        return NEAR_DUPLICATE_IDS
    listed = json.loads(near_duplicates_path.read_text()).get("exclude", {})
    return NEAR_DUPLICATE_IDS | frozenset(listed)


def main(argv: list[str] | None = None) -> int:
    """Run the simulator from the command line; print the truth summary."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    audio_path, truth_path = simulate(
        args.catalogue, args.heldout, args.preset, args.duration_s, args.seed, args.out,
        args.sample_rate_hz, exclude_ids(args.near_duplicates),
    )  # fmt: skip
    summary = json.loads(truth_path.read_text())["summary"]
    print(
        json.dumps(
            {"audio": str(audio_path), "truth": str(truth_path), "summary": summary}, indent=1
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
