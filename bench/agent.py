"""Edge agent benchmark: CPU and memory per stream, upload per station-hour, a week offline.

    python bench/agent.py [--streams 1,2,4] [--duration-s 120] [--warmup-s 15] [--heartbeat-s 60]
                          [--offline-hours 168] [--out /tmp/zamio-bench/agent.json]

1. CPU and memory: for each N in --streams, a private Mosquitto, a private Icecast2 with N mounts,
   each fed at real time by its own ffmpeg (MP3 64 kbit/s) from a real recording of the corpus
   (/var/tmp/zamio-corpus, see ../shared/corpus; seeded synthetic music if it is absent), and one
   `python -m edge_agent run` with N stream sources. After --warmup-s, psutil samples the agent
   and its ffmpeg children every 5 s for --duration-s: CPU % of one core from cpu_times deltas,
   RSS, and PSS (shared pages counted once). Medians of the intervals; MB = 10**6 bytes.
2. Upload per station-hour, from what a subscriber received in the same runs: mean batch payload
   x 3600 / 10.24 s; the retained status, mean size x 3600 / heartbeat_s per device, so / N per
   station; events at their rate in the sampled window. Payload alone, and with each MQTT 5 QoS 1
   PUBLISH packet (fixed header, topic, packet id, empty properties); TCP/IP and TLS not counted.
3. A week offline, not in real time: --offline-hours of the batches received in the runs (cycled,
   seq growing) put one by one into an edge_agent Spool, as the agent does, then drained as the
   uplink does (pending 16, ack each): size on disk, overhead per message, messages per second.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
import psutil

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import table  # noqa: E402
from bench.audio import write_flac  # noqa: E402
from edge_agent.batch import FRAME_MS, WINDOW_FRAMES, decode_batch  # noqa: E402
from edge_agent.settings import UplinkSettings  # noqa: E402
from edge_agent.spool import Spool  # noqa: E402

HOST = "127.0.0.1"
CATALOGUE = Path("/var/tmp/zamio-corpus/catalogue.json")
OUT = Path("/tmp/zamio-bench/agent.json")
DEVICE_ID, STATION_ID, PASSWORD = "pi-bench-01", "bench-fm", "bench-source"
SEED = 20240601
SAMPLE_S, START_S_MAX, MB = 5.0, 10.0, 1e6
WINDOW_S = WINDOW_FRAMES * FRAME_MS / 1000  # 10.24 s per batch
BATCHES_PER_HOUR = 3600 / WINDOW_S
DRAIN_BATCH = UplinkSettings().inflight_max  # 16: the most the uplink asks the spool for at once
BACKLOG_RATE = UplinkSettings().backlog_rate_max  # batches/s the uplink sends of a backlog
CPU_PER_STREAM_MAX, RSS_ONE_MB_MAX, RSS_EXTRA_MB_MAX = 3.0, 120.0, 15.0
UPLOAD_MB_PER_HOUR_MAX, OFFLINE_MB_MAX = 0.5, 100.0
KINDS = ("batches", "status", "events")


class Processes:
    """The child processes this benchmark started; close() stops them, latest first."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen] = []

    def start(self, argv: list[str], out: Any = subprocess.DEVNULL) -> subprocess.Popen:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        self.started.append(process)
        return process

    def close(self) -> None:
        for process in reversed(self.started):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.started = []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_until(predicate, what: str, timeout_s: float = START_S_MAX) -> None:
    """Poll `predicate` until true; RuntimeError naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def answers(port: int, request: bytes = b"", expect: bytes = b"") -> bool:
    """Whether something accepts connections on `port` (and replies to `request` with `expect`)."""
    try:
        with socket.create_connection((HOST, port), timeout=1.0) as sock:
            sock.sendall(request)
            return not expect or expect in sock.recv(64)
    except OSError:
        return False


def start_broker(procs: Processes, workdir: Path) -> int:
    """A private anonymous mosquitto without persistence; its port."""
    port, config = free_port(), workdir / "mosquitto.conf"
    user = "user root\n" if os.geteuid() == 0 else ""  # as root it would drop to `mosquitto`
    config.write_text(f"{user}listener {port} {HOST}\nallow_anonymous true\npersistence false\n")
    procs.start([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(config)])
    wait_until(lambda: answers(port), "mosquitto")
    return port


def start_icecast(procs: Processes, workdir: Path, logdir: Path, mounts: int) -> int:
    """A private icecast2 taking `mounts` sources; its port. As root it must drop to nobody."""
    port, config = free_port(), workdir / "icecast.xml"
    owner = "<changeowner><user>nobody</user><group>nogroup</group></changeowner>"
    config.write_text(f"""<icecast><limits><clients>{2 * mounts + 4}</clients>
  <sources>{mounts + 2}</sources><source-timeout>10</source-timeout></limits>
  <authentication><source-password>{PASSWORD}</source-password><admin-user>admin</admin-user>
  <admin-password>{PASSWORD}</admin-password></authentication><hostname>{HOST}</hostname>
  <listen-socket><port>{port}</port><bind-address>{HOST}</bind-address></listen-socket>
  <fileserve>0</fileserve><paths><logdir>{logdir}</logdir></paths><logging>
  <errorlog>error.log</errorlog><accesslog>access.log</accesslog><loglevel>2</loglevel></logging>
  <security>{owner if os.geteuid() == 0 else ""}</security></icecast>""")
    procs.start([shutil.which("icecast2") or "/usr/sbin/icecast2", "-c", str(config)])
    wait_until(lambda: answers(port), "icecast2")
    return port


def feed(procs: Processes, port: int, path: str, mount: str) -> str:
    """An ffmpeg looping `path` at real time into an Icecast mount; the mount's URL."""
    argv = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-readrate", "1"]
    argv += ["-stream_loop", "-1", "-i", path, "-vn", "-c:a", "libmp3lame", "-b:a", "64k"]
    argv += ["-content_type", "audio/mpeg", "-f", "mp3"]
    feeder = procs.start([*argv, f"icecast://source:{PASSWORD}@{HOST}:{port}/{mount}"])
    request = f"GET /{mount} HTTP/1.0\r\n\r\n".encode()
    wait_until(lambda: answers(port, request, b" 200 ") or feeder.poll() is not None, mount)
    if feeder.poll() is not None:
        raise RuntimeError(f"ffmpeg feeding {mount} from {path} exited with {feeder.returncode}")
    return f"http://{HOST}:{port}/{mount}"


