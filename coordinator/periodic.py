"""Periodic jobs of the coordinator (``vigie-coordinator jobs``): timers that no message triggers.

SLA escalation, devices silent beyond a threshold, retention of raw events, time partitions made ahead, re-sending
commands and notifications that could not be delivered, clean-up of authentication state. Each job is a plain function
``job(engine, now_ms) -> int`` (how much it did), registered with its period in :data:`JOBS`;
the runner calls them in one named thread and logs failures without stopping.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from coordinator.auth_cleanup import auth_cleanup_job
from coordinator.dispatch import jobs as dispatch_jobs
from coordinator.lighting import jobs as lighting_jobs
from coordinator.retention import partitions_job, retention_job

log = logging.getLogger("vigie.jobs")

Job = Callable[[Engine, int], int]


@dataclass(frozen=True)
class Periodic:
    name: str
    period_s: float
    run: Job


#: Registered jobs; each domain appends its own (one line each, explicit).
JOBS: list[Periodic] = []
JOBS += [Periodic("interventions.sla", 15, dispatch_jobs.sla_job),
         Periodic("interventions.offline", 60, dispatch_jobs.offline_job),
         Periodic("interventions.rules_tick", 10, dispatch_jobs.rules_tick_job)]
JOBS += [Periodic("lighting.republish", 10, lighting_jobs.republish_job)]
JOBS += [Periodic("events.retention", 3600, retention_job)]  # EVENT_RETENTION_DAYS, re-read at each run
JOBS += [Periodic("storage.partitions", 3600, partitions_job)]  # PostgreSQL time partitions made ahead
JOBS += [Periodic("auth.cleanup", 3600, auth_cleanup_job)]  # dead sessions, stale counters, old security events


def run_jobs(engine: Engine, stop: threading.Event, jobs: list[Periodic] | None = None,
             clock: Callable[[], float] = time.time) -> None:
    """Run every job at its period until ``stop`` is set; a failing job is logged and retried later."""
    jobs = list(JOBS if jobs is None else jobs)
    due = {j.name: 0.0 for j in jobs}
    while not stop.is_set():
        now = clock()
        for job in jobs:
            if now < due[job.name]:
                continue
            due[job.name] = now + job.period_s
            try:
                done = job.run(engine, int(now * 1000))
                if done:
                    log.info("job %s: %d done", job.name, done)
            except Exception:
                log.exception("job %s failed; retrying in %.0f s", job.name, job.period_s)
        wait = min((d - clock() for d in due.values()), default=1.0)
        stop.wait(max(0.05, min(wait, 1.0)))
