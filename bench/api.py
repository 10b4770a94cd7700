"""API benchmark: an artist's plays and earnings over a year of plays at 100 stations (5 M plays,
their accruals and ledger entries): p50/p95 of the domain queries and, with --http, of the
/api/v1 endpoints through `zamio serve` (waitress), with requests/s. Prints a table; never
asserts timings (the target is p95 <= 50 ms).

    python bench/api.py [--stations 100] [--plays 5000000] [--days 365] [--tracks 2000]
                        [--artists 400] [--repeats 50] [--http [--threads 8] [--clients 8]
                        [--duration-s 20]] [--keep | --url URL]

Setup: a throwaway PostgreSQL database (created, migrated, loaded by bench/api_data.py in bulk
SQL, dropped at exit unless --keep). Each query runs --repeats times after two warm-ups, with
its parameters (day, month, station, play) drawn from a seeded generator, on one session, in
the process (no HTTP). The data set's consistency is checked first (check()): account totals
equal their entries, the rollup equals a rebuild, a breakdown adds up to the statement.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from bench import (  # noqa: E402
    api_data,
    api_http,
    pg,  # noqa: E402
)
from bench._common import pct, table  # noqa: E402
from central import create_app  # noqa: E402
from central.plays import queries  # noqa: E402
from central.plays.models import Play  # noqa: E402
from central.royalties import earnings, periods, rollup  # noqa: E402

DAY_MS = api_data.DAY_MS
YEAR_MS = 365 * DAY_MS
WARMUPS = 2
REBUILD_CHECK_PLAYS_MAX = 200_000  # above, check the rollup against entries for one month only
Case = Callable[[Session, random.Random], Any]


def load(
    url: str, size: api_data.Size, verbose: bool = True, rebuild_rollup: bool = False
) -> dict[str, float]:
    """Build the data set; seconds per step."""
    engine = create_engine(url, poolclass=NullPool)
    say = (lambda name, s: print(f"  {name}: {s:.1f} s", file=sys.stderr)) if verbose else None
    with engine.connect() as connection:
        times = api_data.build(connection, size, say or (lambda *_: None), rebuild_rollup)
    engine.dispose()
    return times


def check(session: Session, size: api_data.Size) -> list[str]:
    """What is inconsistent in the data set (nothing: it is fit to measure)."""
    problems = []
    wrong_totals = session.scalar(text(
        "SELECT count(*) FROM ledger_account a LEFT JOIN (SELECT account_id,"
        " SUM(CASE WHEN side = 'debit' THEN amount_minor ELSE 0 END) AS d,"
        " SUM(CASE WHEN side = 'credit' THEN amount_minor ELSE 0 END) AS c FROM ledger_entry"
        " GROUP BY account_id) x ON x.account_id = a.id"
        " WHERE a.debits_posted_minor <> COALESCE(x.d, 0)"
        " OR a.credits_posted_minor <> COALESCE(x.c, 0)"
    ))  # fmt: skip
    if wrong_totals:
        problems.append(f"{wrong_totals} accounts' totals differ from their entries")
    unbalanced = session.scalar(text(
        "SELECT count(*) FROM (SELECT transfer_seq FROM ledger_entry GROUP BY transfer_seq"
        " HAVING SUM(CASE WHEN side = 'debit' THEN amount_minor ELSE -amount_minor END) <> 0) u"
    ))  # fmt: skip
    if unbalanced:
        problems.append(f"{unbalanced} transfers do not balance")
    if size.plays <= REBUILD_CHECK_PLAYS_MAX:
        stored = rollup.stored_rows(session)
        rollup.rebuild(session)
        if rollup.stored_rows(session) != stored:
            problems.append("the rollup differs from its rebuild")
        session.rollback()
    month = month_span(random.Random(0), size)
    almost = queries.time_range(month.since_ms, month.until_ms - 1, YEAR_MS)  # entries only
    for by in earnings.BREAKDOWN_BY:
        rolled = earnings.breakdown(session, api_data.ARTIST, by, month)
        summed = earnings.breakdown(session, api_data.ARTIST, by, almost)
        if rolled is None or summed is None or rolled.rows != summed.rows:
            problems.append(f"the artist's month by {by}: the rollup differs from the entries")
    year = queries.time_range(api_data.T0_MS, api_data.T0_MS + size.days * DAY_MS, YEAR_MS + DAY_MS)
    page = earnings.statement_page(session, api_data.ARTIST, year, 1)
    moved = None if page is None else page.closing_minor - page.opening_minor
    for by in earnings.BREAKDOWN_BY:
        found = earnings.breakdown(session, api_data.ARTIST, by, year)
        if found is None or found.total_minor != moved:
            problems.append(f"the artist's breakdown by {by} does not add up to the statement")
    session.rollback()
    return problems


def month_span(rng: random.Random, size: api_data.Size) -> queries.TimeRange:
    """A whole UTC month of the data, at random."""
    months = max(1, size.days // 31)
    first = api_data.T0_MS
    for _ in range(rng.randrange(months)):
        first = periods.next_month_ms(first)
    return queries.time_range(first, periods.next_month_ms(first), YEAR_MS + DAY_MS)


def day_span(rng: random.Random, size: api_data.Size) -> queries.TimeRange:
    """A UTC day of the data, at random."""
    since_ms = api_data.T0_MS + rng.randrange(size.days) * DAY_MS
    return queries.time_range(since_ms, since_ms + DAY_MS)


def cases(size: api_data.Size) -> dict[str, Case]:
    """name -> a call of a domain query with its parameters drawn from the generator."""
    artist, label = frozenset({api_data.ARTIST}), frozenset({api_data.LABEL})
    end_ms = api_data.T0_MS + size.days * DAY_MS
    year = queries.time_range(api_data.T0_MS, end_ms, YEAR_MS + DAY_MS)
    rolling = queries.time_range(end_ms - YEAR_MS + 15 * DAY_MS, end_ms - 1, YEAR_MS + DAY_MS)

    def pages(session: Session, span: queries.TimeRange, scope: frozenset, n: int) -> Any:
        cursor = None
        for _ in range(n):
            page = queries.plays(session, span, None, 100, cursor, parties=scope)
            cursor = page.next_cursor
        return page

    def statement(session: Session, account: str, span: queries.TimeRange, n: int) -> Any:
        cursor = None
        for _ in range(n):
            page = earnings.statement_page(session, account, span, 100, cursor)
            cursor = page.next_cursor if page else None
        return page

    return {
        "plays: artist, a day": lambda s, r: queries.plays(s, day_span(r, size), parties=artist),
        "plays: artist, a month, 3 pages": lambda s, r: pages(s, month_span(r, size), artist, 3),
        "plays: artist, one track, a day": lambda s, r: queries.plays(
            s, day_span(r, size), queries.play_filter(f"bench-t{size.artists}"), parties=artist
        ),
        "plays: label, a day": lambda s, r: queries.plays(s, day_span(r, size), parties=label),
        "plays: one station, a day": lambda s, r: queries.plays(
            s, day_span(r, size), station_ids=frozenset({r.randrange(size.stations) + 1})
        ),
        "play: artist, by id": lambda s, r: queries.find_play(s, _artist_play(s, r), artist),
        "play royalty: artist": lambda s, r: earnings.play_royalty(s, _artist_play(s, r), artist),
        "earnings: artist's balance": lambda s, r: earnings.balances(s, artist),
        "statement: artist, a month, page 1": lambda s, r: statement(
            s, api_data.ARTIST, month_span(r, size), 1
        ),
        "statement: artist, the year, 3 pages": lambda s, r: statement(s, api_data.ARTIST, year, 3),
        "breakdown by track: artist, a month": lambda s, r: earnings.breakdown(
            s, api_data.ARTIST, "track", month_span(r, size)
        ),
        "breakdown by station: artist, a month": lambda s, r: earnings.breakdown(
            s, api_data.ARTIST, "station", month_span(r, size)
        ),
        "breakdown by track: artist, the year": lambda s, r: earnings.breakdown(
            s, api_data.ARTIST, "track", year
        ),
        "breakdown by station: artist, the year": lambda s, r: earnings.breakdown(
            s, api_data.ARTIST, "station", year
        ),
        "breakdown by station: artist, 350 days mid-month": lambda s, r: earnings.breakdown(
            s, api_data.ARTIST, "station", rolling
        ),
        "breakdown by track: label, the year": lambda s, r: earnings.breakdown(
            s, api_data.LABEL, "track", year
        ),
    }


_ARTIST_PLAYS: list[int] = []


def _artist_play(session: Session, rng: random.Random) -> int:
    """The id of one of the hot artist's plays, at random (ids looked up once, not timed)."""
    if not _ARTIST_PLAYS:
        _ARTIST_PLAYS.extend(session.scalars(
            select(Play.id).where(Play.id % api_data.HOT_EVERY == 0).order_by(Play.id).limit(1000)
        ))  # fmt: skip
    return rng.choice(_ARTIST_PLAYS)