def agent_toml(broker_port: int, spool: Path, urls: list[str], heartbeat_s: float) -> str:
    """The agent's config: one stream source per URL, each its own station."""
    sources = [f'[[source]]\nid = "s{i}"\nkind = "stream"\nurl = "{url}"\n' + (
        f'station_id = "{STATION_ID}-{i}"\n') for i, url in enumerate(urls)]  # fmt: skip
    return (
        f'device_id = "{DEVICE_ID}"\nstation_id = "{STATION_ID}-0"\n'
        f'[uplink]\nurl = "mqtt://{HOST}:{broker_port}"\nheartbeat_s = {heartbeat_s}\n'
        f'[spool]\npath = "{spool}"\n' + "".join(sources)
    )


def recordings(count: int, workdir: Path) -> tuple[list[str], str]:
    """`count` recordings, one per stream, and where they come from."""
    if CATALOGUE.exists():
        tracks = json.loads(CATALOGUE.read_text())["tracks"]
        order = np.random.default_rng(SEED).permutation(len(tracks))
        chosen = [tracks[order[i % len(tracks)]] for i in range(count)]
        return [t["path"] for t in chosen], "corpus: " + ", ".join(t["title"] for t in chosen)
    paths = [workdir / f"synthetic-{i}.flac" for i in range(count)]
    for i, path in enumerate(paths):
        write_flac(path, synthetic_music(SEED + i, 60.0, 22050), 22050)
    return [str(p) for p in paths], "SYNTHETIC seeded music: the corpus is absent"


def synthetic_music(seed: int, duration_s: float, rate_hz: int) -> np.ndarray:
    """Seeded music-like audio: chords with harmonics changing every 2 s, a bass, a beat."""
    rng, t = np.random.default_rng(seed), np.arange(int(duration_s * rate_hz)) / rate_hz
    out = np.zeros_like(t)
    for start in range(0, int(duration_s), 2):
        part = (t >= start) & (t < start + 2)
        for note in [*rng.integers(48, 72, 3), int(rng.integers(36, 48))]:
            f0 = 440.0 * 2 ** ((note - 69) / 12)
            out[part] += sum(np.sin(2 * np.pi * f0 * k * t[part]) / k**1.5 for k in (1, 2, 3))
    beat = np.exp(-40 * (t % 0.5)) * rng.standard_normal(len(t))
    out = out / np.abs(out).max() * 0.5 + 0.3 * beat
    return (out / np.abs(out).max() * 0.8).astype(np.float32)


