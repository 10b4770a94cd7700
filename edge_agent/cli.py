"""zamio-agent: command line tools of the edge agent.

    zamio-agent fingerprint FILE -o OUT   decode FILE, fingerprint it as the agent would, and
                                          write its hash batches to OUT (edge_agent.batchfile)
    zamio-agent inspect OUT               print the batches of such a file, one line each
    zamio-agent check-config [--config P] validate the configuration, print it (secrets hidden)
    zamio-agent run [--config P]          run the agent: capture every source, fingerprint,
                                          spool and publish until SIGTERM
    zamio-agent --version                 the agent's version and its fingerprint version

Exit codes: 0 done, 1 the output could not be written, 2 bad arguments, an unreadable input or
an invalid configuration or spool (one line per problem on stderr, no traceback; systemd does not
restart on 2, since only an operator can fix it).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from edge_agent.batch import (
    FRAME_MS,
    ID_BYTES_MAX,
    WINDOW_FRAMES,
    WINDOW_FRAMES_MAX,
    BatchSource,
    ClockSyncState,
    HashBatch,
    batches_from_fingerprints,
    decode_batch,
    encode_batch,
)
from edge_agent.batchfile import read_batch_file, write_batch_file
from edge_agent.decode import decode_file
from edge_agent.errors import (
    BatchDecodeError,
    BatchFileError,
    DecodeError,
    SettingsError,
    SpoolError,
)
from edge_agent.fingerprint import (
    FINGERPRINT_VERSION,
    QUERY,
    SAMPLE_RATE_HZ,
    fingerprint_in_chunks,
)
from edge_agent.settings import CONFIG_ENV, DEFAULT_CONFIG_PATH, AgentSettings, load_settings
from edge_agent.version import agent_version

CHUNK_S = 1.0  # the file is fed to the streaming fingerprinter in 1 s chunks, as capture would
EXIT_OK = 0
EXIT_OUTPUT_FAILED = 1
EXIT_BAD_INPUT = 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run one zamio-agent subcommand; return the exit code."""
    args = _parser().parse_args(argv)
    return args.handler(args)


