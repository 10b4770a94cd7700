"""Traffic for the load benchmark (bench/load.py): a pool of broadcast batches, replayed by
simulated stations paced like real agents, published by `python -m bench.loadgen PLAN OUT`.

The pool: --pool-s of corpus audio (../shared/corpus), two registered excerpts (60-150 s) to one
held-out (30-90 s), through bench/programme.py's FM channel (multiband compression, MP3 128k),
fingerprinted once as the agent does (QUERY, 1 s chunks) and cut into full 10.24 s windows.

Each simulated station replays the pool of broadcast batches from its own starting point, as one
device with one source: batch k of station i is pool batch (start_i + k) mod len(pool), with the
station's device id, seq k, first_frame k * 320 and its anchors moved by the same number of
frames (a multiple of 320, so the matcher's 32-frame offset cells line up as in the pool), and a
window that ends as the batch is published. Station i sends batch k at t0 + (i / N + k) * period:
phases spread evenly over one period, as independent agents are.
"""

from __future__ import annotations

import json
import pickle
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from edge_agent.batch import (
    FRAME_MS,
    WINDOW_FRAMES,
    ClockSyncState,
    HashBatch,
    encode_batch,
    make_batch_id,
)

WINDOW_MS = WINDOW_FRAMES * FRAME_MS  # 10,240 ms: one batch per station per WINDOW_MS at real time
SOURCE_ID = "fm"
CORPUS = Path("/var/tmp/zamio-corpus")
RADIO_RATE_HZ = 16000  # the FM channel runs at the simulator's rate, then down to 8 kHz
INFLIGHT_MAX = 1000  # QoS 1 messages a publisher has unacknowledged; paho's default 20 is too few
ACK_WAIT_S_MAX = 60.0


@dataclass(frozen=True)
class Station:
    """One simulated station: its codes, where it starts in the pool, its phase in the period."""

    index: int  # 0..N-1 among the run's stations: sets the phase
    station_code: str
    device_code: str
    pool_start: int


@dataclass(frozen=True)
class Plan:
    """Everything one publisher process needs (pickled to a file by bench/load.py)."""

    host: str
    port: int
    client_id: str
    pool: list[HashBatch]
    stations: list[Station]
    station_count: int  # N of the whole run (phases), not only this publisher's share
    t0_s: float  # wall clock (time.time) of the schedule's origin
    period_s: float  # WINDOW_MS / 1000 at real time, less when sped up
    duration_s: float
    base_ms: int  # window_start_ms of batch 0 of a station of phase 0


def topic(station: Station) -> str:
    return f"stations/{station.station_code}/devices/{station.device_code}/batches"


def pool_starts(stations: int, pool_size: int, seed: int = 0) -> list[int]:
    """A starting pool batch per station, spread so that neighbours hear different things."""
    rng = np.random.default_rng(seed)
    return [int(s) for s in rng.integers(0, pool_size, stations)]


def schedule(stations: int, period_s: float, duration_s: float) -> list[tuple[float, int, int]]:
    """(offset_s, station, k) of every batch due before `duration_s`, in time order: station i
    sends its batch k at (i / stations + k) * period_s."""
    per_station = int(np.ceil(duration_s / period_s)) + 1
    due = [
        ((i / stations + k) * period_s, i, k)
        for i in range(stations)
        for k in range(per_station)
        if (i / stations + k) * period_s < duration_s
    ]
    return sorted(due)


def restamp(
    batch: HashBatch, *, device_id: str, source_id: str, seq: int, window_start_ms: int
) -> HashBatch:
    """`batch` as window `seq` of another source: same hashes, anchors moved with first_frame."""
    first_frame = seq * WINDOW_FRAMES
    shift = first_frame - batch.first_frame
    anchors = (batch.anchor_frames.astype(np.int64) + shift).astype(np.uint32)
    return replace(
        batch,
        batch_id=make_batch_id(device_id, source_id, seq),
        device_id=device_id,
        source_id=source_id,
        seq=seq,
        first_frame=first_frame,
        window_start_ms=window_start_ms,
        clock_sync_state=ClockSyncState.SYNCED,
        clock_offset_ms=0,
        anchor_frames=anchors,
    )


def station_batch(plan: Plan, station: Station, k: int) -> HashBatch:
    """Batch k of `station`: its pool batch, re-stamped; the window ends when it is due."""
    pool_batch = plan.pool[(station.pool_start + k) % len(plan.pool)]
    phase_ms = round(station.index / plan.station_count * WINDOW_MS)
    return restamp(
        pool_batch,
        device_id=station.device_code,
        source_id=SOURCE_ID,
        seq=k,
        window_start_ms=plan.base_ms + phase_ms + k * WINDOW_MS,
    )


def messages(plan: Plan) -> list[tuple[float, str, bytes, str, int]]:
    """(offset_s, topic, payload, device, seq) of this publisher's stations, in time order."""
    due = schedule(plan.station_count, plan.period_s, plan.duration_s)
    mine = {s.index: s for s in plan.stations}
    out = []
    for offset_s, i, k in due:
        if i in mine:
            station = mine[i]
            payload = encode_batch(station_batch(plan, station, k))
            out.append((offset_s, topic(station), payload, station.device_code, k))
    return out


