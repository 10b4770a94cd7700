"""Speed benchmark: fingerprinting x real time, upload bytes per station-hour, query latency and
index memory as the catalogue grows. Prints tables (medians, p95, ratios); never asserts timings.

    python bench/speed.py [--sections fingerprint,upload,query] [--tracks N] [--repeats R]
                          [--sizes 61,1000,3000,10000] [--cpu K] [--out /tmp/zamio-bench/speed.json]

1. fingerprint: each corpus track is decoded once (ffmpeg, timed), then fingerprinted from memory
   on one core (every library runs one thread; --cpu also pins it), streamed in 1 s chunks as the
   agent does and whole as the catalogue does, QUERY and REFERENCE, `--repeats` times. Wall and
   thread CPU time are both reported: other work on the machine slows the first, not the second.
2. upload: the QUERY hashes of each track cut into 320-frame batches and encoded for the wire.
3. query: real 10 s query windows (clean, and played 3 % fast through ffmpeg) against an index of
   the real tracks plus synthetic ones. A synthetic track resamples real REFERENCE hash values
   with replacement, at a real track's hash density and duration: the two-fold check on real
   music printed as 3a shows this reproduces the collisions unseen real music makes, while
   redrawing the low-order hash bits makes collisions rarer than real. Each catalogue size runs
   in a fresh process, so its peak RSS is its own; synthetic tracks are made one at a time inside
   the `entries` generator, so only the index itself is ever held.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy is imported: one core means one BLAS thread too

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import audio  # noqa: E402
from bench._common import pct, rss_mb, stream, table, timed, trimmed_rss_mb  # noqa: E402
from central.matching import matcher  # noqa: E402
from central.matching.index import MatchIndex, TrackRef, build_index  # noqa: E402
from edge_agent.batch import (  # noqa: E402
    HASHES_PER_BATCH_MAX,
    WINDOW_FRAMES,
    BatchSource,
    ClockSyncState,
    batches_from_fingerprints,
    encode_batch,
)
from edge_agent.decode import decode_file  # noqa: E402
from edge_agent.fingerprint import (  # noqa: E402
    FINGERPRINT_VERSION,
    FRAME_MS,
    HOP_SAMPLES,
    QUERY,
    REFERENCE,
    SAMPLE_RATE_HZ,
    Fingerprints,
    fingerprint,
)

CATALOGUE = Path("/var/tmp/zamio-corpus/catalogue.json")
OUT = Path("/tmp/zamio-bench/speed.json")
SECTIONS = ("fingerprint", "upload", "query")
MODES = (("QUERY", "1 s chunks"), ("REFERENCE", "1 s chunks"), ("QUERY", "whole"),
         ("REFERENCE", "whole"))  # fmt: skip
PARAMS = {"QUERY": QUERY, "REFERENCE": REFERENCE}
DEVICE_ID, SOURCE_ID, STATION_ID = "pi-0001", "fm-101.5", "st-0001"
TOPIC = f"stations/{STATION_ID}/devices/{DEVICE_ID}/batches"
STREAM_START_MS = 1_700_000_000_000
EXCERPTS_PER_TRACK = 2
LEAD_FRAMES = 64  # query excerpts start 2 s before their window, as mid-stream batches do
TAIL_FRAMES = 64
SPEEDS = (1.0, 1.03)
OFFSET_TOLERANCE_FRAMES = 16  # a match "at the right place" is within 0.5 s of the truth
SYNTHETIC_TRACK_ID_FIRST = 1_000_000
SEED = 20240601


# ---------------------------------------------------------------------------------------------
# The corpus pass: decode each track once, time fingerprinting, cut query excerpts


@dataclass
class TrackResult:
    """What one corpus track contributes to every section."""

    track_id: int
    external_id: str
    title: str
    path: str
    duration_s: float
    decode_s: float
    times_s: dict[str, list[tuple[float, float]]]  # mode label -> (wall, CPU) s per repeat
    query: Fingerprints  # QUERY, streamed
    query_frame_end: int
    reference: Fingerprints
    queries: list[dict]  # 10 s query windows cut from this track
    stream_equals_whole: bool  # REFERENCE streamed in 1 s chunks gives the catalogue's hashes


def mode_label(params_name: str, feeding: str) -> str:
    """'QUERY / 1 s chunks'."""
    return f"{params_name} / {feeding}"


def corpus_pass(tracks: list[dict], repeats: int, rng: np.random.Generator) -> list[TrackResult]:
    """Decode, fingerprint (timed) and cut query windows, one track in memory at a time."""
    results = []
    for number, track in enumerate(tracks):
        samples, decode_s, _ = timed(decode_file, track["path"], SAMPLE_RATE_HZ)
        times: dict[str, list[tuple[float, float]]] = {mode_label(*m): [] for m in MODES}
        outputs: dict[str, tuple[Fingerprints, int]] = {}
        for _ in range(repeats):
            for params_name, feeding in MODES:
                label = mode_label(params_name, feeding)
                run = fingerprint if feeding == "whole" else stream
                out, wall_s, cpu_s = timed(run, samples, PARAMS[params_name])
                times[label].append((wall_s, cpu_s))
                outputs.setdefault(label, out if isinstance(out, tuple) else (out, 0))
        query, frame_end = outputs[mode_label("QUERY", "1 s chunks")]
        reference = outputs[mode_label("REFERENCE", "whole")][0]  # what the catalogue stores
        streamed = outputs[mode_label("REFERENCE", "1 s chunks")][0]
        result = TrackResult(
            number + 1, track["id"], track["title"], track["path"],
            len(samples) / SAMPLE_RATE_HZ, decode_s, times, query, frame_end, reference, [],
            np.array_equal(reference.hashes, streamed.hashes)
            and np.array_equal(reference.anchor_frames, streamed.anchor_frames),
        )  # fmt: skip
        result.queries = cut_queries(result, samples, rng)
        results.append(result)
        print(f"  {number + 1}/{len(tracks)} {track['title'][:40]:40}", end="\r", file=sys.stderr)
    print(file=sys.stderr)
    return results


def cut_queries(track: TrackResult, samples: np.ndarray, rng: np.random.Generator) -> list[dict]:
    """Query windows at random places: clean from memory, sped up by ffmpeg from the file."""
    span_s = (LEAD_FRAMES + WINDOW_FRAMES + TAIL_FRAMES) * FRAME_MS / 1000
    queries = []
    for _ in range(EXCERPTS_PER_TRACK):
        start = int(rng.integers(0, len(samples) - int(max(SPEEDS) * span_s * SAMPLE_RATE_HZ)))
        for speed in SPEEDS:
            if speed == 1.0:
                excerpt = samples[start : start + int(span_s * SAMPLE_RATE_HZ)]
            else:  # radio style: the samples play faster, pitch and tempo together
                start_s, source_s = start / SAMPLE_RATE_HZ, span_s * speed
                excerpt = audio.decode_segment(track.path, start_s, source_s, SAMPLE_RATE_HZ, speed)
            window = query_window(excerpt)
            # Excerpt frame q holds source frame start / HOP + speed * q.
            queries.append({"track_id": track.track_id, "speed": speed, "hashes": window.hashes,
                            "anchors": window.anchor_frames,
                            "ref_frame_at_0": start / HOP_SAMPLES})  # fmt: skip
    return queries


def query_window(excerpt: np.ndarray) -> Fingerprints:
    """The one 320-frame batch after the lead-in of a streamed excerpt, as central receives it."""
    prints, _ = stream(excerpt, QUERY)
    lo, hi = LEAD_FRAMES, LEAD_FRAMES + WINDOW_FRAMES
    keep = (prints.anchor_frames >= lo) & (prints.anchor_frames < hi)
    source = BatchSource(DEVICE_ID, SOURCE_ID, FINGERPRINT_VERSION, STREAM_START_MS)
    inside = Fingerprints(prints.hashes[keep], prints.anchor_frames[keep])
    (batch,) = batches_from_fingerprints(
        inside, WINDOW_FRAMES, source=source, frame_start=lo, frame_end=hi
    )
    return Fingerprints(batch.hashes, batch.anchor_frames)


# ---------------------------------------------------------------------------------------------
# Section 1: fingerprinting speed


def fingerprint_section(results: list[TrackResult], repeats: int, cpu: str) -> tuple[str, dict]:
    """x real time per params and feeding: corpus-wide per repeat, and the slowest track."""
    audio_s = sum(r.duration_s for r in results)
    durations_s = np.array([r.duration_s for r in results])
    rows, data = [], {}
    for params_name, feeding in MODES:
        label = mode_label(params_name, feeding)
        per_repeat = np.array([r.times_s[label] for r in results])  # (tracks, repeats, wall|cpu)
        wall_x = audio_s / per_repeat[:, :, 0].sum(axis=0)
        cpu_x = audio_s / per_repeat[:, :, 1].sum(axis=0)
        track_x = durations_s / np.median(per_repeat[:, :, 0], axis=1)
        data[label] = {"x_real_time_median": float(np.median(wall_x)),
                       "x_real_time_best": float(wall_x.max()),
                       "x_real_time_cpu_median": float(np.median(cpu_x)),
                       "slowest_track_x_real_time": float(track_x.min()),
                       "cpu_s_per_station_hour": 3600.0 / float(np.median(cpu_x))}  # fmt: skip
        rows.append([params_name, feeding, *list(data[label].values())])
    decode_s = sum(r.decode_s for r in results)
    for params_name, feeding in (("QUERY", "1 s chunks"), ("REFERENCE", "whole")):
        label = mode_label(params_name, feeding)
        x = audio_s / (decode_s + audio_s / data[label]["x_real_time_median"])
        rows.append([params_name, f"{feeding} + ffmpeg decode", x, "", "", "", ""])
        data[label + " + decode"] = {"x_real_time_median": x}
    rows.append(["(decode only)", "ffmpeg -> 8 kHz mono", audio_s / decode_s, "", "", "", ""])
    data["decode_only"] = {"x_real_time": audio_s / decode_s}
    data["stream_equals_whole_tracks"] = sum(r.stream_equals_whole for r in results)
    title = (
        f"1. Fingerprinting speed on one core ({cpu}, BLAS/OMP threads 1): "
        f"{len(results)} tracks, {audio_s / 3600:.2f} h of audio, {repeats} repeats; "
        "x RT = audio seconds per wall second (CPU: per CPU second of the thread); "
        "target >= 1,500x (QUERY, 1 s chunks); streamed REFERENCE hashes equal whole-signal "
        f"ones for {sum(r.stream_equals_whole for r in results)}/{len(results)} tracks"
    )
    headers = ["params", "feeding", "x RT median", "x RT best", "x RT CPU", "slowest track",
               "CPU s per station-h"]  # fmt: skip
    return table(title, headers, rows), data


# ---------------------------------------------------------------------------------------------
# Section 2: upload bytes


def mqtt_publish_overhead_bytes(payload_bytes: int) -> int:
    """MQTT 3.1.1 PUBLISH at QoS 1: fixed header, remaining length, topic, packet id."""
    remaining = 2 + len(TOPIC) + 2 + payload_bytes
    length_bytes = 1 + (remaining >= 128) + (remaining >= 16384) + (remaining >= 2097152)
    return 1 + length_bytes + 2 + len(TOPIC) + 2


def upload_section(results: list[TrackResult]) -> tuple[str, dict]:
    """Encoded QUERY batches per station-hour, and hashes per second."""
    source = BatchSource(DEVICE_ID, SOURCE_ID, FINGERPRINT_VERSION, STREAM_START_MS,
                         ClockSyncState.SYNCED)  # fmt: skip
    sizes, counts, encode_s = [], [], []
    for r in results:
        batches = batches_from_fingerprints(
            r.query, WINDOW_FRAMES, source=source, frame_end=r.query_frame_end
        )
        for batch in batches:
            started = time.perf_counter()
            sizes.append(len(encode_batch(batch)))
            encode_s.append(time.perf_counter() - started)
            counts.append(len(batch))
    hours = sum(r.duration_s for r in results) / 3600
    payload_mb_h = sum(sizes) / 1e6 / hours
    mqtt_mb_h = sum(s + mqtt_publish_overhead_bytes(s) for s in sizes) / 1e6 / hours
    title = (
        f"2a. Upload per station-hour: QUERY hashes of {len(results)} tracks ({hours:.2f} h) in "
        f"{len(sizes):,} batches of {WINDOW_FRAMES} frames; target <= 0.5 MB per station-hour"
    )
    headers = ["what", "MB per station-h", "bytes per batch p50", "p95", "bytes per hash"]
    rows = [
        ["encode_batch payload", payload_mb_h, pct(sizes, 50), pct(sizes, 95),
         sum(sizes) / max(sum(counts), 1)],
        [f"+ MQTT PUBLISH header (QoS 1, topic {len(TOPIC)} B)", mqtt_mb_h, "", "", ""],
    ]  # fmt: skip
    data = {"payload_mb_per_station_hour": payload_mb_h, "with_mqtt_mb_per_station_hour": mqtt_mb_h,
            "batches": len(sizes), "bytes_per_batch_p50": pct(sizes, 50),
            "encode_batch_us_p50": 1e6 * pct(encode_s, 50)}  # fmt: skip
    text = table(title, headers, rows) + "\n\n" + hashes_table(results, counts, data)
    return text, data


def hashes_table(results: list[TrackResult], counts: list[int], data: dict) -> str:
    """Hashes per second (QUERY sent, REFERENCE indexed) and hashes per batch."""
    audio_s = sum(r.duration_s for r in results)
    rows = []
    for name, get in (("QUERY", lambda r: len(r.query)), ("REFERENCE", lambda r: len(r.reference))):
        per_track = [get(r) / r.duration_s for r in results]
        mean = sum(get(r) for r in results) / audio_s
        rows.append([name, mean, pct(per_track, 5), pct(per_track, 50), pct(per_track, 95)])
        data[f"{name.lower()}_hashes_per_s"] = mean
    data["hashes_per_batch"] = {"p50": pct(counts, 50), "p95": pct(counts, 95), "max": max(counts)}
    title = (
        f"2b. Hashes per second of audio (tracks p5/p50/p95); per {WINDOW_FRAMES}-frame batch "
        f"p50 {pct(counts, 50):.0f}, p95 {pct(counts, 95):.0f}, max {max(counts)} "
        f"(HASHES_PER_BATCH_MAX {HASHES_PER_BATCH_MAX}); encode_batch "
        f"{data['encode_batch_us_p50']:.0f} us per batch"
    )
    return table(title, ["params", "mean /s", "track p5", "p50", "p95"], rows)


# ---------------------------------------------------------------------------------------------
# Section 3: query latency and index memory as the catalogue grows


def synthetic_track(rng: np.random.Generator, pool: np.ndarray, shapes: np.ndarray) -> Fingerprints:
    """Real hash values resampled with replacement, at a real track's length and density."""
    duration_s, density = shapes[rng.integers(len(shapes))]
    duration_s *= rng.uniform(0.8, 1.25)
    count = int(round(duration_s * density))
    frames = int(duration_s * 1000 / FRAME_MS)
    hashes = pool[rng.integers(0, len(pool), count)]
    anchors = np.sort(rng.integers(0, frames, count)).astype(np.uint32)
    return Fingerprints(hashes, anchors)