def subscribe(port: int) -> tuple[mqtt.Client, list[tuple[float, str, bytes]]]:
    """A client subscribed to stations/#, and its list of (monotonic s, topic, payload)."""
    received: list[tuple[float, str, bytes]] = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.on_connect = lambda client, *_: client.subscribe("stations/#", qos=1)
    client.on_message = lambda _client, _data, message: received.append(
        (time.monotonic(), message.topic, bytes(message.payload))
    )
    client.connect(HOST, port, 60)
    client.loop_start()
    wait_until(client.is_connected, "the subscriber to connect")
    return client, received


def take_sample(agent: psutil.Process) -> dict:
    """CPU seconds of the agent and of each child (the capture ffmpegs), RSS and PSS."""
    sample = {"wall_s": time.monotonic(), "children": {}, "ffmpeg_rss": 0, "pss": 0}
    for child in agent.children(recursive=True):
        with contextlib.suppress(psutil.Error), child.oneshot():
            sample["children"][child.pid] = sum(child.cpu_times()[:2])
            memory = child.memory_full_info()
            sample["ffmpeg_rss"] += memory.rss
            sample["pss"] += memory.pss
    with agent.oneshot():
        memory = agent.memory_full_info()
        sample.update(agent_cpu_s=sum(agent.cpu_times()[:2]), agent_rss=memory.rss)
    sample["pss"] += memory.pss
    return sample


def intervals(samples: list[dict]) -> list[dict]:
    """CPU % of one core between consecutive samples, and memory at the end of each interval."""
    out = []
    for a, b in zip(samples, samples[1:]):
        wall_s = b["wall_s"] - a["wall_s"]
        child_s = sum(s - a["children"].get(pid, 0.0) for pid, s in b["children"].items())
        agent_s = b["agent_cpu_s"] - a["agent_cpu_s"]
        out.append({"agent_cpu": 100 * agent_s / wall_s, "ffmpeg_cpu": 100 * child_s / wall_s,
                    "agent_rss": b["agent_rss"],
                    "ffmpeg_rss": b["ffmpeg_rss"], "both_rss": b["agent_rss"] + b["ffmpeg_rss"],
                    "both_pss": b["pss"], "ffmpegs": len(b["children"])})  # fmt: skip
    return out


def sample_for(agent: subprocess.Popen, duration_s: float) -> list[dict]:
    """Samples every SAMPLE_S for `duration_s`; RuntimeError if the agent dies meanwhile."""
    process, started = psutil.Process(agent.pid), time.monotonic()
    samples = [take_sample(process)]
    for k in range(1, int(duration_s / SAMPLE_S) + 1):
        time.sleep(max(0.0, started + k * SAMPLE_S - time.monotonic()))
        if agent.poll() is not None:
            raise RuntimeError(f"the agent exited with {agent.returncode}")
        samples.append(take_sample(process))
    return samples


def run_streams(streams: int, args: argparse.Namespace) -> dict:
    """One agent with `streams` Icecast sources: psutil intervals and what the broker carried."""
    procs, workdir = Processes(), Path(tempfile.mkdtemp(prefix="zamio-bench-agent-"))
    logdir = Path(tempfile.mkdtemp(prefix="zamio-bench-icecast-"))
    os.chmod(logdir, 0o777)  # icecast runs as nobody
    client = None
    try:
        broker_port = start_broker(procs, workdir)
        icecast_port = start_icecast(procs, workdir, logdir, streams)
        paths, origin = recordings(streams, workdir)
        urls = [feed(procs, icecast_port, p, f"s{i}.mp3") for i, p in enumerate(paths)]
        client, received = subscribe(broker_port)
        config = workdir / "agent.toml"
        config.write_text(agent_toml(broker_port, workdir / "spool.db", urls, args.heartbeat_s))
        argv = [sys.executable, "-m", "edge_agent", "run", "--config", str(config)]
        with (workdir / "agent.log").open("wb") as log:  # the child keeps its own descriptor
            agent = procs.start(argv, log)
        time.sleep(args.warmup_s)
        samples = sample_for(agent, args.duration_s)
    except RuntimeError as error:
        log = workdir / "agent.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise RuntimeError(f"{streams} stream(s): {error}\n{tail}") from error
    finally:
        if client is not None:
            client.disconnect()
            client.loop_stop()
        procs.close()
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(logdir, ignore_errors=True)
    window = (samples[0]["wall_s"], samples[-1]["wall_s"])
    return {"streams": streams, "origin": origin, "intervals": intervals(samples),
            "upload": upload(received, window, streams, args.heartbeat_s),
            "batches": [p for _, topic, p in received if topic.endswith("/batches")]}  # fmt: skip


