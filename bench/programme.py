"""Pure planning of a simulated broadcast: what goes on air when, and with which effects.

Planning runs in three steps, each a pure function of the seed:

1. `draft_programme` draws the running order (songs, partial plays, jingle-like snippets, held-out
   music, DJ talk, talk-over, crossfades, silences, one forced back-to-back repeat per hour) from
   `default_rng([seed, 1])`. It does not depend on the preset, so every preset of one seed airs
   the same programme.
2. `draw_effects` draws each song's speed and tempo change from `default_rng([seed, 2, i])`,
   where i is the preset's position in `PRESETS`.
3. `layout` puts the drafts on the on-air timeline (songs shortened or lengthened by their
   effects, crossfades overlapping) and cuts the programme at `duration_s`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from bench import dj

PARTIAL_S_RANGE = (35.0, 120.0)
SNIPPET_S_RANGE = (10.0, 25.0)
TALK_S_RANGE = (6.0, 30.0)
TALK_OVER_S_RANGE = (4.0, 12.0)
TALK_OVER_LEAD_S_RANGE = (0.5, 3.0)  # gap between the end of a fade and the talk-over
TALK_OVER_LEVEL_DB_RANGE = (-3.0, 3.0)  # speech RMS relative to the music under it
TALK_OVER_SHARE_MAX = 0.25  # talk-over covers at most this share of a song
CROSSFADE_S_RANGE = (2.0, 6.0)
CROSSFADE_SHARE_MAX = 0.3  # a crossfade takes at most this share of either song
SILENCE_S_RANGE = (0.3, 2.0)
DECLICK_S = 0.05  # fade at a hard cut, so the cut does not click
SNIPPET_FADE_S = 0.3
REPEAT_AT_RANGE = (0.05, 0.5)  # where in each hour the forced repeat starts, as a share
HOUR_S = 3600.0
DRAFT_MARGIN = 1.15  # draft this much more than the duration, as effects shorten songs
KIND_WEIGHTS = {"full": 0.3, "partial": 0.2, "snippet": 0.1, "heldout": 0.2, "talk": 0.2}
MUSIC_KINDS = ("play", "snippet", "heldout")


@dataclass(frozen=True)
class Track:
    """One audio file from a manifest."""

    track_id: str
    title: str
    path: str
    duration_s: float


@dataclass(frozen=True)
class Channel:
    """Effects on the whole mix, applied in field order; None or False means off."""

    compress: bool = False  # multiband compression, FM broadcast style
    lowpass_hz: float | None = None
    noise_snr_db: float | None = None  # pink noise, relative to the programme RMS
    phone: bool = False  # 300-3400 Hz band-pass through an 8 kHz line
    mp3_kbps: int | None = None  # MP3 encode and decode at this bit rate


@dataclass(frozen=True)
class Preset:
    """A named set of per-song effects and a channel."""

    name: str
    speed_pct_range: tuple[float, float] | None = None  # resampled faster: pitch and tempo
    tempo_pct_range: tuple[float, float] | None = None  # tempo only, magnitude; sign at random
    channel: Channel = Channel()


FM = Channel(compress=True, lowpass_hz=15000.0, mp3_kbps=128)
# "hard" stacks every song effect and every channel effect. The pink noise is at 10 dB, not the
# 5 dB of "noisy": on top of compression, the phone band and 48 kbit/s MP3, 5 dB leaves nothing
# a radio listener would call music, so the preset would measure only noise.
HARD = Channel(compress=True, lowpass_hz=15000.0, noise_snr_db=10.0, phone=True, mp3_kbps=48)
PRESETS = {
    p.name: p
    for p in (
        Preset("clean"),
        Preset("fm", channel=FM),
        Preset("noisy", channel=Channel(noise_snr_db=5.0)),
        Preset("phone", channel=Channel(phone=True)),
        Preset("speedup", speed_pct_range=(2.0, 4.0)),
        Preset("tempo", tempo_pct_range=(2.0, 3.0)),
        Preset("hard", speed_pct_range=(2.0, 4.0), tempo_pct_range=(2.0, 3.0), channel=HARD),
    )
}


@dataclass(frozen=True)
class TalkOverDraft:
    """Speech over the start (intro) or end (outro) of a song, before layout."""

    lead_s: float
    duration_s: float
    speech: dj.Speech


@dataclass(frozen=True)
class Draft:
    """One programme item before layout; times are source seconds."""

    kind: str  # "play" (catalogue), "snippet" (catalogue, short), "heldout", "talk"
    transition: str  # how it joins the previous item: "cut", "crossfade" or "silence"
    transition_s: float = 0.0
    track: Track | None = None
    source_start_s: float = 0.0
    source_duration_s: float = 0.0  # for talk: the length of the slot
    full: bool = False
    repeat: bool = False  # second of a back-to-back pair of the same track
    speech: dj.Speech | None = None
    intro: TalkOverDraft | None = None
    outro: TalkOverDraft | None = None


@dataclass(frozen=True)
class TalkOver:
    """Speech mixed over music, on-air seconds."""

    start_s: float
    end_s: float
    speech: dj.Speech


@dataclass(frozen=True)
class Item:
    """One programme item on the on-air timeline."""

    draft: Draft
    start_s: float
    end_s: float
    speed_ratio: float = 1.0  # resampled: pitch and tempo
    tempo_ratio: float = 1.0  # tempo only
    fade_in_s: float = 0.0
    fade_out_s: float = 0.0
    talk_overs: tuple[TalkOver, ...] = ()

    @property
    def time_ratio(self) -> float:
        """How much faster than the source the item runs on air."""
        return self.speed_ratio * self.tempo_ratio

    @property
    def source_duration_s(self) -> float:
        """Source seconds that fill the on-air interval."""
        return (self.end_s - self.start_s) * self.time_ratio


@dataclass(frozen=True)
class Plan:
    """A whole programme: preset, seed, duration and items."""

    preset: Preset
    seed: int
    duration_s: float
    items: tuple[Item, ...] = field(default_factory=tuple)


def make_plan(
    catalogue: list[Track], heldout: list[Track], preset: Preset, duration_s: float, seed: int
) -> Plan:
    """Return the programme of `duration_s` seconds for `preset` and `seed`."""
    drafts = draft_programme(catalogue, heldout, duration_s, seed)
    effects = draw_effects(drafts, preset, seed)
    return Plan(preset, seed, duration_s, layout(drafts, effects, duration_s))


class _Picker:
    """Draws tracks from shuffled cycles so no song comes back before the pool is used up."""

    def __init__(self, rng: np.random.Generator, catalogue: list[Track], heldout: list[Track]):
        self.rng = rng
        self.catalogue = catalogue
        self.heldout = heldout
        self._pools = {"catalogue": catalogue, "heldout": heldout}
        self._queues: dict[str, list[Track]] = {"catalogue": [], "heldout": []}

    def next(self, pool: str, avoid_ids: set[str]) -> Track:
        """Return the next track of `pool`, skipping `avoid_ids` when possible."""
        queue = self._queues[pool]
        if not queue:
            tracks = self._pools[pool]
            queue.extend(tracks[i] for i in self.rng.permutation(len(tracks)))
        for index, track in enumerate(queue):
            if track.track_id not in avoid_ids:
                return queue.pop(index)
        return queue.pop(0)

    def snippet(self, avoid_ids: set[str]) -> Track:
        """Return a random catalogue track for a snippet, not one of `avoid_ids` if possible."""
        choices = [t for t in self.catalogue if t.track_id not in avoid_ids] or self.catalogue
        return choices[int(self.rng.integers(len(choices)))]


def draft_programme(
    catalogue: list[Track], heldout: list[Track], duration_s: float, seed: int
) -> list[Draft]:
    """Return the running order, drafted until it is safely longer than `duration_s`."""
    rng = np.random.default_rng([seed, 1])
    picker = _Picker(rng, catalogue, heldout)
    repeat_at_s = repeat_times_s(rng, duration_s)
    drafts: list[Draft] = []
    cursor_s = 0.0
    while cursor_s < duration_s * DRAFT_MARGIN + 60.0:
        if repeat_at_s and cursor_s >= repeat_at_s[0]:
            repeat_at_s.pop(0)
            new = _draft_repeat(rng, picker, drafts)
        else:
            new = [_draft_item(rng, picker, drafts)]
        for draft in new:
            drafts.append(draft)
            cursor_s += draft.source_duration_s + _join_s(draft)
    return drafts


def repeat_times_s(rng: np.random.Generator, duration_s: float) -> list[float]:
    """Return, for each started hour, when its back-to-back repeat should begin."""
    times_s = []
    for hour in range(math.ceil(duration_s / HOUR_S)):
        length_s = min(HOUR_S, duration_s - hour * HOUR_S)
        times_s.append(hour * HOUR_S + rng.uniform(*REPEAT_AT_RANGE) * length_s)
    return times_s


def _join_s(draft: Draft) -> float:
    """Return the time a transition adds (silence) or removes (crossfade)."""
    if draft.transition == "silence":
        return draft.transition_s
    if draft.transition == "crossfade":
        return -draft.transition_s
    return 0.0


def _draft_item(rng: np.random.Generator, picker: _Picker, drafts: list[Draft]) -> Draft:
    """Return one random item to follow `drafts`."""
    previous = drafts[-1] if drafts else None
    kinds = [k for k in KIND_WEIGHTS if _allowed(k, previous, picker)]
    weights = np.array([KIND_WEIGHTS[k] for k in kinds])
    choice = kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]
    recent_ids = {d.track.track_id for d in drafts[-3:] if d.track is not None}
    if choice == "talk":
        duration_s = rng.uniform(*TALK_S_RANGE)
        draft = Draft(
            "talk", "cut", source_duration_s=duration_s, speech=dj.speech(rng, duration_s)
        )
    elif choice == "snippet":
        draft = _snippet(rng, picker.snippet(recent_ids))
    elif choice == "heldout":
        draft = _song(rng, "heldout", picker.next("heldout", recent_ids), rng.random() < 0.5)
    else:
        draft = _song(rng, "play", picker.next("catalogue", recent_ids), choice == "full")
    return _with_transition(rng, draft, previous)


def _allowed(kind: str, previous: Draft | None, picker: _Picker) -> bool:
    """Tell whether `kind` may follow `previous`: no talk after talk, no held-out without a pool."""
    if kind == "talk":
        return previous is None or previous.kind != "talk"
    return kind != "heldout" or bool(picker.heldout)


def _draft_repeat(rng: np.random.Generator, picker: _Picker, drafts: list[Draft]) -> list[Draft]:
    """Return the same catalogue track twice in a row (each a full or a partial play)."""
    previous = drafts[-1] if drafts else None
    recent_ids = {d.track.track_id for d in drafts[-3:] if d.track is not None}
    track = picker.next("catalogue", recent_ids)
    first = _with_transition(rng, _song(rng, "play", track, rng.random() < 0.5), previous)
    second = _song(rng, "play", track, rng.random() < 0.5)
    second = _with_transition(rng, replace(second, repeat=True), first)
    return [first, second]


def _song(rng: np.random.Generator, kind: str, track: Track, full: bool) -> Draft:
    """Return a full or partial play of `track`, maybe with talk-over on its intro or outro."""
    duration_s = min(rng.uniform(*PARTIAL_S_RANGE), track.duration_s - 1.0)
    if full or duration_s < PARTIAL_S_RANGE[0]:
        start_s, duration_s, full = 0.0, track.duration_s, True
    else:
        start_s = rng.uniform(0.0, track.duration_s - duration_s)
    intro = _talk_over(rng, duration_s) if rng.random() < 0.3 else None
    outro = _talk_over(rng, duration_s) if rng.random() < 0.25 else None
    return Draft(kind, "cut", 0.0, track, start_s, duration_s, full, intro=intro, outro=outro)


def _snippet(rng: np.random.Generator, track: Track) -> Draft:
    """Return a short jingle-like piece of `track`."""
    duration_s = min(rng.uniform(*SNIPPET_S_RANGE), track.duration_s)
    start_s = rng.uniform(0.0, track.duration_s - duration_s)
    return Draft("snippet", "cut", 0.0, track, start_s, duration_s)


def _talk_over(rng: np.random.Generator, song_s: float) -> TalkOverDraft:
    """Return speech to mix over a song of `song_s` seconds."""
    duration_s = min(rng.uniform(*TALK_OVER_S_RANGE), TALK_OVER_SHARE_MAX * song_s)
    lead_s = rng.uniform(*TALK_OVER_LEAD_S_RANGE)
    level_db = rng.uniform(*TALK_OVER_LEVEL_DB_RANGE)
    return TalkOverDraft(lead_s, duration_s, dj.speech(rng, duration_s, level_db))


def _with_transition(rng: np.random.Generator, draft: Draft, previous: Draft | None) -> Draft:
    """Return `draft` joined to `previous` by a cut, a crossfade (music only) or a silence."""
    if previous is None:
        return draft
    both_music = draft.kind in MUSIC_KINDS and previous.kind in MUSIC_KINDS
    roll = rng.random()
    if both_music and roll < 0.55:
        return replace(draft, transition="crossfade", transition_s=rng.uniform(*CROSSFADE_S_RANGE))
    if roll > 0.75:
        return replace(draft, transition="silence", transition_s=rng.uniform(*SILENCE_S_RANGE))
    return draft


def draw_effects(drafts: list[Draft], preset: Preset, seed: int) -> list[tuple[float, float]]:
    """Return (speed_ratio, tempo_ratio) per draft for `preset`; talk is never changed."""
    rng = np.random.default_rng([seed, 2, list(PRESETS).index(preset.name)])
    effects = []
    for draft in drafts:
        speed_ratio = tempo_ratio = 1.0
        if draft.kind in MUSIC_KINDS and preset.speed_pct_range:
            speed_ratio = 1.0 + rng.uniform(*preset.speed_pct_range) / 100.0
        if draft.kind in MUSIC_KINDS and preset.tempo_pct_range:
            sign = 1.0 if rng.random() < 0.5 else -1.0
            tempo_ratio = 1.0 + sign * rng.uniform(*preset.tempo_pct_range) / 100.0
        effects.append((speed_ratio, tempo_ratio))
    return effects


def layout(
    drafts: list[Draft], effects: list[tuple[float, float]], duration_s: float
) -> tuple[Item, ...]:
    """Return the drafts placed on the on-air timeline, cut at `duration_s`."""
    items: list[Item] = []
    for draft, (speed_ratio, tempo_ratio) in zip(drafts, effects, strict=True):
        on_air_s = draft.source_duration_s / (speed_ratio * tempo_ratio)
        edge_fade_s = SNIPPET_FADE_S if draft.kind == "snippet" else DECLICK_S
        item = Item(draft, 0.0, on_air_s, speed_ratio, tempo_ratio, edge_fade_s, edge_fade_s)
        if items:
            item = _place_after(items, item)
        if item.start_s >= duration_s:
            break
        items.append(item)
    return tuple(_with_talk_overs(_cut_at(item, duration_s)) for item in items)


def _cut_at(item: Item, duration_s: float) -> Item:
    """Return `item` ending at `duration_s` at the latest; the end of the recording cuts it dry."""
    if item.end_s <= duration_s:
        return item
    return replace(item, end_s=duration_s, fade_out_s=0.0)


def _place_after(items: list[Item], item: Item) -> Item:
    """Return `item` moved to follow items[-1]; a crossfade also shortens that item's fade-out."""
    previous = items[-1]
    transition, transition_s = item.draft.transition, item.draft.transition_s
    length_s = item.end_s - item.start_s
    if transition == "crossfade":
        share_s = CROSSFADE_SHARE_MAX * min(length_s, previous.end_s - previous.start_s)
        fade_s = min(transition_s, share_s)
        items[-1] = replace(previous, fade_out_s=fade_s)
        start_s = previous.end_s - fade_s
        return replace(item, start_s=start_s, end_s=start_s + length_s, fade_in_s=fade_s)
    start_s = previous.end_s + (transition_s if transition == "silence" else 0.0)
    return replace(item, start_s=start_s, end_s=start_s + length_s)


def _with_talk_overs(item: Item) -> Item:
    """Return `item` with its intro and outro talk-over placed, dropping those that do not fit."""
    first_s, last_s = item.start_s + item.fade_in_s, item.end_s - item.fade_out_s
    talk_overs: list[TalkOver] = []
    intro, outro = item.draft.intro, item.draft.outro
    if intro is not None:
        start_s = first_s + intro.lead_s
        if start_s + intro.duration_s <= last_s:
            talk_overs.append(TalkOver(start_s, start_s + intro.duration_s, intro.speech))
    if outro is not None:
        end_s = last_s - outro.lead_s
        floor_s = talk_overs[0].end_s if talk_overs else first_s
        if end_s - outro.duration_s >= floor_s:
            talk_overs.append(TalkOver(end_s - outro.duration_s, end_s, outro.speech))
    return replace(item, talk_overs=tuple(talk_overs))
