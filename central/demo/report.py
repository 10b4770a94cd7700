"""The demo's closing report (pure): the play log, the check against the programme, the
balances and the ledger's verdict, as text lines or as JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from central.demo.accounts import ArtistView, Login
from central.demo.payouts import DemoPayout
from central.demo.programme import STATION, STATION_NAME, Aired, DemoTrack
from central.ledger.audit import Report
from central.ledger.money import format_minor
from central.ledger.queries import AccountBalance
from central.plays.aggregate import PLAY_S_MIN
from central.plays.timeline import overlap_ms

MATCH_SHARE_MIN = 0.5  # a play is the aired song when they share half the song's airtime
CONSOLE_URL = "http://127.0.0.1:8000/"  # where `zamio serve` (default port) puts the console


@dataclass(frozen=True)
class PlayLine:
    """A play of the log, times from the start of what the agent heard."""

    play_id: int
    track: str
    title: str
    artist: str | None
    start_s: float
    end_s: float
    confidence: float
    speed_ratio: float
    status: str
    royalty_minor: int | None
    currency: str | None


@dataclass(frozen=True)
class Console:
    """Where the demo's console is (or will be, once served), and who may log in."""

    url: str
    logins: tuple[Login, ...]


@dataclass(frozen=True)
class DemoResult:
    """What the demo found: the play log, balances, the ledger's check, the ground truth."""

    database_url: str
    catalogue: tuple[DemoTrack, ...]
    plays: tuple[PlayLine, ...]
    balances: tuple[AccountBalance, ...]
    ledger: Report
    aired: tuple[Aired, ...] | None  # None for a stream: nobody knows what it played
    heard_s: float
    batches: int
    quarantined: int
    artist_view: ArtistView | None = None  # an artist's plays and earnings through the API
    console: Console | None = None  # the console logins, when the data is kept
    payout: DemoPayout | None = None  # the artist's withdrawal through the MoMo simulator


@dataclass(frozen=True)
class ProgrammeCheck:
    """The play log against what was broadcast."""

    found: tuple[tuple[Aired, PlayLine], ...]
    missed: tuple[Aired, ...]  # on air PLAY_S_MIN or more, but no play
    extra: tuple[PlayLine, ...]  # a play of nothing that was on air
    brief: tuple[Aired, ...]  # on air under PLAY_S_MIN: rightly no play


def check_programme(plays: tuple[PlayLine, ...], aired: tuple[Aired, ...]) -> ProgrammeCheck:
    """Pair each aired song with the play that covers at least half of it."""
    found, missed, used = [], [], set()
    for song in (a for a in aired if a.counts):
        play = next((p for p in plays if p.play_id not in used and _same(p, song)), None)
        if play is None:
            missed.append(song)
        else:
            used.add(play.play_id)
            found.append((song, play))
    brief = tuple(a for a in aired if not a.counts)
    extra = tuple(p for p in plays if p.play_id not in used)
    return ProgrammeCheck(tuple(found), tuple(missed), extra, brief)


def _same(play: PlayLine, song: Aired) -> bool:
    shared_ms = overlap_ms(
        int(play.start_s * 1000), int(play.end_s * 1000),
        int(song.start_s * 1000), int(song.end_s * 1000),
    )  # fmt: skip
    aired_ms = (song.end_s - song.start_s) * 1000
    return play.track == song.track and shared_ms >= MATCH_SHARE_MIN * aired_ms


