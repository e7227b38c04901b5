"""Celery entry points of the import framework (thin wrappers over poverty_registry.importing) and the
access log's nightly flags."""
import datetime as dt

from celery import shared_task
from django.utils import timezone

from claims.audit import audit_context

from . import importing
from .access_log import flag_day


@shared_task(acks_late=False)
def preview_import(run_id: int) -> str:
    run = importing.preview(run_id)
    return run.status


@shared_task(acks_late=False)
def commit_import(run_id: int) -> str:
    from .models import ImportRun

    user = ImportRun.objects.select_related("user").get(pk=run_id).user
    with audit_context(user=user, source=f"import:{run_id}"):
        run = importing.commit(run_id)
    return run.status


@shared_task(name="access_log.flag_yesterday", ignore_result=True)
def flag_access_yesterday() -> int:
    """Beat: the accounts over the daily limit of full ID numbers, for the day that just ended."""
    return len(flag_day(timezone.localdate() - dt.timedelta(days=1)))


from . import matching_tasks  # noqa: E402,F401  (the nightly matching: poverty_registry/matching_tasks.py)
