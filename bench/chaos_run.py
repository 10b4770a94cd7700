"""The I/O of bench/chaos.py: set up the bench's own services and central, run the stations,
inject the faults, watch recovery, drain, count. `run(args)` returns the result dict that
bench/chaos.py renders (and tests/integration/test_chaos.py asserts on)."""

from __future__ import annotations

import argparse
import contextlib
import json
import pickle
import random
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psycopg2

from bench import chaos, chaos_agents, loadgen
from bench.chaos_services import Broker, Central, PgProxy, Redis
from bench.harness import (
    HOST,
    PG_ADMIN,
    SEED,
    ZAMIO,
    Context,
    Processes,
    create_database,
    drop_database,
)
from bench.load import register_stations

MONITOR_S = 0.5
QUIET_WAIT_S_MAX = 60.0  # after the stored count caught up: jobs and plays settle
AGENTS_START_S_MAX = 300.0
ROYALTY_KEY = re.compile(r"^royalty:play:(\d+)$")
SONG_SEEDS = (0, 1, 1000, 2, 3, 1001)  # the broadcast, SEED + each; under 1000 registered
SONG_S = 60.0


def synthetic_pool(seed: int = SEED) -> list:
    """bench/loadgen.py's synthetic broadcast (6 songs of 60 s, the first 4 registered), cut
    into full windows; always synthetic, so the catalogue is the 4 registered songs."""
    from bench._common import stream
    from edge_agent.batch import BatchSource, batches_from_fingerprints
    from edge_agent.fingerprint import FINGERPRINT_VERSION, QUERY, Fingerprints

    songs = [loadgen.synthetic_song(seed + s, SONG_S) for s in SONG_SEEDS]
    prints, frames = stream(np.concatenate(songs), QUERY)
    frame_end = frames - frames % loadgen.WINDOW_FRAMES
    keep = prints.anchor_frames < frame_end
    kept = Fingerprints(prints.hashes[keep], prints.anchor_frames[keep])
    source = BatchSource("pool", "pool", FINGERPRINT_VERSION, 0)
    return batches_from_fingerprints(kept, source=source, frame_end=frame_end)


class Bench:
    """Everything one run started, and how to reach it."""

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args, self.workdir, self.procs = args, workdir, Processes()
        self.db_name, self.db_url = create_database()
        self.proxy = PgProxy(PG_ADMIN["port"])
        self.redis = Redis(self.procs, workdir / "redis")
        self.broker = Broker(self.procs, workdir / "broker")
        self.central: Central | None = None
        self.ctx: Context | None = None
        self.crashes: list[str] = []
        self.t0 = time.monotonic()
        self.t_run_s = 0.0  # bench clock when the stations start publishing
        self.t_run_wall_s = time.time()

    def proxied_url(self) -> str:
        """Central's database URL: through the proxy, but direct for the burst day (no
        database faults there, and its rate is central's, not the proxy's)."""
        if self.args.burst_day:
            return self.db_url
        return f"postgresql+psycopg2://postgres@{HOST}:{self.proxy.port}/{self.db_name}"

    def start(self) -> Context:
        """The services, the schema, catalogue and rate card, the stations' rows, central."""
        import redis as redis_client

        self.proxy.start()
        self.redis.start()
        self.broker.start()
        app = make_app(self.db_url, self.redis.url)
        connection = redis_client.Redis.from_url(self.redis.url)
        ctx = Context(self.db_name, self.proxied_url(), self.redis.url, app, connection,
                      self.workdir, self.procs, shlex.split(ZAMIO))  # fmt: skip
        self.ctx = ctx
        register_songs(app)
        add_rate_card(app)
        env = ctx.env(self.broker.url)
        env["ZAMIO_PLAYS_CLOSE_WAIT_S"] = str(self.args.close_wait_s)
        # Plays of every matched batch at once: the drain then needs no scheduler sweep to
        # build the last ones, and the scheduler can be stopped before counting royalties.
        env["ZAMIO_PLAYS_BUILD_INTERVAL_S"] = "0"
        self.central = Central(self.procs, ctx.cli, env, self.workdir)
        self.central.start({"ingest": 1, "worker": self.args.workers, "scheduler": 1})
        return ctx

    def now_s(self) -> float:
        return time.monotonic() - self.t0

    def revive(self) -> None:
        """Start again any central process that exited by itself, counting it as a crash."""
        assert self.central is not None
        self.crashes += self.central.revive()

    def close(self) -> None:
        """Stop everything started, close our connections, drop the database."""
        self.procs.close()
        if self.ctx is not None:
            from central.extensions import db

            self.ctx.redis.close()
            with self.ctx.app.app_context():
                db.engine.dispose()
        with contextlib.suppress(Exception):
            self.proxy.close()
        drop_database(self.db_name)


