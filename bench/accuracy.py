"""Accuracy benchmark: simulated broadcasts per preset through `zamio playlog`, scored in a table.

    python bench/accuracy.py                          # all seven presets, one hour each, seed 1
    python bench/accuracy.py --presets clean,fm --duration-s 900 --seed 2 --workdir /tmp/zb

For each preset it generates the broadcast (bench/simulate.py; cached in WORKDIR/broadcasts by
preset, seed, duration and sample rate), registers the catalogue once in a fresh SQLite database
(`zamio catalog import`, ZAMIO_DATABASE_URL=sqlite:///WORKDIR/bench.db), runs
`zamio playlog FILE --json`, scores the reported plays (bench/score.py) and prints one row per
preset. Everything, per-play details included, goes to WORKDIR/results.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import score as scoring  # noqa: E402
from bench import simulate  # noqa: E402
from bench.errors import ToolError  # noqa: E402
from bench.programme import PRESETS  # noqa: E402
from bench.truth import TRUTH_VERSION  # noqa: E402

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
CORPUS_DIR = Path("/var/tmp/zamio-corpus")
WORKDIR = Path("/var/tmp/zamio-bench")
STDERR_TAIL_CHARS_MAX = 4000
COLUMNS = (
    ("preset", 8), ("true", 5), ("rep", 5), ("TP", 5), ("FP", 5), ("FN", 5),
    ("prec", 6), ("recall", 6), ("F1", 6), ("heldFP", 6),
    ("start_s med/p95", 15), ("end_s med/p95", 15), ("wall_s", 7),
)  # fmt: skip


def zamio_command(option: str | None) -> list[str]:
    """Return the argv prefix that runs `zamio`: the option, the console script, or the module."""
    if option:
        return shlex.split(option)
    if shutil.which("zamio"):
        return ["zamio"]
    return [sys.executable, "-c", "import sys; from central.cli import cli; sys.exit(cli())"]


def run_zamio(zamio: list[str], arguments: list[str], database_url: str) -> tuple[str, float]:
    """Run one zamio command against `database_url`; return its stdout and wall time in seconds."""
    env = {**os.environ, "ZAMIO_DATABASE_URL": database_url}
    started_s = time.monotonic()
    done = subprocess.run(
        [*zamio, *arguments], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
    )
    wall_s = time.monotonic() - started_s
    if done.returncode != 0:
        tail = done.stderr[-STDERR_TAIL_CHARS_MAX:].strip()
        raise ToolError(f"zamio {arguments[0]} exited with {done.returncode}: {tail}")
    return done.stdout, wall_s


def filtered_manifest(catalogue_path: Path, exclude_ids: frozenset[str], out_path: Path) -> Path:
    """Write the catalogue manifest without `exclude_ids`, with absolute audio paths."""
    document = json.loads(catalogue_path.read_text())
    base = catalogue_path.resolve().parent
    rows = [
        {**row, "path": str(base / row["path"])}
        for row in document["tracks"]
        if str(row["id"]) not in exclude_ids
    ]
    out_path.write_text(json.dumps({**document, "tracks": rows}, indent=1) + "\n")
    return out_path


def import_catalogue(args: argparse.Namespace, zamio: list[str], database_url: str) -> dict:
    """Register the catalogue into a fresh database (or reuse it); return what was done."""
    db_path = args.workdir / "bench.db"
    marker_path = args.workdir / "bench.db.imported"
    manifest = filtered_manifest(
        args.catalogue, simulate.exclude_ids(args.near_duplicates), args.workdir / "catalogue.json"
    )
    marker = manifest.read_text()
    reusable = args.reuse_db and db_path.exists() and marker_path.exists()
    if reusable and marker_path.read_text() == marker:
        logger.info("catalogue: reusing %s", db_path)
        return {"reused": True, "wall_s": 0.0}
    for stale in (db_path, marker_path):
        stale.unlink(missing_ok=True)
    logger.info("catalogue: importing %s into %s", manifest, db_path)
    stdout, wall_s = run_zamio(
        zamio,
        ["catalog", "import", str(manifest), "--workers", str(args.import_workers)],
        database_url,
    )
    logger.info("catalogue: imported in %.1f s: %s", wall_s, stdout.strip().splitlines()[-1:])
    marker_path.write_text(marker)
    return {
        "reused": False,
        "wall_s": round(wall_s, 3),
        "summary": stdout.strip().splitlines()[-1:],
    }


def broadcast(args: argparse.Namespace, preset: str) -> tuple[Path, Path]:
    """Return the audio and truth of `preset`, generating them unless already cached."""
    key = f"seed{args.seed}-{args.duration_s:g}s-{args.sample_rate_hz}hz-v{TRUTH_VERSION}"
    key += f"-{_inputs_digest(args)}"
    out_dir = args.workdir / "broadcasts" / key
    audio_path, truth_path = out_dir / f"{preset}.flac", out_dir / f"{preset}.truth.json"
    if audio_path.exists() and truth_path.exists():
        logger.info("broadcast %s: cached in %s", preset, out_dir)
        return audio_path, truth_path
    logger.info("broadcast %s: generating %g s, seed %s", preset, args.duration_s, args.seed)
    started_s = time.monotonic()
    paths = simulate.simulate(
        args.catalogue, args.heldout, preset, args.duration_s, args.seed, out_dir,
        args.sample_rate_hz, simulate.exclude_ids(args.near_duplicates),
    )  # fmt: skip
    logger.info("broadcast %s: generated in %.1f s", preset, time.monotonic() - started_s)
    return paths


def _inputs_digest(args: argparse.Namespace) -> str:
    """Return a short digest of the manifests and exclusions, so new inputs miss the cache."""
    digest = hashlib.sha1()
    for path in (args.catalogue, args.heldout):
        digest.update(path.read_bytes())
    digest.update(",".join(sorted(simulate.exclude_ids(args.near_duplicates))).encode())
    return digest.hexdigest()[:8]


def evaluate(args: argparse.Namespace, preset: str, zamio: list[str], database_url: str) -> dict:
    """Generate, run playlog on and score one preset; return its results."""
    audio_path, truth_path = broadcast(args, preset)
    document = json.loads(truth_path.read_text())
    stdout, wall_s = run_zamio(zamio, ["playlog", str(audio_path), "--json"], database_url)
    reports = parse_reports(stdout)
    result = scoring.score(
        scoring.truth_from_document(document), scoring.plays_from_reports(reports)
    )
    return {
        "preset": preset,
        "audio": str(audio_path),
        "truth_summary": document["summary"],
        "playlog_wall_s": round(wall_s, 3),
        "score": result.as_dict(details=False),
        "details": {
            k: v for k, v in result.as_dict().items() if k in ("matches", "false_plays", "missed")
        },
        "reported": reports,
    }


def parse_reports(stdout: str) -> list[dict]:
    """Return the play list printed by `zamio playlog --json`."""
    try:
        reports = json.loads(stdout)
    except json.JSONDecodeError as exc:
        raise ToolError(f"zamio playlog: output is not JSON: {exc}: {stdout[:200]!r}") from exc
    if not isinstance(reports, list):
        raise ToolError(f"zamio playlog: expected a JSON list, got {type(reports).__name__}")
    return reports


def format_table(results: list[dict]) -> str:
    """Return the results as an aligned text table, one row per preset."""
    rows = [[name for name, _ in COLUMNS], *(_cells(result) for result in results)]
    return "\n".join(_line(cells) for cells in rows)


def _line(cells: list[str]) -> str:
    """Return one table line: the preset left-aligned, numbers right-aligned."""
    widths = [width for _, width in COLUMNS]
    padded = [cells[0].ljust(widths[0])]
    padded += [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:])]
    return "  ".join(padded).rstrip()


def _cells(result: dict) -> list[str]:
    """Return the table cells of one preset's result (an error fills the row with its text)."""
    if "error" in result:
        return [result["preset"], "error: " + result["error"].splitlines()[0][:80]]
    s = result["score"]
    counts = [s[k] for k in ("true_plays", "reported", "tp", "fp", "fn")]
    rates = [f"{s[k]:.3f}" for k in ("precision", "recall", "f1")]
    return [
        result["preset"], *map(str, counts), *rates, str(s["heldout_false_plays"]),
        _pair(s["start_error_s_median"], s["start_error_s_p95"]),
        _pair(s["end_error_s_median"], s["end_error_s_p95"]),
        f"{result['playlog_wall_s']:.1f}",
    ]  # fmt: skip


