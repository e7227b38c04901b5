"""Fault: the Celery worker running a ledger confirm is killed (SIGKILL) inside the import's transaction. The
ledger is unchanged, the run's lease runs out and beat marks it interrupted (with a Chinese message and a retry
button on its page) within two minutes, and the retry, on a new worker, imports with the previewed counts."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest
from django.urls import reverse

from poverty_registry import import_leases, importing, locks
from poverty_registry.audit.trail import verify_chain
from poverty_registry.models import Household, ImportRun, Person
from tests import conftest
from tests.conftest import VILLAGE_A, make_person
from tests.poverty_registry.ledger_builders import ledger_xlsx, row

LEASE_SECONDS = 4
BLOCKER = "H999"  # an existing household the file lists unchanged: the worker's upsert waits on its row lock


def start_worker() -> subprocess.Popen:
    """A real Celery worker on the test database, with a short import lease."""
    from config.celery import app

    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "-l", "warning",
         "-n", f"lease-{os.getpid()}-{time.monotonic_ns()}@%h", "--without-heartbeat", "--without-gossip",
         "--without-mingle"],
        cwd=conftest.REGIONS_CSV.parents[2],
        env={**conftest.child_environment(), "IMPORT_LEASE_SECONDS": str(LEASE_SECONDS)})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if app.control.ping(timeout=0.5):
            return process
        assert process.poll() is None, "the Celery worker did not start"
    process.kill()
    pytest.fail("the Celery worker did not answer within 60 s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if (found := condition()):
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def worker_waiting_in_its_upsert(watch) -> bool:
    watch.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                  "AND wait_event_type = 'Lock' AND query ILIKE '%%INSERT INTO poverty_registry_household%%'")
    return watch.fetchone()[0] == 1


def ledger_backends(watch) -> int:
    """Backends still holding a ledger village lock (the killed worker's, until PostgreSQL ends it)."""
    watch.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s",
                  [locks.LEDGER_VILLAGE])
    return watch.fetchone()[0]


@pytest.fixture
def workers():
    started: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        started.append(start_worker())
        return started[-1]

    yield start
    for process in started:
        stop(process)


def test_a_confirm_whose_worker_is_killed_is_interrupted_and_retried(transactional_db, regions, clerk_a, client,
                                                                     settings, workers):
    settings.IMPORT_LEASE_SECONDS = LEASE_SECONDS  # the lease the confirm takes in this (web) process
    head = make_person(VILLAGE_A, seq=999, name="老户主", household_no=BLOCKER)
    rows = [row(f"H{i:03d}", f"新户{i}", i, VILLAGE_A) for i in range(1, 41)]
    rows.append([BLOCKER, head.name, head.id_number, "", "", "户主", "", VILLAGE_A, "", ""])
    run = importing.upload("ledger", ledger_xlsx(rows, title=None), "台账.xlsx", clerk_a)
    assert run.status == "previewed" and run.preview_counts["persons_created"] == 40
    ImportRun.objects.filter(pk=run.pk).update(background=True)  # confirmed on the worker, as a large file is
    worker = workers()
    client.force_login(clerk_a)
    with psycopg.connect(conftest.test_database_url(), autocommit=True) as observer, observer.cursor() as watch:
        with psycopg.connect(conftest.test_database_url()) as holder, holder.cursor() as cursor:
            cursor.execute("SELECT 1 FROM poverty_registry_household WHERE household_no = %s FOR UPDATE", [BLOCKER])
            client.post(reverse("imports:confirm", args=[run.pk]), {"sha256": run.file_id})
            # The worker's transaction has staged the file, locked the village, counted, and inserted the new
            # households; it waits on the blocker's row: kill it there.
            wait_for(lambda: worker_waiting_in_its_upsert(watch), 60, "the worker's upsert")
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
            killed_at = time.monotonic()
            holder.rollback()
        wait_for(lambda: ledger_backends(watch) == 0, 60, "PostgreSQL to end the killed worker's transaction")
    assert (Person.objects.count(), Household.objects.count()) == (1, 1)  # nothing of the import committed
    run.refresh_from_db()
    assert run.status == "importing"

    def expired() -> bool:
        import_leases.expire_leases()  # the beat task's body
        run.refresh_from_db()
        return run.status == "interrupted"

    wait_for(expired, 120 - (time.monotonic() - killed_at), "beat to mark the run interrupted")
    assert time.monotonic() - killed_at < 120
    assert run.message == import_leases.INTERRUPTED_MESSAGE and run.lease_until is None
    page = client.get(reverse("imports:detail", args=[run.pk])).content.decode()
    assert "已中断（可重试）" in page and 'id="retry-confirm"' in page and 'id="retry-preview"' in page
    assert (Person.objects.count(), Household.objects.count()) == (1, 1)

    workers()
    client.post(reverse("imports:retry", args=[run.pk]), {"step": "confirm"})
    run.refresh_from_db()
    assert run.status == "importing" and run.attempt == 2
    wait_for(lambda: run.refresh_from_db() or run.status not in ImportRun.RUNNING, 120, "the retried confirm")
    assert run.status == "imported", run.message
    assert run.result_counts == run.preview_counts
    assert (Person.objects.count(), Household.objects.count()) == (41, 41)
    assert verify_chain()[1] is None


def test_a_task_of_an_earlier_attempt_or_delivered_twice_does_nothing(transactional_db, regions, clerk_a):
    """acks_late with reject_on_worker_lost redelivers a task whose worker died: the redelivery of an attempt
    since retried, or of one already imported, writes nothing."""
    from poverty_registry.tasks import commit_import, preview_import

    run = importing.upload("ledger", ledger_xlsx([row("H001", "甲", 1, VILLAGE_A)], title=None), "台账.xlsx",
                           clerk_a)
    assert preview_import.run(run.pk, 0) == "previewed"  # the upload's own preview, delivered again
    run = importing.confirm(run.pk, clerk_a, run.file_id)
    assert run.status == "imported" and run.attempt == 1
    assert commit_import.run(run.pk, 1) == "imported"  # delivered twice
    assert commit_import.run(run.pk, 0) == "imported"  # an earlier attempt's
    assert Person.objects.count() == 1
    run.refresh_from_db()
    assert run.result_counts["persons_created"] == 1 and run.attempt == 1
