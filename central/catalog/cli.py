"""`zamio catalog import` and `zamio catalog list`."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Callable
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

PROGRESS_INTERVAL_S = 10.0  # off a terminal: an `import: N/total` line at most this often,
PROGRESS_EVERY_TRACKS = 50  # or after this many more tracks, and after the last

catalog_cli = AppGroup(
    "catalog", help="Register reference tracks (import, upload), review uploads, list them."
)


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
    """Decode, fingerprint and register every track of MANIFEST (.json or .csv); exit 1 when
    any entry failed (after the summary)."""
    try:
        read = importer.read_manifest(manifest)
        schema.require_current(db.engine)
    except (ManifestError, SchemaError) as error:
        raise click.ClickException(str(error)) from None
    rejected = importer.rejected_outcomes(read)
    total = len(read.entries) + len(rejected)
    with _progress(total, len(rejected)) as progress:
        report = importer.import_entries(
            db.session,
            read.entries,
            fingerprint_version=FINGERPRINT_VERSION,
            workers=workers,
            track_checks=[*TRACK_CHECKS, NearDuplicateCheck(FINGERPRINT_VERSION)],
            on_outcome=progress.update,
        )
    outcomes = rejected + report.outcomes
    for outcome in outcomes:
        click.echo(f"{outcome.status} {outcome.external_id}: {outcome.message}")
    counts = Counter(outcome.status for outcome in outcomes)
    click.echo(
        f"summary: {counts[importer.REGISTERED]} registered, {counts[importer.SKIPPED]} skipped,"
        f" {counts[importer.FAILED]} failed"
    )
    if counts[importer.FAILED]:
        click.get_current_context().exit(1)


class PlainProgress:
    """Progress off a terminal: `import: N/total (...)` lines every PROGRESS_INTERVAL_S seconds
    or PROGRESS_EVERY_TRACKS tracks, and once all are done."""

    def __init__(
        self, total: int, done: int = 0, echo: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.total, self.done, self.counts = total, done, Counter[str]()
        self.echo = echo or (lambda line: click.echo(line, err=True))
        self.clock = clock
        self._shown_at, self._shown_done = clock(), done

    def update(self, outcome: importer.Outcome) -> None:
        """Count one outcome; print a line when one is due."""
        self.done += 1
        self.counts[outcome.status] += 1
        due = self.clock() - self._shown_at >= PROGRESS_INTERVAL_S
        if due or self.done - self._shown_done >= PROGRESS_EVERY_TRACKS or self.done == self.total:
            self._shown_at, self._shown_done = self.clock(), self.done
            counts = ", ".join(f"{n} {status}" for status, n in sorted(self.counts.items()))
            self.echo(f"import: {self.done}/{self.total} ({counts})")

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *_: object) -> None:
        return None


class _BarProgress:
    """Progress on a terminal: click's progress bar, moved by one per outcome."""

    def __init__(self, total: int, done: int) -> None:
        self._bar = click.progressbar(length=total, label="importing", file=sys.stderr)
        self._done = done

    def update(self, outcome: importer.Outcome) -> None:
        self._bar.update(1)

    def __enter__(self) -> _BarProgress:
        self._bar.__enter__()
        self._bar.update(self._done)
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(*exc)


def _progress(total: int, done: int) -> PlainProgress | _BarProgress:
    """A progress bar on a terminal, plain lines otherwise (a log, a pipe, CI)."""
    return _BarProgress(total, done) if sys.stderr.isatty() else PlainProgress(total, done)


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


# zamio catalog upload FILE --title T --party P [--share JSON] | upload-status ID
# zamio catalog review list | approve ID [--note] | reject ID [--note]
def _add_upload_commands() -> None:
    """Attach the upload flow's commands (central/catalog/upload_cli.py) to the group."""
    from central.catalog.upload_cli import review_cli, upload_command, upload_status_command

    for command in (upload_command, upload_status_command, review_cli):
        catalog_cli.add_command(command)


_add_upload_commands()