def make_app(db_url: str, redis_url: str):
    """A Flask app on the bench database (direct, not through the proxy), migrated."""
    import flask_migrate

    from central import create_app
    from central.extensions import MIGRATIONS_DIR, db

    app = create_app({"DATABASE_URL": db_url, "REDIS_URL": redis_url})
    with app.app_context():
        flask_migrate.upgrade(directory=str(MIGRATIONS_DIR))
        db.session.remove()
    return app


def register_songs(app, seed: int = SEED) -> None:
    """The broadcast's registered songs, as aired (60 s each), in the catalogue."""
    from central.catalog import store
    from central.extensions import db
    from edge_agent.fingerprint import FINGERPRINT_VERSION, REFERENCE, fingerprint

    with app.app_context():
        for s in (s for s in SONG_SEEDS if s < 1000):
            store.register_track(
                db.session, external_id=f"chaos-song-{s}", title=f"song {s}", artist=None,
                isrc=None, duration_ms=int(SONG_S * 1000), content_hash=f"c{s:015x}",
                fingerprints=fingerprint(loadgen.synthetic_song(seed + s, SONG_S), REFERENCE),
                fingerprint_version=FINGERPRINT_VERSION,
            )  # fmt: skip
        db.session.commit()
        db.session.remove()


def add_rate_card(app) -> None:
    """A card for the default tariff in force since 1970: 0.005 per second of play."""
    from central.extensions import db
    from central.royalties import cards, store

    document = {"code": "broadcast", "effective_from": 0,
                "lines": [{"basis": "per_second", "rate": "0.005"}]}  # fmt: skip
    spec, problems = cards.parse_card(document)
    assert spec is not None, problems
    with app.app_context():
        store.add_rate_card(db.session, spec)
        db.session.commit()
        db.session.remove()


# ---------------------------------------------------------------------------------------------
# The stations


def start_agents(bench: Bench, ctx: Context, stations: list, pool: list) -> list:
    """The agents processes, each with its share of the stations; (process, out) pairs."""
    args = bench.args
    period_s = loadgen.WINDOW_MS / 1000 / args.speed
    t0_s = time.time() + 2.0
    base_ms = int(t0_s * 1000) - loadgen.WINDOW_MS - int(args.duration_s * (args.speed - 1) * 1000)
    spool_dir = bench.workdir / "spools"
    spool_dir.mkdir()
    started = []
    for p in range(args.agent_procs):
        traffic = loadgen.Plan(HOST, bench.broker.port, f"chaos-{p}", pool,
                               stations[p :: args.agent_procs], len(stations), t0_s, period_s,
                               args.duration_s, base_ms)  # fmt: skip
        plan = chaos_agents.AgentsPlan(traffic, spool_dir, args.burst_batches * args.burst_day)
        plan_path = bench.workdir / f"agents-{p}.pickle"
        plan_path.write_bytes(pickle.dumps(plan))
        out = bench.workdir / f"agents-{p}.json"
        argv = [sys.executable, "-m", "bench.chaos_agents", str(plan_path), str(out)]
        process = bench.procs.start(argv, bench.workdir / f"agents-{p}.log", ctx.env())
        started.append((process, out))
    for process, out in started:
        ready = out.with_name(out.name + ".ready")
        deadline = time.monotonic() + AGENTS_START_S_MAX
        while not ready.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        if not ready.exists():
            raise RuntimeError(f"agents process did not start: see {out.with_suffix('.log')}")
    return started


def stop_agents(bench: Bench, started: list) -> list[dict]:
    """SIGTERM the agents processes; every station's result."""
    bench.procs.stop([p for p, _ in started], wait_s=30.0)
    results = []
    for _, out in started:
        results += json.loads(out.read_text())
    return results


def produced_now(spool_dir: Path) -> dict[str, int]:
    """Each station's seqs produced so far (its spool's next seq), read from the spool files."""
    out = {}
    for path in sorted(spool_dir.glob("*.db")):
        with contextlib.closing(sqlite3.connect(path, timeout=5)) as connection:
            row = connection.execute(
                "SELECT next_seq FROM sources WHERE source_id = ?", (loadgen.SOURCE_ID,)
            ).fetchone()
        out[path.stem] = int(row[0]) if row else 0
    return out


