"""End to end, every hop a real process: batches the broker acknowledged and then dropped (MQTT
3.1.1 has no "no matching subscribers") come back through central's gap request and the agent's
delivered-journal, so the song is paid once and whole."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from flask import Flask
from sqlalchemy import func, select

from central.cli import cli
from central.extensions import db
from central.ingest.models import IngestedBatch, SeqGap
from central.ledger.models import Transfer
from central.plays.models import Play
from tests.integration.central.broadcast import DEVICE, STATION, register_songs
from tests.integration.edge_agent.conftest import HOST, AgentProcess, Broker, wait_until
from tests.integration.edge_agent.conftest import broker as broker  # a fixture: used by name
from tests.synth import write_wav
from tests.transforms import song

pytestmark = pytest.mark.integration

SONG_S = 45.0
QUIET_S = 4.0
# quiet after the song: the agent goes on producing while central's three processes start (on a
# busy machine that takes several seconds; batches and the end event sent before ingest
# subscribes are all dropped, and then nothing tells central they existed)
TAIL_S = 30.0
READRATE = 3.0  # the file is read 3x faster than real time: ~16 s of publishing


@pytest.fixture
def central(central_processes) -> Callable[[str, int], subprocess.Popen]:
    """start(command, broker_port): `zamio <command>`, gaps asked for after 1 s, again after 2 s."""
    settings = {"plays_build_interval_s": 0, "ingest_gap_grace_s": 1, "ingest_resend_interval_s": 2}
    return lambda command, port: central_processes(command, port, **settings)


def agent_config(tmp_path: Path, broker_port: int, recording: Path) -> Path:
    """pi-01 of joy-fm on MQTT 3.1.1, reading the recording at READRATE, journal on."""
    path = tmp_path / "agent.toml"
    path.write_text(
        f'device_id = "{DEVICE}"\nstation_id = "{STATION}"\nlog_level = "info"\n'
        f'[uplink]\nurl = "mqtt://{HOST}:{broker_port}"\nprotocol = "3.1.1"\n'
        f"heartbeat_s = 2\nbackoff_s_min = 0.2\nbackoff_s_max = 1.0\n"
        f'[spool]\npath = "{tmp_path / "spool.db"}"\n'
        f'[[source]]\nid = "air"\nkind = "file"\npath = "{recording}"\nreadrate = {READRATE}\n'
    )
    return path


def journal_seqs(spool: Path) -> int:
    """How many batches the agent holds as delivered."""
    with sqlite3.connect(spool) as connection:
        query = "SELECT count(*) FROM messages WHERE seq IS NOT NULL AND delivered_ms IS NOT NULL"
        return connection.execute(query).fetchone()[0]


def produced_seqs(spool: Path) -> int:
    """How many batches the agent made of its source (the next seq it would use)."""
    with sqlite3.connect(spool) as connection:
        row = connection.execute("SELECT next_seq FROM sources WHERE source_id = 'air'").fetchone()
    return 0 if row is None else row[0]


def stored(app: Flask) -> tuple[int, int, int, int]:
    """(batches stored, closed plays, royalty transfers, gaps recovered) in PostgreSQL."""
    with app.app_context():
        batches = db.session.scalar(select(func.count()).select_from(IngestedBatch))
        plays = db.session.scalar(select(func.count()).where(Play.closed_at.is_not(None)))
        royalties = db.session.scalar(
            select(func.count()).where(Transfer.idempotency_key.like("royalty:play:%"))
        )
        recovered = db.session.scalar(select(func.count()).where(SeqGap.state == "recovered"))
        db.session.remove()
    return batches, plays, royalties, recovered


def test_batches_dropped_after_puback_come_back_by_resend(
    tmp_path: Path, pg_app: Flask, broker: Broker, central
) -> None:
    """The first batches go out before any subscriber exists and are dropped by the broker;
    central sees the seqs missing, asks, the agent re-sends from its journal: all stored, one
    play of the whole song, one royalty."""
    register_songs(pg_app, {"A": 91}, 60.0)
    quiet = np.random.default_rng(2).standard_normal(int(QUIET_S * 8000)).astype(np.float32)
    tail = np.random.default_rng(3).standard_normal(int(TAIL_S * 8000)).astype(np.float32)
    audio = np.concatenate([quiet * 1e-3, song(91, SONG_S), tail * 1e-3])
    recording = write_wav(tmp_path / "show.wav", audio, 8000)
    spool = tmp_path / "spool.db"
    agent = AgentProcess(agent_config(tmp_path, broker.port, recording), tmp_path / "agent.log")
    agent.start()
    try:
        # Nobody subscribes yet: under 3.1.1 the broker acknowledges and drops these batches.
        wait_until(lambda: spool.exists() and journal_seqs(spool) >= 3, 60, "3 batches out")
        central("ingest", broker.port)
        central("worker", broker.port)
        central("scheduler", broker.port)
        wait_until(lambda: produced_seqs(spool) >= 5, 60, "the agent to go on")
        total = lambda: produced_seqs(spool)  # noqa: E731
        wait_until(lambda: stored(pg_app)[0] >= total() > 0, 90, "every batch stored")
        wait_until(lambda: stored(pg_app)[1] >= 1, 120, "the play closed")
        wait_until(lambda: stored(pg_app)[2] >= 1, 60, "its royalty")
    finally:
        agent.stop()
    batches, plays, royalties, recovered = stored(pg_app)
    assert batches == produced_seqs(spool), agent.text()[-3000:]
    assert recovered >= 1, "the first batches came back by resend"
    assert (plays, royalties) == (1, 1)
    with pg_app.app_context():
        (play,) = db.session.scalars(select(Play)).all()
        db.session.remove()
    assert abs((play.end_ms - play.start_ms) / 1000 - SONG_S) <= 4, "the whole song, not its end"
    verdict = pg_app.test_cli_runner().invoke(cli, ["ledger", "verify"])
    assert verdict.exit_code == 0, verdict.output
