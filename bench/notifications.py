"""Notification fan-out benchmark: a day's plays digest for N artists (default 10,000), each
with a track played a few times at a few stations: the time to plan it (read the day's plays,
build one message per artist, insert the inbox rows and their email deliveries: `notify_each`,
as `digest.send_digest` does) and to deliver it (the commit enqueues the sending jobs, run
inline here: claims, one SMTP connection per job of 50, a commit per result) to a local SMTP
server (aiosmtpd, its own process). Then the digest again: nobody is told twice. Prints a
table; never asserts timings.

    python bench/notifications.py [--artists 10000] [--plays 3] [--stations 20] [--keep | --url URL]

Setup: a throwaway PostgreSQL database (bench/pg.py), loaded in bulk, dropped at exit unless
--keep. `fanout(url, artists, ...)` is the function bench/payouts.py can call; it returns the
table's rows.
"""

from __future__ import annotations

import argparse
import hashlib
import socket
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select  # noqa: E402

from bench import pg  # noqa: E402
from bench._common import table  # noqa: E402
from central import create_app  # noqa: E402
from central.auth.models import User, UserParty  # noqa: E402
from central.catalog.models import Track  # noqa: E402
from central.extensions import db  # noqa: E402
from central.notifications import Message, digest, notify_each  # noqa: E402
from central.notifications.models import NotificationDelivery  # noqa: E402
from central.plays.models import Play  # noqa: E402
from central.royalties.models import RightsShare  # noqa: E402
from central.stations.models import Station  # noqa: E402
from central.times import ms_of  # noqa: E402

DAY = date(2026, 12, 3)
MINUTE_MS = 60_000
BATCH = 5000


def smtp_server(port: int) -> subprocess.Popen:
    """aiosmtpd's own server on 127.0.0.1:port, a process of its own (so it shares no GIL
    with the sender), taking every message (its Sink handler); returns once it listens."""
    process = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink",
         "-l", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("aiosmtpd did not start") from None
            time.sleep(0.05)


def free_port() -> int:
    """A free TCP port of 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def load(artists: int, plays: int, stations: int) -> None:
    """Artists (users with a party each), one track each shared to it, and `plays` plays of
    every track on DAY, spread over `stations` stations; in bulk."""
    day_ms = ms_of(datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC))
    db.session.execute(insert(Station), [{"code": f"fm-{s}", "name": f"FM {s}"}
                                         for s in range(stations)])  # fmt: skip
    station_ids = list(db.session.scalars(select(Station.id).order_by(Station.id)))
    for start in range(0, artists, BATCH):
        numbers = range(start, min(start + BATCH, artists))
        db.session.execute(insert(User), [
            {"email": f"artist{n}@bench.test", "role": "artist", "active": True,
             "session_epoch": 0} for n in numbers])  # fmt: skip
        db.session.execute(insert(Track), [
            {"external_id": f"T{n}", "title": f"Song {n}", "artist": f"Artist {n}",
             "duration_ms": 180_000, "content_hash": hashlib.sha256(b"%d" % n).hexdigest()[:16]}
            for n in numbers])  # fmt: skip
    users = dict(db.session.execute(select(User.email, User.id)).all())
    tracks = dict(db.session.execute(select(Track.external_id, Track.id)).all())
    for start in range(0, artists, BATCH):
        numbers = range(start, min(start + BATCH, artists))
        db.session.execute(insert(UserParty), [
            {"user_id": users[f"artist{n}@bench.test"], "party": f"artist:a{n}:earnings"}
            for n in numbers])  # fmt: skip
        db.session.execute(insert(RightsShare), [
            {"track_id": tracks[f"T{n}"], "pool": "master", "work_code": f"W{n}",
             "party": f"artist:a{n}:earnings", "role": "performer", "share_bp": 10_000}
            for n in numbers])  # fmt: skip
        rows = [
            {"station_id": station_ids[(n + k) % stations], "track_id": tracks[f"T{n}"],
             "start_ms": day_ms + (n * 7 + k * 97) % (1440 - 4) * MINUTE_MS + k,
             "end_ms": day_ms + (n * 7 + k * 97) % (1440 - 4) * MINUTE_MS + k + 180_000,
             "speed_ratio": 1.0, "inliers": 100, "detections": 10, "confidence": 0.9}
            for n in numbers for k in range(plays)
        ]  # fmt: skip
        db.session.execute(insert(Play), rows)
    db.session.commit()


def fanout(
    url: str, artists: int = 10_000, plays: int = 3, stations: int = 20
) -> list[list[object]]:
    """Load the data set at `url`, then plan and deliver a day's digests; the table's rows:
    [step, items, seconds, items per second]."""
    port = free_port()
    smtp = smtp_server(port)
    app = create_app({"DATABASE_URL": url, "SMTP_URL": f"smtp://127.0.0.1:{port}",
                      "NOTIFY_EMAIL_PER_HOUR_MAX": 10})  # fmt: skip
    rows: list[list[object]] = []
    try:
        with app.app_context():
            started = time.perf_counter()
            load(artists, plays, stations)
            rows.append(["load (users, tracks, shares, plays)", artists * (plays + 3),
                         time.perf_counter() - started])  # fmt: skip
            started = time.perf_counter()
            found = digest.day_plays(db.session, DAY)
            read_s = time.perf_counter() - started
            messages = []
            for user_id, (tracks, station_count) in sorted(found.items()):
                subject, body, data = digest.digest_message(DAY, tracks, station_count)
                messages.append(Message(user_id, subject, body, data, "/", digest.dedupe_key(DAY)))
            made = notify_each(db.session, digest.EVENT, messages)
            plan_s = time.perf_counter() - started
            rows.append(["read the day's plays by user", len(found), read_s])
            rows.append(["plan: inbox rows + deliveries", len(made), plan_s])
            started = time.perf_counter()
            db.session.commit()  # the sending jobs run inline, after the commit
            deliver_s = time.perf_counter() - started
            sent = db.session.scalar(
                select(func.count()).where(NotificationDelivery.state == "sent")
            )
            rows.append(["deliver: sent (SMTP 250), a commit each", int(sent or 0), deliver_s])
            started = time.perf_counter()
            again = digest.send_digest(db.session, DAY, force=True)
            rows.append(
                [f"digest again (told: {again})", len(found), time.perf_counter() - started]
            )
    finally:
        smtp.terminate()
        smtp.wait()
        with app.app_context():
            db.engine.dispose()
    return [[s, n, t, (n / t if t == t and t > 0 else float("nan"))] for s, n, t in rows]


def main() -> None:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artists", type=int, default=10_000)
    parser.add_argument("--plays", type=int, default=3, help="plays of each artist's track")
    parser.add_argument("--stations", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--url", help="a migrated, empty PostgreSQL database to use")
    args = parser.parse_args()
    url = args.url or pg.make_database("zamio_bench_notify")
    try:
        rows = fanout(url, args.artists, args.plays, args.stations)
    finally:
        if not args.keep and not args.url:
            pg.drop_database(url)
    title = f"A day's plays digest for {args.artists:,} artists ({args.plays} plays each)"
    print(table(title, ["step", "items", "seconds", "per second"], rows))


if __name__ == "__main__":
    main()
