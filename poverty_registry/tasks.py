"""Celery entry points of the import framework: thin wrappers over poverty_registry.importing."""
from celery import shared_task

from claims.audit import audit_context

from . import importing


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
from . import matching_tasks  # noqa: E402,F401  (the nightly matching: poverty_registry/matching_tasks.py)
