"""Stream scans: for stations with a stream link and no box, central runs edge agents itself.

`zamio scan` supervises one `zamio-agent run` process per link (bounded concurrency, restarts
with backoff, per-link status in `<state_dir>/scan-status.json`); `zamio scan status` shows it.
Decisions in `supervisor.py` (pure), processes in `agents.py`, the loop in `scanner.py`.
"""
