"""`zamio ingest quarantine` shows when a payload was refused as ISO-8601 UTC with a Z, like every
other command (not Python's isoformat, which SQLite leaves without a zone)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from flask import Flask
from flask.testing import FlaskCliRunner

from central.cli import cli
from central.extensions import db
from central.ingest.models import QuarantinedPayload

TOPIC = "stations/joy-fm/devices/pi-01/batches"


def test_quarantine_times_are_iso_utc_with_z(app: Flask, runner: FlaskCliRunner) -> None:
    """A payload refused at 06:00:00.123456 UTC is listed at 06:00:00.123Z, in lines and JSON."""
    received = datetime(2026, 11, 24, 6, 0, 0, 123456, tzinfo=UTC)
    with app.app_context():
        db.session.add(
            QuarantinedPayload(
                topic=TOPIC,
                reason="truncated",
                detail="3 bytes",
                payload_bytes=3,
                payload_head=b"ZHB",
                received_at=received,
            )
        )
        db.session.commit()
    lines = runner.invoke(cli, ["ingest", "quarantine"])
    assert lines.exit_code == 0, lines.output
    assert lines.stdout.splitlines() == [
        f"2026-11-24T06:00:00.123Z truncated            {TOPIC} (3 B): 3 bytes"
    ]
    [row] = json.loads(runner.invoke(cli, ["ingest", "quarantine", "--json"]).stdout)
    assert row["received_at"] == "2026-11-24T06:00:00.123Z"
