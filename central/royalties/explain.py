"""The text of `zamio royalty explain`: a play's accrual, its price and split, and the
transfers that carried it, from the record queries.explain_play returns. Pure."""

from __future__ import annotations

from typing import Any

from central.ledger.money import format_minor
from central.royalties.accrual import PLATFORM_FEES
from central.royalties.rights import POOLS


def explain_lines(record: dict[str, Any]) -> list[str]:
    """An explain record as lines of text."""
    e, currency = record["explanation"], record["currency"]
    play = e["play"]
    lines = [
        f'play {record["play_id"]} at {play["station"]}: {play["track"]} "{play["title"]}",'
        f" {play['start']} to {play['end']} (local {hhmm(play['local_minute'])}"
        f" {play['timezone']})",
        f"accrual {record['state']}: {format_minor(record['amount_minor'], currency)},"
        f" batch {record['batch_id']}"
        + (f", rate card {e['rate_card']}" if "rate_card" in e else ""),
    ]
    if record["hold_reason"]:
        lines.append(f"  hold: {record['hold_reason']}")
    if "reason" in e:
        return lines + [f"  {e['reason']}"] + _transfer_lines(record["transfers"], currency)
    lines.append(
        f"  price  {e['basis']}, class {e['station_class']}, band {e['band']}, {e['seconds']:g} s:"
        f" {e['formula']} = {e['amount_minor']} ({e['rounding']})"
    )
    return (
        lines + _split_lines(e["split"], currency) + _transfer_lines(record["transfers"], currency)
    )


def _split_lines(split: dict[str, Any], currency: str) -> list[str]:
    """The fee, each pool and each share of a split as lines of text."""
    fee = split["platform_fee"]
    lines = [
        f"  {'fee':<11} {fee['share_bp'] / 100:6.2f} %"
        f"  {format_minor(fee['amount_minor'], currency)}  {PLATFORM_FEES}"
    ]
    for pool in POOLS:
        part = split[pool]
        on_file = "" if part["shares_on_file"] else " (no shares on file)"
        lines.append(
            f"  {pool:<11} {part['share_bp'] / 100:6.2f} % of the rest"
            f"  {format_minor(part['amount_minor'], currency)}"
            f"  work {part['work_code'] or '-'}{on_file}"
        )
        for s in part["shares"]:
            unclaimed = " (unclaimed)" if s["party"] is None else ""
            lines.append(
                f"      {s['role']:<10} {s['share_bp'] / 100:6.2f} %"
                f"  {format_minor(s['amount_minor'], currency):>12}  {s['account']}{unclaimed}"
            )
    return lines


def _transfer_lines(transfers: list[dict[str, Any]], currency: str) -> list[str]:
    """Each transfer and its legs as lines of text."""
    lines = []
    for t in transfers:
        lines.append(f"transfer {t['id']} seq {t['seq']} {t['state']}  {t['key']}")
        lines += [
            f"    {leg['side']:<6}  {leg['account']:<36}"
            f" {format_minor(leg['amount_minor'], currency):>12}"
            for leg in t["legs"]
        ]
    return lines


def hhmm(minute: int) -> str:
    """HH:MM of a minute of the day."""
    return f"{minute // 60:02d}:{minute % 60:02d}"
