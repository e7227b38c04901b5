"""A Celery worker SIGKILLed in the middle of a batch re-settlement: the chunk it was writing is rolled
back whole (no settlement version without its claim marked, no half a person-year), the run is not left
"结算中" for ever (its lease expires and beat's resettle.recover queues it again), and the resumed run
ends as an uninterrupted one would: one version per claim, and a re-settlement afterwards finds nothing to
change."""
from __future__ import annotations

import datetime as dt

import psycopg
import pytest
from django.conf import settings
from django.db import connection, transaction

from claims.models import Claim, Settlement
from tests.claims.settlement_helpers import policies  # noqa: F401
from tests.claims.test_resettle_parallel import _persons_with_claims
from tests.matching.test_celery import Workers, wait_for
from tests.reliability.audit_check import assert_audit_verifies

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def workers(regions):
    import redis

    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    started = Workers()
    yield started
    started.stop_all()


@pytest.fixture
def blocker():
    from tests.conftest import test_database_url

    conn = psycopg.connect(test_database_url())
    yield conn
    conn.close()


def _last_bucket_claim() -> int:
    """A claim of the person-years settled last (the chunks go in bucket order)."""
    from claims.settlement.services import BUCKET_SQL, LOCK_BUCKETS

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM claims_claim ORDER BY {BUCKET_SQL.format('id_number')} DESC, id LIMIT 1",
                       [LOCK_BUCKETS])
        return cursor.fetchone()[0]


def _chunk_waits_on_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event_type = 'Lock'")
        return cursor.fetchone()[0] > 0


def test_worker_killed_mid_resettlement_is_resumed_by_its_lease(regions, policies, workers, blocker,  # noqa: F811
                                                                 settings, monkeypatch):
    from claims.settlement.models import ResettleRun
    from claims.settlement.services import abandoned_resettle_runs, resettle_year, start_resettle
    from claims.tasks import recover_resettle_runs

    _persons_with_claims(6)
    blocked = _last_bucket_claim()
    # The last chunk's transaction writes its versions, then waits to mark this claim settled.
    blocker.execute("SELECT 1 FROM claims_claim WHERE id = %s FOR UPDATE", [blocked])
    # One task per run: the killed worker's task is the only message, lost with it (no sibling left queued
    # that a new worker would take up by chance).
    monkeypatch.setenv("RESETTLE_WORKERS", "1")
    workers.start("w1")
    with transaction.atomic():
        run = start_resettle(2024, "4306", reason="首次结算")
    wait_for(lambda: ResettleRun.objects.get(pk=run.pk).persons_done > 0, what="a chunk done")
    wait_for(_chunk_waits_on_lock, what="the last chunk to be mid-transaction")
    workers.kill("w1")
    blocker.rollback()

    run.refresh_from_db()
    assert run.status == "running" and 0 < run.persons_done < run.persons_total
    # Nothing half-written: every committed version belongs to a claim marked settled, and none is of the
    # chunk that was killed.
    versions = set(Settlement.objects.values_list("claim_id", flat=True))
    assert blocked not in versions and versions
    assert versions == set(Claim.objects.filter(status="settled").values_list("pk", flat=True))
    assert Settlement.objects.count() == run.settlements_written
    assert_audit_verifies()

    # Within the lease nothing happens; once it expired, beat queues the run again and a new worker ends it.
    assert recover_resettle_runs.apply().get() == []
    settings.RESETTLE_LEASE_SECONDS = 0
    assert abandoned_resettle_runs(dt.timedelta(0)) == [run.pk]
    workers.start("w2")
    assert recover_resettle_runs.apply().get() == [run.pk]
    run = wait_for(lambda: ResettleRun.objects.filter(pk=run.pk, status__in=("done", "failed")).first(),
                   what="the resumed run")
    assert (run.status, run.persons_done, run.claims_done, run.settlements_written) == ("done", 6, 12, 12), \
        run.message
    assert "工作进程中断" in run.message and "自动接续" in run.message
    assert sorted(Settlement.objects.values_list("claim_id", "version")) == \
        sorted((pk, 1) for pk in Claim.objects.values_list("pk", flat=True))
    assert recover_resettle_runs.apply().get() == []
    workers.stop_all()

    # The result is an uninterrupted run's: settling everything again changes nothing.
    again = ResettleRun.objects.create(year=2024, region_id="4306", reason="核对")
    again = resettle_year(again.pk)
    assert (again.status, again.claims_done, again.settlements_written, again.paid_difference) == ("done", 12, 0, 0)
    assert_audit_verifies()
