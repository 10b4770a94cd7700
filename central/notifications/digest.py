"""The daily digest (`plays.digest`): one message per artist or rights holder user for the
plays of their parties' tracks that started on a UTC day, never one per play. Made once the
day's plays have all closed (ZAMIO_PLAYS_CLOSE_WAIT_S after midnight); idempotent per user and
day by its dedupe key `plays.digest:<day>`."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.auth.models import User, UserParty
from central.catalog.models import Track
from central.notifications.models import Notification
from central.notifications.notify import Message, notify_each
from central.plays.models import Play
from central.royalties.models import RightsShare
from central.times import ms_of

logger = logging.getLogger(__name__)

EVENT = "plays.digest"
TRACKS_LISTED_MAX = 10
DAY = timedelta(days=1)


@dataclass(frozen=True)
class TrackPlays:
    """A track's plays on the day, for one user."""

    external_id: str
    title: str
    plays: int


def due_day(now: datetime, close_wait_s: int) -> date:
    """The last UTC day whose plays have all closed by `now`."""
    return (now.astimezone(UTC) - timedelta(seconds=close_wait_s)).date() - DAY


def dedupe_key(day: date) -> str:
    """The digest's key for a day: one per user per day."""
    return f"{EVENT}:{day.isoformat()}"


def digest_message(
    day: date, tracks: list[TrackPlays], stations: int
) -> tuple[str, str, dict[str, Any]]:
    """Subject, body and data of a user's digest of `day` (tracks most played first). Pure."""
    total = sum(t.plays for t in tracks)
    plays_word = "play" if total == 1 else "plays"
    subject = f"{total} {plays_word} of your tracks on {day.isoformat()}"
    station_word = "station" if stations == 1 else "stations"
    lines = [f"Your tracks were played {total} times on {day.isoformat()} (UTC), on {stations}"
             f" {station_word}:", ""]  # fmt: skip
    for track in tracks[:TRACKS_LISTED_MAX]:
        lines.append(f"  {track.plays:>5}  {track.title} ({track.external_id})")
    if len(tracks) > TRACKS_LISTED_MAX:
        lines.append(f"  and {len(tracks) - TRACKS_LISTED_MAX} more tracks")
    data = {
        "day": day.isoformat(),
        "plays": total,
        "stations": stations,
        "tracks": [
            {"external_id": t.external_id, "title": t.title, "plays": t.plays}
            for t in tracks[:TRACKS_LISTED_MAX]
        ],
    }
    return subject, "\n".join(lines), data


def day_plays(session: Session, day: date) -> dict[int, tuple[list[TrackPlays], int]]:
    """For each active user whose parties hold a share of a track played on `day`: their
    tracks' plays (most first) and the number of stations; a play counts once per user."""
    since = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    since_ms, until_ms = ms_of(since), ms_of(since + DAY)
    owners = (
        select(UserParty.user_id, RightsShare.track_id)
        .join(RightsShare, RightsShare.party == UserParty.party)
        .join(User, User.id == UserParty.user_id)
        .where(User.active.is_(True))
        .distinct()
        .subquery()
    )
    query = (
        select(owners.c.user_id, Play.track_id, Play.station_id, func.count(Play.id))
        .join(owners, owners.c.track_id == Play.track_id)
        .where(Play.start_ms >= since_ms, Play.start_ms < until_ms)
        .group_by(owners.c.user_id, Play.track_id, Play.station_id)
    )
    counts: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    stations: dict[int, set[int]] = defaultdict(set)
    for user_id, track_id, station_id, plays in session.execute(query):
        counts[user_id][track_id] += int(plays)
        stations[user_id].add(station_id)
    track_ids = {t for per_user in counts.values() for t in per_user}
    names = {
        row.id: (row.external_id, row.title)
        for row in session.execute(
            select(Track.id, Track.external_id, Track.title).where(Track.id.in_(track_ids))
        )
    } if track_ids else {}  # fmt: skip
    found = {}
    for user_id, per_track in counts.items():
        tracks = [TrackPlays(*names[t], plays) for t, plays in per_track.items()]
        tracks.sort(key=lambda t: (-t.plays, t.title, t.external_id))
        found[user_id] = (tracks, len(stations[user_id]))
    return found


def made_already(session: Session, day: date) -> bool:
    """Whether the digest of `day` was made (it is made in one transaction)."""
    query = select(Notification.id).where(
        Notification.event == EVENT, Notification.dedupe_key == dedupe_key(day)
    )
    return session.scalar(query.limit(1)) is not None


def send_digest(session: Session, day: date, force: bool = False) -> int:
    """Make the digest of `day` for every user with plays, and commit; users told (0 when it
    was made already; with `force` the day is read again and only users not yet told are)."""
    if not force and made_already(session, day):
        session.rollback()
        return 0
    messages = []
    for user_id, (tracks, stations) in sorted(day_plays(session, day).items()):
        subject, body, data = digest_message(day, tracks, stations)
        messages.append(Message(user_id, subject, body, data, "/", dedupe_key(day)))
    made = notify_each(session, EVENT, messages)
    session.commit()
    logger.info("plays.digest %s: %d users told", day.isoformat(), len(made))
    return len(made)
