"""Celery entry points of fund supervision: the nightly screening over the year (beat) and the screening of
persons whose claims just arrived. Thin wrappers over claims.screening."""
from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from poverty_registry import locks

from .audit import audit_context
from .screening import screen_persons, screen_year

log = logging.getLogger(__name__)
LATE_CLAIMS_MONTHS = 3  # claims of last year still arrive in the first months: screen that year too


@shared_task(name="supervision.screen_nightly")
def screen_nightly(year: int | None = None) -> dict:
    """All nine rules over the year's claims (and last year's in January–March). Idempotent: re-running
    upserts the same hits, so a redelivered task does no harm."""
    today = timezone.localdate()
    years = [year] if year else ([today.year - 1, today.year] if today.month <= LATE_CLAIMS_MONTHS else [today.year])
    if not locks.try_lock(locks.SCREENING_NIGHTLY):
        log.warning("nightly screening already running; skipped")
        return {}
    try:
        with audit_context(source="screen_nightly"):
            results = {str(y): screen_year(y) for y in years}
    finally:
        locks.unlock(locks.SCREENING_NIGHTLY)
    log.info("nightly screening: %s", results)
    return results


@shared_task(name="supervision.screen_persons")
def screen_persons_task(id_numbers: list[str], year: int) -> dict:
    with audit_context(source="screen_persons"):
        return screen_persons(id_numbers, year)
