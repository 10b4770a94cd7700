"""The harness of the load benchmark (bench/load.py): a throwaway PostgreSQL database, child
processes in their own sessions, psutil sampling per role, the catalogue, setup and teardown."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from bench import loadgen

HOST = "127.0.0.1"
PG_ADMIN = {"host": HOST, "port": 5432, "user": "postgres", "dbname": "postgres"}
REDIS_DB = 14
ZAMIO = f"{sys.executable} -c 'from central.cli import cli; cli()'"  # the `zamio` entry point
SEED = 20240601
SAMPLE_S = 2.0
MB = 1e6


# ---------------------------------------------------------------------------------------------
# Database and processes


def create_database() -> tuple[str, str]:
    """A new empty database: (name, SQLAlchemy URL)."""
    import psycopg2

    name = f"zamio_load_{uuid.uuid4().hex[:10]}"
    with contextlib.closing(psycopg2.connect(**PG_ADMIN)) as admin:
        admin.autocommit = True
        admin.cursor().execute(f'CREATE DATABASE "{name}"')
    return name, f"postgresql+psycopg2://postgres@{HOST}:5432/{name}"


def drop_database(name: str) -> None:
    import psycopg2

    with contextlib.closing(psycopg2.connect(**PG_ADMIN)) as admin:
        admin.autocommit = True
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Processes:
    """Child processes in their own sessions (Ctrl-C reaches only us); close() stops them all."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen] = []

    def start(self, argv: list[str], log: Path | None = None, env=None) -> subprocess.Popen:
        """Start `argv`, its stdout and stderr to `log` (or nowhere)."""
        with open(log or os.devnull, "wb") as out:  # the child keeps its own descriptor
            process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env,
                start_new_session=True,
            )  # fmt: skip
        self.started.append(process)
        return process

    def stop(self, processes: list[subprocess.Popen], wait_s: float = 20.0) -> None:
        """SIGTERM (a worker finishes its job first), then SIGKILL, children too."""
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + wait_s
        for process in processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(psutil.Error):
                    for child in psutil.Process(process.pid).children(recursive=True):
                        child.kill()
                process.kill()
                process.wait()
        self.started = [p for p in self.started if p not in processes]

    def close(self) -> None:
        self.stop(list(reversed(self.started)), wait_s=10.0)


