"""Periodic jobs: enqueued by `zamio scheduler` (RQ's cron scheduler) on the pipeline queue, or,
with no Redis, by InlineSchedule, a thread of `zamio ingest` that runs them inline when due.

Run one scheduler per deployment (a second one would enqueue everything twice; harmless, as every
job is idempotent, but wasteful).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from rq import Queue
from rq.cron import CronScheduler

from central.catalog.upload_job import sweep_uploads
from central.funding.jobs import issue_monthly_invoices
from central.ingest.retention import purge_expired_batches
from central.matching.jobs import sweep_unmatched
from central.matching.rematch import rematch_new_tracks
from central.notifications.jobs import plays_digest, sweep_notifications, watch_health
from central.payouts.jobs import (
    RECONCILE_PAYOUTS_S,
    SWEEP_PAYOUTS_S,
    reconcile_payouts,
    sweep_payouts,
)
from central.plays.jobs import sweep_plays
from central.queues import QUEUE_NAME
from central.royalties.jobs import accrue_pending

logger = logging.getLogger(__name__)

SWEEP_PLAYS_S = 60  # open plays of a silent device close within this of their wait running out
SWEEP_UNMATCHED_S = 30  # a batch whose match job was lost is enqueued within this of its grace
REMATCH_NEW_TRACKS_S = 600  # a new track's past plays appear within this (plus the work)
PURGE_EXPIRED_S = 3600
ACCRUE_PENDING_S = 300  # a closed play whose accrue_royalty job was lost is accrued within this
SWEEP_UPLOADS_S = 300  # an upload whose job was lost is enqueued within this of going stale
SWEEP_NOTIFICATIONS_S = 30  # a retry, or mail held by quiet hours, goes within this of its time
WATCH_HEALTH_S = 60  # an incident is told within this of reaching ZAMIO_NOTIFY_INCIDENT_MIN
PLAYS_DIGEST_S = 3600  # yesterday's digest goes within this of its plays all closing
# last month's invoices are issued within this of a station's local midnight on the 1st (a run
# finds the stations still without one: cheap, and nothing is issued twice)
ISSUE_INVOICES_S = 3600
TICK_S = 1.0  # how often InlineSchedule looks for a due job

PERIODIC_JOBS: tuple[tuple[Callable[[], object], int], ...] = (
    (sweep_plays, SWEEP_PLAYS_S),
    (sweep_unmatched, SWEEP_UNMATCHED_S),
    (rematch_new_tracks, REMATCH_NEW_TRACKS_S),
    (purge_expired_batches, PURGE_EXPIRED_S),
    (accrue_pending, ACCRUE_PENDING_S),
    (sweep_uploads, SWEEP_UPLOADS_S),
    (sweep_payouts, SWEEP_PAYOUTS_S),  # a withdrawal whose job was lost moves on within this
    (reconcile_payouts, RECONCILE_PAYOUTS_S),
    (sweep_notifications, SWEEP_NOTIFICATIONS_S),
    (watch_health, WATCH_HEALTH_S),
    (plays_digest, PLAYS_DIGEST_S),
    (issue_monthly_invoices, ISSUE_INVOICES_S),
)


def register_jobs(scheduler: CronScheduler) -> None:
    """The pipeline's periodic jobs."""
    for func, interval_s in PERIODIC_JOBS:
        scheduler.register(func, QUEUE_NAME, interval=interval_s)


def due_jobs(next_due_s: list[float], now_s: float) -> list[int]:
    """Indexes of PERIODIC_JOBS due at `now_s`; moves each one's next time on past `now_s`."""
    due = []
    for n, (_, interval_s) in enumerate(PERIODIC_JOBS):
        if now_s >= next_due_s[n]:
            due.append(n)
            next_due_s[n] = now_s + interval_s
    return due


class InlineSchedule:
    """Enqueues each periodic job on `queue` when due (an inline queue runs it there and then),
    in a thread, until stop(). Each job first runs one interval after start()."""

    def __init__(self, queue: Queue, clock_s: Callable[[], float] = time.monotonic) -> None:
        self.queue = queue
        self.clock_s = clock_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="schedule", daemon=True)

    def start(self) -> InlineSchedule:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        next_due_s = [self.clock_s() + interval_s for _, interval_s in PERIODIC_JOBS]
        while not self._stop.wait(TICK_S):
            for n in due_jobs(next_due_s, self.clock_s()):
                func = PERIODIC_JOBS[n][0]
                try:
                    self.queue.enqueue(func)
                except Exception:  # enqueueing failed: the schedule goes on, the next run retries
                    logger.exception("schedule: %s failed", func.__name__)
