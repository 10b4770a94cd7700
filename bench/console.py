"""Console benchmark: the server time of each dashboard page (admin, station and artist `/`, the
live feed fragment) over a year of plays at 100 stations, median and p95 per page; and the live
feed's latency, a play stored -> seen in the feed fragment polled as the page polls it. Prints
tables; never asserts timings (the targets: p95 <= 150 ms a page, a play shown within 2 s).

    python bench/console.py [--quick] [--stations 100] [--plays 5000000] [--days D]
                            [--tracks 2000] [--artists 400] [--repeats 30]
                            [--latency-runs 10] [--poll-s S] [--keep | --url URL]

Setup: bench/api_data.py's data set in a throwaway PostgreSQL database (made by bench/pg.py,
dropped at exit unless --keep; --url reuses one already loaded). --days defaults to the days
from its first day to today, so the dashboards' "today" and "this month" have plays. Users of
each role sign in through the real /login form; every page is fetched by the Flask test client
in process (the server's time: routing, policy, domain queries, templates; no network).
--quick: 5 stations, 50,000 plays, 100 tracks, 20 artists, 5 repeats (a minute).
"""

from __future__ import annotations

import argparse
import dataclasses
import html
import random
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import flask_migrate  # noqa: E402
from flask import Flask  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from sqlalchemy import delete, func, select  # noqa: E402

from bench import api, api_data, pg  # noqa: E402
from bench._common import pct, table  # noqa: E402
from central import create_app  # noqa: E402
from central.auth import roles, users  # noqa: E402
from central.extensions import MIGRATIONS_DIR, db, utc_now  # noqa: E402
from central.plays.models import Play  # noqa: E402
from central.royalties.models import RightsShare  # noqa: E402
from central.times import now_ms  # noqa: E402

WARMUPS = 2
PASSWORD = "bench console passphrase"
STATION = "bench-fm-1"
PEOPLE = {
    "admin": ("ops@bench.test", roles.ADMIN, (), ()),
    "station": ("desk@bench.test", roles.STATION, (STATION,), ()),
    "artist": ("ama@bench.test", roles.ARTIST, (), (api_data.ARTIST,)),
}
FEED = "/live/feed"
HTMX = {"HX-Request": "true"}
QUICK = api_data.Size(stations=5, plays=50_000, tracks=100, artists=20)  # days: to today
LATENCY_WAIT_S_MAX = 30.0
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_POLLER = re.compile(r'id="live-poller" hx-get="([^"]+)" hx-trigger="every ([0-9.]+)s"')


@dataclasses.dataclass(frozen=True)
class Page:
    """A page measured: who asks, the path, and the request's headers."""

    role: str
    path: str
    headers: dict[str, str]


PAGES = {
    "admin: /": Page("admin", "/", {}),
    "station: /": Page("station", "/", {}),
    "artist: /": Page("artist", "/", {}),
    "admin: /live": Page("admin", "/live", {}),
    "station: /live": Page("station", "/live", {}),
    "artist: /live": Page("artist", "/live", {}),
}
POLLS = ("admin", "station", "artist")  # the live feed fragment as /live's poller asks it


def days_to_today() -> int:
    """The days from the data set's first day to the end of today (UTC)."""
    return (now_ms() - api_data.T0_MS) // api_data.DAY_MS + 1


def add_people(app: Flask) -> None:
    """A user of each role with PASSWORD (kept if a reused database has them)."""
    with app.app_context():
        for email, role, stations, parties in PEOPLE.values():
            if users.find_user(db.session, email) is None:
                users.add_user(db.session, email, role, PASSWORD, stations, parties)
        db.session.commit()


def sign_in(app: Flask, email: str) -> FlaskClient:
    """A test client signed in through the /login form, as a browser signs in."""
    client = app.test_client()
    token = _CSRF.search(client.get("/login").text).group(1)
    response = client.post("/login", data={"email": email, "password": PASSWORD,
                                            "csrf_token": token})  # fmt: skip
    if response.status_code != 302:
        raise RuntimeError(f"sign-in of {email} refused: {response.status_code}")
    return client


def poller(client: FlaskClient) -> tuple[str, float]:
    """The URL /live's poller asks (its cursors: now) and how often, in seconds."""
    found = _POLLER.search(client.get("/live").text)
    if found is None:
        raise RuntimeError("no poller on /live")
    return html.unescape(found.group(1)), float(found.group(2))


