"""The admin side of the console on PostgreSQL: every page renders the stored rows for an
admin; auditors read but cannot write; station and artist users are refused (403); each action
changes the database and writes an audit row; a form without its CSRF token is refused."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from central.auth import tokens, users
from central.auth.models import ApiToken, AuditEvent, User
from central.catalog.models import Track, TrackNearDuplicate
from central.catalog.upload_models import PENDING, REVIEW, SAME_AUDIO, TrackReview, TrackUpload
from central.cli import cli
from central.extensions import db, utc_now
from central.ledger.models import VerifyRun
from tests.integration.central.admin_rows import seed_overview
from tests.integration.central.console.conftest import PEOPLE
from tests.integration.central.rows import add_track
from tests.integration.central.royalties.conftest import add_card, card_document

pytestmark = pytest.mark.integration

READ_PAGES = [
    "/admin/overview",
    "/admin/stations",
    "/admin/tracks",
    "/admin/quarantine",
    "/admin/ledger",
    "/admin/ledger/verify",
    "/admin/ratecards",
    "/admin/audit",
]
ADMIN_ONLY_PAGES = ["/admin/users", "/admin/reviews"]


@pytest.fixture
def admin_rows(pg_app: Flask, pg_runner: FlaskCliRunner, console_people) -> dict[str, int]:
    """The overview's rows, two near-duplicate tracks, reviews (one same-audio, one to reject),
    a rate card, two ledger accounts with a transfer, a token of the artist's. Their ids."""
    for args in (
        ["ledger", "account", "add", "station:joy-fm:payable", "--kind", "station_payable"],
        ["ledger", "account", "add", "artist:ama:earnings", "--kind", "artist_earnings"],
        ["ledger", "transfer", "--key", "seed-1", "--code", "adjustment",
         "--debit", "station:joy-fm:payable=1250", "--credit", "artist:ama:earnings=1250"],
    ):  # fmt: skip
        result = pg_runner.invoke(cli, args)
        assert result.exit_code == 0, result.output
    with pg_app.app_context():
        seed_overview(db.session)
        played = db.session.query(Track).filter_by(external_id="OV-1").one()
        edit, full = add_track(db.session, "HL-EDIT"), add_track(db.session, "HL-FULL")
        db.session.add(TrackNearDuplicate(track_id=edit.id, other_track_id=full.id,
                                          shared_ms=95_000))  # fmt: skip
        reviews = [_review(db.session, full.id, f"Upload {n}", reason) for n, reason in
                   enumerate((SAME_AUDIO, "same_recording"))]  # fmt: skip
        add_card(db.session, card_document())
        artist = users.get_user(db.session, PEOPLE["artist"][0])
        token, _ = tokens.create_token(db.session, artist, "laptop", None, None, utc_now())
        db.session.commit()
        return {
            "edit": edit.id, "full": full.id, "same_audio": reviews[0], "to_reject": reviews[1],
            "token": token.id, "artist": artist.id, "played": played.id,
        }  # fmt: skip


def _review(session, track_id: int, title: str, reason: str) -> int:
    """A pending review of an upload that matched `track_id`; its id."""
    upload = TrackUpload(state=REVIEW, title=title, shares_json="{}", submitted_by="user:9",
                         parties_json="[]", container="wav", size_bytes=1000)  # fmt: skip
    session.add(upload)
    session.flush()
    review = TrackReview(upload_id=upload.id, matched_track_id=track_id, reason=reason,
                         shared_start_ms=0, shared_ms=60_000, state=PENDING)  # fmt: skip
    session.add(review)
    session.flush()
    return review.id