@dataclass(frozen=True)
class SizeJob:
    """Everything a fresh process needs to build one catalogue size and time its queries."""

    size: int
    real: list[tuple[int, str, str, np.ndarray, np.ndarray]]  # id, external id, title, prints
    pool: np.ndarray  # uint32: every real REFERENCE hash
    shapes: np.ndarray  # (duration_s, hashes per second) of each real track
    queries: list[dict]
    rounds: int
    seed: int


def entries(job: SizeJob, synth_s: list[float]) -> Iterator[tuple[TrackRef, Fingerprints]]:
    """The real tracks, then synthetic ones made one at a time (bounded memory)."""
    for track_id, external_id, title, hashes, anchors in job.real:
        yield TrackRef(track_id, external_id, title), Fingerprints(hashes, anchors)
    rng = np.random.default_rng(job.seed)  # the same seed: each size extends the smaller ones
    for k in range(job.size - len(job.real)):
        started = time.perf_counter()
        prints = synthetic_track(rng, job.pool, job.shapes)
        synth_s[0] += time.perf_counter() - started
        yield TrackRef(SYNTHETIC_TRACK_ID_FIRST + k, f"synthetic-{k}", f"synthetic {k}"), prints


def measure_size(job: SizeJob) -> dict:
    """Build the index (peak RSS is this process's own) and time every query `rounds` times."""
    before = rss_mb()
    synth_s = [0.0]
    index, build_s, _ = timed(build_index, entries(job, synth_s))
    after = rss_mb()
    queries = [Fingerprints(q["hashes"], q["anchors"]) for q in job.queries]
    for query in queries[:5]:  # warm-up
        matcher.match_window(index, query)
    wall_s, cpu_s = [], []
    best: list[matcher.Match | None] = [None] * len(queries)
    for _ in range(job.rounds):
        for i, query in enumerate(queries):
            found, wall, cpu = timed(matcher.match_window, index, query)
            wall_s.append(wall)
            cpu_s.append(cpu)
            best[i] = found[0] if found else None
    return {"tracks": len(index.tracks), "index_hashes": len(index),
            "build_s": build_s - synth_s[0], "synthesis_s": synth_s[0],
            "index_mb": index.nbytes / 1e6,
            "rss_before_build_mb": before["rss_mb"], "rss_after_build_mb": after["rss_mb"],
            "peak_rss_mb": after["peak_rss_mb"], "ru_maxrss_mb": after["ru_maxrss_mb"],
            "latency_ms_p50": 1e3 * pct(wall_s, 50), "latency_ms_p95": 1e3 * pct(wall_s, 95),
            "latency_ms_max": 1e3 * max(wall_s), "latency_cpu_ms_p50": 1e3 * pct(cpu_s, 50),
            "latency_cpu_ms_p95": 1e3 * pct(cpu_s, 95), **accuracy(job.queries, best),
            **lookup_stats(index, job), "rss_after_trim_mb": trimmed_rss_mb()}  # fmt: skip


