"""The simulated stations of bench/chaos.py: `python -m bench.chaos_agents PLAN.pickle OUT.json`.

Each station is what a real agent is for delivery: its own `edge_agent` Spool (SQLite file) and
Uplink (its own paho client and thread, the agent's retry, backoff and backlog rules), so that
the agent's delivery rules are what the chaos bench measures. Only capture and fingerprinting
are left out: batch k of a station is bench/loadgen.py's re-stamped pool batch, put into the
spool at its due time (live) or, for a day offline (`burst_batches`), all put before the uplinks
start. Runs until SIGTERM, then writes what each station produced and has still waiting.
"""

from __future__ import annotations

import json
import logging
import pickle
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bench import loadgen
from edge_agent.batch import encode_batch
from edge_agent.settings import SpoolSettings, UplinkSettings
from edge_agent.spool import Spool
from edge_agent.uplink import Uplink, topic_for

BACKOFF_S_MAX = 10.0  # the agent's default is 120 s: a run of minutes needs faster reconnects


@dataclass(frozen=True)
class AgentsPlan:
    """One agents process: its stations and the pool (pickled by bench/chaos.py)."""

    traffic: loadgen.Plan  # host, port, pool, stations, phases, t0, period, duration, base_ms
    spool_dir: Path
    burst_batches: int  # > 0: spooled before the uplinks start (a day offline), none live


def spool_path(spool_dir: Path, device_code: str) -> Path:
    """Where a station's spool file lives (bench/chaos.py reads its seq counts there)."""
    return spool_dir / f"{device_code}.db"


class Station:
    """One simulated agent: a spool and an uplink."""

    def __init__(self, plan: AgentsPlan, station: loadgen.Station) -> None:
        traffic = plan.traffic
        defaults = SpoolSettings()
        self.station = station
        self.topic = topic_for(station.station_code, station.device_code, "batches")
        self.spool = Spool(
            spool_path(plan.spool_dir, station.device_code),
            bytes_max=defaults.bytes_max,
            age_ms_max=int(defaults.age_s_max * 1000),
        )
        settings = UplinkSettings(
            url=f"mqtt://{traffic.host}:{traffic.port}", backoff_s_min=0.5,
            backoff_s_max=BACKOFF_S_MAX,
        )  # fmt: skip
        self.uplink = Uplink(
            settings, self.spool, device_id=station.device_code, station_id=station.station_code
        )
        self.produced_s: list[float] = []  # wall clock of each seq's put

    def put(self, traffic: loadgen.Plan, window_start_ms: int | None = None) -> None:
        """Spool the station's next batch, as a worker does, and wake the uplink."""
        seq = self.spool.next_seq(loadgen.SOURCE_ID)
        batch = loadgen.station_batch(traffic, self.station, seq)
        if window_start_ms is not None:
            batch = loadgen.restamp(batch, device_id=batch.device_id, source_id=batch.source_id,
                                    seq=seq, window_start_ms=window_start_ms)  # fmt: skip
        now_s = time.time()
        self.spool.put(self.topic, encode_batch(batch), now_ms=int(now_s * 1000),
                       source_id=loadgen.SOURCE_ID, seq=seq)  # fmt: skip
        self.produced_s.append(now_s)
        self.uplink.notify()

    def result(self) -> dict:
        stats = self.spool.stats()
        dropped = stats.dropped_for_bytes + stats.dropped_for_age + stats.dropped_for_disk_full
        return {
            "device": self.station.device_code,
            "produced": self.spool.next_seq(loadgen.SOURCE_ID),
            "waiting": stats.depth,
            "waiting_seqs": [m.seq for m in self.spool.pending(stats.depth) if m.seq is not None],
            "dropped_by_spool": dropped,
            "uplink": self.uplink.counters,
            "produced_s": self.produced_s,
        }


def prefill(plan: AgentsPlan, stations: list[Station]) -> None:
    """A day offline: burst_batches windows per station, spooled back to back, ending now."""
    now_ms = int(time.time() * 1000)
    for station in stations:
        # Durability of the prefill is not what is measured; synchronous=FULL per put would
        # take minutes of fsyncs. The spool is back to FULL before its uplink starts.
        station.spool._connection.execute("PRAGMA synchronous = OFF")
        for k in range(plan.burst_batches):
            start_ms = now_ms - (plan.burst_batches - k + 1) * loadgen.WINDOW_MS
            station.put(plan.traffic, window_start_ms=start_ms)
        station.spool._connection.execute("PRAGMA synchronous = FULL")


def produce(plan: AgentsPlan, stations: list[Station], stop: threading.Event) -> None:
    """Put every station's batches at their due times until the duration or `stop`."""
    traffic = plan.traffic
    mine = {s.station.index: s for s in stations}
    for offset_s, i, _ in loadgen.schedule(traffic.station_count, traffic.period_s,
                                           traffic.duration_s):  # fmt: skip
        if i not in mine:
            continue
        if stop.wait(max(0.0, traffic.t0_s + offset_s - time.time())):
            return
        mine[i].put(traffic)


def run(plan: AgentsPlan, out: Path) -> None:
    """Start every station, produce, and on SIGTERM stop and write the result."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stations = [Station(plan, s) for s in plan.traffic.stations]
    if plan.burst_batches:
        prefill(plan, stations)
    ready = out.with_name(out.name + ".ready")
    ready.write_text(str(time.time()))
    for station in stations:
        station.uplink.start()
    if not plan.burst_batches:
        produce(plan, stations, stop)
    stop.wait()
    with ThreadPoolExecutor(len(stations)) as pool:  # every uplink says goodbye at once
        list(pool.map(lambda s: s.uplink.stop(), stations))
    partial = out.with_name(out.name + ".part")
    partial.write_text(json.dumps([s.result() for s in stations]))
    partial.replace(out)


def main(argv: list[str]) -> int:
    """python -m bench.chaos_agents PLAN.pickle OUT.json"""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    run(pickle.loads(Path(argv[0]).read_bytes()), Path(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
