"""The demo's I/O shell: real parts on embedded defaults, driven from one process.

An SQLite database in the demo's folder; the embedded MQTT broker; the ingest listener in a thread;
jobs inline (RQ's synchronous mode); and a real `zamio-agent` process that hears the broadcast (a
file it reads faster than real time, or `--stream URL`) and publishes over MQTT. Nothing here
decides a play or a royalty: the listener, match_batch, update_plays and accrue_royalty do, as
in production.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
from flask import Flask
from sqlalchemy import func, select

from central import create_app, queues, worker
from central.catalog.cli import TRACK_CHECKS
from central.catalog.importer import FAILED, ManifestEntry, import_entries
from central.catalog.models import Track
from central.catalog.near_duplicates import NearDuplicateCheck
from central.demo import accounts, payouts, programme
from central.demo.programme import DEVICE, STATION, STATION_NAME, Aired, DemoTrack
from central.demo.report import CONSOLE_URL, Console, DemoResult, PlayLine, console_lines
from central.embedded.broker import PROTOCOL, EmbeddedBroker, database_lookup
from central.embedded.inline import InlineQueue, inline_queue
from central.extensions import db
from central.files import write_private
from central.ingest.listener import IngestListener
from central.ingest.models import IngestedBatch
from central.ledger.models import Account
from central.ledger.queries import account_balance
from central.ledger.verify import verify
from central.matching.models import Detection
from central.monitoring.health import STOP_KINDS
from central.monitoring.models import DeviceEvent
from central.plays.jobs import RESTART_GRACE_MS, sweep_plays
from central.plays.models import Play
from central.royalties import rights
from central.royalties import store as royalty_store
from central.royalties.models import RoyaltyAccrual
from central.scan.agent_config import toml_string
from central.stations import store as stations
from central.times import now_ms
from edge_agent.decode import decode_file
from edge_agent.errors import DecodeError
from edge_agent.fingerprint import FINGERPRINT_VERSION, FRAME_MS, SAMPLE_RATE_HZ

SOURCE = "fm"
PASSWORD_FILE = "agent.password"  # the demo device's broker password (0600)
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac")
MUSIC_FILES_MAX = 50
POLL_S = 0.5
SETTLE_S_MAX = 60.0  # after the agent is done, everything is stored and built within this
AGENT_START_S_MAX = 30.0


class DemoError(Exception):
    """The demo cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class DemoOptions:
    """What to run: the catalogue (synthesised, or your music), what the agent hears (the
    simulated broadcast, or a stream for `listen_s`), and how fast it reads the broadcast."""

    workdir: Path
    music_dir: Path | None = None
    stream_url: str | None = None
    listen_s: float = 300.0
    seed: int = 7
    readrate: float = 0.0  # the broadcast file: 1.0 real time, 0 as fast as the agent can
    logins: bool = False  # make console logins (the data is kept, so they can be used)


DEMO_PAYOUT_MINIMUM_MINOR = 10  # a few minutes of radio earn pesewas, not the GHS 10 minimum