# ---------------------------------------------------------------------------------------------
# Watching the database (directly, not through the proxy)


def pg(db_name: str):
    connection = psycopg2.connect(**{**PG_ADMIN, "dbname": db_name})
    connection.autocommit = True
    return connection


def stored_now(connection) -> set[tuple[str, int]]:
    """(device code, seq) of every stored batch."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT d.code, b.seq FROM ingested_batch b JOIN device d ON d.id = b.device_id "
            "WHERE b.source_id = %s",
            (loadgen.SOURCE_ID,),
        )
        return {(code, int(seq)) for code, seq in cursor.fetchall()}


class Monitor(threading.Thread):
    """Every MONITOR_S: which faults' targets are stored now (their recovery time)."""

    def __init__(self, bench: Bench) -> None:
        super().__init__(daemon=True)
        self.bench = bench
        self.faults: list[chaos.Injected] = []
        self.stop_event = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        with contextlib.closing(pg(self.bench.db_name)) as connection:
            while not self.stop_event.wait(MONITOR_S):
                stored = stored_now(connection)
                now_s = self.bench.now_s() - self.bench.t_run_s
                with self.lock:
                    for fault in self.faults:
                        if fault.recovery_s is None and chaos.caught_up(fault.target, stored):
                            fault.recovery_s = max(0.0, now_s - fault.end_s)

    def stop(self) -> None:
        self.stop_event.set()
        self.join(10)


# ---------------------------------------------------------------------------------------------
# Faults


def inject(bench: Bench, fault: chaos.Fault, rng) -> None:
    """Break one thing and bring it back (returns when it is back)."""
    assert bench.central is not None
    if fault.kind == "broker-restart":
        bench.broker.stop()
        bench.broker.start()
    elif fault.kind == "broker-kill":
        bench.broker.kill()
        time.sleep(fault.outage_s)
        bench.broker.start()
    elif fault.kind == "db-outage":
        bench.proxy.cut(fault.outage_s)
    elif fault.kind == "redis-outage":
        bench.redis.stop()
        time.sleep(fault.outage_s)
        bench.redis.start()
    elif fault.kind == "ingest-kill":
        bench.central.kill("ingest", 0)
    elif fault.kind == "worker-kill":
        bench.central.kill("worker", rng.randrange(len(bench.central.running["worker"])))


def run_faults(bench: Bench, monitor: Monitor, schedule: list[chaos.Fault], spool_dir: Path,
               end_s: float) -> None:  # fmt: skip
    """Inject each fault at its time, reviving crashed processes meanwhile, until `end_s`."""
    picker = random.Random(bench.args.seed)
    for fault in schedule:
        wait_until_s(bench, bench.t_run_s + fault.at_s)
        before = produced_now(spool_dir)
        start_s = bench.now_s()
        print(
            f"{start_s - bench.t_run_s:6.1f} s: {fault.kind} ({fault.outage_s:g} s)",
            file=sys.stderr,
        )
        inject(bench, fault, picker)
        injected = chaos.Injected(
            fault.kind, round(start_s - bench.t_run_s, 2), round(bench.now_s() - bench.t_run_s, 2)
        )
        injected.target = chaos.recovery_target(before, produced_now(spool_dir))
        with monitor.lock:
            monitor.faults.append(injected)
    wait_until_s(bench, end_s)


def wait_until_s(bench: Bench, at_s: float) -> None:
    """Sleep until `at_s` on the bench clock, reviving crashed central processes."""
    while bench.now_s() < at_s:
        bench.revive()
        time.sleep(min(0.5, max(0.0, at_s - bench.now_s())))


# ---------------------------------------------------------------------------------------------
# Drain and count


def drain(bench: Bench, ctx: Context, spool_dir: Path) -> float:
    """Until every produced batch is stored, matched and built into plays (or --drain-s-max;
    the scheduler still runs, should a fix recover lost jobs by a sweep), then until the plays
    are swept and no job is left; seconds waited."""
    started = time.monotonic()
    deadline = started + bench.args.drain_s_max
    produced = produced_now(spool_dir)
    with contextlib.closing(pg(bench.db_name)) as connection:
        while time.monotonic() < deadline:
            bench.revive()
            stored = chaos.caught_up(
                {d: (0, n) for d, n in produced.items()}, stored_now(connection)
            )
            if stored and (bench.args.burst_day or not unfinished(connection)):
                break
            time.sleep(1.0)
        if not bench.args.burst_day:
            quiet_s = QUIET_WAIT_S_MAX + bench.args.close_wait_s
            settle(bench, ctx, time.monotonic() + quiet_s)
    return time.monotonic() - started