def accuracy(queries: list[dict], best: list[matcher.Match | None]) -> dict:
    """Fraction of queries whose best match is the right track (and at the right place)."""
    out = {}
    for speed in SPEEDS:
        right, placed, inliers = 0, 0, []
        chosen = [(q, m) for q, m in zip(queries, best) if q["speed"] == speed]
        for query, match in chosen:
            if match is None or match.track.track_id != query["track_id"]:
                continue
            right += 1
            inliers.append(match.inliers)
            mid = 0.5 * (int(query["anchors"].min()) + int(query["anchors"].max()))
            truth = query["ref_frame_at_0"] + speed * mid
            placed += abs(match.reference_frame_at(mid) - truth) <= OFFSET_TOLERANCE_FRAMES
        key = f"speed_{speed:g}"
        out[f"top1_{key}"] = right / len(chosen)
        out[f"top1_placed_{key}"] = placed / len(chosen)
        out[f"inliers_p50_{key}"] = pct(inliers, 50)
    return out


def lookup_stats(index: MatchIndex, job: SizeJob) -> dict:
    """Candidate pairs per query, query hashes dropped as too common, collisions per M hashes."""
    position = {ref.track_id: i for i, ref in enumerate(index.tracks)}
    own_hashes = {track_id: len(hashes) for track_id, _, _, hashes, _ in job.real}
    pairs, dropped, rates = [], [], []
    for q in job.queries:
        query = Fingerprints(q["hashes"], q["anchors"])
        counts = probe_counts(index.hashes, query.hashes)
        found = matcher.lookup(index, query)
        own = int(np.count_nonzero(found.track_index == position[q["track_id"]]))
        pairs.append(len(found.query_index))
        dropped.append(float(np.mean(counts > matcher.POSTINGS_PER_HASH_MAX)))
        foreign_m = (len(index) - own_hashes[q["track_id"]]) / 1e6
        rates.append((float(counts.sum()) - own) / (len(counts) * foreign_m))
    return {"pairs_per_query_p50": pct(pairs, 50), "pairs_per_query_p95": pct(pairs, 95),
            "query_hashes_dropped": float(np.mean(dropped)),
            "collisions_per_query_hash_per_m": float(np.mean(rates)),
            "query_hashes_p50": pct([len(q["hashes"]) for q in job.queries], 50)}  # fmt: skip


