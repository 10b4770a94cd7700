"""`zamio demo`: catalogue, broadcast, agent, MQTT, matching, plays and royalties in one command."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import click

from central.config import data_dir
from central.demo import console
from central.demo.programme import STATION
from central.demo.report import CONSOLE_URL, console_lines, report_json, report_lines
from central.demo.run import DemoError, DemoOptions, run_demo
from central.errors import ConfigError

MARKER = ".zamio-demo"  # a folder holding it is the demo's own: it may be emptied


@click.command("demo")
@click.option(
    "--music",
    "music_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Your own audio files as the catalogue (else: synthesised tracks).",
)
@click.option(
    "--stream",
    "stream_url",
    metavar="URL",
    help="Watch this stream instead of the simulated broadcast.",
)
@click.option(
    "--listen-s",
    type=click.FloatRange(10, 86400),
    default=300,
    show_default=True,
    help="With --stream: how long to listen.",
)
@click.option(
    "--realtime", is_flag=True, help="Play the simulated broadcast at real speed (about 4 minutes)."
)
@click.option(
    "--keep",
    is_flag=True,
    help="Keep the data (in --dir) for `zamio plays`, `zamio ledger`, the API.",
)
@click.option(
    "--dir",
    "workdir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the data goes with --keep [default: $XDG_DATA_HOME/zamio/demo].",
)
@click.option(
    "--serve",
    is_flag=True,
    help="Serve the web console and the API on the demo's data (from before the broadcast, so "
    "plays appear as they are stored) until Ctrl-C; implies --keep.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="With --serve: the port on 127.0.0.1 (0: any free port).",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the synthesis.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the report as JSON (progress goes to stderr)."
)
def demo_command(
    music_dir: Path | None, stream_url: str | None, listen_s: float, realtime: bool, keep: bool,
    workdir: Path | None, serve: bool, port: int, seed: int, as_json: bool,
) -> None:  # fmt: skip
    """See ZamIO work, with nothing installed: an SQLite database, an embedded MQTT broker and
    jobs run inline; a catalogue registered with its rights; a station broadcast heard by a real
    zamio-agent; matching, plays, royalties on the ledger; then the play log, the balances and
    the ledger's verdict; with --keep or --serve, logins to the web console."""
    echo = (lambda line: click.echo(line, err=True)) if as_json else click.echo
    keep = keep or serve
    folder = _folder(workdir, keep)
    readrate = 1.0 if realtime else 0.0
    options = DemoOptions(folder, music_dir, stream_url, listen_s, seed, readrate, logins=keep)
    with contextlib.ExitStack() as serving:
        try:
            result = run_demo(
                options, echo,
                (lambda app: serving.enter_context(console.serving(app, port))) if serve else None,
            )  # fmt: skip
        except (DemoError, ConfigError, console.ServeError) as error:
            raise click.ClickException(str(error)) from None
        finally:
            if not keep:
                shutil.rmtree(folder, ignore_errors=True)
        if as_json:
            click.echo(json.dumps(report_json(result), indent=2))
        else:
            for line in report_lines(result):
                click.echo(line)
            if keep and not serve:
                _show_next_steps(folder, result.database_url)
        if result.console is not None:
            for line in console_lines(result.console, serving=serve, passwords=not serve):
                echo(line)
        elif not keep:
            echo(f"\nThe web console on this data: `zamio demo --serve` ({CONSOLE_URL}).")
        if serve:
            _serve_until_interrupted(echo)
    if not result.ledger.ok:
        sys.exit(1)


def _serve_until_interrupted(echo: Callable[[str], None]) -> None:
    """Block (the console is served by its thread) until Ctrl-C or SIGTERM."""
    echo("Serving until Ctrl-C.")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    echo("zamio demo: stopped serving")


def _folder(workdir: Path | None, keep: bool) -> Path:
    """The demo's folder, empty: a new temporary one, or --dir (default the data dir's `demo`),
    emptied first if an earlier demo left it; anything else is refused, never deleted."""
    if not keep and workdir is None:
        return Path(tempfile.mkdtemp(prefix="zamio-demo-"))
    folder = (workdir or data_dir(os.environ) / "demo").expanduser().absolute()
    if folder.exists() and any(folder.iterdir()):
        if not (folder / MARKER).exists():
            raise click.UsageError(
                f"--dir {folder}: not empty, and not a folder of an earlier demo"
            )
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("made by `zamio demo`; emptied by the next one\n")
    return folder


def _show_next_steps(folder: Path, database_url: str) -> None:
    click.echo(
        f"\nKept in {folder}. The demo's database is not your default one; to look around:\n"
        f"  export ZAMIO_DATABASE_URL={database_url}\n"
        f"  zamio plays --station {STATION}\n"
        f"  zamio royalty explain 1\n"
        f"  zamio ledger balance station:{STATION}:wallet\n"
        f"  zamio ledger verify\n"
        f"  zamio user list\n"
        f"  zamio serve --port 8000 &  # the web console (logins below) and the API\n"
        f"  TOKEN=$(zamio token create <an artist's email above> | tail -1)\n"
        f'  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/api/v1/earnings\n'
        f"  # the API's document: http://127.0.0.1:8000/api/docs"
    )
