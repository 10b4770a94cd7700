"""The HTTP half of bench/api.py: `zamio serve` (waitress) on the benchmark's database, real
tokens for an artist, a label and a station's staff, and a real HTTP client (http.client, one
keep-alive connection per client thread): p50/p95 per endpoint one request at a time, then
requests/s of a mix of the artist's endpoints from several client threads at once."""

from __future__ import annotations

import http.client
import os
import random
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select

from bench import api_data
from bench._common import pct
from central import create_app
from central.auth import tokens, users
from central.extensions import db, utc_now
from central.plays.models import Play

HOST = "127.0.0.1"
LISTENING = re.compile(r"listening on http://([^:\s]+):([0-9]+)")
START_S_MAX = 60.0
DAY_MS = api_data.DAY_MS
Path_ = Callable[[random.Random], str]


def make_tokens(url: str) -> dict[str, str]:
    """An artist (the hot one), a label and joy's staff with tokens of their role's scopes."""
    from central.auth import roles

    people = {
        "artist": ("ama@bench.test", roles.ARTIST, (), (api_data.ARTIST,)),
        "label": ("label@bench.test", roles.RIGHTS_HOLDER, (), (api_data.LABEL,)),
        "station": ("desk@bench.test", roles.STATION, ("bench-fm-1",), ()),
    }
    app = create_app({"DATABASE_URL": url})
    found = {}
    with app.app_context():
        for who, (email, role, stations, parties) in people.items():
            user = users.get_user(db.session, email) if _exists(email) else users.add_user(
                db.session, email, role, "bench passphrase, long enough", stations, parties
            )  # fmt: skip
            _, found[who] = tokens.create_token(
                db.session, user, "bench", roles.allowed_scopes(role), timedelta(days=1),
                utc_now(),
            )  # fmt: skip
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return found


def _exists(email: str) -> bool:
    """Whether a user with this email is registered (a rerun on a kept database)."""
    from central.auth.models import User

    return db.session.scalar(select(User.id).where(User.email == email)) is not None


def artist_play_ids(url: str) -> list[int]:
    """Ids of the hot artist's plays (every HOT_EVERY-th), at most 1000."""
    app = create_app({"DATABASE_URL": url})
    with app.app_context():
        ids = list(db.session.scalars(
            select(Play.id).where(Play.id % api_data.HOT_EVERY == 0).order_by(Play.id).limit(1000)
        ))  # fmt: skip
        db.session.remove()
        db.engine.dispose()
    return ids


def start_server(url: str, threads: int) -> tuple[subprocess.Popen, int]:
    """`zamio serve --port 0` on the database; the process and its port."""
    env = {**os.environ, "ZAMIO_DATABASE_URL": url, "ZAMIO_API_RATE_LIMIT": "10000000 per minute"}
    zamio = Path(sys.executable).with_name("zamio")
    process = subprocess.Popen(
        [str(zamio), "serve", "--port", "0", "--threads", str(threads)],
        env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + START_S_MAX
    assert process.stderr is not None
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        found = LISTENING.search(line)
        if found:
            threading.Thread(target=process.stderr.read, daemon=True).start()  # drain
            return process, int(found.group(2))
        if not line and process.poll() is not None:
            break
    process.kill()
    raise RuntimeError("zamio serve did not start")


def endpoints(size: api_data.Size, play_ids: list[int]) -> dict[str, tuple[str, Path_]]:
    """name -> (who, a path with its parameters drawn from the generator)."""
    end_ms = api_data.T0_MS + size.days * DAY_MS

    def day(r: random.Random) -> dict[str, int]:
        since = api_data.T0_MS + r.randrange(size.days) * DAY_MS
        return {"since": since, "until": since + DAY_MS}

    def month(r: random.Random) -> dict[str, int]:
        from central.royalties.periods import next_month_ms

        first = api_data.T0_MS
        for _ in range(r.randrange(max(1, size.days // 31))):
            first = next_month_ms(first)
        return {"since": first, "until": next_month_ms(first)}

    year = {"since": api_data.T0_MS, "until": end_ms}
    plays, breakdown = "/api/v1/plays?", "/api/v1/earnings/breakdown?"
    return {
        "GET /plays (artist, a day)": ("artist", lambda r: plays + urlencode(day(r))),
        "GET /plays (artist, a month)": ("artist", lambda r: plays + urlencode(month(r))),
        "GET /plays/{id} (artist)": ("artist", lambda r: f"/api/v1/plays/{r.choice(play_ids)}"),
        "GET /plays/{id}/royalty (artist)": (
            "artist", lambda r: f"/api/v1/plays/{r.choice(play_ids)}/royalty"
        ),
        "GET /earnings (artist)": ("artist", lambda r: "/api/v1/earnings"),
        "GET /earnings/statement (artist, a month)": (
            "artist", lambda r: "/api/v1/earnings/statement?" + urlencode(month(r))
        ),
        "GET /earnings/breakdown?by=track (artist, a month)": (
            "artist", lambda r: breakdown + urlencode({"by": "track", **month(r)})
        ),
        "GET /earnings/breakdown?by=station (artist, the year)": (
            "artist", lambda r: breakdown + urlencode({"by": "station", **year})
        ),
        "GET /plays (station staff, a day)": ("station", lambda r: plays + urlencode(day(r))),
        "GET /earnings/breakdown?by=track (label, the year)": (
            "label", lambda r: breakdown + urlencode({"by": "track", **year})
        ),
    }  # fmt: skip


def get(connection: http.client.HTTPConnection, path: str, token: str) -> int:
    """One GET on a kept-alive connection; its status (the body read whole)."""
    connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = connection.getresponse()
    response.read()
    return response.status


def latencies(
    port: int, tokens_by: dict[str, str], table: dict[str, tuple[str, Path_]], repeats: int
) -> list[list[Any]]:
    """[name, p50 ms, p95 ms, max ms, runs, non-200] per endpoint, one request at a time."""
    rows = []
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    for name, (who, path_of) in table.items():
        rng, samples, failed = random.Random(name), [], 0
        for n in range(2 + repeats):
            path = path_of(rng)
            start = time.perf_counter()
            status = get(connection, path, tokens_by[who])
            if n >= 2:
                samples.append((time.perf_counter() - start) * 1000)
                failed += status != 200
        rows.append([name, pct(samples, 50), pct(samples, 95), max(samples), repeats, failed])
    connection.close()
    return rows


def throughput(
    port: int, tokens_by: dict[str, str], table: dict[str, tuple[str, Path_]], clients: int,
    duration_s: float,
) -> dict[str, Any]:  # fmt: skip
    """Requests/s of the artist's endpoints in turn from `clients` threads for `duration_s`."""
    mix = [(name, path_of) for name, (who, path_of) in table.items() if who == "artist"]
    counts, failures, samples = [0] * clients, [0] * clients, [[] for _ in range(clients)]
    stop = time.monotonic() + duration_s

    def client(n: int) -> None:
        rng = random.Random(n)
        connection = http.client.HTTPConnection(HOST, port, timeout=30)
        while time.monotonic() < stop:
            _, path_of = mix[counts[n] % len(mix)]
            start = time.perf_counter()
            status = get(connection, path_of(rng), tokens_by["artist"])
            samples[n].append((time.perf_counter() - start) * 1000)
            counts[n] += 1
            failures[n] += status != 200
        connection.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    every = [s for per in samples for s in per]
    return {"clients": clients, "requests": sum(counts), "failed": sum(failures),
            "rps": sum(counts) / elapsed, "p50": pct(every, 50), "p95": pct(every, 95)}  # fmt: skip