def model_check(results: list[TrackResult], rng: np.random.Generator) -> tuple[str, dict]:
    """Two-fold check of the synthetic model on real music: collisions of unseen real tracks."""
    rows, data = [], {}
    for fold in (0, 1):
        queries = np.concatenate([r.query.hashes for i, r in enumerate(results) if i % 2 != fold])
        real = np.concatenate([r.reference.hashes for i, r in enumerate(results) if i % 2 == fold])
        resampled = real[rng.integers(0, len(real), len(real))]
        low_bits = real[rng.integers(0, len(real), len(real))] & np.uint32(0x3F)
        rerandomised = (resampled & ~np.uint32(0x3F)) | low_bits
        for name, hashes in (("real tracks (unseen by the queries)", real),
                             ("resampled real values (used)", resampled),
                             ("resampled, low 6 bits redrawn", rerandomised)):  # fmt: skip
            counts = probe_counts(np.sort(hashes), queries) / (len(hashes) / 1e6)
            row = data.setdefault(name, [])
            row.append([float(counts.mean()), pct(counts, 50), pct(counts, 99)])
    for name, folds in data.items():
        rows.append([name, *np.mean(folds, axis=0).tolist()])
    title = (
        "3a. Synthetic model check (two folds of the real tracks): postings hit per QUERY hash "
        "probe (+-1 ratio), per million index hashes"
    )
    return table(title, ["index made of", "mean", "p50", "p99"], rows), data