def unfinished(connection) -> int:
    """Stored batches not yet matched or not yet built into plays."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM ingested_batch WHERE plays_at IS NULL")
        return int(cursor.fetchone()[0])


def settle(bench: Bench, ctx: Context, deadline: float) -> None:
    """Stop the scheduler; once the stations have been quiet for the close wait, run its
    play sweep once (it closes the plays still open); wait until no job is left."""
    from rq import Queue

    assert bench.central is not None
    bench.procs.stop(bench.central.running["scheduler"])
    bench.central.running["scheduler"] = []
    queue = Queue("zamio", connection=ctx.redis)
    swept, idle_ticks = False, 0
    while time.monotonic() < deadline:
        bench.revive()
        if (
            not swept
            and bench.now_s() > bench.t_run_s + bench.args.duration_s + bench.args.close_wait_s + 5
        ):
            queue.enqueue("central.plays.jobs.sweep_plays")
            swept = True
        idle = queue.count == 0 and queue.started_job_registry.count == 0
        idle_ticks = idle_ticks + 1 if swept and idle else 0
        if idle_ticks >= 3:  # batches a lost job left unmatched would make us wait forever
            return
        time.sleep(1.0)


def account(bench: Bench, ctx: Context, agents: list[dict], faults: list) -> dict:
    """Produced against stored, duplicate effects, jobs left."""
    from rq import Queue

    produced = {a["device"]: a["produced"] for a in agents}
    with contextlib.closing(pg(bench.db_name)) as connection:
        stored = stored_now(connection)
        facts = database_facts(connection)
    spooled = {(a["device"], seq) for a in agents for seq in a["waiting_seqs"]}
    lost = chaos.lost_batches(produced, stored, spooled)
    produced_set = {(d, s) for d, n in produced.items() for s in range(n)}
    queue = Queue("zamio", connection=ctx.redis)
    royalties = chaos.royalty_counts(facts.pop("closed_play_ids"), facts.pop("royalty_play_ids"))
    return {
        "produced": sum(produced.values()),
        "stored": len(stored & produced_set),
        "lost": len(lost),
        "unexpected": len(stored - produced_set),
        "losses": chaos.losses_by_fault(
            lost, {a["device"]: a["produced_s"] for a in agents}, faults
        ),  # fmt: skip
        "spool_dropped": sum(a["dropped_by_spool"] for a in agents),
        "spool_waiting": sum(a["waiting"] for a in agents),
        "failed_jobs": queue.failed_job_registry.count,
        "queued_at_end": queue.count,
        **facts,
        **royalties,
    }


def database_facts(connection) -> dict:
    """Counts read from the tables: matching, plays counted twice, royalties, resend."""
    queries = {
        "not_matched": "SELECT count(*) FROM ingested_batch WHERE matched_at IS NULL",
        "matched": "SELECT count(*) FROM ingested_batch WHERE matched_at IS NOT NULL",
        "plays_not_built": "SELECT count(*) FROM ingested_batch WHERE plays_at IS NULL",
        "plays": "SELECT count(*) FROM play",
        "plays_same_start": "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM "
        "play GROUP BY station_id, track_id, start_ms HAVING count(*) > 1) AS x",
        "plays_overlapping": "SELECT count(*) FROM play a JOIN play b ON a.station_id = "
        "b.station_id AND a.track_id = b.track_id AND a.id < b.id AND a.start_ms < b.end_ms "
        "AND b.start_ms < a.end_ms AND a.closed_at IS NOT NULL AND b.closed_at IS NOT NULL",
        "ingest_duplicates": "SELECT coalesce(sum(duplicate_count), 0) FROM ingested_batch",
    }
    facts = {}
    with connection.cursor() as cursor:
        for name, statement in queries.items():
            cursor.execute(statement)
            facts[name] = int(cursor.fetchone()[0])
        cursor.execute("SELECT id FROM play WHERE closed_at IS NOT NULL")
        facts["closed_play_ids"] = {row[0] for row in cursor.fetchall()}
        cursor.execute("SELECT idempotency_key FROM ledger_transfer WHERE idempotency_key "
                       "LIKE 'royalty:play:%%'")  # fmt: skip
        keys = [ROYALTY_KEY.match(k) for (k,) in cursor.fetchall()]
        facts["royalty_play_ids"] = [int(m.group(1)) for m in keys if m]
        facts["resend"] = resend_rows(cursor)
    facts["plays_twice"] = facts["plays_same_start"] + facts["plays_overlapping"]
    return facts


def resend_rows(cursor) -> dict | None:
    """Rows of central's record of seq gaps and resends, when it keeps one (else None)."""
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    found = chaos.resend_tables([t for (t,) in cursor.fetchall()])
    if not found:
        return None
    counts = {}
    for name in found:
        cursor.execute(f'SELECT count(*) FROM "{name}"')
        counts[name] = int(cursor.fetchone()[0])
    return counts


