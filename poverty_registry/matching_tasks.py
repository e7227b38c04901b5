"""Celery entry points of the nightly matching: thin wrappers over poverty_registry.matching.run.

start → prepare in the worker that took it → one task per county (any worker, any machine) → a chord
gathers the report. Every task is idempotent (see run.py), so acks_late is safe: a task lost with its
worker is delivered again, and `start_matching` on an unfinished run resumes it.
"""
from __future__ import annotations

import datetime as dt

from celery import chord, shared_task

from claims.audit import audit_context

from .matching import run as matching


@shared_task(name="matching.start", acks_late=True, reject_on_worker_lost=True)
def start_matching(inbox: str | None = None, triggered_by: str = "beat", run_date: str | None = None) -> dict:
    """Begin (or resume) a run, prepare it here, and hand the counties to the workers."""
    today = dt.date.fromisoformat(run_date) if run_date else None
    try:
        run, resumed = matching.begin(inbox, triggered_by, today)
    except matching.AlreadyRunning as exc:
        return {"run_id": exc.run.pk if exc.run else None, "status": "already_running", "message": str(exc)}
    with audit_context(source=f"matching:{run.pk}"):
        matching.prepare(run.pk)
    dispatch(run.pk)
    return {"run_id": run.pk, "status": "dispatched", "resumed": resumed}


def dispatch(run_id: int) -> None:
    counties = matching.pending_counties(run_id)
    if counties:
        chord(match_county.s(run_id, county) for county in counties)(finish_matching.s(run_id))
    else:
        finish_matching.delay([], run_id)


@shared_task(name="matching.county", bind=True, acks_late=True, reject_on_worker_lost=True)
def match_county(self, run_id: int, county: str) -> dict:
    with audit_context(source=f"matching:{run_id}"):
        return matching.run_shard(run_id, county, worker=self.request.hostname or "")


@shared_task(name="matching.finish", acks_late=True, reject_on_worker_lost=True)
def finish_matching(shard_results: list, run_id: int) -> dict:
    return matching.report(matching.finish(run_id))


@shared_task(name="matching.nightly")
def nightly_matching() -> dict:
    """The beat entry (CELERY_BEAT_SCHEDULE["nightly-matching"])."""
    return start_matching(triggered_by="beat")
