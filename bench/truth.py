"""Pure ground truth of a planned programme: plays to log, and music that must not be logged.

Times are on-air seconds from the start of the recording. A play's interval runs from the first
to the last sample of the song on air, crossfades included. `speed_ratio` is how much faster the
song runs on air than the catalogue file (source seconds per on-air second): the resampling
factor times the tempo factor; `pitch_ratio` is the resampling factor alone (1.0 for tempo-only).
"""

from __future__ import annotations

from bench.programme import CROSSFADE_S_RANGE, HOUR_S, Item, Plan

TRUTH_VERSION = 1
PLAY_S_MIN = 30.0  # catalogue music on air at least this long is a play to be logged


def truth(plan: Plan, sample_rate_hz: int) -> dict:
    """Return the ground-truth document of `plan`."""
    rows: dict[str, list[dict]] = {"plays": [], "short": [], "heldout": [], "talk": []}
    for item in plan.items:
        rows[_category(item)].append(_row(item))
        rows["talk"].extend(_talk_over_rows(item))
    rows["talk"].sort(key=lambda row: row["start_s"])
    return {
        "version": TRUTH_VERSION,
        "preset": plan.preset.name,
        "seed": plan.seed,
        "duration_s": plan.duration_s,
        "sample_rate_hz": sample_rate_hz,
        "play_s_min": PLAY_S_MIN,
        **rows,
        "summary": summary(plan, rows),
    }


def _category(item: Item) -> str:
    """Return which truth list `item` belongs to."""
    kind = item.draft.kind
    if kind in ("talk", "heldout"):
        return kind
    if kind == "play" and item.end_s - item.start_s >= PLAY_S_MIN:
        return "plays"
    return "short"


def _row(item: Item) -> dict:
    """Return the truth row of one item."""
    draft = item.draft
    row = {"start_s": _r(item.start_s), "end_s": _r(item.end_s)}
    row["duration_s"] = _r(item.end_s - item.start_s)
    if draft.kind == "talk":
        assert draft.speech is not None
        return {**row, "over": None, "voice": draft.speech.voice, "text": draft.speech.text}
    assert draft.track is not None
    key = "heldout_id" if draft.kind == "heldout" else "track_id"
    return {
        key: draft.track.track_id,
        "title": draft.track.title,
        **row,
        "kind": draft.kind,
        "full": draft.full,
        "repeat": draft.repeat,
        "source_start_s": _r(draft.source_start_s),
        "source_end_s": _r(draft.source_start_s + item.source_duration_s),
        "speed_ratio": round(item.time_ratio, 6),
        "pitch_ratio": round(item.speed_ratio, 6),
        "fade_in_s": _r(item.fade_in_s),
        "fade_out_s": _r(item.fade_out_s),
        "talk_over_count": len(item.talk_overs),
    }


def _talk_over_rows(item: Item) -> list[dict]:
    """Return the truth rows of the speech mixed over `item`."""
    assert item.draft.track is not None or not item.talk_overs
    return [
        {
            "start_s": _r(t.start_s),
            "end_s": _r(t.end_s),
            "duration_s": _r(t.end_s - t.start_s),
            "over": item.draft.track.track_id if item.draft.track else None,
            "level_db": round(t.speech.level_db, 2),
            "voice": t.speech.voice,
            "text": t.speech.text,
        }
        for t in item.talk_overs
    ]


def summary(plan: Plan, rows: dict[str, list[dict]]) -> dict:
    """Return counts and seconds per category, plus crossfades and back-to-back repeats."""
    out: dict = {name: len(rows[name]) for name in rows}
    for name in rows:
        out[f"{name}_s"] = _r(
            sum(row["duration_s"] for row in rows[name] if row.get("over") is None)
        )
    out["talk_over"] = sum(len(item.talk_overs) for item in plan.items)
    out["crossfades"] = sum(1 for item in plan.items[1:] if item.draft.transition == "crossfade")
    out["silences"] = sum(1 for item in plan.items[1:] if item.draft.transition == "silence")
    out["back_to_back_repeats"] = back_to_back_repeats(rows["plays"])
    return out


def back_to_back_repeats(plays: list[dict]) -> int:
    """Count plays that follow a play of the same track with no other logged play between."""
    return sum(
        1 for a, b in zip(plays, plays[1:]) if a["track_id"] == b["track_id"] and b["repeat"]
    )


def _r(value_s: float) -> float:
    """Round seconds to the millisecond."""
    return round(float(value_s), 3)


def check_truth(document: dict) -> list[str]:
    """Return every broken invariant of a truth document (an empty list when it is sound)."""
    problems = []
    duration_s = document["duration_s"]
    music = [*document["plays"], *document["short"], *document["heldout"]]
    for row in music + document["talk"]:
        if not 0.0 <= row["start_s"] < row["end_s"] <= duration_s + 1e-6:
            problems.append(f"interval out of the programme: {row}")
    problems += [f"play under {PLAY_S_MIN} s: {r}" for r in document["plays"] if _short(r)]
    problems += [f"short segment not short: {r}" for r in document["short"] if not _short(r)]
    music.sort(key=lambda row: row["start_s"])
    for a, b in zip(music, music[1:]):
        if a["end_s"] - b["start_s"] > CROSSFADE_S_RANGE[1] + 1e-6:
            problems.append(f"music overlaps more than a crossfade: {a} / {b}")
    if duration_s >= HOUR_S and back_to_back_repeats(document["plays"]) < duration_s // HOUR_S:
        problems.append("fewer back-to-back repeats than full hours")
    return problems


def _short(row: dict) -> bool:
    """Tell whether a row is on air for less than PLAY_S_MIN."""
    return row["end_s"] - row["start_s"] < PLAY_S_MIN
