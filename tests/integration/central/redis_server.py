"""A redis-server of the test's own on a free port, stopped and started again on that port (an
outage), and `zamio` commands run as processes against it and the test's PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.integration.edge_agent.conftest import (
    HOST,
    free_port,
    require_tool,
    stop_process,
    wait_for_port,
)


class RedisServer:
    """redis-server on 127.0.0.1:<free port>, no persistence: a restart starts empty."""

    def __init__(self, workdir: Path, password: str | None = None) -> None:
        self.binary = require_tool("redis-server")
        self.port = free_port()
        self.workdir = workdir
        self.password = password
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{HOST}:{self.port}/{db}"

    def start(self) -> None:
        command = [self.binary, "--port", str(self.port), "--bind", HOST, "--save", ""]
        command += ["--appendonly", "no", "--dir", str(self.workdir)]
        if self.password:
            command += ["--requirepass", self.password]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None


def zamio(
    args: list[str], database_url: str, redis_url: str, log: Path, **popen: object
) -> subprocess.Popen:
    """`zamio <args>` as a process on the test's services, its output in `log`."""
    env = os.environ | {
        "ZAMIO_DATABASE_URL": database_url,
        "ZAMIO_REDIS_URL": redis_url,
        "ZAMIO_PLAYS_BUILD_INTERVAL_S": "0",  # plays built after every match: tests look at once
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "central", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            **popen,
        )
