"""Periodic jobs, enqueued by `zamio scheduler` (RQ's cron scheduler) on the pipeline queue.

Run one scheduler per deployment (a second one would enqueue everything twice; harmless, as every
job is idempotent, but wasteful).
"""

from __future__ import annotations

from rq.cron import CronScheduler

from central.ingest.retention import purge_expired_batches
from central.matching.rematch import rematch_new_tracks
from central.plays.jobs import sweep_plays
from central.queues import QUEUE_NAME
from central.royalties.jobs import accrue_pending

SWEEP_PLAYS_S = 60  # open plays of a silent device close within this of their wait running out
REMATCH_NEW_TRACKS_S = 600  # a new track's past plays appear within this (plus the work)
PURGE_EXPIRED_S = 3600
ACCRUE_PENDING_S = 300  # a closed play whose accrue_royalty job was lost is accrued within this


def register_jobs(scheduler: CronScheduler) -> None:
    """The pipeline's periodic jobs."""
    scheduler.register(sweep_plays, QUEUE_NAME, interval=SWEEP_PLAYS_S)
    scheduler.register(rematch_new_tracks, QUEUE_NAME, interval=REMATCH_NEW_TRACKS_S)
    scheduler.register(purge_expired_batches, QUEUE_NAME, interval=PURGE_EXPIRED_S)
    scheduler.register(accrue_pending, QUEUE_NAME, interval=ACCRUE_PENDING_S)