def ledger_verify(ctx: Context, db_url: str) -> dict:
    """`zamio ledger verify` on the bench database: verdict ok or BROKEN, its last line."""
    env = {**ctx.env(), "ZAMIO_DATABASE_URL": db_url}
    done = subprocess.run([*ctx.cli, "ledger", "verify"], env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    lines = (done.stdout + done.stderr).strip().splitlines()
    return {"verdict": "ok" if done.returncode == 0 else "BROKEN", "returncode": done.returncode,
            "detail": lines[-1] if lines else "", "problems": lines[:-1][:20]}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# One run


def run(args: argparse.Namespace) -> dict:
    """One chaos (or burst-day) run from nothing to the counts; everything it started stopped."""
    workdir = Path(tempfile.mkdtemp(prefix="zamio-bench-chaos-"))
    bench = Bench(args, workdir)
    finished = False
    try:
        result = run_in(bench)
        finished = True
        return result
    finally:
        bench.close()
        if finished and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"logs kept in {workdir}", file=sys.stderr)


def run_in(bench: Bench) -> dict:
    args = bench.args
    ctx = bench.start()
    pool = synthetic_pool()
    stations = register_stations(ctx, args.stations, "chaos", len(pool))
    schedule = chaos.fault_schedule(
        args.faults, args.duration_s, args.seed, gap_s=args.gap_s, outage_s=args.outage_s
    )
    monitor = Monitor(bench)
    monitor.start()
    agents = start_agents(bench, ctx, stations, pool)
    bench.t_run_s, bench.t_run_wall_s = bench.now_s(), time.time()
    spool_dir = bench.workdir / "spools"
    # the uplinks start as each agents process has spooled its share: from the first of them
    burst_started_s = min(
        float(out.with_name(out.name + ".ready").read_text()) for _, out in agents
    )
    if not args.burst_day:
        run_faults(bench, monitor, schedule, spool_dir, bench.t_run_s + args.duration_s + 3.0)
    drain_s = drain(bench, ctx, spool_dir)
    monitor.stop()
    results = stop_agents(bench, agents)
    faults = monitor.faults
    for agent in results:  # wall clock to s from the start of publishing, as the faults are
        agent["produced_s"] = [t - bench.t_run_wall_s for t in agent["produced_s"]]
    accounting = account(bench, ctx, results, faults)
    result = {
        "stations": args.stations, "duration_s": args.duration_s, "seed": args.seed,
        "faults": [fault_record(f) for f in faults], "recovery": chaos.recovery_by_kind(faults),
        "accounting": accounting, "drain_s": drain_s, "crashes": dict_count(bench.crashes),
        "broker_config": bench.broker.config_origin, "ledger": ledger_verify(ctx, bench.db_url),
        "burst_batches": args.burst_batches if args.burst_day else 0,
    }  # fmt: skip
    if args.burst_day:
        # From the uplinks' start to the last batch stored: the drain, even if some never come.
        elapsed_s = last_stored_s(bench.db_name) - burst_started_s
        result["drain_s"] = elapsed_s
        result["rate_per_s"] = accounting["stored"] / elapsed_s if elapsed_s > 0 else float("nan")
    return result


def last_stored_s(db_name: str) -> float:
    """Epoch s when the last batch was stored (0 when none was)."""
    with contextlib.closing(pg(db_name)) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT extract(epoch FROM max(received_at)) FROM ingested_batch")
        value = cursor.fetchone()[0]
    return float(value) if value is not None else 0.0


def fault_record(fault: chaos.Injected) -> dict:
    """A fault for the result: its times, target and recovery (rounded)."""
    recovery = None if fault.recovery_s is None else round(fault.recovery_s, 2)
    return {**vars(fault), "recovery_s": recovery}


def dict_count(kinds: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for kind in kinds:
        out[kind] = out.get(kind, 0) + 1
    return out