def next_poller(text: str, current: str) -> str:
    """The URL the poller's answer hands on (its cursors moved past what it brought)."""
    found = _POLLER.search(text)
    return current if found is None else html.unescape(found.group(1))


def time_pages(clients: dict[str, FlaskClient], repeats: int) -> list[list[Any]]:
    """[page, median ms, p95 ms, max ms, bytes, runs, not 200] per page, and per role the live
    feed fragment as the poller asks it (nothing new since the page opened)."""
    pages = dict(PAGES)
    for role in POLLS:
        pages[f"{role}: live feed fragment (a poll)"] = Page(role, poller(clients[role])[0], HTMX)
    rows = []
    for name, page in pages.items():
        client, samples, failed, size = clients[page.role], [], 0, 0
        for n in range(WARMUPS + repeats):
            start = time.perf_counter()
            response = client.get(page.path, headers=page.headers)
            elapsed_ms = (time.perf_counter() - start) * 1000
            failed += response.status_code != 200
            size = len(response.data)
            if n >= WARMUPS:
                samples.append(elapsed_ms)
        rows.append([name, pct(samples, 50), pct(samples, 95), max(samples), size, repeats,
                     failed])  # fmt: skip
    return rows


def store_play(app: Flask, track_id: int, station_id: int) -> tuple[int, float]:
    """A play on air now, stored (committed) as update_plays stores one; (its id, when)."""
    with app.app_context():
        end_ms = now_ms()
        play = Play(station_id=station_id, track_id=track_id, start_ms=end_ms - 45_000,
                    end_ms=end_ms, speed_ratio=1.0, inliers=120, detections=9, confidence=0.99,
                    chosen_by="only_candidate", updated_at=utc_now())  # fmt: skip
        db.session.add(play)
        db.session.commit()
        stored = time.perf_counter()
        play_id = play.id
        db.session.remove()
    return play_id, stored


def feed_latency(
    app: Flask, clients: tuple[FlaskClient, FlaskClient], runs: int, poll_s: float | None,
    track_id: int, station_id: int,
) -> tuple[list[float], list[float], list[int], float]:  # fmt: skip
    """Each run: /live opened, its poller followed as htmx does (every `poll_s`, default the
    page's own interval, each answer handing on the next URL) by a thread, while a play is
    stored at a random moment; ms from its commit to the end of the first answer that shows
    it (`seen`), and of one poll by a second session right after the commit (`fetch`: what
    the server adds to the interval). Also the plays stored, and the interval used."""
    client, second = clients
    seen, fetch, stored_ids = [], [], []
    rng = random.Random(7)
    interval = poll_s or poller(client)[1]
    for _ in range(runs):
        watcher = _Poller(client, poller(client)[0], interval)
        url_now = poller(second)[0]
        watcher.start()
        time.sleep(rng.uniform(0, interval))
        play_id, stored = store_play(app, track_id, station_id)
        watcher.marker = f'id="play-{play_id}"'
        stored_ids.append(play_id)
        start = time.perf_counter()
        shown = watcher.marker in second.get(url_now, headers=HTMX).text
        fetch.append((time.perf_counter() - start) * 1000)
        watcher.join(LATENCY_WAIT_S_MAX)
        watcher.found.set()
        if not shown or watcher.shown_at is None:
            raise RuntimeError(f"play {play_id} not shown by {FEED}")
        seen.append((watcher.shown_at - stored) * 1000)
    return seen, fetch, stored_ids, interval


class _Poller(threading.Thread):
    """Follows the feed's poller every poll_s until an answer shows `marker` (set once the
    play is stored)."""

    def __init__(self, client: FlaskClient, url: str, poll_s: float) -> None:
        super().__init__(daemon=True)
        self.client, self.url, self.poll_s = client, url, poll_s
        self.marker: str | None = None
        self.shown_at: float | None = None
        self.found = threading.Event()

    def run(self) -> None:
        deadline = time.perf_counter() + LATENCY_WAIT_S_MAX
        while not self.found.is_set() and time.perf_counter() < deadline:
            text = self.client.get(self.url, headers=HTMX).text
            marker = self.marker  # after the fetch: a play stored during it may be in it
            if marker is not None and marker in text:
                self.shown_at = time.perf_counter()
                self.found.set()
                return
            self.url = next_poller(text, self.url)
            self.found.wait(self.poll_s)


