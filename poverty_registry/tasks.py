"""Celery entry points of the import framework (thin wrappers over poverty_registry.importing) and the
access log's nightly flags.

Both import tasks are idempotent, so they are acknowledged late and requeued when their worker dies: a task
names the run's attempt, and does nothing unless the run is still running that attempt (compare-and-set on the
status); a confirm writes the ledger and records the run as imported in one transaction, so a second delivery
finds it imported (or, delivered at the same time, waits on the same locks and is rolled back). A preview
writes nothing but the run's own counts."""
import datetime as dt

from celery import shared_task
from django.utils import timezone

from poverty_registry.audit.trail import audit_context

from . import import_leases, importing
from .access_log import flag_day


@shared_task(name="imports.preview", acks_late=True, reject_on_worker_lost=True)
def preview_import(run_id: int, attempt: int = 0) -> str:
    run = importing.preview(run_id, attempt)
    return run.status


@shared_task(name="imports.commit", acks_late=True, reject_on_worker_lost=True)
def commit_import(run_id: int, attempt: int = 0) -> str:
    from .models import ImportRun

    user = ImportRun.objects.select_related("user").get(pk=run_id).user
    with audit_context(user=user, source=f"import:{run_id}"):
        run = importing.commit(run_id, attempt)
    return run.status


@shared_task(name="access_log.flag_yesterday", ignore_result=True)
def flag_access_yesterday() -> int:
    """Beat: the accounts over the daily limit of full ID numbers, for the day that just ended."""
    return len(flag_day(timezone.localdate() - dt.timedelta(days=1)))


@shared_task(name="imports.expire_leases", ignore_result=True)
def expire_import_leases() -> int:
    """Beat: runs whose worker died are marked interrupted, for the clerk to retry."""
    return import_leases.expire_leases()


from . import matching_tasks  # noqa: E402,F401  (the nightly matching: poverty_registry/matching_tasks.py)
