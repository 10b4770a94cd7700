"""The worker process's app: RQ jobs are plain functions, so they reach the database through one
app per process, built from the environment the first time a job needs it."""

from __future__ import annotations

from flask import Flask

_app: Flask | None = None


def worker_app() -> Flask:
    """This process's app (create_app from ZAMIO_* variables), made once."""
    global _app
    if _app is None:
        from central import create_app

        _app = create_app()
    return _app


def use_app(app: Flask | None) -> None:
    """Make jobs in this process use `app` (the ingest process, the demo, tests)."""
    global _app
    _app = app