def run_demo(
    options: DemoOptions,
    echo: Callable[[str], None],
    serve: Callable[[Flask], str] | None = None,
) -> DemoResult:
    """Run the whole demo in `options.workdir` (which must be empty or new). `serve(app)`, if
    given, starts serving the console (and returns its URL) before the broadcast, so that plays
    can be watched as they arrive; its logins are shown then, once."""
    options.workdir.mkdir(parents=True, exist_ok=True)
    database_url = f"sqlite:///{options.workdir / 'zamio.db'}"
    app = create_app(
        {"DATABASE_URL": database_url, "REDIS_URL": None, "MQTT_URL": None,
         "PLAYS_BUILD_INTERVAL_S": 0, "PAYOUTS_MINIMUM_MINOR": DEMO_PAYOUT_MINIMUM_MINOR}
    )  # fmt: skip
    echo(f"database  {database_url} (SQLite; jobs run inline, no Redis)")
    catalogue, audio = _catalogue(options, echo)
    registered = _register(app, options.workdir, catalogue, echo)
    console = None
    if options.logins or serve is not None:
        party = registered[0].artist_account  # the broadcast opens with the first track
        logins = accounts.console_logins(app, STATION, party)
        console = Console(serve(app) if serve is not None else CONSOLE_URL, logins)
        if serve is not None:
            for line in console_lines(console, serving=True):
                echo(line)
    aired = None
    if options.stream_url is None:
        plan = programme.broadcast_plan([t.external_id for t in catalogue], None in audio)
        samples, aired_list = programme.render(plan, audio, options.seed)
        source = _write_broadcast(options.workdir, samples, options.readrate)
        aired = tuple(aired_list)
        seconds = len(samples) / SAMPLE_RATE_HZ
        echo(f"broadcast {seconds:.0f} s of radio: {_describe(plan, catalogue)}")
    else:
        source = {"kind": "stream", "url": options.stream_url}
        echo(f"broadcast {options.stream_url}, for {options.listen_s:.0f} s")
    with _pipeline(app, echo) as (broker, listener, queue):
        agent = _start_agent(
            options.workdir, broker.agent_url, source, options.stream_url is not None
        )
        try:
            _follow(app, agent, options, echo)
        finally:
            _stop_agent(agent)
        _settle(app, queue, listener, options.stream_url is not None, echo)
        quarantined = listener.counts["quarantined"]
    view = _artist_view(app, catalogue)
    if view is not None:
        echo(f"api       an artist's plays and earnings through /api/v1 ({view.email})")
    stop_provider = payouts.start_provider(app)
    payout = None if view is None else payouts.pay_artist(app, view.party)
    if payout is not None:
        echo(f"payout    {view.email} withdrew half of their earnings to MTN {payout.number}"
             f" through the MoMo simulator: {payout.status}")  # fmt: skip
    if serve is None:
        stop_provider()  # serving: the console's approvals keep paying through it
    with app.app_context():
        result = _collect(app, database_url, catalogue, aired, quarantined)
        result = dataclasses.replace(result, artist_view=view, console=console, payout=payout)
        db.session.remove()
        db.engine.dispose()  # the database file may be deleted next
    return result


def _artist_view(app: Flask, catalogue: Sequence[DemoTrack]) -> accounts.ArtistView | None:
    """The first played track's artist, through the API; None when nothing was played."""
    with app.app_context():
        first = db.session.scalar(select(Play.track_id).order_by(Play.start_ms).limit(1))
        external_id = None if first is None else db.session.get(Track, first).external_id
    track = next((t for t in catalogue if t.external_id == external_id), None)
    if track is None:
        return None
    return accounts.artist_view(app, track.artist_account, programme.LABEL)


def _catalogue(
    options: DemoOptions, echo: Callable[[str], None]
) -> tuple[tuple[DemoTrack, ...], dict[str | None, np.ndarray]]:
    """The catalogue and each track's audio (key None: the unregistered song, if any); the
    synthesised tracks are written to the demo's folder, your files are used where they are."""
    if options.music_dir is None:
        audio = programme.synth_audio(programme.SYNTH_CATALOGUE, options.seed)
        folder = options.workdir / "catalogue"
        folder.mkdir(exist_ok=True)
        for track in programme.SYNTH_CATALOGUE:
            soundfile.write(folder / f"{track.external_id}.wav", audio[track.external_id],
                            SAMPLE_RATE_HZ, subtype="PCM_16")  # fmt: skip
        echo(f"catalogue {len(programme.SYNTH_CATALOGUE)} synthesised tracks (seed {options.seed})")
        return programme.SYNTH_CATALOGUE, audio
    decoded = {}
    for path in _music_files(options.music_dir):
        try:
            decoded[path] = decode_file(path, SAMPLE_RATE_HZ)
        except DecodeError as error:  # named, and the demo goes on without it
            echo(f"          skipped {error}")
    if not decoded:
        raise DemoError(f"--music {options.music_dir}: no file could be decoded")
    files = list(decoded)
    held_out = files.pop() if len(files) >= 5 else None  # aired, never registered
    catalogue = tuple(programme.music_catalogue(files))
    audio: dict[str | None, np.ndarray] = {t.external_id: decoded[t.path] for t in catalogue}
    if held_out is not None:
        audio[None] = decoded[held_out]
    note = f"; {held_out.name} is aired but not registered" if held_out else ""
    echo(f"catalogue {len(catalogue)} files from {options.music_dir}{note}")
    return catalogue, audio


