"""Celery entry points of fund supervision: the nightly screening over the year (beat) and the screening of
persons whose claims just arrived. Thin wrappers over claims.supervision.screening."""
from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from poverty_registry.audit.trail import audit_context

from . import screening_runs
from .screening import screen_persons

log = logging.getLogger(__name__)


@shared_task(name="supervision.screen_nightly", bind=True)
def screen_nightly(self, year: int | None = None, run_id: int | None = None) -> dict:
    """All nine rules over the year's claims (and last year's in January–March), as a ScreeningRun: the
    beat's run (begun here) or one begun by a start from the page (`run_id`). Idempotent: a redelivered
    message finds its run finished; re-running upserts the same hits."""
    task_id = self.request.id or ""
    done = screening_runs.run_for_task(task_id)
    if done is not None:
        return done.counts
    if run_id is None:
        years = [year] if year else screening_runs.nightly_years(timezone.localdate())
        try:
            run_id = screening_runs.begin(years, screening_runs.NIGHTLY, task_id).pk
        except screening_runs.AlreadyScreening as exc:
            log.warning("nightly screening skipped: %s", exc)
            return {}
    with audit_context(source="screen_nightly"):
        run = screening_runs.execute(run_id, task_id)
    results = run.counts if run is not None else {}
    log.info("screening run %s: %s", run_id, results)
    return results


@shared_task(name="supervision.screen_persons")
def screen_persons_task(id_numbers: list[str], year: int) -> dict:
    with audit_context(source="screen_persons"):
        return screen_persons(id_numbers, year)
