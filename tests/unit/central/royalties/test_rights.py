"""Rights shares documents: codes normalized, roles per pool, shares adding up to 100 %, party
codes that name earnings accounts; every problem reported at once."""

from __future__ import annotations

import pytest

from central.royalties.rights import (
    COMPOSITION,
    MASTER,
    RightsLine,
    parse_shares,
    party_kind,
    pool_of_code,
)

DOCUMENT = {
    "composition": {
        "iswc": "T-034.524.680-1",
        "shares": [
            {"party": "artist:ama:earnings", "role": "writer", "share_bp": 6000},
            {"party": None, "role": "publisher", "share_bp": 4000},
        ],
    },
    "master": {
        "isrc": "gh-a01-26-00001",
        "shares": [{"party": "label:kasa:earnings", "role": "label", "share_bp": 10_000}],
    },
}


def test_a_document_gives_normalized_pools() -> None:
    """Both pools, codes normalized, the unclaimed publisher kept as a share without a party."""
    pools, problems = parse_shares(DOCUMENT)
    assert problems == []
    assert [(p.pool, p.work_code) for p in pools] == [
        (COMPOSITION, "T0345246801"),
        (MASTER, "GHA012600001"),
    ]
    assert pools[0].lines[1] == RightsLine(None, "publisher", 4000)


def test_one_pool_alone_is_a_document() -> None:
    """Setting only the master pool leaves the composition pool to another document."""
    pools, problems = parse_shares({"master": DOCUMENT["master"]})
    assert problems == [] and [p.pool for p in pools] == [MASTER]


def test_shares_not_adding_up_and_bad_codes_are_all_reported() -> None:
    """99.99 %, a bad ISRC, a master role in the composition pool, a station as a party."""
    document = {
        "composition": {
            "iswc": "T-034.524.680-1",
            "shares": [
                {"party": "artist:ama:earnings", "role": "writer", "share_bp": 5999},
                {"party": "station:joy-fm:wallet", "role": "publisher", "share_bp": 4000},
            ],
        },
        "master": {"isrc": "GH-A01", "shares": [{"role": "performer", "share_bp": 10_000}]},
        "lyrics": {},
    }
    pools, problems = parse_shares(document)
    text = "\n".join(problems)
    assert pools == []
    for expected in (
        "unknown pool 'lyrics'",
        "composition share 2: party 'station:joy-fm:wallet': not an earnings account code",
        "master: 'GH-A01' is no ISRC",
    ):
        assert expected in text, text
    _, problems = parse_shares({"composition": {**document["composition"], "shares": [
        {"party": "artist:ama:earnings", "role": "writer", "share_bp": 5999},
        {"role": "label", "share_bp": 4000}]}})  # fmt: skip
    assert problems == ["composition share 2: role 'label': one of writer, publisher"]
    _, problems = parse_shares({"composition": {**document["composition"], "shares": [
        {"party": "artist:ama:earnings", "role": "writer", "share_bp": 5999}]}})  # fmt: skip
    assert problems == ["composition: shares add up to 59.99 %, not 100 %"]


def test_a_party_twice_in_one_role_and_bad_shapes_are_refused() -> None:
    """The same writer listed twice, a zero share, a missing key, not an object."""
    twice = {"party": "artist:ama:earnings", "role": "writer", "share_bp": 5000}
    _, problems = parse_shares({"composition": {"iswc": "T0345246801", "shares": [twice, twice]}})
    assert problems == ["composition: artist:ama:earnings is listed twice as writer"]
    _, problems = parse_shares({"master": {"isrc": "GHA012600001", "shares": [
        {"role": "label", "share_bp": 0}, {"role": "label"}]}})  # fmt: skip
    assert problems == [
        "master share 1: share_bp 0: a whole number of basis points > 0",
        "master share 2: an object with role, share_bp and optionally party",
    ]
    assert parse_shares([])[1] == [
        "a shares document is a JSON object with composition and/or master"
    ]


def test_party_codes_say_their_account_kind_and_codes_their_pool() -> None:
    """artist: is artist earnings, society: a society pool; an ISWC is composition."""
    assert party_kind("artist:ama:earnings") == "artist_earnings"
    assert party_kind("society:ghamro:pool") == "society_pool"
    assert party_kind("label:kasa:earnings") == "rights_holder_earnings"
    assert pool_of_code("t-034.524.680-1") == (COMPOSITION, "T0345246801")
    assert pool_of_code("GH-A01-26-00001") == (MASTER, "GHA012600001")
    with pytest.raises(ValueError, match="no ISWC nor ISRC"):
        pool_of_code("nonsense")