def probe_counts(sorted_hashes: np.ndarray, query_hashes: np.ndarray) -> np.ndarray:
    """Postings each query hash reaches with the matcher's +-1 probe on the ratio field.

    The needles keep the index's dtype: int64 needles make numpy cast the whole index first.
    """
    h = query_hashes.astype(np.int64)
    ratio = h & matcher.RATIO_MASK
    below = (h - (ratio > 0)).astype(sorted_hashes.dtype)
    above = (h + (ratio < matcher.RATIO_MASK)).astype(sorted_hashes.dtype)
    lo = np.searchsorted(sorted_hashes, below, "left")
    hi = np.searchsorted(sorted_hashes, above, "right")
    return (hi - lo).astype(np.float64)


def query_section(results: list[TrackResult], sizes: list[int], rounds: int) -> tuple[str, dict]:
    """One fresh process per catalogue size; tables of memory, and of latency and accuracy."""
    real = [(r.track_id, r.external_id, r.title, r.reference.hashes, r.reference.anchor_frames)
            for r in results]  # fmt: skip
    pool = np.concatenate([r.reference.hashes for r in results])
    shapes = np.array([(r.duration_s, len(r.reference) / r.duration_s) for r in results])
    queries = [q for r in results for q in r.queries]
    memory, latency, data = [], [], []
    for size in sizes:
        job = SizeJob(size, real, pool, shapes, queries, rounds, SEED)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(1, mp_context=context) as executor:
            m = executor.submit(measure_size, job).result()
        data.append(m)
        print(f"  {m['tracks']:,} tracks: p50 {m['latency_ms_p50']:.1f} ms", file=sys.stderr)
        memory.append([m["tracks"], m["index_hashes"] / 1e6, m["build_s"], m["synthesis_s"],
                       m["index_mb"], m["rss_before_build_mb"], m["rss_after_build_mb"],
                       m["rss_after_trim_mb"], m["peak_rss_mb"]])  # fmt: skip
        latency.append([m["tracks"], m["pairs_per_query_p50"], m["pairs_per_query_p95"],
                        m["query_hashes_dropped"], m["collisions_per_query_hash_per_m"],
                        m["latency_ms_p50"], m["latency_ms_p95"], m["latency_ms_max"],
                        m["latency_cpu_ms_p50"], m["latency_cpu_ms_p95"],
                        *[m[f"{k}_speed_{s:g}"] for k in ("top1", "top1_placed", "inliers_p50")
                          for s in SPEEDS]])  # fmt: skip
    title = (
        f"3b. Index build and memory (each size in a fresh process; synthetic tracks beyond "
        f"{len(results)}); target at 10,000 tracks: <= 1.5 GB"
    )
    headers = ["tracks", "M hashes", "build s", "synth s", "index MB", "RSS0 MB", "RSS MB",
               "RSS trim MB", "peak MB"]  # fmt: skip
    notes = (
        "   build s: build_index, excluding synth s (making the synthetic tracks); index MB: "
        "MatchIndex.nbytes; RSS0: before the build (Python, numpy, the job); RSS: after it; "
        "RSS trim: after the queries and glibc malloc_trim(0); peak: VmHWM of the process "
        "(getrusage's ru_maxrss is in the JSON)."
    )
    text = table(title, headers, memory) + "\n" + notes
    title = (
        f"3c. Query latency of one {WINDOW_FRAMES}-frame window (matcher.match_window): "
        f"{len(queries)} real windows ({EXCERPTS_PER_TRACK} per track, each clean and +3 % "
        f"speed), {rounds} rounds; target at 10,000 tracks: p50 <= 10 ms"
    )
    headers = ["tracks", "pairs p50", "pairs p95", "q dropped", "coll/M", "p50 ms", "p95 ms",
               "max ms", "CPU p50", "CPU p95", "top1 x1.00", "top1 x1.03", "placed x1.00",
               "placed x1.03", "inl x1.00", "inl x1.03"]  # fmt: skip
    notes = (
        "   pairs: (query hash, posting) pairs per window; q dropped: query hashes skipped for "
        f"reaching > {matcher.POSTINGS_PER_HASH_MAX} postings; coll/M: postings of other tracks "
        "hit per query hash per million index hashes (flat if synthetic = real statistics).\n"
        "   top1: best match is the right track; placed: and within 0.5 s of the true offset "
        "(a miss can be a repeated section of the track); inl: median inliers of right matches."
    )
    text += "\n\n" + table(title, headers, latency) + "\n" + notes
    return text, {"sizes": data}


