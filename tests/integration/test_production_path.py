"""The README's "Running for real" script, run line by line as an operator would: a clean
virtualenv from this checkout, real PostgreSQL and Redis, Mosquitto on deploy/mosquitto.conf,
every central process and an agent on an Icecast stream, ending with a paid play, a verified
ledger and the API's play log. It fails when the README and the code drift apart.

What the test changes, and nothing else: the values of the script's first `export` line (its
own hosts, ports and names); the broker's paths (`/etc/mosquitto/...` become the test broker's
directory, and `systemctl restart mosquitto` restarts the test's broker, started from the same
deploy/mosquitto.conf that the `install` line installs); long-running lines run in the
background, as systemd would run them."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from tests.integration.central.stations.conftest import ShippedBroker
from tests.integration.conftest import _admin_connection, require_service
from tests.integration.edge_agent.conftest import Icecast, free_port, stop_process, wait_until
from tests.synth import write_wav
from tests.transforms import song

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).parents[2]
README = ROOT / "README.md"
LONG_RUNNING = ("zamio ingest", "zamio worker", "zamio scheduler", "zamio serve", "zamio-agent run")
INSTALL_CONF = 'install -m 0644 "$SRC_DIR/deploy/mosquitto.conf" /etc/mosquitto/mosquitto.conf'
RESTART_BROKER = "systemctl restart mosquitto"
DYNSEC_FILE = "/etc/mosquitto/zamio-dynsec.json"
SONG_SEED, SONG_S, QUIET_S = 301, 40.0, 6.0
PLAY_WAIT_S = 300  # the stream in real time, then a stopped source's plays close a minute later
MANIFEST = {
    "tracks": [
        {
            "id": "adwoa",
            "path": "adwoa.wav",
            "title": "Adwoa",
            "artist": "Ama Serwaa",
            "shares": {
                "composition": {
                    "iswc": "T-034.524.680-1",
                    "shares": [
                        {"party": "artist:ama:earnings", "role": "writer", "share_bp": 10000}
                    ],
                },
                "master": {
                    "isrc": "GH-A01-26-00001",
                    "shares": [
                        {"party": "label:kasa:earnings", "role": "label", "share_bp": 10000}
                    ],
                },
            },
        }
    ]
}


def script(name: str) -> list[str]:
    """The units of the README's `production-path: NAME` block: one line each, or a heredoc
    with its body; blank and comment lines dropped."""
    text = README.read_text()
    marker = f"<!-- production-path: {name} -->\n```sh\n"
    assert marker in text, f"README has no {name!r} production-path block"
    body = text.split(marker, 1)[1].split("\n```", 1)[0]
    units: list[str] = []
    lines = iter(body.splitlines())
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        heredoc = re.search(r"<<\s*'?(\w+)'?\s*$", line)
        if heredoc:
            rest = []
            for more in lines:
                rest.append(more)
                if more == heredoc.group(1):
                    break
            line = "\n".join([line, *rest])
        units.append(line)
    return units


def with_values(export_line: str, values: dict[str, str]) -> str:
    """The script's first line with the test's values; a name the test does not know fails."""
    words = shlex.split(export_line)
    assert words[0] == "export", export_line
    names = [word.split("=", 1)[0] for word in words[1:]]
    unknown = sorted(set(names) - set(values))
    assert not unknown, f"the README's first line names {unknown}: teach the test their values"
    return "export " + " ".join(f"{name}={shlex.quote(values[name])}" for name in names)


@dataclass
class Operator:
    """Runs script units in bash, in `workdir`, carrying exported variables from one to the
    next like one shell session."""

    workdir: Path
    env_file: Path
    background: list[tuple[str, subprocess.Popen]] = field(default_factory=list)
    timeout_s: float = 600

    def run(self, unit: str) -> str:
        wrapped = (
            f'set -euo pipefail\nsource "{self.env_file}"\n{unit}\nexport -p > "{self.env_file}"\n'
        )
        done = subprocess.run(
            ["bash", "-c", wrapped],
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=self.timeout_s,
            env=_clean_environment(),
        )
        assert done.returncode == 0, (
            f"{unit!r} exited {done.returncode}:\n{done.stdout}{done.stderr}"
        )
        return done.stdout

    def start(self, unit: str) -> subprocess.Popen:
        name = unit.split()[1] if unit.startswith("zamio ") else "agent"
        log = (self.workdir / f"{name}.log").open("ab")
        process = subprocess.Popen(
            ["bash", "-c", f'source "{self.env_file}"\nexec {unit}'],
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_clean_environment(),
        )
        log.close()
        self.background.append((name, process))
        return process

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self.workdir.glob("*.log"))
        )


def _clean_environment() -> dict[str, str]:
    """The caller's environment without ZAMIO_* settings, as on an operator's new machine."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("ZAMIO_", "VIRTUAL_ENV"))}


