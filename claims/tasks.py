"""Celery entry points of settlement: thin wrappers over claims.settlement.services."""
from celery import shared_task
from django.conf import settings
from django.utils import timezone

from poverty_registry.audit.trail import audit_context


@shared_task(name="resettle.year", acks_late=True)  # idempotent: a redelivered run carries on with the chunks not done
def resettle_year_task(run_id: int) -> str:
    """Split the run into chunks, hand them to RESETTLE_WORKERS workers (this one included)."""
    from .settlement.services import prepare_resettle

    _guarded(run_id, prepare_resettle)
    for _ in range(settings.RESETTLE_WORKERS - 1):
        resettle_chunks_task.delay(run_id)
    return resettle_chunks_task(run_id)


@shared_task(name="resettle.chunks", acks_late=True)
def resettle_chunks_task(run_id: int) -> str:
    from .settlement.services import resettle_chunks

    return _guarded(run_id, resettle_chunks).status


@shared_task(name="resettle.recover")
def recover_resettle_runs() -> list[int]:
    """Beat, every few minutes: queue again the batch re-settlements a dead worker left "running" (lease
    expired, no chunk in progress); the run carries on with the chunks not done (resettle_year_task)."""
    import datetime as dt

    from .settlement.models import ResettleRun
    from .settlement.services import abandoned_resettle_runs

    abandoned = abandoned_resettle_runs(dt.timedelta(seconds=settings.RESETTLE_LEASE_SECONDS))
    note = f"工作进程中断，{timezone.localtime():%m-%d %H:%M} 自动接续未完成的部分"
    for run_id in abandoned:
        ResettleRun.objects.filter(pk=run_id).update(message=note, heartbeat_at=timezone.now())
        resettle_year_task.delay(run_id)
    return abandoned


def _guarded(run_id: int, work):
    from .settlement.models import ResettleRun
    from .settlement.services import fail_run

    run = ResettleRun.objects.select_related("created_by").get(pk=run_id)
    try:
        with audit_context(user=run.created_by, source=f"resettle:{run_id}"):
            return work(run_id)
    except Exception as exc:
        fail_run(run_id, f"{type(exc).__name__}: {exc}")
        raise
