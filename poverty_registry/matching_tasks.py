"""Celery entry points of the nightly matching: thin wrappers over poverty_registry.matching.run.

start → prepare in the worker that took it → one task per county (any worker, any machine) → a chord
gathers the report. Every task is idempotent (see run.py), so acks_late is safe: a task lost with its
worker is delivered again, `start_matching` on an unfinished run resumes it, and a delivery of a start that
already finished its run does nothing (the run keeps its task id). `matching.recover` (beat) resumes a run
whose lease expired, so a dead worker costs minutes, not the night.
"""
from __future__ import annotations

import datetime as dt

from celery import chord, shared_task
from django.conf import settings
from django.utils import timezone

from poverty_registry.audit.trail import audit_context

from .matching import run as matching
from .models import MatchingRun


@shared_task(name="matching.start", bind=True, acks_late=True, reject_on_worker_lost=True)
def start_matching(self, inbox: str | None = None, triggered_by: str = "beat", run_date: str | None = None) -> dict:
    """Begin (or resume) a run, prepare it here, and hand the counties to the workers."""
    return _start(inbox, triggered_by, run_date, self.request.id or "")


def _start(inbox: str | None, triggered_by: str, run_date: str | None, task_id: str) -> dict:
    # A redelivered message keeps its task id: the run it began and finished is not begun again.
    done = MatchingRun.objects.filter(task_id=task_id).exclude(status="running").first() if task_id else None
    if done is not None:
        return {"run_id": done.pk, "status": "done", "resumed": False}
    today = dt.date.fromisoformat(run_date) if run_date else None
    try:
        run, resumed = matching.begin(inbox, triggered_by, today, task_id=task_id)
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


@shared_task(name="matching.nightly", bind=True)
def nightly_matching(self) -> dict:
    """The beat entry (CELERY_BEAT_SCHEDULE["nightly-matching"])."""
    return _start(None, "beat", None, self.request.id or "")


@shared_task(name="matching.recover")
def recover_matching() -> dict:
    """Beat, every few minutes: resume a run whose worker died (lease expired, no step in progress), so an
    interrupted night is finished within minutes instead of staying "running" until the next night."""
    run = matching.abandoned_run(dt.timedelta(seconds=settings.MATCHING_LEASE_SECONDS))
    if run is None:
        return {}
    note = f"工作进程中断，{timezone.localtime():%m-%d %H:%M} 自动接续未完成的县"
    MatchingRun.objects.filter(pk=run.pk).update(message=note)
    return _start(run.inbox, "recover", None, "")
