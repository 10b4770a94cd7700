"""What an upload must be before it is stored, pure: its metadata (title, codes, shares that pay
the uploader), an audio container by its first bytes, and the external id it is registered as.

"You cannot register a track that does not pay you": at least one of the uploader's parties
must hold a share in the shares document. The full decode (edge_agent/decode.py, with its
container whitelist and duration bounds) runs later, in the job; sniffing only refuses what
is plainly no audio file before it is kept.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from central.catalog.models import EXTERNAL_ID_CHARS_MAX, TEXT_CHARS_MAX
from central.royalties.rights import COMPOSITION, MASTER, PoolShares, parse_shares
from central.royalties.splits import normalize_isrc, normalize_iswc

SNIFF_BYTES = 64  # the head of a file that sniff_container reads
PARTIES_MAX = 50
_SLUG_DROP = re.compile(r"[^a-z0-9]+")
_SLUG_LETTERS = str.maketrans("ɔƆɛƐŋŊ", "oOeEnN")  # Akan letters NFKD leaves alone
_ASF_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
_W64_GUID = bytes.fromhex("726966662e91cf11a5d628db04c10000")


@dataclass(frozen=True)
class UploadMetadata:
    """Checked metadata of an upload: codes normalized, shares parsed, parties known."""

    title: str
    artist: str | None
    isrc: str | None
    iswc: str | None
    external_id: str | None
    shares: tuple[PoolShares, ...]
    shares_document: dict[str, Any]

    def shares_json(self) -> str:
        """The shares document as stored (compact JSON)."""
        return json.dumps(self.shares_document, separators=(",", ":"), sort_keys=True)


def check_metadata(
    title: Any,
    artist: Any,
    isrc: Any,
    iswc: Any,
    external_id: Any,
    shares_document: Any,
    parties: Iterable[str],
) -> tuple[UploadMetadata | None, list[str]]:
    """The checked metadata, or None and every problem found."""
    problems: list[str] = []
    title = _text("title", title, TEXT_CHARS_MAX, problems, required=True)
    artist = _text("artist", artist, TEXT_CHARS_MAX, problems)
    external_id = _text("external_id", external_id, EXTERNAL_ID_CHARS_MAX, problems)
    isrc = _code("isrc", isrc, normalize_isrc, problems)
    iswc = _code("iswc", iswc, normalize_iswc, problems)
    pools, share_problems = parse_shares(shares_document)
    problems += [f"shares: {p}" for p in share_problems]
    codes = {pool.pool: pool.work_code for pool in pools}
    for pool, key, code in ((MASTER, "isrc", isrc), (COMPOSITION, "iswc", iswc)):
        if code and codes.get(pool, code) != code:
            problems.append(f"{key} {code} is not the {pool} shares' ({codes[pool]})")
    if pools:
        problems += ownership_problems(pools, parties)
    if problems:
        return None, problems
    metadata = UploadMetadata(
        title=title,
        artist=artist,
        isrc=isrc or codes.get(MASTER),
        iswc=iswc or codes.get(COMPOSITION),
        external_id=external_id,
        shares=tuple(pools),
        shares_document=dict(shares_document),
    )
    return metadata, []


def ownership_problems(pools: Iterable[PoolShares], parties: Iterable[str]) -> list[str]:
    """Why the shares do not pay the uploader (none of `parties` holds one), or []."""
    wanted = set(parties)
    if not wanted:
        return ["the uploader has no party: link the account to an artist or rights holder"]
    if len(wanted) > PARTIES_MAX:
        return [f"the uploader has over {PARTIES_MAX} parties"]
    if holders(pools) & wanted:
        return []
    return [
        f"shares: none of them pays you ({', '.join(sorted(wanted))}): you can only register"
        " a track you hold a share of"
    ]


def holders(pools: Iterable[PoolShares]) -> set[str]:
    """Every party holding a share of `pools`."""
    return {line.party for pool in pools for line in pool.lines if line.party is not None}


def default_shares(isrc: str, parties: Iterable[str]) -> dict[str, Any]:
    """A master pool shared equally by `parties` (performer for artist:..., else label): what
    `zamio catalog upload` files when no --share is given."""
    ordered = sorted(set(parties))
    assert ordered, "no parties"
    base, extra = divmod(10_000, len(ordered))
    shares = [
        {
            "party": party,
            "role": "performer" if party.startswith("artist:") else "label",
            "share_bp": base + (1 if n < extra else 0),
        }
        for n, party in enumerate(ordered)
    ]
    return {MASTER: {"isrc": isrc, "shares": shares}}


def sniff_container(head: bytes) -> str | None:
    """The audio container the first bytes of a file announce (wav, flac, mp3, ...), or None."""
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:16] == _W64_GUID:
        return "w64"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    simple = {b"fLaC": "flac", b"OggS": "ogg", b"caff": "caf", b"\x1aE\xdf\xa3": "matroska"}
    if head[:4] in simple:
        return simple[head[:4]]
    if head[4:8] == b"ftyp":
        return "mp4"
    if head[:16] == _ASF_GUID:
        return "asf"
    if head[:3] == b"ID3":
        return "mp3"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return "aac"  # ADTS: sync, layer 0
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "mp3"  # an MPEG audio frame sync
    return None


def slug(text: str, chars_max: int = EXTERNAL_ID_CHARS_MAX) -> str:
    """`text` as a lower-case ASCII id: 'Ɔdɔ Fɛfɛɛfɛ!' -> 'odo-fefeefe'; 'track' if empty."""
    letters = unicodedata.normalize("NFKD", text.translate(_SLUG_LETTERS))
    ascii_text = letters.encode("ascii", "ignore").decode()
    made = _SLUG_DROP.sub("-", ascii_text.lower()).strip("-")[:chars_max].strip("-")
    return made or "track"


def external_id_choices(title: str, upload_id: int) -> tuple[str, str]:
    """The external ids an upload may take, in order: the title's slug, then the slug made
    unique with the upload's id."""
    suffix = f"-u{upload_id}"
    base = slug(title)
    return base, slug(title, EXTERNAL_ID_CHARS_MAX - len(suffix)) + suffix


def _text(
    key: str, value: Any, chars_max: int, problems: list[str], required: bool = False
) -> str | None:
    """`value` stripped, or None when absent; a problem if required, too long or not text."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.append(f"{key}: required")
        return None
    if not isinstance(value, str):
        problems.append(f"{key}: must be text, not {type(value).__name__}")
        return None
    value = value.strip()
    if len(value) > chars_max:
        problems.append(f"{key}: longer than {chars_max} characters")
    elif any(unicodedata.category(c) in ("Cc", "Cs") for c in value):
        problems.append(f"{key}: holds a control character")
    return value


def _code(key: str, value: Any, normalize: Any, problems: list[str]) -> str | None:
    """`value` as a normalized ISRC or ISWC, or None when absent."""
    text = _text(key, value, 32, problems)
    if text is None:
        return None
    try:
        return normalize(re.sub(r"\s", "", text))
    except ValueError as error:
        problems.append(f"{key}: {error}")
        return None
