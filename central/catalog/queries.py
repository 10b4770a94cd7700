"""Catalogue reads for the API and the console: the tracks a caller's parties hold shares of, by
id, a page at a time, each with its rights shares; a search by title, artist or external id; a
track's near-duplicates. Scope `parties` None: every track."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from central.catalog.models import Track, TrackNearDuplicate
from central.errors import QueryError
from central.royalties.models import RightsShare
from central.royalties.store import track_shares
from central.times import iso_datetime

TRACKS_LIMIT_MAX = 500
SEARCH_CHARS_MAX = 200


@dataclass(frozen=True)
class TrackPage:
    """Up to `limit` tracks (as records), and the cursor of the next page (None: the last)."""

    tracks: list[dict[str, Any]]
    next_cursor: str | None


def party_tracks(
    session: Session,
    parties: frozenset[str] | None,
    limit: int,
    cursor: str | None = None,
    text: str | None = None,
) -> TrackPage:
    """The tracks one of `parties` holds a share of (None: all), by id, after `cursor`; with
    `text`, only those whose title, artist or external id contains it (any case)."""
    if not 1 <= limit <= TRACKS_LIMIT_MAX:
        raise QueryError(f"limit: 1 to {TRACKS_LIMIT_MAX}")
    query = select(Track).order_by(Track.id).limit(limit + 1)
    if text is not None and text.strip():
        query = query.where(matching(text.strip()))
    if parties is not None:
        held = select(RightsShare.track_id).where(RightsShare.party.in_(sorted(parties)))
        query = query.where(Track.id.in_(held))
    if cursor is not None:
        query = query.where(Track.id > decode_cursor(cursor))
    rows = list(session.scalars(query))
    records = [track_record(session, t) for t in rows[:limit]]
    more = len(rows) > limit
    return TrackPage(records, encode_cursor(rows[limit - 1].id) if more else None)


def matching(text: str) -> Any:
    """Tracks whose title, artist or external id contains `text`, in any case (LIKE's own
    wildcards in `text` are taken literally)."""
    if len(text) > SEARCH_CHARS_MAX:
        raise QueryError(f"search: at most {SEARCH_CHARS_MAX} characters")
    return or_(
        Track.title.icontains(text, autoescape=True),
        Track.artist.icontains(text, autoescape=True),
        Track.external_id.icontains(text, autoescape=True),
    )


def near_duplicates_of(session: Session, track_id: int) -> list[dict[str, Any]]:
    """The tracks the import found to share a recording with this one (either way round),
    longest shared first: id, external id, title, artist, shared_ms, and which contains which."""
    pairs = session.execute(
        select(TrackNearDuplicate).where(
            or_(TrackNearDuplicate.track_id == track_id,
                TrackNearDuplicate.other_track_id == track_id)
        )
    ).scalars()  # fmt: skip
    found = []
    for pair in pairs:
        newer = pair.track_id == track_id
        other = session.get(Track, pair.other_track_id if newer else pair.track_id)
        assert other is not None, pair
        found.append({
            "id": other.id, "external_id": other.external_id, "title": other.title,
            "artist": other.artist, "shared_ms": pair.shared_ms,
            "relation": "registered after it" if not newer else "registered before it",
            "found_at": iso_datetime(pair.created_at),
        })  # fmt: skip
    return sorted(found, key=lambda d: (-d["shared_ms"], d["id"]))


def find_track(session: Session, track_id: int, parties: frozenset[str] | None) -> Track | None:
    """The track, if one of `parties` holds a share of it (None: any track)."""
    track = session.get(Track, track_id)
    if track is None or parties is None:
        return track
    held = session.scalar(
        select(RightsShare.id)
        .where(RightsShare.track_id == track_id, RightsShare.party.in_(sorted(parties)))
        .limit(1)
    )
    return track if held is not None else None


def track_record(session: Session, track: Track) -> dict[str, Any]:
    """A track as the API shows it, with its rights shares by pool."""
    pools = track_shares(session, track.id)
    return {
        "id": track.id,
        "external_id": track.external_id,
        "title": track.title,
        "artist": track.artist,
        "isrc": track.isrc,
        "iswc": track.iswc,
        "duration_ms": track.duration_ms,
        "created_at": iso_datetime(track.created_at),
        "shares": {
            name: {
                "work_code": pool.work_code,
                "shares": [
                    {"party": x.party, "role": x.role, "share_bp": x.share_bp} for x in pool.lines
                ],
            }
            for name, pool in pools.items()
        },
    }


def encode_cursor(track_id: int) -> str:
    """The cursor of the page after track `track_id`."""
    return f"t{track_id}"


def decode_cursor(cursor: str) -> int:
    """The track id of a cursor made by encode_cursor, or QueryError."""
    if not (cursor.startswith("t") and cursor[1:].isdigit() and len(cursor) <= 20):
        raise QueryError("cursor: not a cursor of this list; pass next_cursor as given")
    return int(cursor[1:])
