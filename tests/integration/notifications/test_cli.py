"""`zamio notify ...`: list deliveries, send what is due, replay a webhook delivery (audited),
make a day's digest, watch health; `zamio notify webhook add|list|delete`."""

from __future__ import annotations

import json

import pytest
from flask import Flask

from central.auth.models import AuditEvent
from central.cli import cli
from central.extensions import db
from central.notifications import notify
from tests.integration.notifications.conftest import PEOPLE, configure

pytestmark = pytest.mark.integration


def test_the_notify_commands(any_app: Flask, people, receiver) -> None:
    """A webhook added by the CLI (its secret on the last line) gets a notification; `list`
    shows the deliveries, `replay` sends one again, `send-due`, `digest` and `watch` report."""
    configure(any_app, webhook_allow_private=True)
    runner = any_app.test_cli_runner()
    hook = receiver([])
    added = runner.invoke(cli, ["notify", "webhook", "add", PEOPLE["artist"][0], hook.url,
                                "--event", "payout.paid"])  # fmt: skip
    assert added.exit_code == 0, added.output
    hook.secret = added.output.strip().splitlines()[-1]
    listed = runner.invoke(cli, ["notify", "webhook", "list", PEOPLE["artist"][0]])
    assert hook.url in listed.output and hook.secret not in listed.output
    with any_app.app_context():
        notify(db.session, "payout.paid", [people["artist"]], "paid", "GHS 5")
        db.session.commit()
    rows = json.loads(runner.invoke(cli, ["notify", "list", "--json"]).output)
    assert {(r["channel"], r["state"]) for r in rows} == {("webhook", "sent"), ("email", "dropped")}
    webhook = next(r for r in rows if r["channel"] == "webhook")
    replayed = runner.invoke(cli, ["notify", "replay", str(webhook["id"])])
    assert replayed.exit_code == 0, replayed.output
    assert len(hook.accepted()) == 2
    assert int(replayed.output.strip().splitlines()[-1]) > webhook["id"]
    assert runner.invoke(cli, ["notify", "replay", "999999"]).exit_code == 1
    sent = runner.invoke(cli, ["notify", "send-due"])
    assert sent.exit_code == 0 and "no delivery due" in sent.output
    digest = runner.invoke(cli, ["notify", "digest", "--day", "2026-12-03"])
    assert digest.exit_code == 0 and "2026-12-03: 0 users told" in digest.output
    assert runner.invoke(cli, ["notify", "digest", "--day", "someday"]).exit_code == 2
    assert "0 notifications" in runner.invoke(cli, ["notify", "watch"]).output
    gone = runner.invoke(cli, ["notify", "webhook", "delete", "1"])
    assert gone.exit_code == 0 and "deleted" in gone.output
    with any_app.app_context():
        actions = sorted(a for (a,) in db.session.query(AuditEvent.action).filter(
            AuditEvent.action.like("webhook.%")))  # fmt: skip
    assert actions == ["webhook.add", "webhook.delete", "webhook.replay"]