def resource_figures(runs: list[dict]) -> list[dict]:
    """Medians of each run's intervals, CPU per stream, memory growth per stream past the first."""
    figures = []
    for run in runs:
        rows, n = run["intervals"], run["streams"]
        f = {key: float(np.median([r[key] for r in rows])) for key in rows[0]}
        f.update(streams=n, total_cpu=f["agent_cpu"] + f["ffmpeg_cpu"])
        f.update(cpu_per_stream=f["total_cpu"] / n, agent_rss_max=max(r["agent_rss"] for r in rows))
        figures.append(f)
    one = next((f for f in figures if f["streams"] == 1), None)
    for f, key in ((f, k) for f in figures for k in ("agent_rss", "both_rss", "both_pss")):
        extra = f["streams"] - 1
        f[f"{key}_per_extra"] = (f[key] - one[key]) / extra if one and extra else float("nan")
    return figures


RESOURCE_COLUMNS = (("agent CPU", "agent_cpu", 1), ("ffmpeg CPU", "ffmpeg_cpu", 1),
                    ("total CPU", "total_cpu", 1), ("CPU/stream", "cpu_per_stream", 1),
                    ("agent RSS", "agent_rss", MB), ("agent RSS max", "agent_rss_max", MB),
                    ("ffmpeg RSS", "ffmpeg_rss", MB), ("agent+ffmpeg RSS", "both_rss", MB),
                    ("agent+ffmpeg PSS", "both_pss", MB),
                    ("+RSS/extra agent", "agent_rss_per_extra", MB),
                    ("+RSS/extra both", "both_rss_per_extra", MB),
                    ("+PSS/extra both", "both_pss_per_extra", MB))  # fmt: skip


def resource_verdicts(figures: list[dict]) -> list[str]:
    """CPU per stream (worst N); memory with one stream and per extra stream, three ways."""
    cpu = max(f["cpu_per_stream"] for f in figures)
    lines = [verdict("CPU per stream, agent + its ffmpeg (worst N)", cpu, CPU_PER_STREAM_MAX, "%")]
    one = next((f for f in figures if f["streams"] == 1), None)
    for key, label in (("agent_rss", "RSS of the agent process alone"),
                       ("both_rss", "RSS of agent + ffmpeg"),
                       ("both_pss", "PSS of agent + ffmpeg (shared pages once)")):  # fmt: skip
        if one:
            lines.append(verdict(f"{label}, 1 stream", one[key] / MB, RSS_ONE_MB_MAX, " MB"))
        grow = [f[f"{key}_per_extra"] / MB for f in figures if f["streams"] > 1]
        if one and grow:
            what = f"{label}, per extra stream (worst N)"
            lines.append(verdict(what, max(grow), RSS_EXTRA_MB_MAX, " MB"))
    return lines


def publish_bytes(topic: str, payload_bytes: int) -> int:
    """An MQTT 5 QoS 1 PUBLISH on the wire: fixed header, topic, packet id, properties, payload."""
    remaining = 2 + len(topic.encode()) + 2 + 1 + payload_bytes
    length_bytes = 1 + (remaining >= 128) + (remaining >= 16384) + (remaining >= 2097152)
    return 1 + length_bytes + remaining