def _pair(median_s: float | None, p95_s: float | None) -> str:
    """Return "median/p95" with one decimal, or "-" when there is no true positive."""
    if median_s is None or p95_s is None:
        return "-"
    return f"{median_s:.1f}/{p95_s:.1f}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Return the command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default=",".join(PRESETS), help="comma-separated presets")
    parser.add_argument("--duration-s", type=float, default=3600.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=WORKDIR)
    parser.add_argument("--catalogue", type=Path, default=CORPUS_DIR / "catalogue.json")
    parser.add_argument("--heldout", type=Path, default=CORPUS_DIR / "heldout.json")
    parser.add_argument(
        "--near-duplicates", type=Path, help='JSON whose "exclude" keys are left out'
    )
    parser.add_argument("--sample-rate-hz", type=int, default=simulate.SAMPLE_RATE_HZ)
    parser.add_argument(
        "--zamio", help="command that runs zamio (default: zamio on PATH, or the module)"
    )
    parser.add_argument("--import-workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--reuse-db", action="store_true", help="keep WORKDIR/bench.db if complete")
    parser.add_argument("--results", type=Path, help="results JSON (default WORKDIR/results.json)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    args.presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    unknown = [p for p in args.presets if p not in PRESETS]
    if unknown or not args.presets:
        parser.error(f"unknown presets {unknown}; choose from {', '.join(PRESETS)}")
    args.results = args.results or args.workdir / "results.json"
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the table; return 1 if a preset failed, 2 if the import did."""
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s %(message)s",
    )
    args.workdir.mkdir(parents=True, exist_ok=True)
    database_url = f"sqlite:///{(args.workdir / 'bench.db').resolve()}"
    zamio = zamio_command(args.zamio)
    try:
        catalogue = import_catalogue(args, zamio, database_url)
    except ToolError as error:
        logger.error("catalogue: %s", error)
        return 2
    results = [_evaluate_or_error(args, preset, zamio, database_url) for preset in args.presets]
    table = format_table(results)
    print(table)
    _write_results(args, catalogue, results, table)
    return 1 if any("error" in r for r in results) else 0


def _evaluate_or_error(
    args: argparse.Namespace, preset: str, zamio: list[str], database_url: str
) -> dict:
    """Return the results of one preset, or its error so the other presets still run."""
    try:
        result = evaluate(args, preset, zamio, database_url)
    except ToolError as error:
        logger.error("preset %s: %s", preset, error)
        return {"preset": preset, "error": str(error)}
    logger.info("preset %s: %s", preset, format_table([result]).splitlines()[1])
    return result


def _write_results(
    args: argparse.Namespace, catalogue: dict, results: list[dict], table: str
) -> None:
    """Write the results JSON."""
    document = {
        "seed": args.seed,
        "duration_s": args.duration_s,
        "sample_rate_hz": args.sample_rate_hz,
        "catalogue": str(args.catalogue),
        "heldout": str(args.heldout),
        "catalogue_import": catalogue,
        "table": table.splitlines(),
        "presets": results,
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(document, indent=1) + "\n")
    logger.info("results: %s", args.results)


if __name__ == "__main__":
    sys.exit(main())
