"""Celery entry points of the audit trail. Their names are stable: queued messages name them, not the module."""
from celery import shared_task

from .anchor import write_anchor
from .trail import spread_journal


@shared_task(name="audit.spread_journal", ignore_result=True)  # nobody waits for it: no result backend call
def spread_audit_journal() -> int:
    """Spread committed journal entries of the audit trail into indexed records (poverty_registry.audit.trail)."""
    return spread_journal()


@shared_task(name="audit.anchor", ignore_result=True)
def anchor_audit_chain() -> int | None:
    """Hourly: sign the audit chains' heads into the anchor file (poverty_registry.audit.anchor); the anchor's
    number."""
    line = write_anchor()
    return line["n"] if line else None