def test_every_admin_page_renders_the_stored_rows(console_client, admin_rows) -> None:
    """Each page, as an admin, shows what the rows hold (not just a frame)."""
    admin = console_client("admin")
    expect = {
        "/": ["Stations monitored", "2 of 3", "pi-01", "GHS 4.00", 'hx-trigger="every 5s"'],
        "/admin/overview": ['id="overview"', "Streams down"],
        "/admin/stations": ["joy-fm", "pi-02", "badge-stale", "badge-offline", "never seen"],
        "/admin/tracks?q=hl-": ["HL-EDIT", "HL-FULL"],
        f"/admin/tracks/{admin_rows['edit']}": ["HL-FULL", "95", 'data-chart="track-plays-data"'],
        f"/admin/tracks/{admin_rows['played']}": ["(4 in all)", "OV-1"],
        "/admin/reviews": ["Upload 0", "Upload 1", "HL-FULL", "csrf_token"],
        "/admin/quarantine": ["not_json", "bad_topic", "seeded"],
        "/admin/quarantine?reason=bad_topic": ["bad_topic"],
        "/admin/ledger": ["station:joy-fm:payable", "GHS 12.50", "never"],
        "/admin/ledger/accounts/artist:ama:earnings": ["seed-1", "GHS 12.50"],
        "/admin/ledger/verify": ["Check the ledger now", "never checked"],
        "/admin/ratecards": ["broadcast", "per_second"],
        "/admin/users": [PEOPLE["artist"][0], "Invite a user"],
        f"/admin/users/{admin_rows['artist']}": ["laptop", "zamio_pat_", "Revoke"],
        "/admin/audit": ["user.login"],
        "/admin/audit?action=user.login&since=1d": ["user.login"],
    }
    for path, needles in expect.items():
        page = admin.get(path)
        assert page.status_code == 200, (path, page.status_code, page.text[:500])
        for needle in needles:
            assert needle in page.text, (path, needle)
    assert "Upload 0" not in admin.get("/admin/quarantine?reason=bad_topic").text
    assert (
        "not_json" not in admin.get("/admin/quarantine?reason=bad_topic").text.split("<tbody>")[1]
    )


def test_the_live_parts_are_fragments(console_client, admin_rows) -> None:
    """htmx's polls get the fragment alone (no layout), the same numbers as the page."""
    admin = console_client("admin")
    overview = admin.get("/admin/overview", headers={"HX-Request": "true"})
    assert overview.status_code == 200 and "<html" not in overview.text
    stations = admin.get("/admin/stations", headers={"HX-Request": "true"})
    assert "<html" not in stations.text and 'id="stations"' in stations.text
    assert "<html" in admin.get("/admin/stations").text


def test_an_auditor_reads_but_cannot_write(console_client, admin_rows, pg_app: Flask) -> None:
    """Auditor: the read pages 200; the admin-only pages and every write action 403, and
    nothing changes."""
    auditor = console_client("auditor")
    for path in READ_PAGES + ["/", f"/admin/tracks/{admin_rows['full']}"]:
        assert auditor.get(path).status_code == 200, path
    assert "Check the ledger now" not in auditor.get("/admin/ledger/verify").text
    for path in ADMIN_ONLY_PAGES + [f"/admin/users/{admin_rows['artist']}"]:
        assert auditor.get(path).status_code == 403, path
    for path, data in _writes(admin_rows):
        assert auditor.form(path, data).status_code == 403, path
    with pg_app.app_context():
        assert db.session.query(VerifyRun).count() == 0
        assert db.session.get(ApiToken, admin_rows["token"]).revoked_at is None
        assert users.find_user(db.session, "new@zamio.test") is None


def _writes(ids: dict[str, int]) -> list[tuple[str, dict[str, str]]]:
    """Every write action of the admin pages, with a body that would succeed."""
    return [
        ("/admin/ledger/verify", {}),
        ("/admin/users", {"email": "new@zamio.test", "role": "auditor"}),
        (f"/admin/users/{ids['artist']}/disable", {}),
        (f"/admin/tokens/{ids['token']}/revoke", {}),
        (f"/admin/reviews/{ids['to_reject']}/reject", {"note": "no"}),
    ]


@pytest.mark.parametrize("role", ["station", "artist", "rights_holder"])
def test_other_roles_are_refused_every_admin_page(console_client, admin_rows, role) -> None:
    """Station staff, artists and rights holders: 403 on every /admin page and action."""
    client = console_client(role)
    for path in READ_PAGES + ADMIN_ONLY_PAGES + [f"/admin/tracks/{admin_rows['full']}"]:
        assert client.get(path).status_code == 403, (role, path)
    for path, data in _writes(admin_rows):
        assert client.form(path, data).status_code == 403, (role, path)


