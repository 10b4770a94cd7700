"""`zamio ingest` with no configuration: its own MQTT broker, jobs inline, SQLite."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile
from sqlalchemy import select

from central import create_app
from central.catalog.importer import ManifestEntry, import_entries
from central.demo.synth import song, speech
from central.embedded.broker import free_port
from central.extensions import db
from central.plays.models import Play
from central.royalties.models import RoyaltyAccrual
from central.stations import store as stations
from edge_agent.fingerprint import FINGERPRINT_VERSION, SAMPLE_RATE_HZ

DEADLINE_S = 90.0


def _zamio(args: list[str], env: dict[str, str], **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "central", *args], env=env, **popen)


def test_ingest_alone_runs_broker_and_jobs(tmp_path: Path) -> None:
    """An agent speaking MQTT 3.1.1 to `zamio ingest`'s embedded broker gets its song matched,
    played, closed at the end of its file and paid, with no Redis and no broker installed; and
    `zamio worker` says why it has nothing to do."""
    database_url = f"sqlite:///{tmp_path / 'zamio.db'}"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZAMIO_")}
    env.update(ZAMIO_DATABASE_URL=database_url, ZAMIO_MQTT_BIND=f"127.0.0.1:{port}",
               ZAMIO_PLAYS_BUILD_INTERVAL_S="0")  # fmt: skip
    music = song(41, 60.0)
    soundfile.write(tmp_path / "a.wav", music, SAMPLE_RATE_HZ, subtype="PCM_16")
    show = np.concatenate([speech(5.0, 1), music[: 45 * SAMPLE_RATE_HZ], speech(5.0, 2)])
    soundfile.write(tmp_path / "show.wav", show, SAMPLE_RATE_HZ, subtype="PCM_16")
    app = create_app({"DATABASE_URL": database_url})
    with app.app_context():
        entry = ManifestEntry("song-a", tmp_path / "a.wav", "A")
        import_entries(db.session, [entry], fingerprint_version=FINGERPRINT_VERSION)
        stations.add_station(db.session, "joy-fm", "Joy FM")
        password = stations.add_device(db.session, "pi-1", "joy-fm").password
        db.session.commit()
    (tmp_path / "agent.password").write_text(password + "\n")  # the broker checks it

    refused = subprocess.run([sys.executable, "-m", "central", "worker"], env=env,
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert refused.returncode != 0 and "needs ZAMIO_REDIS_URL" in refused.stderr

    ingest = _zamio(["ingest"], env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        start_ms = time.time_ns() // 1_000_000 - len(show) * 1000 // SAMPLE_RATE_HZ
        (tmp_path / "agent.toml").write_text(
            'device_id = "pi-1"\nstation_id = "joy-fm"\n\n[[source]]\nid = "fm"\nkind = "file"\n'
            f'path = "{tmp_path / "show.wav"}"\nreadrate = 0.0\nstart_ms = {start_ms}\n\n'
            f'[uplink]\nurl = "mqtt://127.0.0.1:{port}"\nprotocol = "3.1.1"\nusername = "pi-1"\n'
            f'password_file = "{tmp_path / "agent.password"}"\n\n'
            f'[spool]\npath = "{tmp_path / "spool.db"}"\n'
        )
        agent = subprocess.run(
            [sys.executable, "-m", "edge_agent", "run", "--config", str(tmp_path / "agent.toml"),
             "--exit-when-done"], capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert agent.returncode == 0, agent.stderr[-2000:]
        accrued = _wait_for_accrual(app)
    finally:
        ingest.send_signal(signal.SIGTERM)
        output = ingest.communicate(timeout=30)[0].decode()
    assert accrued is not None, output[-3000:]
    play, accrual = accrued
    assert abs((play.end_ms - play.start_ms) / 1000 - 45) <= 3
    assert accrual.amount_minor == round((play.end_ms - play.start_ms) * 500_000 / 1e9)
    assert "ingest stopped" in output


def _wait_for_accrual(app) -> tuple[Play, RoyaltyAccrual] | None:
    deadline_s = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline_s:
        with app.app_context():
            row = db.session.execute(
                select(Play, RoyaltyAccrual).join(RoyaltyAccrual, RoyaltyAccrual.play_id == Play.id)
            ).first()
            db.session.remove()
        if row is not None:
            return tuple(row)
        time.sleep(0.5)
    return None
