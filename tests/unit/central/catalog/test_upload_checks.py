"""Tests for the pure checks of an upload (central.catalog.upload_checks): metadata, shares that
pay the uploader, audio containers by their first bytes, external ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from central.catalog.upload_checks import (
    SNIFF_BYTES,
    check_metadata,
    default_shares,
    external_id_choices,
    slug,
    sniff_container,
)
from central.royalties.rights import parse_shares
from tests import transforms

AMA = "artist:ama:earnings"
MASTER = {"master": {"isrc": "GH-A01-26-00001", "shares": [
    {"party": AMA, "role": "performer", "share_bp": 6000},
    {"party": None, "role": "label", "share_bp": 4000}]}}  # fmt: skip


def test_metadata_normalised_and_codes_filled_from_the_shares() -> None:
    """ISRC and ISWC are normalised as the royalty helpers do; the master pool's ISRC fills an
    absent one; the title is stripped."""
    metadata, problems = check_metadata(
        "  Odo  ", None, None, "T-034.524.680-1", None, MASTER, {AMA}
    )
    assert problems == []
    assert metadata is not None
    assert (metadata.title, metadata.isrc, metadata.iswc) == ("Odo", "GHA012600001", "T0345246801")
    assert [pool.pool for pool in metadata.shares] == ["master"]
    assert parse_shares(__import__("json").loads(metadata.shares_json()))[0] == list(
        metadata.shares
    )


def test_every_metadata_problem_is_reported_at_once() -> None:
    """No title, a bad ISRC, a bad ISWC check digit and shares not adding up: all named."""
    bad_shares = {"master": {"isrc": "GH-A01-26-00001", "shares": [
        {"party": AMA, "role": "performer", "share_bp": 5000}]}}  # fmt: skip
    metadata, problems = check_metadata(" ", 5, "nope", "T-034.524.680-2", None, bad_shares, {AMA})
    assert metadata is None
    assert problems[0] == "title: required"
    assert problems[1] == "artist: must be text, not int"
    assert problems[2].startswith("isrc: 'nope' is no ISRC")
    assert problems[3] == "iswc: 'T-034.524.680-2': ISWC check digit should be 1"
    assert problems[4] == "shares: master: shares add up to 50 %, not 100 %"


def test_shares_must_pay_the_uploader() -> None:
    """A shares document none of whose parties is the uploader's is refused: you cannot
    register a track that does not pay you; an uploader with no party cannot register."""
    _, problems = check_metadata("Odo", None, None, None, None, MASTER, {"label:kasa:earnings"})
    assert problems == [
        "shares: none of them pays you (label:kasa:earnings): you can only register a track you"
        " hold a share of"
    ]
    _, problems = check_metadata("Odo", None, None, None, None, MASTER, set())
    assert problems == ["the uploader has no party: link the account to an artist or rights holder"]


def test_shares_are_required_and_must_agree_with_the_codes() -> None:
    """No shares document is refused; an ISRC that is not the master pool's is refused."""
    _, problems = check_metadata("Odo", None, None, None, None, None, {AMA})
    assert problems == ["shares: a shares document is a JSON object with composition and/or master"]
    _, problems = check_metadata("Odo", None, "GH-A01-26-00002", None, None, MASTER, {AMA})
    assert problems == ["isrc GHA012600002 is not the master shares' (GHA012600001)"]


def test_control_characters_and_long_text_are_refused() -> None:
    """A NUL in a title (PostgreSQL refuses it) and an over-long external id are named."""
    _, problems = check_metadata("A\u0000B", None, None, None, "x" * 201, MASTER, {AMA})
    assert problems == [
        "title: holds a control character",
        "external_id: longer than 200 characters",
    ]


def test_default_shares_split_the_master_equally() -> None:
    """The CLI's default pool gives each party an equal part, to the last basis point."""
    document = default_shares("GH-A01-26-00001", ["label:b:earnings", AMA, "label:c:earnings"])
    pools, problems = parse_shares(document)
    assert problems == []
    lines = pools[0].lines
    assert [(x.party, x.role, x.share_bp) for x in lines] == [
        (AMA, "performer", 3334),
        ("label:b:earnings", "label", 3333),
        ("label:c:earnings", "label", 3333),
    ]


@pytest.mark.parametrize(
    ("suffix", "fmt", "expected"),
    [(".wav", "WAV", "wav"), (".flac", "FLAC", "flac"), (".ogg", "OGG", "ogg"),
     (".aiff", "AIFF", "aiff"), (".w64", "W64", "w64"), (".caf", "CAF", "caf")],
)  # fmt: skip
def test_sniff_names_real_audio_containers(
    tmp_path: Path, suffix: str, fmt: str, expected: str
) -> None:
    """Files soundfile writes are recognised by their first bytes."""
    path = tmp_path / f"a{suffix}"
    subtype = "VORBIS" if fmt == "OGG" else "PCM_16"
    soundfile.write(str(path), transforms.song(1, 1.0), 8000, format=fmt, subtype=subtype)
    assert sniff_container(path.read_bytes()[:SNIFF_BYTES]) == expected


def test_sniff_names_mp3_and_mp4_heads_and_refuses_the_rest() -> None:
    """ID3 and frame-synced MP3, an ADTS AAC header and an ISO ftyp box are audio; text,
    PNG, PDF, a zip and nothing at all are not."""
    assert sniff_container(b"ID3\x04\x00" + bytes(20)) == "mp3"
    assert sniff_container(b"\xff\xfb\x90\x64" + bytes(20)) == "mp3"
    assert sniff_container(b"\xff\xf1\x50\x80" + bytes(20)) == "aac"
    assert sniff_container(b"\x00\x00\x00\x20ftypM4A " + bytes(20)) == "mp4"
    for head in (b"hello, world", b"\x89PNG\r\n\x1a\n", b"%PDF-1.7", b"PK\x03\x04", b""):
        assert sniff_container(head) is None


def test_sniff_refuses_random_bytes_almost_always() -> None:
    """Of 2,000 seeded random heads, only the rare frame-sync lookalikes pass (the decoder
    refuses those later)."""
    rng = np.random.default_rng(7)
    passed = sum(sniff_container(rng.bytes(SNIFF_BYTES)) is not None for _ in range(2000))
    assert passed <= 5


def test_slug_and_external_id_choices() -> None:
    """Titles become lower-case ASCII ids (Akan letters too); the second choice adds the
    upload id; a title of symbols becomes 'track'."""
    assert slug("Ɔdɔ Fɛfɛɛfɛ!") == "odo-fefeefe"
    assert slug("Café — Ñandú") == "cafe-nandu"
    assert slug("!!!") == "track"
    assert external_id_choices("Odo", 12) == ("odo", "odo-u12")
    first, second = external_id_choices("x" * 300, 7)
    assert len(first) == len(second) == 200 and second.endswith("-u7")