def upload(received: list, window: tuple[float, float], streams: int, heartbeat_s: float) -> dict:
    """Bytes per station-hour by kind ("batches_payload", "status_mqtt", ...) and in total."""
    start_s, end_s = window
    chosen: dict[str, list] = {kind: [] for kind in KINDS}
    for at_s, topic, payload in received:  # status: all; batches: after warm-up; events: window
        kind = topic.rsplit("/", 1)[-1]
        if kind == "status" or (at_s >= start_s and (kind == "batches" or at_s <= end_s)):
            chosen[kind].append((topic, payload))
    per_hour = {"batches": BATCHES_PER_HOUR, "status": 3600 / heartbeat_s / streams,
                "events": len(chosen["events"]) * 3600 / (end_s - start_s) / streams}  # fmt: skip
    hashes = [len(decode_batch(payload)) for _, payload in chosen["batches"]]
    result = {"hashes_per_batch": float(np.mean(hashes)) if hashes else float("nan")}
    for kind, messages in chosen.items():
        sizes = [(len(p), publish_bytes(t, len(p))) for t, p in messages] or [(0, 0)]
        mean = np.mean(sizes, axis=0)
        result.update({f"{kind}_messages": len(messages), f"{kind}_bytes": float(mean[0]),
                       f"{kind}_payload": float(mean[0] * per_hour[kind]),
                       f"{kind}_mqtt": float(mean[1] * per_hour[kind])})  # fmt: skip
    for key in ("payload", "mqtt"):
        result[f"total_{key}"] = sum(result[f"{kind}_{key}"] for kind in KINDS)
    result["status_share"] = 100 * result["status_mqtt"] / result["total_mqtt"]
    return result


UPLOAD_COLUMNS = (("hashes/batch", "hashes_per_batch", 1), ("batch B", "batches_bytes", 1),
                  ("batches kB/h", "batches_payload", 1e3), ("status B", "status_bytes", 1),
                  ("status kB/h", "status_payload", 1e3), ("events kB/h", "events_payload", 1e3),
                  ("total MB/h", "total_payload", MB), ("+MQTT MB/h", "total_mqtt", MB),
                  ("status share %", "status_share", 1))  # fmt: skip


def offline_week(payloads: list[bytes], hours: float, workdir: Path) -> dict:
    """Spool `hours` of batches cycled from `payloads`, one put each, measure the file, drain it."""
    count, start_ms = round(hours * BATCHES_PER_HOUR), 1_700_000_000_000
    topic, path = f"stations/{STATION_ID}-0/devices/{DEVICE_ID}/batches", workdir / "week.db"
    spool = Spool(path, bytes_max=200 * 1024 * 1024, age_ms_max=int((hours + 24) * 3_600_000))
    try:
        started, payload_bytes = time.perf_counter(), 0
        for seq in range(count):
            payload = payloads[seq % len(payloads)]
            payload_bytes += len(payload)
            now_ms = start_ms + int(seq * WINDOW_S * 1000)
            spool.put(topic, payload, now_ms=now_ms, source_id="s0", seq=seq)
        fill_s, full = time.perf_counter() - started, spool.stats()
        on_disk = sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
        started, drained = time.perf_counter(), 0
        drained_ms = start_ms + int(count * WINDOW_S * 1000)  # delivered once back online
        while batch := spool.pending(DRAIN_BATCH, created_ms_max=start_ms + 10**12):
            drained += sum(spool.ack(message.message_id, drained_ms) for message in batch)
        drain_s, empty = time.perf_counter() - started, spool.stats()
    finally:
        spool.close()
    assert full.depth == count and full.dropped_for_bytes + full.dropped_for_age == 0, full
    return {"batches": count, "payload_bytes": payload_bytes, "file_bytes": full.file_bytes,
            "stat_bytes": on_disk, "overhead_per_message": (on_disk - payload_bytes) / count,
            "puts_per_s": count / fill_s, "drained": drained, "drain_s": drain_s,
            "drain_per_s": drained / drain_s, "file_bytes_empty": empty.file_bytes,
            "backlog_h": count / BACKLOG_RATE / 3600}  # fmt: skip


