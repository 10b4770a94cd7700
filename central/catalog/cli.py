"""`zamio catalog import` and `zamio catalog list`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from central import schema
from central.catalog import importer, store
from central.catalog.importer import TrackCheck
from central.catalog.near_duplicates import NearDuplicateCheck, link_catalogue
from central.errors import FingerprintVersionError, ManifestError, SchemaError
from central.extensions import db
from edge_agent.fingerprint import FINGERPRINT_VERSION

# Checks run on each newly registered track, in order (near-duplicates are checked after these).
TRACK_CHECKS: list[TrackCheck] = []

catalog_cli = AppGroup("catalog", help="Register reference tracks and list the catalogue.")


@catalog_cli.command("import")
@click.argument("manifest", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Processes that decode and fingerprint in parallel.",
)
def import_command(manifest: Path, workers: int) -> None:
    """Decode, fingerprint and register every track of MANIFEST (.json or .csv)."""
    try:
        entries = importer.read_manifest(manifest)
        schema.require_current(db.engine)
    except (ManifestError, SchemaError) as error:
        raise click.ClickException(str(error)) from None
    with click.progressbar(length=len(entries), label="importing", file=sys.stderr) as bar:
        report = importer.import_entries(
            db.session,
            entries,
            fingerprint_version=FINGERPRINT_VERSION,
            workers=workers,
            track_checks=[*TRACK_CHECKS, NearDuplicateCheck(FINGERPRINT_VERSION)],
            on_outcome=lambda outcome: bar.update(1),
        )
    for outcome in report.outcomes:
        click.echo(f"{outcome.status} {outcome.external_id}: {outcome.message}")
    counts = [f"{report.count(s)} {s}" for s in (importer.REGISTERED, importer.SKIPPED)]
    click.echo(f"summary: {', '.join(counts)}, {report.count(importer.FAILED)} failed")


@catalog_cli.command("near-duplicates")
def near_duplicates_command() -> None:
    """Find tracks sharing a recording across the whole catalogue and record the links (the
    import records them for new tracks; this covers tracks imported before it did)."""
    schema.require_current_for_command(db.engine)
    try:
        count = link_catalogue(db.session, FINGERPRINT_VERSION)
    except FingerprintVersionError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"{count} near-duplicate links recorded")


@catalog_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def list_command(as_json: bool) -> None:
    """List registered tracks: id, title, artist, duration and hash count."""
    schema.require_current_for_command(db.engine)
    summaries = store.list_summaries(db.session, FINGERPRINT_VERSION)
    if as_json:
        click.echo(json.dumps([_as_dict(s) for s in summaries], indent=2))
        return
    click.echo(_table(summaries))


def _as_dict(summary: store.TrackSummary) -> dict[str, object]:
    """A summary as JSON: "id" is the external id, as in the manifest."""
    return {
        "id": summary.external_id,
        "title": summary.title,
        "artist": summary.artist,
        "isrc": summary.isrc,
        "duration_s": summary.duration_ms / 1000,
        "hash_count": summary.hash_count,
    }


def _table(summaries: list[store.TrackSummary]) -> str:
    """An aligned text table with a header row and a total line."""
    header = ("ID", "TITLE", "ARTIST", "DURATION", "HASHES")
    rows = [
        (
            s.external_id,
            s.title,
            s.artist or "",
            importer.format_duration(s.duration_ms),
            str(s.hash_count),
        )
        for s in summaries
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [_row(row, widths) for row in [header, *rows]]
    return "\n".join([*lines, f"{len(rows)} tracks"])


def _row(cells: tuple[str, ...], widths: list[int]) -> str:
    """Cells padded to `widths`: text left-aligned, the two numeric columns right-aligned."""
    padded = [c.rjust(w) if i >= 3 else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))]
    return "  ".join(padded).rstrip()
