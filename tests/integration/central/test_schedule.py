"""The periodic jobs `zamio scheduler` runs: each is enqueued on the pipeline queue when due."""

from __future__ import annotations

import pytest
import redis
from rq.cron import CronScheduler

from central import queues
from central.schedule import register_jobs

pytestmark = pytest.mark.integration


def test_scheduler_enqueues_every_periodic_job_on_the_pipeline_queue(
    redis_connection: redis.Redis,
) -> None:
    """The sweeps of plays and of unmatched batches, rematch of new tracks, purge, the royalty
    sweep, the sweep of lost uploads, the notifications' sweep, health watch and digest, the
    payouts' sweep and reconciliation, and last month's invoices are all due at start, on the
    workers' queue, and importable by name (a worker must find them)."""
    scheduler = CronScheduler(connection=redis_connection)
    register_jobs(scheduler)
    scheduler.enqueue_jobs()
    queue = queues.pipeline_queue(redis_connection)
    names = sorted(job.func_name for job in queue.get_jobs())
    assert names == [
        "central.catalog.upload_job.sweep_uploads",
        "central.funding.jobs.issue_monthly_invoices",
        "central.ingest.retention.purge_expired_batches",
        "central.matching.jobs.sweep_unmatched",
        "central.matching.rematch.rematch_new_tracks",
        "central.notifications.jobs.plays_digest",
        "central.notifications.jobs.sweep_notifications",
        "central.notifications.jobs.watch_health",
        "central.payouts.jobs.reconcile_payouts",
        "central.payouts.jobs.sweep_payouts",
        "central.plays.jobs.sweep_plays",
        "central.royalties.jobs.accrue_pending",
    ]
    assert all(callable(job.func) for job in queue.get_jobs())
    assert scheduler.enqueue_jobs() == []  # not due again until its interval has passed
