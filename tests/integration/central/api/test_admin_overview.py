"""The overview at /api/v1/admin/overview from real rows and a real Redis queue, and the kept
ledger checks (POST and GET /api/v1/ledger/verify/runs), audited."""

from __future__ import annotations

import dataclasses

import pytest
from flask import Flask

from central import queues
from central.auth.models import AuditEvent
from central.cli import cli
from central.extensions import db
from central.ledger.models import VerifyRun
from tests.integration.central.admin_rows import seed_overview
from tests.integration.central.api.conftest import TOKEN
from tests.integration.central.rows import add_track

pytestmark = pytest.mark.integration


def test_the_overview_counts_what_the_rows_say(api_app: Flask, redis_url, redis_connection) -> None:
    """Stations, agents by state, the down and dead-air streams, plays and paid royalties
    today, quarantine, queue depth and its oldest job, as stored."""
    api_app.config["ZAMIO"] = dataclasses.replace(api_app.config["ZAMIO"], redis_url=redis_url)
    with api_app.app_context():
        seeded = seed_overview(db.session)
        db.session.commit()
    queue = queues.pipeline_queue(redis_connection)
    queue.enqueue("central.plays.jobs.update_plays", 1)
    queue.enqueue("central.plays.jobs.update_plays", 2)
    body = (
        api_app.test_client()
        .get("/api/v1/admin/overview", headers={"Authorization": f"Bearer {TOKEN}"})
        .json
    )
    assert (body["stations"], body["stations_monitored"]) == (3, 2)
    assert body["agents"] == {"online": 1, "offline": 1, "stale": 1, "never_seen": 1}
    assert (body["streams_down"], body["streams_dead_air"]) == (1, 1)
    assert {(c["device"], c["condition"]) for c in body["stream_conditions"]} == {
        ("pi-01", "down"), ("pi-03", "dead_air"),
    }  # fmt: skip
    assert body["plays_today"] == seeded.plays_today
    assert body["royalties_today"] == [{"currency": "GHS", "amount_minor": 400}]
    assert (body["quarantined"], body["quarantined_24h"]) == (3, 2)
    assert body["queue"]["depth"] == 2 and body["queue"]["available"] is True
    assert body["queue"]["oldest_job_age_s"] is not None and body["queue"]["oldest_job_age_s"] < 60
    assert body["last_verify"] is None


def test_a_verify_run_is_kept_audited_and_shown_as_the_last(api_app: Flask) -> None:
    """POST /ledger/verify/runs checks the ledger, keeps the run and audits it; the overview
    and GET /ledger/verify/runs show it."""
    client = api_app.test_client()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    made = client.post("/api/v1/ledger/verify/runs", headers=headers)
    assert made.status_code == 201, made.json
    assert made.json["ok"] is True and made.json["actor"] == "bootstrap"
    assert made.json["via"] == "api"
    runs = client.get("/api/v1/ledger/verify/runs", headers=headers).json["runs"]
    assert [r["id"] for r in runs] == [made.json["id"]]
    overview = client.get("/api/v1/admin/overview", headers=headers).json
    assert overview["last_verify"]["id"] == made.json["id"]
    with api_app.app_context():
        assert db.session.query(VerifyRun).count() == 1
        event = db.session.query(AuditEvent).filter_by(action="ledger.verify").one()
        assert (event.actor, event.via, event.object_id) == (
            "bootstrap",
            "api",
            str(made.json["id"]),
        )


def test_the_cli_keeps_its_verify_runs_too(pg_app: Flask, pg_runner) -> None:
    """`zamio ledger verify` keeps its run, as cli:<login>."""
    result = pg_runner.invoke(cli, ["ledger", "verify"])
    assert result.exit_code == 0, result.output
    with pg_app.app_context():
        run = db.session.query(VerifyRun).one()
        assert run.via == "cli" and run.actor.startswith("cli:") and run.ok
        assert db.session.query(AuditEvent).filter_by(action="ledger.verify").count() == 1


def test_tracks_are_searched_by_title_artist_or_external_id(api_app: Flask) -> None:
    """GET /tracks?q=: any case, in title, artist or external id; LIKE's wildcards are text."""
    with api_app.app_context():
        for external_id, artist in (("HL-1", "Ama"), ("HL-2", "Kojo"), ("X_1", "Esi%")):
            add_track(db.session, external_id, artist=artist)
        db.session.commit()
    client = api_app.test_client()

    def found(q: str) -> list[str]:
        response = client.get("/api/v1/tracks", query_string={"q": q},
                              headers={"Authorization": f"Bearer {TOKEN}"})  # fmt: skip
        assert response.status_code == 200, response.json
        return [t["external_id"] for t in response.json["tracks"]]

    assert found("hl-") == ["HL-1", "HL-2"]
    assert found("KOJO") == ["HL-2"]
    assert found("title x_") == ["X_1"]
    assert found("%") == ["X_1"]
