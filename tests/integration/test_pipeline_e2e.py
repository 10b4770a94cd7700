"""End to end, every hop a real process: a recording served by Icecast on loopback →
`zamio-agent` → Mosquitto → `zamio ingest` → Redis/RQ `zamio worker` → PostgreSQL plays that
match the recording's ground truth."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from flask import Flask
from sqlalchemy import select

from central.extensions import db
from central.plays.models import Play
from tests.integration.central.broadcast import DEVICE, STATION, register_songs
from tests.integration.edge_agent.conftest import (
    HOST,
    AgentProcess,
    Broker,
    Icecast,
    wait_until,
)
from tests.synth import write_wav
from tests.transforms import song

pytestmark = pytest.mark.integration

RATE = 8000
SONGS = {"A": 71, "B": 72, "C": 73}
LEAD_IN_S = 6.0
SONG_S = 40.0  # A then C, each 40 s, from their tops: the ground truth


@pytest.fixture
def services(tmp_path: Path) -> Iterator[tuple[Broker, Icecast]]:
    """A private Mosquitto and a private Icecast, started."""
    (tmp_path / "broker").mkdir()
    broker = Broker(tmp_path / "broker")
    broker.start()
    icecast = Icecast(tmp_path / "icecast")
    icecast.start()
    yield broker, icecast
    icecast.stop()
    shutil.rmtree(icecast.logdir, ignore_errors=True)
    broker.stop()


@pytest.fixture
def central(central_processes) -> Callable[[str, int], subprocess.Popen]:
    """start(command, broker_port): `zamio <command>` as a process; plays rebuilt after every
    match (no scheduler here to sweep the last batches)."""
    return lambda command, port: central_processes(command, port, plays_build_interval_s=0)


def agent_config(tmp_path: Path, broker_port: int, stream_url: str) -> Path:
    """The station's agent: device pi-01 of joy-fm listening to the Icecast mount."""
    path = tmp_path / "agent.toml"
    path.write_text(
        f'device_id = "{DEVICE}"\nstation_id = "{STATION}"\n'
        f'[uplink]\nurl = "mqtt://{HOST}:{broker_port}"\nheartbeat_s = 5\n'
        f"backoff_s_min = 0.2\nbackoff_s_max = 1.0\n"
        f'[spool]\npath = "{tmp_path / "spool.db"}"\n'
        f"[health]\nrestart_backoff_s_min = 0.2\nrestart_backoff_s_max = 1.0\nstall_s = 30\n"
        f'[[source]]\nid = "air"\nkind = "stream"\nurl = "{stream_url}"\n'
    )
    return path


def plays_now(app: Flask, ids: dict[str, int]) -> list[tuple[str, int, int]]:
    """(track name, start ms, end ms) of the stored plays, in order."""
    names = {v: k for k, v in ids.items()}
    with app.app_context():
        rows = db.session.scalars(select(Play).order_by(Play.start_ms)).all()
        db.session.remove()
    return [(names[p.track_id], p.start_ms, p.end_ms) for p in rows]


def test_icecast_to_plays_in_postgresql(
    tmp_path: Path, pg_app: Flask, services: tuple[Broker, Icecast], central
) -> None:
    """A then C on air, in real time: two plays of 40 s, 40 s apart, and nothing else."""
    broker, icecast = services
    ids = register_songs(pg_app, SONGS, 60.0)
    quiet = np.random.default_rng(1).standard_normal(int(LEAD_IN_S * RATE)).astype(np.float32)
    show = [quiet * 1e-3, song(71, SONG_S), song(73, SONG_S), quiet * 1e-3]
    recording = write_wav(tmp_path / "show.wav", np.concatenate(show), RATE)
    central("ingest", broker.port)
    central("worker", broker.port)
    agent = AgentProcess(agent_config(tmp_path, broker.port, icecast.url()), tmp_path / "agent.log")
    agent.start()
    try:
        time.sleep(0.5)  # the agent retries until the mount exists
        feeder = icecast.feed(["-i", str(recording)], readrate=1)
        wait_until(lambda: feeder.poll() is not None, 120, "the recording to be streamed")
        agent.stop()  # its last window is flushed and published
        wait_until(lambda: len(plays_now(pg_app, ids)) >= 2, 30, "two plays")
        time.sleep(3)  # the last batches' jobs: nothing more may appear
    finally:
        agent.stop()
    plays = plays_now(pg_app, ids)
    assert [name for name, *_ in plays] == ["A", "C"], (plays, agent.text())
    (_, a_start, a_end), (_, c_start, c_end) = plays
    assert abs((a_end - a_start) / 1000 - SONG_S) <= 3
    assert abs((c_end - c_start) / 1000 - SONG_S) <= 3
    assert abs((c_start - a_start) / 1000 - SONG_S) <= 3