@pytest.fixture
def database() -> Iterator[tuple[str, str]]:
    """A role and database name nobody uses (created by the script), dropped after."""
    require_service("PostgreSQL", 5432)
    name = f"zamio_pp_{uuid.uuid4().hex[:10]}"
    yield name, name
    admin = _admin_connection()
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'DROP ROLE IF EXISTS "{name}"')
    admin.close()


@pytest.fixture
def services(tmp_path: Path) -> Iterator[tuple[ShippedBroker, Icecast]]:
    """The broker (started by the script's restart line) and an Icecast for the station."""
    broker = ShippedBroker()
    icecast = Icecast(tmp_path / "icecast")
    icecast.start()
    yield broker, icecast
    icecast.stop()
    broker.stop()


def closed_paid_plays(operator: Operator) -> list[dict]:
    """`zamio plays --json`'s closed plays that have a royalty."""
    plays = json.loads(operator.run("zamio plays --station joy-fm --json"))
    return [p for p in plays if p.get("status") == "closed" and p.get("royalty")]


def test_the_readme_production_path_ends_in_paid_plays(
    tmp_path: Path, database: tuple[str, str], redis_url: str, redis_connection, services
) -> None:
    """Every line of "Running for real", in order: the song streamed is one closed play with
    its royalty, `zamio ledger verify` passes, the API lists the play and the console serves."""
    broker, icecast = services
    workdir = tmp_path / "operator"
    workdir.mkdir()
    write_wav(workdir / "adwoa.wav", song(SONG_SEED, 60.0), 8000)
    (workdir / "manifest.json").write_text(json.dumps(MANIFEST))
    env_file = tmp_path / "env.sh"
    env_file.write_text("")
    operator = Operator(workdir, env_file)
    db_user, db_name = database
    values = {
        "SRC_DIR": str(_checkout(tmp_path / "src")),
        "DB_HOST": "127.0.0.1",
        "DB_USER": db_user,
        "DB_NAME": db_name,
        "REDIS_HOST": "127.0.0.1",
        "REDIS_DB": redis_url.rsplit("/", 1)[1],
        "BROKER_HOST": "127.0.0.1",
        "BROKER_PORT": str(broker.port),
        "API_PORT": str(free_port()),
        "STREAM_URL": icecast.url(),
    }
    setup = script("setup")
    assert INSTALL_CONF in setup and RESTART_BROKER in setup, "the broker steps changed"
    try:
        for index, unit in enumerate(setup):
            if index == 0:
                operator.run(with_values(unit, values))
            elif unit == INSTALL_CONF:
                continue  # ShippedBroker runs that very file, with the test's port and paths
            elif unit == RESTART_BROKER:
                broker.restart()
            elif unit.startswith(LONG_RUNNING):
                operator.start(unit)
            else:
                group = f"--group {broker.group}" if broker.group else ""
                unit = unit.replace(DYNSEC_FILE, str(broker.users))
                operator.run(unit.replace("--group mosquitto", group))
        _air_the_song(icecast, workdir)
        agent = dict(operator.background)["agent"]
        agent.send_signal(signal.SIGTERM)  # `systemctl stop`: its last window and goodbye
        agent.wait(30)
        wait_until(lambda: closed_paid_plays(operator), PLAY_WAIT_S, "a closed, paid play")
        outputs = [operator.run(unit) for unit in script("check")]
    except BaseException:
        print(operator.logs())
        raise
    finally:
        for _, process in reversed(operator.background):
            stop_process(process)
    plays_text, explained, verified, api, console = outputs
    assert "adwoa" in plays_text and "Adwoa" in plays_text, plays_text
    assert "artist:ama:earnings" in explained and "label:kasa:earnings" in explained, explained
    assert verified.startswith("ledger ok:"), verified
    listed = json.loads(api)
    assert [play["track"]["external_id"] for play in listed["plays"]] == ["adwoa"], listed
    assert "Sign in to ZamIO" in console, console[:500]
    (play,) = closed_paid_plays(operator)
    assert abs(play["duration_ms"] / 1000 - SONG_S) <= 4, play


def _checkout(target: Path) -> Path:
    """A copy of this source tree without its build products, like a fresh checkout: pip
    builds a local directory in place, and that must not litter the developer's tree."""
    junk = (".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache")
    shutil.copytree(ROOT, target, ignore=shutil.ignore_patterns(*junk))
    return target


def _air_the_song(icecast: Icecast, workdir: Path) -> None:
    """The station airs quiet, the song from its top, quiet: in real time, into the mount."""
    quiet = np.random.default_rng(5).standard_normal(int(QUIET_S * 8000)).astype(np.float32)
    show = np.concatenate([quiet * 1e-3, song(SONG_SEED, SONG_S), quiet * 1e-3])
    path = write_wav(workdir / "show.wav", show, 8000)
    time.sleep(1.0)  # the agent retries until the mount exists
    feeder = icecast.feed(["-i", str(path)], readrate=1)
    wait_until(lambda: feeder.poll() is not None, 120, "the show to be streamed")