def test_the_actions_change_the_database_and_are_audited(
    console_client, admin_rows, pg_app: Flask
) -> None:
    """Verify, invite, disable and enable, revoke, reject: each changes its rows and writes
    one audit event as user:<id> via console."""
    admin = console_client("admin")
    for path, data in _writes(admin_rows):
        response = admin.form(path, data)
        assert response.status_code == 303, (path, response.text[:400])
    assert admin.form(f"/admin/users/{admin_rows['artist']}/enable").status_code == 303
    assert "Ledger checked: ok" in admin.get("/admin/ledger/verify?done=Ledger+checked:+ok.").text
    with pg_app.app_context():
        me = users.get_user(db.session, PEOPLE["admin"][0])
        run = db.session.query(VerifyRun).one()
        assert (run.ok, run.actor, run.via) == (True, f"user:{me.id}", "console")
        invited = users.get_user(db.session, "new@zamio.test")
        assert invited.role == "auditor" and invited.password_hash is None
        assert db.session.get(User, admin_rows["artist"]).active is True
        assert db.session.get(ApiToken, admin_rows["token"]).revoked_at is not None
        rejected = db.session.get(TrackReview, admin_rows["to_reject"])
        assert (rejected.state, rejected.note, rejected.decided_by) == (
            "rejected", "no", f"user:{me.id}",
        )  # fmt: skip
        events = db.session.query(AuditEvent).filter_by(via="console", actor=f"user:{me.id}")
        actions = [e.action for e in events.order_by(AuditEvent.id) if e.action != "user.login"]
    assert actions == [
        "ledger.verify", "user.add", "user.disable", "token.revoke", "review.reject",
        "user.enable",
    ]  # fmt: skip


def test_a_refused_decision_says_why_and_changes_nothing(
    console_client, admin_rows, pg_app: Flask
) -> None:
    """Approving a same-audio upload cannot be done: 409 with the reason, the review pending."""
    admin = console_client("admin")
    response = admin.form(f"/admin/reviews/{admin_rows['same_audio']}/approve", {"note": ""})
    assert response.status_code == 409 and "the very same audio" in response.text
    assert admin.form("/admin/reviews/999999/reject").status_code == 404
    with pg_app.app_context():
        assert db.session.get(TrackReview, admin_rows["same_audio"]).state == PENDING


def test_a_bad_invite_shows_the_problem(console_client, admin_rows, pg_app: Flask) -> None:
    """A station user without a station: 400, the form again with the reason; nobody added."""
    admin = console_client("admin")
    response = admin.form("/admin/users", {"email": "desk2@joy.test", "role": "station"})
    assert response.status_code == 400 and "needs --station" in response.text
    assert 'value="desk2@joy.test"' in response.text
    with pg_app.app_context():
        assert users.find_user(db.session, "desk2@joy.test") is None


def test_a_post_without_its_csrf_token_is_refused(console_client, admin_rows, pg_app) -> None:
    """Every write action without the session's CSRF token: 400, and nothing changes."""
    admin = console_client("admin")
    for path, data in _writes(admin_rows):
        response = admin.post(path, data=data)
        assert response.status_code == 400 and "security token" in response.text, path
    with pg_app.app_context():
        assert db.session.query(VerifyRun).count() == 0
        assert db.session.get(ApiToken, admin_rows["token"]).revoked_at is None


def test_pages_are_paged_and_bad_parameters_are_400(console_client, admin_rows, pg_app) -> None:
    """Lists link to their next page; a cursor or id that is not one is a 400 page."""
    with pg_app.app_context():
        for n in range(55):
            add_track(db.session, f"PG-{n:02d}")
        db.session.commit()
    admin = console_client("admin")
    first = admin.get("/admin/tracks?q=PG-").text
    found = re.search(r'href="([^"]+)" rel="next"', first)
    assert found is not None
    second = admin.get(found.group(1).replace("&amp;", "&")).text
    assert "PG-54" in second and "PG-00" not in second
    for path in ("/admin/tracks?cursor=nonsense", "/admin/quarantine?before=x",
                 "/admin/audit?since=yesterday-ish", "/admin/users?role=king"):  # fmt: skip
        assert admin.get(path).status_code == 400, path
    assert admin.get("/admin/tracks/999999").status_code == 404
    assert admin.get("/admin/ledger/accounts/nobody:here").status_code == 404
