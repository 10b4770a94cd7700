"""Load benchmark: N simulated stations publish real batches to Mosquitto at real rate through
the real central processes (`zamio ingest` listeners, `zamio worker` RQ workers, PostgreSQL,
Redis): sustained batches/s, publish-to-detection lag, CPU and memory per process, and a check
that no batch is lost or processed twice. Prints tables (medians, p95); never asserts timings.

    python bench/load.py [--stations 100,500,1000] [--duration-s 120] [--tracks 3000]
                         [--workers 2] [--listeners 1] [--publishers 1] [--speed 1]
                         [--drain-s-max 300] [--out /tmp/zamio-bench/load.json]

Setup, once: a throwaway PostgreSQL database (created, migrated, dropped at exit, Ctrl-C too),
Redis db 14 (flushed). The catalogue: the corpus recordings (../shared/corpus) imported with
`zamio catalog import`, then synthetic tracks up to --tracks made as bench/speed.py makes them
(real REFERENCE hash values resampled at a real track's length and density; its section 3a checks
that this reproduces real collisions) and registered with catalog.store.register_track. The
broadcast: a pool of real batches (bench/loadgen.py), each station replaying it from its own start.

Each station count, from scratch: a private Mosquitto with default limits on a free port (not the
shared one on 1883, and a fresh one per count: a stopped listener's persistent session stays in
the `zamio-ingest` share group and takes its share of the messages), pipeline tables emptied,
stations and devices registered (stations.store.add_station, add_device), --listeners `zamio
ingest`, --workers `zamio worker` and one `zamio scheduler` started, warmed up with a few
batches of another station.
Then --publishers processes publish every station's batches, QoS 1, at real time x --speed for
--duration-s, phases spread over the 10.24 s period; the pipeline drains until every batch has
its plays built (or --drain-s-max) and is checked. Lag: ingested_batch.received_at / matched_at /
plays_at minus the publisher's time of publish (one clock). CPU % of one core from psutil
cpu_times over the publishing window (children included); RSS sampled every 2 s, medians.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import loadgen  # noqa: E402
from bench._common import pct, table  # noqa: E402
from bench.agent import start_broker, wait_until  # noqa: E402
from bench.harness import (  # noqa: E402
    HOST,
    MB,
    SEED,
    ZAMIO,
    Context,
    Processes,
    Sampler,
    build_catalogue,
    cpu_and_memory,
    create_database,
    setup,
    sql,
    teardown,
    zamio,
)

OUT = Path("/tmp/zamio-bench/load.json")
START_S_MAX = 60.0
WARM_UP_S_MAX = 120.0
LAG_S_MAX = 5.0  # the target: p95 publish-to-detection lag
PLAN_S_PER_MESSAGE = 0.0004  # publishers encode every payload before t0: leave them this long
CATALOGUE_TABLES = ("track", "track_fingerprint", "alembic_version")
JOB_OK = re.compile(r"Job OK\S* \((match_batch-\d+)\)")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


# ---------------------------------------------------------------------------------------------
# Pure: statistics


def lag_summary(lags_s: list[float] | np.ndarray) -> dict[str, float]:
    """p50, p95 and max of lags in seconds (NaN when there are none), and how many."""
    values = np.asarray(lags_s, dtype=float)
    top = float(values.max()) if len(values) else float("nan")
    return {"p50": pct(values, 50), "p95": pct(values, 95), "max": top, "n": len(values)}


def lags(published: dict[tuple[str, int], float], rows: list[dict], column: str) -> list[float]:
    """`column` (epoch s, None when not reached) minus the publish time, per published batch."""
    return [
        row[column] - published[(row["device"], row["seq"])]
        for row in rows
        if row[column] is not None and (row["device"], row["seq"]) in published
    ]


def sustained_rate(published_s: list[float], done_s: list[float]) -> dict[str, float]:
    """Offered batches/s over the publishing span; done/s from the first publish to the last
    batch done (the offered rate when the pipeline keeps up, its capacity when it does not); the
    backlog when publishing ended, and how long after that the last batch was done."""
    first, last = min(published_s), max(published_s)
    done = sorted(done_s)
    return {
        "offered_per_s": (len(published_s) - 1) / (last - first) if last > first else 0.0,
        "done_per_s": len(done) / (done[-1] - first) if done and done[-1] > first else 0.0,
        "backlog_at_end": len(published_s) - int(np.searchsorted(done, last, "right")),
        "drain_s": max(done[-1] - last, 0.0) if done else float("nan"),
    }


# ---------------------------------------------------------------------------------------------
# One station count


@dataclass
class Pipeline:
    """The processes of one station count."""

    broker_port: int
    broker_pid: int
    listeners: list[tuple[subprocess.Popen, Path]]
    workers: list[tuple[subprocess.Popen, Path]]


def reset_pipeline(ctx: Context) -> None:
    """Bring the schema up to date (others may add migrations meanwhile), empty every table but
    the catalogue's, flush the Redis db."""
    zamio(ctx, "db", "upgrade")
    query = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
    names = [name for (name,) in sql(ctx, query) if name not in CATALOGUE_TABLES]
    sql(ctx, f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE", rows=False)
    ctx.redis.flushdb()


def register_stations(ctx: Context, count: int, label: str, pool_size: int) -> list:
    """`count` stations, one device each, spread over the pool."""
    from central.extensions import db
    from central.stations import store

    starts = loadgen.pool_starts(count, pool_size, SEED + count)
    stations = []
    with ctx.app.app_context():
        for i in range(count):
            station = loadgen.Station(i, f"{label}-st{i:04d}", f"{label}-pi{i:04d}", starts[i])
            store.add_station(db.session, station.station_code, f"Load {label} {i}")
            store.add_device(db.session, station.device_code, station.station_code)
            stations.append(station)
        db.session.commit()
        db.session.remove()
    return stations


def start_pipeline(ctx: Context, args: argparse.Namespace, label: str) -> Pipeline:
    """A fresh broker, listeners subscribed and workers listening (as their logs say)."""
    broker_port = start_broker(ctx.procs, ctx.workdir)
    broker_pid = ctx.procs.started[-1].pid
    env = ctx.env(f"mqtt://{HOST}:{broker_port}")
    # The scheduler as deployed: its sweep builds the plays of a station's last batches, which
    # ZAMIO_PLAYS_BUILD_INTERVAL_S leaves to it.
    children = {"ingest": args.listeners, "worker": args.workers, "scheduler": 1}
    started = {kind: [] for kind in children}
    for kind, count in children.items():
        for n in range(count):
            log = ctx.workdir / f"{label}-{kind}-{n}.log"
            started[kind].append((ctx.procs.start([*ctx.cli, kind], log, env), log))
    for kind, ready in (("ingest", "subscribed to"), ("worker", "Listening on")):
        for process, log in started[kind]:
            wait_until(functools.partial(says, process, log, ready), log.name, START_S_MAX)
            if process.poll() is not None:
                raise RuntimeError(f"{log} exited: {log.read_text(errors='replace')[-2000:]}")
    return Pipeline(broker_port, broker_pid, started["ingest"], started["worker"])


def says(process: subprocess.Popen, log: Path, text: str) -> bool:
    """Whether `process` has written `text` to its log, or has exited."""
    return text in log.read_text(errors="replace") or process.poll() is not None


def warm_up(ctx: Context, pipeline: Pipeline, pool: list) -> tuple[float, int]:
    """Publish 4 batches per worker of another station: (seconds until all are matched, how
    many)."""
    stations = register_stations(ctx, 1, "warm", len(pool))
    base_ms = int(time.time() * 1000) - 3_600_000
    duration_s = 0.04 * len(pipeline.workers)
    plan = loadgen.Plan(HOST, pipeline.broker_port, "zamio-load-warm", pool, stations, 1,
                        time.time(), 0.01, duration_s, base_ms)  # fmt: skip
    started = time.perf_counter()
    sent = loadgen.publish(plan)
    count = len(sent["published"])
    if sent["acked"] != count:
        raise RuntimeError(f"warm-up: {sent['acked']} of {count} batches acknowledged")
    wait_until(lambda: count_done(ctx, "warm-%") >= count, "warm-up matching", WARM_UP_S_MAX)
    return time.perf_counter() - started, count


def count_done(ctx: Context, device_like: str, column: str = "matched_at") -> int:
    """Batches of the devices LIKE `device_like` whose `column` is set."""
    query = (
        "SELECT count(*) FROM ingested_batch b JOIN device d ON d.id = b.device_id "
        f"WHERE d.code LIKE :like AND b.{column} IS NOT NULL"
    )
    return sql(ctx, query, like=device_like)[0][0]


def publish(ctx: Context, args: argparse.Namespace, pipeline: Pipeline, pool: list,
            stations: list, label: str) -> tuple[dict, list[dict]]:  # fmt: skip
    """Publishers started at one t0, sampled while they run: (publish times, samples)."""
    period_s = loadgen.WINDOW_MS / 1000 / args.speed
    messages = len(loadgen.schedule(len(stations), period_s, args.duration_s))
    t0 = time.time() + 3.0 + messages * PLAN_S_PER_MESSAGE / args.publishers
    # window_start_ms runs at real time x speed: start it early enough never to be in the future
    base_ms = int(t0 * 1000) - loadgen.WINDOW_MS - int(args.duration_s * (args.speed - 1) * 1000)
    publishers = []
    for p in range(args.publishers):
        plan = loadgen.Plan(HOST, pipeline.broker_port, f"zamio-load-{label}-{p}", pool,
                            stations[p :: args.publishers], len(stations), t0, period_s,
                            args.duration_s, base_ms)  # fmt: skip
        plan_path = ctx.workdir / f"{label}-plan-{p}.pickle"
        plan_path.write_bytes(pickle.dumps(plan))
        out = ctx.workdir / f"{label}-publisher-{p}.json"
        argv = [sys.executable, "-m", "bench.loadgen", str(plan_path), str(out)]
        log = ctx.workdir / f"{label}-publisher-{p}.log"
        publishers.append((ctx.procs.start(argv, log, ctx.env()), out))
    roles = {
        "ingest listener": [p.pid for p, _ in pipeline.listeners],
        "worker": [p.pid for p, _ in pipeline.workers],
        "publisher": [p.pid for p, _ in publishers],
        "mosquitto": [pipeline.broker_pid],
    }
    time.sleep(max(0.0, t0 - time.time()))
    sampler = Sampler(roles, ctx.db_name)
    sampler.start()
    for process, _ in publishers:
        process.wait(args.duration_s + 120)
    samples = sampler.stop()
    published, late, unacked = {}, [], 0
    for process, out in publishers:
        if process.returncode != 0 or not out.exists():
            raise RuntimeError(f"publisher exited with {process.returncode}: see {out}")
        result = json.loads(out.read_text())
        published.update({(d, s): t for d, s, t, *_ in result["published"]})
        late += [r[3] for r in result["published"]]
        unacked += len(result["published"]) - result["acked"]
    ctx.setup.setdefault("publisher_late_s_p95", {})[label] = pct(late, 95)
    ctx.setup.setdefault("unacknowledged", {})[label] = unacked
    return published, samples


def drain(ctx: Context, label: str, expected: int, wait_s_max: float) -> float:
    """Wait until every batch is matched and in plays, or `wait_s_max`; seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < wait_s_max:
        if count_done(ctx, f"{label}-%", "plays_at") >= expected:
            break
        time.sleep(1.0)
    return time.monotonic() - started


def run_count(ctx: Context, args: argparse.Namespace, pool: list, count: int) -> dict:
    """One station count, from empty tables to the checks."""
    label = f"n{count}"
    reset_pipeline(ctx)
    stations = register_stations(ctx, count, label, len(pool))
    pipeline = start_pipeline(ctx, args, label)
    warm_s, warm_batches = warm_up(ctx, pipeline, pool)
    published, samples = publish(ctx, args, pipeline, pool, stations, label)
    drain_wait_s = drain(ctx, label, len(published), args.drain_s_max)
    ctx.procs.stop([p for p, _ in pipeline.listeners + pipeline.workers])
    result = collect(ctx, label, published, pipeline)
    ctx.procs.stop([p for p in ctx.procs.started if p.pid == pipeline.broker_pid])
    result.update(stations=count, warm_up_s=warm_s, warm_up_batches=warm_batches,
                  drain_wait_s=drain_wait_s,
                  resources=cpu_and_memory(samples),
                  machine_busy_pct=pct([s["machine_busy_pct"] for s in samples], 50))  # fmt: skip
    return result


def collect(ctx: Context, label: str, published: dict, pipeline: Pipeline) -> dict:
    """Lags, rates, jobs and checks of one run."""
    query = (
        "SELECT d.code, b.seq, b.received_at, b.matched_at, b.plays_at, b.duplicate_count "
        "FROM ingested_batch b JOIN device d ON d.id = b.device_id WHERE d.code LIKE :like"
    )
    rows = [
        {"device": d, "seq": s, "received": r.timestamp(), "matched": m and m.timestamp(),
         "plays": p and p.timestamp(), "duplicates": dup}
        for d, s, r, m, p, dup in sql(ctx, query, like=f"{label}-%")
    ]  # fmt: skip
    done_s = [r["matched"] for r in rows if r["matched"] is not None]
    return {
        "published": len(published),
        "rate": sustained_rate(list(published.values()), done_s),
        "lag": {c: lag_summary(lags(published, rows, c)) for c in ("received", "matched", "plays")},
        "jobs": job_stats(ctx),
        "redis": redis_footprint(ctx),
        "checks": checks(ctx, published, rows, pipeline),
    }


def checks(ctx: Context, published: dict, rows: list[dict], pipeline: Pipeline) -> dict:
    """Lost, not matched, processed twice; the queue and the failed registry."""
    from rq import Queue

    runs: dict[str, int] = {}
    for _, log in pipeline.workers:
        for job_id in JOB_OK.findall(ANSI.sub("", log.read_text(errors="replace"))):
            runs[job_id] = runs.get(job_id, 0) + 1
    queue = Queue("zamio", connection=ctx.redis)
    stored = {(r["device"], r["seq"]) for r in rows}
    twice = (
        "SELECT count(*) FROM (SELECT 1 FROM detection GROUP BY ingested_batch_id, track_id, "
        "query_first_frame, offset_frames HAVING count(*) > 1) AS x"
    )
    overlapping = (
        "SELECT count(*) FROM play a JOIN play b ON a.station_id = b.station_id AND a.track_id "
        "= b.track_id AND a.id < b.id AND a.start_ms < b.end_ms AND b.start_ms < a.end_ms"
    )
    counts = (
        "SELECT (SELECT count(*) FROM detection), (SELECT count(*) FROM play), "
        "(SELECT count(*) FROM quarantined_payload), (SELECT count(*) FROM batch_conflict)"
    )
    detections, plays, quarantined, conflicts = sql(ctx, counts)[0]
    return {
        "lost": len(set(published) - stored),
        "unexpected": len(stored - set(published)),
        "not_matched": sum(r["matched"] is None for r in rows),
        "plays_not_built": sum(r["plays"] is None for r in rows),
        "ingest_duplicates": sum(r["duplicates"] for r in rows),
        "match_jobs_run_twice": sum(n > 1 for n in runs.values()),
        "detections_twice": sql(ctx, twice)[0][0],
        "overlapping_plays": sql(ctx, overlapping)[0][0],
        "failed_jobs": queue.failed_job_registry.count,
        "queued_at_end": queue.count,
        "quarantined": quarantined,
        "conflicts": conflicts,
        "detections": detections,
        "plays": plays,
    }


def job_stats(ctx: Context) -> dict:
    """Per job function: runs, execution ms and queue wait s (p50, p95), from RQ's finished jobs."""
    from rq import Queue
    from rq.job import Job

    ids = Queue("zamio", connection=ctx.redis).finished_job_registry.get_job_ids()
    by_kind: dict[str, list[tuple[float, float]]] = {}
    for n in range(0, len(ids), 500):
        for job in Job.fetch_many(ids[n : n + 500], connection=ctx.redis):
            if job is None or not (job.started_at and job.ended_at and job.enqueued_at):
                continue
            run_s = (job.ended_at - job.started_at).total_seconds()
            wait_s = (job.started_at - job.enqueued_at).total_seconds()
            by_kind.setdefault(job.func_name.rsplit(".", 1)[-1], []).append((run_s, wait_s))
    stats = {}
    for kind, values in sorted(by_kind.items()):
        run_s, wait_s = np.array(values).T
        stats[kind] = {"runs": len(values), "exec_ms_p50": pct(run_s, 50) * 1000,
                       "exec_ms_p95": pct(run_s, 95) * 1000, "exec_s_total": float(run_s.sum()),
                       "wait_s_p50": pct(wait_s, 50), "wait_s_p95": pct(wait_s, 95)}  # fmt: skip
    return stats


def redis_footprint(ctx: Context, sample_max: int = 200) -> dict:
    """Keys in our Redis db, and bytes per finished job (its hash and its result stream, both
    kept for the job's result_ttl), from MEMORY USAGE of a sample."""
    from rq import Queue

    ids = Queue("zamio", connection=ctx.redis).finished_job_registry.get_job_ids(0, sample_max)
    sizes = [
        sum(ctx.redis.memory_usage(f"rq:{kind}:{job_id}") or 0 for kind in ("job", "results"))
        for job_id in ids
    ]
    ttl_s = max((ctx.redis.ttl(f"rq:job:{job_id}") for job_id in ids[:1]), default=-2)
    return {"keys": ctx.redis.dbsize(), "bytes_per_job": pct(sizes, 50), "ttl_s_left": ttl_s}


# ---------------------------------------------------------------------------------------------
# Report


CHECKS = ("lost", "unexpected", "not_matched", "plays_not_built", "ingest_duplicates",
          "match_jobs_run_twice", "detections_twice", "overlapping_plays", "failed_jobs",
          "queued_at_end", "quarantined", "conflicts", "detections", "plays")  # fmt: skip


def report(runs: list[dict], args: argparse.Namespace, setup: dict) -> str:
    """Every table."""
    return "\n\n".join(
        [throughput_table(runs, args), resource_table(runs), jobs_table(runs),
         table("4. Checks (all but detections and plays should be 0)", ["stations", *CHECKS],
               [[run["stations"], *(run["checks"][k] for k in CHECKS)] for run in runs]),
         setup_line(runs, setup)]
    )  # fmt: skip


def throughput_table(runs: list[dict], args: argparse.Namespace) -> str:
    title = (
        f"1. Throughput and lag: {args.listeners} listener(s), {args.workers} worker(s), "
        f"{args.publishers} publisher(s), real time x{args.speed:g}, {args.duration_s:g} s "
        "published; lag s from publish to received / matched / plays built"
    )
    headers = ["stations", "published", "offered/s", "done/s", "backlog@end", "drain s",
               "recv p50", "recv p95", "match p50", "match p95", "match max", "plays p50",
               "plays p95", "real time"]  # fmt: skip
    rows = []
    for run in runs:
        rate, lag = run["rate"], run["lag"]
        ok = lag["matched"]["p95"] <= LAG_S_MAX and lag["matched"]["n"] == run["published"]
        rows.append([run["stations"], run["published"], rate["offered_per_s"], rate["done_per_s"],
                     rate["backlog_at_end"], rate["drain_s"], lag["received"]["p50"],
                     lag["received"]["p95"], lag["matched"]["p50"], lag["matched"]["p95"],
                     lag["matched"]["max"], lag["plays"]["p50"], lag["plays"]["p95"],
                     "yes" if ok else "NO"])  # fmt: skip
    return table(title, headers, rows)


def resource_table(runs: list[dict]) -> str:
    headers = ["stations", "role", "procs", "CPU % of a core", "RSS MB/proc p50", "RSS max"]
    rows = [[run["stations"], role, r["processes"], r["cpu_pct"], r["rss_mb"], r["rss_mb_max"]]
            for run in runs for role, r in run["resources"].items()]  # fmt: skip
    for run in runs:
        rows.append([run["stations"], "machine busy % (2 cores = 100)", "",
                     run["machine_busy_pct"], "", ""])  # fmt: skip
    title = "2. CPU and memory over the publishing window (psutil, 2 s samples)"
    return table(title, headers, rows)


def jobs_table(runs: list[dict]) -> str:
    headers = ["stations", "job", "runs", "exec ms p50", "exec ms p95", "exec s total",
               "queue wait s p50", "wait p95"]  # fmt: skip
    rows = [[run["stations"], kind, j["runs"], j["exec_ms_p50"], j["exec_ms_p95"],
             j["exec_s_total"], j["wait_s_p50"], j["wait_s_p95"]]
            for run in runs for kind, j in run["jobs"].items()]  # fmt: skip
    title = "3. RQ jobs, warm-up included (finished registry: started..ended, enqueued..started)"
    return table(title, headers, rows) + "\n" + "\n".join(redis_line(run) for run in runs)


def redis_line(run: dict) -> str:
    """What finished jobs hold in Redis, and what that comes to at this offered rate."""
    from central.queues import RESULT_TTL_S

    batches = run["published"] + run["warm_up_batches"]
    jobs_per_batch = sum(j["runs"] for j in run["jobs"].values()) / max(batches, 1)
    jobs_per_s = jobs_per_batch * run["rate"]["offered_per_s"]
    held_mb = run["redis"]["bytes_per_job"] * jobs_per_s * RESULT_TTL_S / MB
    return (
        f"{run['stations']} stations: Redis {run['redis']['bytes_per_job']:,.0f} B per finished "
        f"job (hash + result stream, kept {RESULT_TTL_S} s); {jobs_per_batch:.2f} jobs per "
        f"batch at {run['rate']['offered_per_s']:.1f} batches/s hold {held_mb:,.0f} MB"
    )


def setup_line(runs: list[dict], setup: dict) -> str:
    late = ", ".join(f"{s:.3f}" for s in setup.get("publisher_late_s_p95", {}).values())
    return (
        f"Code {setup['code']}. Catalogue: {setup['tracks']:,} tracks ({setup['real_tracks']} "
        f"{setup['origin']}, imported in {setup['real_s']:.0f} s; the rest synthetic from their "
        f"hash statistics, {setup['synthetic_s']:.0f} s), {setup['hashes']:,} reference hashes. "
        f"Broadcast pool: {setup['pool_batches']} batches ({setup['pool_origin']}), "
        f"{setup['pool_hashes_p50']:.0f} hashes per batch p50. Warm-up s: "
        + ", ".join(f"{r['warm_up_s']:.1f}" for r in runs)
        + f"; publisher lateness p95 s: {late}; PUBACKs missing: "
        + ", ".join(str(n) for n in setup.get("unacknowledged", {}).values())
    )


# ---------------------------------------------------------------------------------------------
# Main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", default="100,500,1000", help="counts, comma-separated")
    parser.add_argument("--duration-s", type=float, default=120.0, help="publishing, per count")
    parser.add_argument("--tracks", type=int, default=3000, help="catalogue size")
    parser.add_argument("--workers", type=int, default=2, help="`zamio worker` processes")
    parser.add_argument("--listeners", type=int, default=1, help="`zamio ingest` processes")
    parser.add_argument("--publishers", type=int, default=1, help="publishing processes")
    parser.add_argument("--speed", type=float, default=1.0, help="x real time")
    parser.add_argument("--pool-s", type=float, default=1200.0, help="broadcast audio replayed")
    parser.add_argument("--drain-s-max", type=float, default=300.0, help="after publishing")
    parser.add_argument("--zamio", default=ZAMIO, help="command line of `zamio` (to try changes)")
    parser.add_argument("--out", type=Path, default=OUT, help="JSON results")
    args = parser.parse_args(argv)
    args.stations = [int(s) for s in args.stations.split(",") if s]
    if min(args.stations) < 1 or min(args.workers, args.listeners, args.publishers) < 1:
        parser.error("counts must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for signum in (signal.SIGINT, signal.SIGTERM):  # clean up on either, even when started in
        signal.signal(signum, signal.default_int_handler)  # the background (SIGINT ignored)
    procs, workdir = Processes(), Path(tempfile.mkdtemp(prefix="zamio-bench-load-"))
    ctx, runs, started, finished = None, [], time.perf_counter(), False
    db_name, db_url = create_database()
    try:
        ctx = setup(db_name, db_url, procs, workdir, args.zamio)
        print(f"catalogue: {args.tracks} tracks", file=sys.stderr)
        build_catalogue(ctx, args.tracks)
        pool, origin = loadgen.broadcast_pool(args.pool_s, SEED)
        hashes_p50 = pct([len(b) for b in pool], 50)
        ctx.setup.update(pool_batches=len(pool), pool_origin=origin, pool_hashes_p50=hashes_p50)
        print(f"setup {time.perf_counter() - started:.0f} s: {ctx.setup}", file=sys.stderr)
        for count in args.stations:
            print(f"{count} stations: {args.duration_s:g} s", file=sys.stderr)
            runs.append(run_count(ctx, args, pool, count))
            summary = {k: runs[-1][k] for k in ("rate", "lag", "checks", "jobs")}
            print(json.dumps(summary, default=float), file=sys.stderr)
        finished = True
    except KeyboardInterrupt:
        print("interrupted: cleaning up", file=sys.stderr)
    except Exception:  # report what was measured, then clean up
        traceback.print_exc()
    finally:
        procs.close()
        teardown(ctx, db_name)
        if finished:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"logs kept in {workdir}", file=sys.stderr)
    if not runs:
        return 1
    print(report(runs, args, ctx.setup))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    document = {"args": {k: str(v) for k, v in vars(args).items()}, "setup": ctx.setup}
    args.out.write_text(json.dumps({**document, "runs": runs}, indent=1, default=float) + "\n")
    load = os.getloadavg()
    print(f"\ntotal {time.perf_counter() - started:.0f} s on {os.cpu_count()} CPUs; load average "
          f"1 min {load[0]:.1f}, 5 min {load[1]:.1f}; results in {args.out}")  # fmt: skip
    return 0 if finished else 1


if __name__ == "__main__":
    sys.exit(main())
