"""`zamio ingest` with its broker down says so in one line and waits, rather than crashing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from central.embedded.broker import free_port

WAIT_S_MAX = 60.0


def test_ingest_names_an_unreachable_broker_once_and_keeps_trying(tmp_path: Path) -> None:
    """One ERROR line with the redacted URL and ZAMIO_MQTT_URL, no traceback, still running
    after several attempts, and a clean stop on SIGTERM."""
    url = f"mqtt://zamio-ingest:s3cret@127.0.0.1:{free_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZAMIO_")}
    env.update(ZAMIO_DATABASE_URL=f"sqlite:///{tmp_path / 'zamio.db'}", ZAMIO_MQTT_URL=url)
    log = tmp_path / "ingest.log"
    with log.open("w") as out:
        ingest = subprocess.Popen(
            [sys.executable, "-m", "central", "ingest"], env=env, stdout=out, stderr=out
        )
        try:
            deadline = time.monotonic() + WAIT_S_MAX
            while "cannot reach" not in log.read_text() and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(5)  # a few more attempts
            assert ingest.poll() is None, log.read_text()
        finally:
            ingest.send_signal(signal.SIGTERM)
            code = ingest.wait(30)
    text = log.read_text()
    lines = [line for line in text.splitlines() if "cannot reach" in line]
    assert len(lines) == 1, text
    assert "mqtt://zamio-ingest:***@127.0.0.1:" in lines[0] and "ZAMIO_MQTT_URL" in lines[0]
    assert "s3cret" not in text and "Traceback" not in text
    assert code == 0 and "ingest stopped" in text