def time_cases(session: Session, size: api_data.Size, repeats: int) -> list[list[Any]]:
    """[name, p50 ms, p95 ms, max ms, runs] per case."""
    rows = []
    for name, case in cases(size).items():
        rng = random.Random(name)
        _artist_play(session, rng)
        samples = []
        for n in range(WARMUPS + repeats):
            start = time.perf_counter()
            case(session, rng)
            session.rollback()
            if n >= WARMUPS:
                samples.append((time.perf_counter() - start) * 1000)
        rows.append([name, pct(samples, 50), pct(samples, 95), max(samples), repeats])
    return rows


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = api_data.Size()
    for name in ("stations", "plays", "days", "tracks", "artists"):
        parser.add_argument(f"--{name}", type=int, default=getattr(defaults, name))
    parser.add_argument("--repeats", type=int, default=50, help="timed runs per query")
    parser.add_argument("--keep", action="store_true", help="keep the database (prints its URL)")
    parser.add_argument("--url", help="measure this database, already loaded (no build)")
    parser.add_argument("--http", action="store_true", help="also time the endpoints over HTTP")
    rebuild = "make the rollup with rollup.rebuild, as `zamio royalty rollup` does (timed)"
    parser.add_argument("--rebuild-rollup", action="store_true", help=rebuild)
    parser.add_argument("--threads", type=int, default=8, help="zamio serve's threads")
    parser.add_argument("--clients", type=int, default=8, help="client threads for requests/s")
    parser.add_argument("--duration-s", type=float, default=20.0, help="of the requests/s run")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Build (or reuse), check and measure; the results."""
    size = api_data.Size(args.stations, args.plays, args.days, args.tracks, args.artists)
    url = args.url or pg.make_database("zamio_bench_api")
    try:
        build_s = {} if args.url else load(url, size, rebuild_rollup=args.rebuild_rollup)
        app = create_app({"DATABASE_URL": url})
        with app.app_context():
            from central.extensions import db

            session = db.session
            plays = session.scalar(select(func.count()).select_from(Play))
            problems = check(session, size)
            rows = time_cases(session, size, args.repeats)
            db.session.remove()
            db.engine.dispose()
        http = measure_http(url, size, args) if args.http else None
        return {"url": url, "size": size, "plays": plays, "build_s": build_s,
                "problems": problems, "rows": rows, "http": http}  # fmt: skip
    finally:
        if not args.keep and not args.url:
            pg.drop_database(url)


def measure_http(url: str, size: api_data.Size, args: argparse.Namespace) -> dict[str, Any]:
    """Latency per endpoint and requests/s through `zamio serve`."""
    tokens = api_http.make_tokens(url)
    table = api_http.endpoints(size, api_http.artist_play_ids(url))
    process, port = api_http.start_server(url, args.threads)
    try:
        rows = api_http.latencies(port, tokens, table, args.repeats)
        load = api_http.throughput(port, tokens, table, args.clients, args.duration_s)
    finally:
        process.terminate()
        process.wait(timeout=30)
    return {"rows": rows, "load": load, "threads": args.threads}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    args = parse_args(argv)
    results = run(args)
    size = results["size"]
    build = sum(results["build_s"].values())
    print(f"{results['plays']:,} plays at {size.stations} stations over {size.days} days,"
          f" {size.tracks} tracks of {size.artists} artists; built in {build:.0f} s"
          + (f"; database kept: {results['url']}" if args.keep else ""))  # fmt: skip
    for problem in results["problems"]:
        print(f"INCONSISTENT: {problem}")
    headers = ["domain query", "p50 ms", "p95 ms", "max ms", "runs"]
    print(table("", headers, results["rows"]))
    http = results["http"]
    if http is not None:
        headers = ["HTTP endpoint (zamio serve)", "p50 ms", "p95 ms", "max ms", "runs", "non-200"]
        print(table("", headers, http["rows"]))
        load = http["load"]
        print(f"\nrequests/s: {load['rps']:.0f} ({load['requests']:,} requests, {load['failed']}"
              f" not 200) from {load['clients']} client threads against {http['threads']} server"
              f" threads on {os.cpu_count()} cores; under that load p50 {load['p50']:.1f} ms,"
              f" p95 {load['p95']:.1f} ms")  # fmt: skip
    failed = http is not None and (http["load"]["failed"] or any(r[-1] for r in http["rows"]))
    return 1 if results["problems"] or failed else 0


if __name__ == "__main__":
    sys.exit(main())
