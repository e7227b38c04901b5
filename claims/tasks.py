"""Celery entry points of settlement: thin wrappers over claims.services."""
from celery import shared_task

from .audit import audit_context


@shared_task(acks_late=True)  # idempotent: a redelivered run resumes from its committed cursor
def resettle_year_task(run_id: int) -> str:
    from .services import fail_run, resettle_year
    from .settlement_models import ResettleRun

    run = ResettleRun.objects.select_related("created_by").get(pk=run_id)
    try:
        with audit_context(user=run.created_by, source=f"resettle:{run_id}"):
            run = resettle_year(run_id)
    except Exception as exc:
        fail_run(run_id, f"{type(exc).__name__}: {exc}")
        raise
    return run.status