def artist_track_and_station(app: Flask) -> tuple[int, int]:
    """A track of the measured artist, and the station of STATION's staff."""
    from central.stations import store as stations

    with app.app_context():
        track_id = db.session.scalar(
            select(func.min(RightsShare.track_id)).where(RightsShare.party == api_data.ARTIST)
        )
        station_id = stations.find_station(db.session, STATION).id
        db.session.remove()
    return track_id, station_id


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = api_data.Size()
    parser.add_argument("--quick", action="store_true", help="a small data set, a minute")
    for name in ("stations", "plays", "days", "tracks", "artists"):
        parser.add_argument(f"--{name}", type=int, default=None,
                            help=f"default {getattr(defaults, name)}"
                            + (" (or: to today)" if name == "days" else ""))  # fmt: skip
    parser.add_argument("--repeats", type=int, default=None, help="timed fetches per page (30)")
    parser.add_argument("--latency-runs", type=int, default=None, help="plays stored (10)")
    parser.add_argument("--poll-s", type=float, help="poll this often (default: as /live does)")
    parser.add_argument("--keep", action="store_true", help="keep the database (prints its URL)")
    parser.add_argument("--url", help="measure this database, already loaded (no build)")
    return parser.parse_args(argv)


def size_of(args: argparse.Namespace) -> api_data.Size:
    """The data set's size: --quick's or the defaults, with any size flag over it."""
    base = dataclasses.replace(QUICK if args.quick else api_data.Size(),
                               days=max(365, days_to_today()))  # fmt: skip
    given = {n: getattr(args, n) for n in ("stations", "plays", "days", "tracks", "artists")}
    return api_data.Size(**{n: v if v is not None else getattr(base, n) for n, v in given.items()})


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Build (or reuse) the data set, sign in, measure; the results."""
    size = size_of(args)
    repeats = args.repeats or (5 if args.quick else 30)
    runs = args.latency_runs or (3 if args.quick else 10)
    url = args.url or pg.make_database("zamio_bench_console")
    try:
        build_s = {} if args.url else api.load(url, size)
        app = create_app({"DATABASE_URL": url})
        if args.url:  # loaded by an earlier version: the tables added since
            with app.app_context():
                flask_migrate.upgrade(directory=str(MIGRATIONS_DIR))
        add_people(app)
        clients = {role: sign_in(app, email) for role, (email, *_) in PEOPLE.items()}
        with app.app_context():
            plays = db.session.scalar(select(func.count()).select_from(Play))
            db.session.remove()
        rows = time_pages(clients, repeats)
        track_id, station_id = artist_track_and_station(app)
        latency = {}
        for role in POLLS:
            pair = (clients[role], sign_in(app, PEOPLE[role][0]))
            seen, fetch, stored, interval = feed_latency(
                app, pair, runs, args.poll_s, track_id, station_id
            )
            latency[role] = (seen, fetch, interval)
            with app.app_context():  # the reused database stays as it was
                db.session.execute(delete(Play).where(Play.id.in_(stored)))
                db.session.commit()
                db.session.remove()
        with app.app_context():
            db.engine.dispose()
        return {"url": url, "size": size, "plays": plays, "build_s": build_s, "rows": rows,
                "latency": latency, "runs": runs}  # fmt: skip
    finally:
        if not args.keep and not args.url:
            pg.drop_database(url)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its tables."""
    args = parse_args(argv)
    results = run(args)
    size, build = results["size"], sum(results["build_s"].values())
    print(f"{results['plays']:,} plays at {size.stations} stations over {size.days} days,"
          f" {size.tracks} tracks of {size.artists} artists"
          + (f"; built in {build:.0f} s" if build else "")
          + (f"; database kept: {results['url']}" if args.keep else ""))  # fmt: skip
    headers = ["page (server time, in process)", "median ms", "p95 ms", "max ms", "bytes",
               "runs", "not 200"]  # fmt: skip
    print(table("", headers, results["rows"]))
    rows = [[f"{role}: play stored -> shown by /live's poller (every {interval:g} s)",
             pct(seen, 50), pct(seen, 95), max(seen), results["runs"]]
            for role, (seen, _, interval) in results["latency"].items()]  # fmt: skip
    rows += [[f"{role}: one poll right after the store", pct(fetch, 50), pct(fetch, 95),
              max(fetch), results["runs"]]
             for role, (_, fetch, _) in results["latency"].items()]  # fmt: skip
    print(table("", ["live feed latency", "median ms", "p95 ms", "max ms", "runs"], rows))
    return 1 if any(row[-1] for row in results["rows"]) else 0


if __name__ == "__main__":
    sys.exit(main())