OFFLINE_ROWS = (("batches spooled", "batches", 1), ("payload MB", "payload_bytes", MB),
                ("spool stats().file_bytes MB", "file_bytes", MB),
                ("db + -wal, os.stat MB", "stat_bytes", MB),
                ("overhead per message B", "overhead_per_message", 1),
                ("fill: puts/s, one transaction each", "puts_per_s", 1),
                (f"drain: messages/s, pending {DRAIN_BATCH} + ack", "drain_per_s", 1),
                ("drain: s", "drain_s", 1),
                ("file after drain (journal kept) MB", "file_bytes_empty", MB),
                (f"h to send at backlog_rate_max {BACKLOG_RATE:g}/s", "backlog_h", 1))  # fmt: skip


def verdict(what: str, value: float, limit: float, unit: str) -> str:
    outcome = "met" if value <= limit else "NOT MET"
    return f"{what}: {value:.3g}{unit} (target <= {limit:g}{unit}): {outcome}"


def rows_of(items: list[dict], columns: tuple) -> list[list[object]]:
    return [[item["streams"], *(item[key] / unit for _, key, unit in columns)] for item in items]


def report(runs: list[dict], week: dict, hours: float) -> str:
    """Every table and verdict."""
    figures = resource_figures(runs)
    title = f"1. CPU % of one core, memory MB; medians of {SAMPLE_S:g} s intervals; audio {{}}"
    headers = ["streams", *(c[0] for c in RESOURCE_COLUMNS)]
    parts = [table(title.format(runs[-1]["origin"]), headers, rows_of(figures, RESOURCE_COLUMNS))]
    parts.append("\n".join(resource_verdicts(figures)))
    uploads = [{"streams": r["streams"], **r["upload"]} for r in runs]
    title = "2. Upload per station-hour (kB, MB = 10**3, 10**6 B; status share of +MQTT)"
    headers = ["streams", *(c[0] for c in UPLOAD_COLUMNS)]
    parts.append(table(title, headers, rows_of(uploads, UPLOAD_COLUMNS)))
    worst = max(u["total_mqtt"] for u in uploads) / MB
    what = "upload per station-hour with MQTT framing (worst N)"
    parts.append(verdict(what, worst, UPLOAD_MB_PER_HOUR_MAX, " MB"))
    title = f"3. {hours:g} h offline in the spool ({week['origin']})"
    rows = [[label, week[key] / unit] for label, key, unit in OFFLINE_ROWS]
    parts.append(table(title, ["measure", "value"], rows))
    what = f"spool on disk after {hours:g} h offline (db + -wal)"
    parts.append(verdict(what, week["stat_bytes"] / MB, OFFLINE_MB_MAX, " MB"))
    return "\n\n".join(parts)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", default="1,2,4", help="stream counts, comma-separated")
    parser.add_argument("--duration-s", type=float, default=120.0, help="sampled, per count")
    parser.add_argument("--warmup-s", type=float, default=15.0)
    parser.add_argument("--heartbeat-s", type=float, default=UplinkSettings().heartbeat_s)
    parser.add_argument("--offline-hours", type=float, default=168.0)
    parser.add_argument("--out", type=Path, default=OUT, help="JSON results")
    args = parser.parse_args(argv)
    args.streams = sorted({int(s) for s in args.streams.split(",") if s})
    if args.duration_s < 2 * SAMPLE_S or not args.streams or min(args.streams) < 1:
        parser.error(f"--duration-s must be >= {2 * SAMPLE_S:g}; stream counts >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    runs = []
    for n in args.streams:
        print(f"{n} stream(s): {args.warmup_s + args.duration_s:g} s", file=sys.stderr)
        runs.append(run_streams(n, args))
    payloads = [p for run in runs for p in run.pop("batches")]
    if not payloads:
        raise SystemExit("no batch arrived: see the agent's log")
    with tempfile.TemporaryDirectory(prefix="zamio-bench-week-") as tmp:
        week = offline_week(payloads, args.offline_hours, Path(tmp))
    week["origin"] = f"{len(payloads)} real batches from the runs, cycled"
    print(report(runs, week, args.offline_hours))
    load = (load_before, os.getloadavg()[0])
    print(
        f"\ntotal {time.perf_counter() - started:.0f} s on {os.cpu_count()} CPUs; 1-min load "
        f"average {load[0]:.1f} at the start, {load[1]:.1f} at the end; results in {args.out}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    document = {"runs": runs, "week": week, "load_average_1min": load}
    args.out.write_text(json.dumps(document, indent=1, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