@dataclass
class Context:
    """What one invocation set up: the database, Redis, where logs go, what was measured."""

    db_name: str
    db_url: str
    redis_url: str
    app: Any  # a Flask app on the benchmark database
    redis: Any
    workdir: Path
    procs: Processes
    cli: list[str]  # how to run `zamio`
    setup: dict = field(default_factory=dict)

    def env(self, mqtt_url: str | None = None) -> dict[str, str]:
        """The environment of a `zamio` child: our database, Redis db and broker."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZAMIO_")}
        env.update(ZAMIO_DATABASE_URL=self.db_url, ZAMIO_REDIS_URL=self.redis_url)
        env.update(PYTHONUNBUFFERED="1", PYTHONPATH=str(Path(__file__).resolve().parent.parent))
        if mqtt_url:
            env["ZAMIO_MQTT_URL"] = mqtt_url
        return env


def sql(ctx: Context, statement: str, rows: bool = True, **params) -> list:
    """The rows of one statement on the benchmark database (committed)."""
    from sqlalchemy import text

    from central.extensions import db

    with ctx.app.app_context():
        result = db.session.execute(text(statement), params)
        out = result.all() if rows else []
        db.session.commit()
        db.session.remove()
    return out


def zamio(ctx: Context, *args: str) -> str:
    """Run a `zamio` command to the end; its output, or RuntimeError with its stderr."""
    done = subprocess.run([*ctx.cli, *args], env=ctx.env(), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"zamio {' '.join(args)} failed: {done.stderr[-2000:]}")
    return done.stdout


# ---------------------------------------------------------------------------------------------
# Sampling


class Sampler(threading.Thread):
    """Every SAMPLE_S: cumulative CPU s (reaped children included) and RSS of each role's
    processes, of the PostgreSQL backends of our database and of redis-server."""

    def __init__(self, roles: dict[str, list[int]], db_name: str) -> None:
        super().__init__(daemon=True)
        self.roles = {r: [psutil.Process(p) for p in pids] for r, pids in roles.items()}
        self.db_name = db_name
        self.samples: list[dict] = []
        self.stop_event = threading.Event()

    def run(self) -> None:
        psutil.cpu_percent()
        while not self.stop_event.wait(SAMPLE_S - time.time() % SAMPLE_S):
            roles: dict[str, dict[int, tuple[float, float]]] = {}
            for role, processes in self.roles.items():
                for process in processes:
                    with contextlib.suppress(psutil.Error):
                        roles.setdefault(role, {})[process.pid] = measure(process)
            for process in psutil.process_iter(["name", "cmdline"]):
                role = self.service_role(process)
                with contextlib.suppress(psutil.Error):
                    if role:
                        roles.setdefault(role, {})[process.pid] = measure(process)
            busy = 100 - psutil.cpu_times_percent().idle
            self.samples.append({"t": time.time(), "roles": roles, "machine_busy_pct": busy})

    def service_role(self, process: psutil.Process) -> str | None:
        name, cmdline = process.info["name"] or "", " ".join(process.info["cmdline"] or [])
        if cmdline.startswith("postgres:") and f" {self.db_name} " in cmdline:
            return "postgres backends (this db)"
        return "redis-server (shared)" if name == "redis-server" else None

    def stop(self) -> list[dict]:
        self.stop_event.set()
        self.join()
        return self.samples


def measure(process: psutil.Process) -> tuple[float, float]:
    """(CPU s of the process and its children, reaped or running; RSS bytes)."""
    with process.oneshot():
        times, rss = process.cpu_times(), process.memory_info().rss
    cpu_s = times.user + times.system + times.children_user + times.children_system
    for child in process.children():
        with contextlib.suppress(psutil.Error):
            cpu_s += sum(child.cpu_times()[:2])
    return cpu_s, rss


def cpu_and_memory(samples: list[dict]) -> dict[str, dict[str, float]]:
    """Per role: CPU % of one core between the first and last sample (each pid from when it was
    first seen), processes seen, and the median and max over samples of mean RSS per process."""
    if len(samples) < 2:
        return {}
    wall_s = samples[-1]["t"] - samples[0]["t"]
    out = {}
    for role in sorted({r for s in samples for r in s["roles"]}):
        first: dict[int, float] = {}
        last: dict[int, float] = {}
        rss = []
        for sample in samples:
            processes = sample["roles"].get(role, {})
            for pid, (cpu_s, _) in processes.items():
                first.setdefault(pid, cpu_s)
                last[pid] = cpu_s
            if processes:
                rss.append(np.mean([r for _, r in processes.values()]))
        out[role] = {
            "cpu_pct": sum(last[p] - first[p] for p in last) / wall_s * 100,
            "processes": len(last),
            "rss_mb": float(np.median(rss)) / MB,
            "rss_mb_max": float(np.max(rss)) / MB,
        }
    return out


# ---------------------------------------------------------------------------------------------
# Catalogue


def build_catalogue(ctx: Context, tracks: int) -> None:
    """Corpus recordings through `zamio catalog import`, then synthetic tracks up to `tracks`."""
    from bench.speed import synthetic_track
    from central.catalog import store
    from central.extensions import db
    from edge_agent.fingerprint import FINGERPRINT_VERSION

    started, manifest = time.perf_counter(), loadgen.CORPUS / "catalogue.json"
    if manifest.exists():
        zamio(ctx, "catalog", "import", str(manifest), "--workers", str(os.cpu_count() or 1))
    else:
        register_synthetic_songs(ctx)
    ctx.setup["real_s"] = time.perf_counter() - started
    with ctx.app.app_context():
        real = [p for *_, p in store.load_reference_fingerprints(db.session, FINGERPRINT_VERSION)]
        durations_s = [(int(p.anchor_frames.max()) + 1) * loadgen.FRAME_MS / 1000 for p in real]
        shapes = np.array([(d, len(p) / d) for d, p in zip(durations_s, real)])
        pool, rng = np.concatenate([p.hashes for p in real]), np.random.default_rng(SEED)
        started = time.perf_counter()
        for k in range(max(0, tracks - len(real))):
            prints = synthetic_track(rng, pool, shapes)
            store.register_track(
                db.session, external_id=f"load-synthetic-{k}", title=f"synthetic {k}",
                artist=None, isrc=None, content_hash=f"s{k:015x}", fingerprints=prints,
                duration_ms=(int(prints.anchor_frames.max()) + 1) * loadgen.FRAME_MS,
                fingerprint_version=FINGERPRINT_VERSION,
            )  # fmt: skip
            if k % 200 == 199:
                db.session.commit()
        db.session.commit()
        db.session.remove()
    ctx.setup["synthetic_s"] = time.perf_counter() - started
    count, hashes = sql(ctx, "SELECT count(*), sum(hash_count) FROM track_fingerprint")[0]
    origin = "corpus recordings" if manifest.exists() else "SYNTHETIC songs (no corpus)"
    ctx.setup.update(tracks=count, real_tracks=len(real), hashes=int(hashes), origin=origin)


def register_synthetic_songs(ctx: Context, count: int = 40) -> None:
    """Without the corpus: seeded songs, fingerprinted (REFERENCE) and registered."""
    from central.catalog import store
    from central.extensions import db
    from edge_agent.fingerprint import FINGERPRINT_VERSION, REFERENCE, fingerprint

    with ctx.app.app_context():
        for seed in range(count):
            prints = fingerprint(loadgen.synthetic_song(SEED + seed), REFERENCE)
            store.register_track(
                db.session, external_id=f"load-song-{seed}", title=f"song {seed}", artist=None,
                isrc=None, duration_ms=180_000, content_hash=f"g{seed:015x}",
                fingerprints=prints, fingerprint_version=FINGERPRINT_VERSION,
            )  # fmt: skip
        db.session.commit()
        db.session.remove()


# ---------------------------------------------------------------------------------------------
# Setup and teardown


def setup(db_name: str, db_url: str, procs: Processes, workdir: Path, cli: str = ZAMIO) -> Context:
    """Migrate the new database, connect to Redis."""
    import flask_migrate
    import redis

    from central import create_app
    from central.extensions import MIGRATIONS_DIR, db

    redis_url = f"redis://{HOST}:6379/{REDIS_DB}"
    app = create_app({"DATABASE_URL": db_url, "REDIS_URL": redis_url})
    connection = redis.Redis.from_url(redis_url)
    ctx = Context(db_name, db_url, redis_url, app, connection, workdir, procs, shlex.split(cli))
    with app.app_context():
        flask_migrate.upgrade(directory=str(MIGRATIONS_DIR))
        db.session.remove()
    connection.flushdb()
    ctx.setup["code"] = code_version()
    return ctx


def teardown(ctx: Context | None, db_name: str) -> None:
    """Flush our Redis db, close our connections, drop the database."""
    if ctx is not None:
        from central.extensions import db

        ctx.redis.flushdb()
        with ctx.app.app_context():
            db.engine.dispose()
    drop_database(db_name)


def code_version() -> str:
    """The commit benchmarked, and whether central/ or edge_agent/ differ from it."""
    git = ["git", "-C", str(Path(__file__).resolve().parent.parent)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run([*git, "diff", "--quiet", "HEAD", "--", "central", "edge_agent"])
    return head.stdout.strip() + (" + uncommitted changes" if dirty.returncode else "")