# ---------------------------------------------------------------------------------------------
# Command line


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated subset")
    parser.add_argument("--catalogue", type=Path, default=CATALOGUE)
    parser.add_argument("--tracks", type=int, help="a seeded sample of this many corpus tracks")
    parser.add_argument("--repeats", type=int, default=3, help="fingerprint and query rounds")
    parser.add_argument("--sizes", default="61,1000,3000,10000", help="catalogue sizes, tracks")
    parser.add_argument("--out", type=Path, default=OUT, help="JSON results")
    parser.add_argument("--cpu", type=int, help="pin the benchmark to this CPU")
    args = parser.parse_args(argv)
    args.sections = [s for s in args.sections.split(",") if s]
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {SECTIONS}")
    args.sizes = sorted({int(s) for s in args.sizes.split(",") if s})
    if args.repeats < 1 or (args.tracks is not None and args.tracks < 2):
        parser.error("--repeats must be >= 1 and --tracks >= 2")
    return args


def pin_cpu(cpu: int | None) -> str:
    """Pin to `cpu` if given. Either way every library runs one thread, so the work uses one core;
    unpinned, the scheduler may move it to whichever core is idle."""
    if cpu is None:
        return "not pinned"
    os.sched_setaffinity(0, {cpu})
    return f"pinned to cpu {cpu}"