def broadcast_pool(seconds: float, seed: int) -> tuple[list[HashBatch], str]:
    """The pool of broadcast batches, and where its audio came from."""
    from bench._common import stream
    from edge_agent.batch import BatchSource, batches_from_fingerprints
    from edge_agent.fingerprint import FINGERPRINT_VERSION, QUERY, Fingerprints

    if (CORPUS / "heldout.json").exists():
        samples, origin = broadcast_audio(seconds, seed)
    else:  # seeds 0-39 are the catalogue's (bench/load.py registers them), 1000+ are not
        songs = [synthetic_song(seed + s, 60.0) for s in (0, 1, 1000, 2, 3, 1001)]
        samples, origin = np.concatenate(songs), "SYNTHETIC songs, 4 registered, 2 not"
    prints, frames = stream(samples, QUERY)
    frame_end = frames - frames % WINDOW_FRAMES  # full windows only
    keep = prints.anchor_frames < frame_end
    kept = Fingerprints(prints.hashes[keep], prints.anchor_frames[keep])
    source = BatchSource("pool", "pool", FINGERPRINT_VERSION, 0)
    return batches_from_fingerprints(kept, source=source, frame_end=frame_end), origin


def broadcast_audio(seconds: float, seed: int) -> tuple[np.ndarray, str]:
    """8 kHz radio from the corpus: registered and held-out excerpts, then the FM channel."""
    import scipy.signal

    from bench import audio, channel
    from bench.programme import FM

    registered = json.loads((CORPUS / "catalogue.json").read_text())["tracks"]
    heldout = json.loads((CORPUS / "heldout.json").read_text())["tracks"]
    rng, parts, total_s = np.random.default_rng(seed), [], 0.0
    while total_s < seconds:
        known = len(parts) % 3 != 2
        tracks = registered if known else heldout
        track = tracks[rng.integers(len(tracks))]
        length_s = rng.uniform(60, 150) if known else rng.uniform(30, 90)
        length_s = min(length_s, track["duration_s"])
        start_s = rng.uniform(0, track["duration_s"] - length_s)
        parts.append(audio.decode_segment(track["path"], start_s, length_s, RADIO_RATE_HZ))
        total_s += len(parts[-1]) / RADIO_RATE_HZ
    radio = channel.apply_channel(np.concatenate(parts), FM, RADIO_RATE_HZ, rng)
    samples = scipy.signal.resample_poly(radio, 1, RADIO_RATE_HZ // 8000).astype(np.float32)
    return samples, f"{len(parts)} corpus excerpts, FM channel"


def synthetic_song(seed: int, duration_s: float = 180.0) -> np.ndarray:
    """Seeded music-like audio at 8 kHz (bench/agent.py's), when the corpus is absent."""
    from bench.agent import synthetic_music
    from edge_agent.fingerprint import SAMPLE_RATE_HZ

    return synthetic_music(seed, duration_s, SAMPLE_RATE_HZ)


def publish(plan: Plan) -> dict:
    """Connect, publish every message at its time (QoS 1), wait for the PUBACKs; what happened."""
    import paho.mqtt.client as mqtt  # here: the pure functions above need no paho

    todo = messages(plan)
    acked = [0]
    lock = threading.Lock()

    def on_publish(*_args) -> None:
        with lock:
            acked[0] += 1

    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=plan.client_id, protocol=mqtt.MQTTv5
    )
    client.max_inflight_messages_set(INFLIGHT_MAX)
    client.on_publish = on_publish
    client.connect(plan.host, plan.port, keepalive=30)
    client.loop_start()
    deadline = time.monotonic() + 10
    while not client.is_connected() and time.monotonic() < deadline:
        time.sleep(0.01)
    records, errors = [], 0
    for offset_s, topic_, payload, device, seq in todo:
        delay_s = plan.t0_s + offset_s - time.time()
        if delay_s > 0:
            time.sleep(delay_s)
        info = client.publish(topic_, payload, qos=1)
        now_s = time.time()
        errors += info.rc != mqtt.MQTT_ERR_SUCCESS
        records.append((device, seq, now_s, now_s - plan.t0_s - offset_s, len(payload)))
    deadline = time.monotonic() + ACK_WAIT_S_MAX
    while acked[0] < len(records) and time.monotonic() < deadline:
        time.sleep(0.05)
    client.disconnect()
    client.loop_stop()
    return {"published": records, "acked": acked[0], "errors": errors}


def main(argv: list[str]) -> int:
    """python -m bench.loadgen PLAN.pickle OUT.json"""
    plan_path, out_path = Path(argv[0]), Path(argv[1])
    plan = pickle.loads(plan_path.read_bytes())
    result = publish(plan)
    partial = out_path.with_name(out_path.name + ".part")
    partial.write_text(json.dumps(result))
    partial.replace(out_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