def _music_files(folder: Path) -> list[Path]:
    """The audio files in `folder`, by name; DemoError if there are none."""
    if not folder.is_dir():
        raise DemoError(f"--music {folder}: not a folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise DemoError(f"--music {folder}: no audio files ({', '.join(AUDIO_SUFFIXES)})")
    return files[:MUSIC_FILES_MAX]


def _register(
    app: Flask, workdir: Path, catalogue: Sequence[DemoTrack], echo: Callable[[str], None]
) -> tuple[DemoTrack, ...]:
    """Import the catalogue as `zamio catalog import` does, file its rights, add the station
    and its device; returns the tracks registered, in catalogue order."""
    folder = workdir / "catalogue"
    entries = [
        ManifestEntry(t.external_id, t.path or folder / f"{t.external_id}.wav", t.title, t.artist,
                      t.isrc)
        for t in catalogue
    ]  # fmt: skip
    with app.app_context():
        report = import_entries(
            db.session,
            entries,
            fingerprint_version=FINGERPRINT_VERSION,
            track_checks=[*TRACK_CHECKS, NearDuplicateCheck(FINGERPRINT_VERSION)],
        )
        for outcome in report.outcomes:
            echo(f"          {outcome.status} {outcome.external_id}: {outcome.message}")
        failed = {o.external_id for o in report.outcomes if o.status == FAILED}
        if len(failed) == len(entries):
            raise DemoError("no track could be registered; see the reasons above")
        for track in catalogue:
            if track.external_id not in failed:
                _file_rights(track)
        stations.add_station(db.session, STATION, STATION_NAME)
        device = stations.add_device(db.session, DEVICE, STATION)
        db.session.commit()
    write_private(workdir / PASSWORD_FILE, device.password + "\n")  # the agent logs in with it
    echo(f"station   {STATION} ({STATION_NAME}), device {DEVICE}; rights filed for every track")
    return tuple(t for t in catalogue if t.external_id not in failed)


def _file_rights(track: DemoTrack) -> None:
    """Its shares, as `zamio royalty shares set` files them."""
    row = royalty_store.find_track(db.session, track.external_id)
    pools, problems = rights.parse_shares(track.shares())
    assert not problems, problems  # the demo's own documents
    for pool in pools:
        royalty_store.set_track_shares(db.session, row.id, pool)


def _describe(plan: Sequence[programme.Segment], catalogue: Sequence[DemoTrack]) -> str:
    """The running order in a line."""
    titles = {t.external_id: t.title for t in catalogue}
    parts = []
    for s in plan:
        if s.kind != "song":
            parts.append(s.kind)
        else:
            name = titles[s.track] if s.track else "an unregistered song"
            extra = " 2 % fast" if s.speed_ratio != 1.0 else ""
            extra += " under talk" if s.talk_over_s else ""
            parts.append(f"{name} {s.seconds:.0f} s{extra}")
    return ", ".join(parts)


def _write_broadcast(workdir: Path, samples: np.ndarray, readrate: float) -> dict:
    """The broadcast as a WAV file, and the agent's source for it. Read faster than real time,
    it is a recording of the minutes that just passed, so its plays are in the past, where
    `zamio plays` and the API look (and ingest refuses batches from the future)."""
    path = workdir / "broadcast.wav"
    soundfile.write(path, samples, SAMPLE_RATE_HZ, subtype="PCM_16")
    source = {"kind": "file", "path": str(path), "readrate": readrate}
    if readrate == 0:
        duration_ms = len(samples) * 1000 // SAMPLE_RATE_HZ
        source["start_ms"] = now_ms() - duration_ms
    return source


@contextlib.contextmanager
def _pipeline(
    app: Flask, echo: Callable[[str], None]
) -> Iterator[tuple[EmbeddedBroker, IngestListener, InlineQueue]]:
    """The embedded broker and the ingest listener (jobs inline), until the block ends."""
    broker = EmbeddedBroker("127.0.0.1", 0, database_lookup(app)).start()
    queue = inline_queue()
    worker.use_app(app, queue)
    listener = IngestListener(
        app, broker.url, lambda pk: queues.enqueue_match(queue, pk), "zamio-demo-ingest",
        protocol=PROTOCOL,
    )  # fmt: skip
    thread = threading.Thread(target=listener.run, name="ingest", daemon=True)
    thread.start()
    echo(f"broker    {broker.agent_url} (embedded, MQTT {PROTOCOL}); ingest listening")
    try:
        if not listener.subscribed.wait(10):
            raise DemoError("the ingest listener could not subscribe to the embedded broker")
        yield broker, listener, queue
    finally:
        listener.stop()
        thread.join(10)
        broker.stop()
        worker.use_app(None)


def _start_agent(workdir: Path, broker_url: str, source: dict, live: bool) -> subprocess.Popen:
    """`zamio-agent run` on a config written for the demo; its log goes to agent.log."""
    lines = [
        f"device_id = {toml_string(DEVICE)}",
        f"station_id = {toml_string(STATION)}",
        "",
        "[[source]]",
        f"id = {toml_string(SOURCE)}",
        *(f"{k} = {_toml_value(v)}" for k, v in source.items()),
        "",
        "[uplink]",
        f"url = {toml_string(broker_url)}",
        f"protocol = {toml_string(PROTOCOL)}",
        f"username = {toml_string(DEVICE)}",
        f"password_file = {toml_string(str(workdir / PASSWORD_FILE))}",
        "heartbeat_s = 5.0",
        "backlog_rate_max = 100.0",  # the file is read faster than real time: no pacing
        "",
        "[spool]",
        f"path = {toml_string(str(workdir / 'agent-spool.db'))}",
    ]
    config = workdir / "agent.toml"
    config.write_text("\n".join(lines) + "\n")
    argv = [sys.executable, "-m", "edge_agent", "run", "--config", str(config)]
    if not live:
        argv.append("--exit-when-done")
    log = (workdir / "agent.log").open("ab")
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def _toml_value(value: object) -> str:
    return toml_string(value) if isinstance(value, str) else json.dumps(value)


def _follow(
    app: Flask, agent: subprocess.Popen, options: DemoOptions, echo: Callable[[str], None]
) -> None:
    """Show progress until the agent is done (a file) or has listened `listen_s` (a stream)."""
    started_s = time.monotonic()
    shown = None
    while True:
        with app.app_context():
            now = _progress(db.session)
            db.session.remove()
        if now != shown:
            echo("  " + _progress_line(now))
            shown = now
        if agent.poll() is not None:
            if agent.returncode != 0:
                log = options.workdir / "agent.log"
                raise DemoError(f"zamio-agent exited with {agent.returncode}; see {log}")
            return
        elapsed_s = time.monotonic() - started_s
        if options.stream_url is not None and elapsed_s >= options.listen_s:
            return
        if now[0] == 0 and elapsed_s > AGENT_START_S_MAX:
            raise DemoError(
                f"no batch from zamio-agent in {AGENT_START_S_MAX:.0f} s; "
                f"see {options.workdir / 'agent.log'}"
            )
        time.sleep(POLL_S)


def _progress(session) -> tuple[int, float, int, int, int, int]:
    """(batches, seconds heard, detections, plays on air, plays closed, royalty minor units)."""
    batches, frames = session.execute(
        select(
            func.count(IngestedBatch.id), func.coalesce(func.sum(IngestedBatch.window_frames), 0)
        )
    ).one()
    detections = session.scalar(select(func.count(Detection.id)))
    open_plays = session.scalar(select(func.count(Play.id)).where(Play.closed_at.is_(None)))
    closed = session.scalar(select(func.count(Play.id)).where(Play.closed_at.is_not(None)))
    royalty = session.scalar(select(func.coalesce(func.sum(RoyaltyAccrual.amount_minor), 0)))
    return batches, frames * FRAME_MS / 1000, detections, open_plays, closed, royalty


def _progress_line(progress: tuple[int, float, int, int, int, int]) -> str:
    batches, heard_s, detections, open_plays, closed, royalty = progress
    return (
        f"{int(heard_s) // 60}:{int(heard_s) % 60:02d} heard, {batches} batches, "
        f"{detections} matches, {open_plays} plays on air, {closed} closed, "
        f"royalties {royalty / 100:.2f}"
    )


def _stop_agent(agent: subprocess.Popen) -> None:
    """SIGTERM (it publishes what is left and says goodbye), SIGKILL if it hangs."""
    if agent.poll() is None:
        agent.send_signal(signal.SIGTERM)
        try:
            agent.wait(20)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait()


def _settle(
    app: Flask,
    queue: InlineQueue,
    listener: IngestListener,
    stopped: bool,
    echo: Callable[[str], None],
) -> None:
    """Wait until everything the agent sent is stored, matched and built into plays; then run
    the periodic sweep once, which closes the plays no later audio can change and accrues them.
    An agent that was stopped (a stream) might come back and carry its last play on, so that
    play closes only after RESTART_GRACE_MS: the demo waits that out."""
    deadline_s = time.monotonic() + SETTLE_S_MAX
    last = None
    while time.monotonic() < deadline_s:
        with app.app_context():
            pending = db.session.scalar(
                select(func.count(IngestedBatch.id)).where(IngestedBatch.plays_at.is_(None))
            )
            ended = db.session.scalar(
                select(func.count(DeviceEvent.id)).where(DeviceEvent.kind.in_(STOP_KINDS))
            )
            db.session.remove()
        seen = dict(listener.counts)
        if pending == 0 and ended and seen == last:
            break
        last = seen
        time.sleep(POLL_S)
    else:
        echo("  (still settling after a minute: the report shows what is stored so far)")
    if stopped:
        echo(f"  waiting {RESTART_GRACE_MS // 1000} s: the plays at the end close once a stopped "
             "agent has not come back")  # fmt: skip
        time.sleep(RESTART_GRACE_MS / 1000 + POLL_S)
    queue.enqueue(sweep_plays)
    with app.app_context():
        echo("  " + _progress_line(_progress(db.session)))
        db.session.remove()


def _collect(
    app: Flask,
    database_url: str,
    catalogue: Sequence[DemoTrack],
    aired: tuple[Aired, ...] | None,
    quarantined: int,
) -> DemoResult:
    """Read the play log, balances and the ledger's verdict back from the database."""
    session = db.session
    origin_ms = session.scalar(select(func.min(IngestedBatch.window_start_ms)))
    batches, heard_s = _progress(session)[:2]
    rows = session.execute(
        select(Play, RoyaltyAccrual)
        .outerjoin(RoyaltyAccrual, RoyaltyAccrual.play_id == Play.id)
        .order_by(Play.start_ms)
    ).all()
    tracks = {t.id: t for t in session.scalars(select(Track))}
    plays = tuple(
        PlayLine(
            play_id=play.id,
            track=tracks[play.track_id].external_id,
            title=tracks[play.track_id].title,
            artist=tracks[play.track_id].artist,
            start_s=(play.start_ms - origin_ms) / 1000,
            end_s=(play.end_ms - origin_ms) / 1000,
            confidence=play.confidence,
            speed_ratio=play.speed_ratio,
            status="closed" if play.closed_at is not None else "open",
            royalty_minor=None if accrual is None else accrual.amount_minor,
            currency=None if accrual is None else accrual.currency,
        )
        for play, accrual in rows
    )
    accounts = session.scalars(select(Account).order_by(Account.code)).all()
    balances = tuple(account_balance(a) for a in accounts)
    report = verify(session)
    session.rollback()
    return DemoResult(
        database_url, tuple(catalogue), plays, balances, report, aired,
        heard_s, batches, quarantined,
    )  # fmt: skip
