"""Near-duplicate flagging at import: a radio edit of a registered song is noted, others not."""

from __future__ import annotations

from central.catalog.near_duplicates import near_duplicate_notes
from central.matching.index import TrackRef, build_index
from edge_agent import fingerprint as fp
from tests import transforms


def test_radio_edit_of_a_registered_song_is_flagged() -> None:
    """An excerpt of a registered song, sped up 2 %, is reported with the shared seconds."""
    original = transforms.song(301, 60.0)
    index = build_index([(TrackRef(1, "ORIG", "original"), fp.fingerprint(original, fp.REFERENCE))])
    edit = transforms.speed(original[8000 * 5 : 8000 * 50], 1.02)
    notes = near_duplicate_notes([index], 2, fp.fingerprint(edit, fp.REFERENCE))
    assert len(notes) == 1
    assert notes[0].startswith("near-duplicate of ORIG (original)")


def test_different_songs_are_not_flagged() -> None:
    """Unrelated music produces no note."""
    index = build_index(
        [
            (
                TrackRef(1, "ORIG", "original"),
                fp.fingerprint(transforms.song(302, 60.0), fp.REFERENCE),
            )
        ]
    )
    other = fp.fingerprint(transforms.song(303, 60.0), fp.REFERENCE)
    assert near_duplicate_notes([index], 2, other) == []