def _parser() -> argparse.ArgumentParser:
    """The argument parser with its subcommands."""
    parser = argparse.ArgumentParser(prog="zamio-agent", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--version",
        action="version",
        version=f"zamio-agent {agent_version()} (fingerprint version {FINGERPRINT_VERSION})",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    fp = commands.add_parser("fingerprint", help="fingerprint an audio file into hash batches")
    fp.add_argument("file", type=Path, metavar="FILE", help="audio file (anything ffmpeg reads)")
    fp.add_argument("-o", "--output", type=Path, required=True, metavar="OUT")
    fp.add_argument("--device-id", type=_identifier, default="local")
    fp.add_argument("--source-id", type=_identifier, help="default: FILE's name without suffix")
    fp.add_argument(
        "--window-s",
        type=_window_frames,
        default=WINDOW_FRAMES,
        dest="window_frames",
        metavar="SECONDS",
        help=f"seconds per batch, rounded to 32 ms frames (default {WINDOW_FRAMES * FRAME_MS} ms)",
    )
    fp.add_argument("--start-ms", type=int, default=0, help="UTC ms of the file's first sample")
    fp.set_defaults(handler=_fingerprint_command)
    inspect = commands.add_parser("inspect", help="print the batches of a batch file")
    inspect.add_argument("file", type=Path, metavar="OUT", help="file written by `fingerprint`")
    inspect.set_defaults(handler=_inspect_command)
    config_help = f"TOML file (default: ${CONFIG_ENV}, else {DEFAULT_CONFIG_PATH})"
    check = commands.add_parser("check-config", help="validate the configuration and print it")
    check.add_argument("--config", type=Path, help=config_help)
    check.set_defaults(handler=_check_config_command)
    run = commands.add_parser("run", help="run the agent until SIGTERM")
    run.add_argument("--config", type=Path, help=config_help)
    run.add_argument(
        "--exit-when-done",
        action="store_true",
        help="exit once every source has ended and everything is sent (file sources)",
    )
    run.set_defaults(handler=_run_command)
    return parser


def _identifier(text: str) -> str:
    """A device or source id: 1..ID_BYTES_MAX bytes of UTF-8."""
    if not 1 <= len(text.encode("utf-8")) <= ID_BYTES_MAX:
        raise argparse.ArgumentTypeError(f"must be 1..{ID_BYTES_MAX} bytes of UTF-8")
    return text


def _window_frames(text: str) -> int:
    """Window seconds to whole frames, within 1..WINDOW_FRAMES_MAX."""
    try:
        frames = round(float(text) * 1000.0 / FRAME_MS)
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    seconds_max = WINDOW_FRAMES_MAX * FRAME_MS / 1000.0
    if not 1 <= frames <= WINDOW_FRAMES_MAX:
        raise argparse.ArgumentTypeError(f"must be {FRAME_MS / 1000} .. {seconds_max} s")
    return frames


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> int:
    """Print one line to stderr and return `code`."""
    print(f"zamio-agent: error: {message}", file=sys.stderr)
    return code


# ---------------------------------------------------------------------------------------------
# fingerprint


def _fingerprint_command(args: argparse.Namespace) -> int:
    """Decode, fingerprint in chunks, split into batches, write the batch file, print a summary."""
    try:
        samples = decode_file(args.file, sample_rate_hz=SAMPLE_RATE_HZ)
    except DecodeError as error:
        return _fail(str(error))
    fingerprints, frame_end = fingerprint_in_chunks(samples, QUERY, int(CHUNK_S * SAMPLE_RATE_HZ))
    source = BatchSource(
        device_id=args.device_id,
        source_id=args.source_id or _default_source_id(args.file),
        fingerprint_version=FINGERPRINT_VERSION,
        stream_start_ms=args.start_ms,
        clock_sync_state=ClockSyncState.UNKNOWN,
    )
    batches = batches_from_fingerprints(
        fingerprints, args.window_frames, source=source, frame_end=frame_end
    )
    try:
        file_bytes = _write_atomically(args.output, [encode_batch(b) for b in batches])
    except OSError as error:
        return _fail(f"{args.output}: cannot write: {error.strerror or error}", EXIT_OUTPUT_FAILED)
    _print_summary(args.output, len(samples) / SAMPLE_RATE_HZ, batches, file_bytes)
    return EXIT_OK


def _default_source_id(path: Path) -> str:
    """FILE's stem, cut to ID_BYTES_MAX bytes of UTF-8; "file" if nothing is left."""
    stem = path.stem.encode("utf-8")[:ID_BYTES_MAX].decode("utf-8", "ignore")
    return stem or "file"


def _write_atomically(path: Path, payloads: list[bytes]) -> int:
    """Write a batch file next to `path`, then rename it into place; return its size in bytes."""
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("wb") as stream:
            written = write_batch_file(stream, payloads)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return written


def _print_summary(path: Path, audio_s: float, batches: list[HashBatch], file_bytes: int) -> None:
    """Audio duration, batches, hashes, bytes and MB per station-hour, on stderr."""
    hash_count = sum(len(b) for b in batches)
    mb_per_hour = file_bytes / max(audio_s, 1e-9) * 3600.0 / 1e6
    lines = [
        f"{path}:",
        f"  audio            {audio_s:.1f} s",
        f"  batches          {len(batches)}",
        f"  hashes           {hash_count} ({hash_count / max(audio_s, 1e-9):.1f} per s)",
        f"  bytes            {file_bytes} ({file_bytes / max(hash_count, 1):.2f} per hash)",
        f"  per station-hour {mb_per_hour:.3f} MB",
    ]
    print("\n".join(lines), file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# inspect


def _inspect_command(args: argparse.Namespace) -> int:
    """Print one line per batch of a batch file; exit 2 at the first bad record."""
    print(
        f"{'seq':>8} {'first_frame':>11} {'start_s':>9} {'window_start_utc':<24} "
        f"{'frames':>6} {'hashes':>6} {'bytes':>6}"
    )
    count = 0
    try:
        with args.file.open("rb") as stream:
            for payload in read_batch_file(stream):
                print(_batch_line(decode_batch(payload), len(payload)))
                count += 1
    except BrokenPipeError:  # stdout closed early (| head): stop quietly, as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as error:
        return _fail(f"{args.file}: cannot read: {error.strerror or error}")
    except BatchFileError as error:
        return _fail(f"{args.file}: {error}")
    except BatchDecodeError as error:
        return _fail(f"{args.file}: record {count}: {error.reason}: {error}")
    print(f"{count} batches", file=sys.stderr)
    return EXIT_OK


def _batch_line(batch: HashBatch, payload_bytes: int) -> str:
    """seq, stream position, window start, frames, hashes and bytes of one batch."""
    start_s = batch.first_frame * FRAME_MS / 1000.0
    return (
        f"{batch.seq:>8} {batch.first_frame:>11} {start_s:>9.2f} "
        f"{_utc(batch.window_start_ms):<24} {batch.window_frames:>6} {len(batch):>6} "
        f"{payload_bytes:>6}"
    )


def _utc(ms: int) -> str:
    """ISO 8601 UTC with milliseconds, or the raw ms when outside datetime's range."""
    try:
        moment = datetime.fromtimestamp(ms / 1000.0, UTC)
    except (OverflowError, OSError, ValueError):
        return f"{ms} ms"
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---------------------------------------------------------------------------------------------
# check-config and run


def _load(path: Path | None) -> AgentSettings | None:
    """The validated settings, or None after printing every problem."""
    try:
        return load_settings(path)
    except SettingsError as error:
        for problem in error.problems:
            print(f"zamio-agent: config: {problem}", file=sys.stderr)
        return None


def _check_config_command(args: argparse.Namespace) -> int:
    """Validate; print the effective settings (password hidden) as JSON on stdout."""
    settings = _load(args.config)
    if settings is None:
        return EXIT_BAD_INPUT
    print(json.dumps(settings.redacted(), indent=2, sort_keys=True))
    print(f"configuration OK: {len(settings.sources)} source(s)", file=sys.stderr)
    return EXIT_OK


def _run_command(args: argparse.Namespace) -> int:
    """Run the agent; SIGTERM or SIGINT stops it cleanly (last windows spooled, status offline)."""
    settings = _load(args.config)
    if settings is None:
        return EXIT_BAD_INPUT
    _configure_logging(settings.log_level)
    from edge_agent.agent import Agent  # paho and psutil only for the running agent

    try:
        agent = Agent(settings)
    except SpoolError as error:
        return _fail(f"spool: {error}")
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: agent.stop())
    agent.run(exit_when_done=args.exit_when_done)
    return EXIT_OK


def _configure_logging(level: str) -> None:
    """Log to stderr; under systemd, journald adds the time, so leave it out."""
    under_journald = "JOURNAL_STREAM" in os.environ
    fmt = "%(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=level.upper(), format=fmt if under_journald else "%(asctime)s " + fmt)