def code_version() -> str:
    """The commit measured, marked when the measured modules differ from it (read-only git)."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        measured = ["edge_agent/fingerprint.py", "edge_agent/batch.py", "central/matching"]
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", *measured],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + (" + uncommitted changes" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    """Run the chosen sections, print their tables, write the JSON."""
    args = parse_args(argv)
    cpu = pin_cpu(args.cpu)
    rng = np.random.default_rng(SEED)
    tracks = json.loads(args.catalogue.read_text())["tracks"]
    if args.tracks is not None and args.tracks < len(tracks):
        tracks = [tracks[i] for i in sorted(rng.choice(len(tracks), args.tracks, replace=False))]
    repeats = args.repeats if "fingerprint" in args.sections else 1
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    results = corpus_pass(tracks, repeats, rng)
    report: dict = {"tracks": len(results), "audio_s": sum(r.duration_s for r in results),
                    "code": code_version()}  # fmt: skip
    texts = [f"code {report['code']}, fingerprint version {FINGERPRINT_VERSION}"]
    if "fingerprint" in args.sections:
        text, report["fingerprint"] = fingerprint_section(results, repeats, cpu)
        texts.append(text)
    if "upload" in args.sections:
        text, report["upload"] = upload_section(results)
        texts.append(text)
    if "query" in args.sections:
        text, report["model_check"] = model_check(results, rng)
        texts.append(text)
        sizes = sorted({max(size, len(results)) for size in args.sizes})
        text, report["query"] = query_section(results, sizes, args.repeats)
        texts.append(text)
    print("\n\n".join(texts))
    load = (load_before, os.getloadavg()[0])
    report["load_average_1min"] = load
    print(
        f"\ntotal {time.perf_counter() - started:.0f} s on {os.cpu_count()} CPUs; 1-min load "
        f"average {load[0]:.1f} at the start, {load[1]:.1f} at the end; results in {args.out}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