def report_lines(result: DemoResult) -> list[str]:
    """The report as text."""
    lines = ["", f"Play log of {STATION} ({STATION_NAME}) (times from the start of the broadcast)"]
    lines.append(
        f"  {'play':>4}  {'start':>5}  {'end':>5}  {'on air':>7}  {'track':<28} {'artist':<14}"
        f" {'conf':>4}  {'speed':>5}  royalty"
    )
    for p in result.plays:
        royalty = "-" if p.royalty_minor is None else format_minor(p.royalty_minor, p.currency)
        lines.append(
            f"  {p.play_id:>4}  {_clock(p.start_s):>5}  {_clock(p.end_s):>5}"
            f"  {p.end_s - p.start_s:>5.1f} s  {(p.track + ' ' + p.title)[:28]:<28}"
            f" {(p.artist or '')[:14]:<14} {p.confidence:>4.2f}  {p.speed_ratio:>5.3f}  {royalty}"
            + ("" if p.status == "closed" else "  (open)")
        )
    if not result.plays:
        lines.append("  (no plays)")
    if result.aired is not None:
        lines += ["", *_check_lines(check_programme(result.plays, result.aired), result)]
    lines += ["", "Balances"]
    for b in result.balances:
        if b.balance_minor or b.debits_pending_minor or b.credits_pending_minor:
            lines.append(f"  {b.code:<40} {format_minor(b.balance_minor, b.currency):>12}"
                         f"  ({b.kind}, {b.normal_side} normal)")  # fmt: skip
    ledger = result.ledger
    verdict = "ok" if ledger.ok else f"BROKEN: {'; '.join(ledger.problems)}"
    lines += [
        "",
        f"zamio ledger verify: {verdict}: {ledger.transfers} transfers, {ledger.entries} entries,"
        f" {ledger.accounts} accounts; chain head seq {ledger.head_seq} {ledger.head_hash[:16]}",
    ]
    view = result.artist_view
    if view is not None:
        lines += [
            "",
            f"Through the API as {view.email} (role artist, party {view.party}, token"
            f" {view.token_prefix}_..., scopes {' '.join(view.scopes)}):",
            f"  GET /api/v1/plays: {view.plays} plays of their tracks;"
            f" GET /api/v1/earnings: {format_minor(view.balance_minor, view.currency)};"
            f" another party's earnings: {view.others_status}",
        ]
    payout = result.payout
    if payout is not None:
        lines += [
            "",
            f"Payout: {payout.party} withdrew {format_minor(payout.amount_minor, payout.currency)}"
            f" to MTN {payout.number} through the MoMo simulator: withdrawal"
            f" {payout.withdrawal_id} {payout.status} (reference {payout.reference})",
        ]
    return lines


def _check_lines(check: ProgrammeCheck, result: DemoResult) -> list[str]:
    titles = {t.external_id: t.title for t in result.catalogue}
    aired = len(check.found) + len(check.missed)
    lines = [
        f"Against the programme: {len(check.found)} of {aired} songs aired {PLAY_S_MIN:.0f} s or"
        f" more were found, {len(check.extra)} plays of nothing on air"
    ]
    for song, play in check.found:
        lines.append(
            f"  found   {titles[song.track]}: aired {_clock(song.start_s)}-{_clock(song.end_s)},"
            f" play {_clock(play.start_s)}-{_clock(play.end_s)}"
        )
    lines += [f"  MISSED  {titles[s.track]}: aired {_clock(s.start_s)}-{_clock(s.end_s)}"
              for s in check.missed]  # fmt: skip
    lines += [f"  EXTRA   play {p.play_id} of {p.title}" for p in check.extra]
    lines += [f"  brief   {titles[s.track]}: {s.end_s - s.start_s:.0f} s on air, under"
              f" {PLAY_S_MIN:.0f} s: rightly no play" for s in check.brief]  # fmt: skip
    return lines


def report_json(result: DemoResult) -> dict[str, Any]:
    """The report as JSON: plays, the programme check, balances, the ledger's verdict."""
    out: dict[str, Any] = {
        "database_url": result.database_url,
        "heard_s": result.heard_s,
        "batches": result.batches,
        "quarantined": result.quarantined,
        "plays": [asdict(p) for p in result.plays],
        "balances": [b.as_dict() for b in result.balances],
        "ledger": result.ledger.as_dict(),
        "artist_view": None if result.artist_view is None else asdict(result.artist_view),
        "console": None if result.console is None else console_json(result.console),
        "payout": None if result.payout is None else asdict(result.payout),
    }
    if result.aired is not None:
        check = check_programme(result.plays, result.aired)
        out["programme"] = {
            "aired": [asdict(a) for a in result.aired],
            "found": [{"aired": asdict(a), "play_id": p.play_id} for a, p in check.found],
            "missed": [asdict(a) for a in check.missed],
            "extra": [p.play_id for p in check.extra],
        }
    return out


def console_lines(console: Console, serving: bool, passwords: bool = True) -> list[str]:
    """How to log in to the console: its URL and each login (with its password, shown once)."""
    how = "serving now: the plays appear as they are stored" if serving else "once served"
    lines = ["", f"The web console: {console.url} ({how}); log in as"]
    for login in console.logins:
        secret = f"  password {login.password}" if passwords else ""
        lines.append(f"  {login.role:<8} {login.email:<32}{secret}".rstrip())
    if passwords:
        lines.append("  (shown only now; a forgotten one: `zamio user invite --reset EMAIL`)")
    else:
        lines.append("  (with the passwords shown above)")
    return lines


def console_json(console: Console) -> dict[str, Any]:
    """The console's URL and logins as JSON, without the passwords (shown once, on stderr)."""
    return {"url": console.url, "logins": [{"email": x.email, "role": x.role}
                                           for x in console.logins]}  # fmt: skip


def _clock(seconds: float) -> str:
    whole = max(int(round(seconds)), 0)
    return f"{whole // 60}:{whole % 60:02d}"
