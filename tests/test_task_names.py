"""Every Celery task carries an explicit, stable name: a message queued before a deploy that moves a module
still finds its task (Celery's default name is the module path, so a move would orphan it)."""
from __future__ import annotations

from django.conf import settings

from tests.reliability.test_duplicate_delivery import project_tasks

OUR_MODULES = ("poverty_registry.", "enrollment.", "claims.", "config.")


def test_no_task_is_named_after_its_module():
    from config.celery import app

    names = project_tasks()
    assert names, "no project task registered"
    named_by_module = sorted(name for name in names
                             if name.startswith(OUR_MODULES) or name.startswith(app.tasks[name].run.__module__))
    assert named_by_module == [], "give these tasks an explicit name=... (like \"imports.preview\")"


def test_every_scheduled_task_is_registered():
    names = project_tasks()
    assert {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()} <= names


def test_callers_queue_the_stable_names():
    from claims.tasks import resettle_chunks_task, resettle_year_task
    from poverty_registry.tasks import commit_import, preview_import

    assert [t.name for t in (preview_import, commit_import, resettle_year_task, resettle_chunks_task)] == [
        "imports.preview", "imports.commit", "resettle.year", "resettle.chunks"]
