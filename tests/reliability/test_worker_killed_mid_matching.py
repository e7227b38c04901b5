"""A Celery worker SIGKILLed in the middle of the nightly matching: the county it was on is rolled back
whole, the run is not left "running" until the next night (its lease expires and beat's matching.recover
resumes it), and the resumed run ends with the uninterrupted run's result."""
from __future__ import annotations

import datetime as dt

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from poverty_registry.models import MatchingItem, MatchingRun, MatchingShard
from tests.conftest import VILLAGE_A
from tests.matching.scenario import RUN_DATE, plant_everything
from tests.matching.test_celery import Workers, finished_run, start, wait_for
from tests.reliability.audit_check import assert_audit_verifies

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
KILLED_COUNTY = VILLAGE_A[:6]


@pytest.fixture
def inbox(tmp_path, settings):
    folder = tmp_path / "inbox"
    folder.mkdir()
    settings.MATCHING_INBOX = folder
    return folder


@pytest.fixture
def workers(regions):
    import redis

    redis.Redis.from_url(settings.REDIS_URL).flushdb()  # our own Redis DB: no messages left from earlier runs
    started = Workers()
    yield started
    started.stop_all()


@pytest.fixture
def blocker():
    """A second connection holding an uncommitted work item the killed county will want to write: its
    shard waits there, mid-transaction, when the worker is killed."""
    from tests.conftest import test_database_url

    conn = psycopg.connect(test_database_url())
    yield conn
    conn.close()


def _county_waits_on_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event_type = 'Lock'")
        return cursor.fetchone()[0] > 0


def test_worker_killed_mid_matching_is_resumed_by_its_lease(workers, inbox, blocker, settings):
    from poverty_registry.matching import run as matching
    from poverty_registry.matching_tasks import recover_matching

    planted = plant_everything(inbox)
    earlier = MatchingRun.objects.create(run_date=RUN_DATE, inbox=str(inbox), status="finished", phase="finished")
    blocked_key = f"M03:{planted.persons['unlisted'].pk}"
    blocker.execute("SET session_replication_role = replica")  # no audit trigger: its chain lock would block all
    blocker.execute(
        "INSERT INTO poverty_registry_matchingitem (code, key, status, region_id, id_number, name, source, summary,"
        " detail, note, first_run_id, created_at, updated_at) VALUES ('M03', %s, 'new', %s, '', '', '', '', '{}', '',"
        " %s, now(), now())", [blocked_key, VILLAGE_A, earlier.pk])
    workers.start("w1")
    run_id = start(inbox)["run_id"]
    wait_for(lambda: MatchingShard.objects.filter(run_id=run_id, county__lt=KILLED_COUNTY, status="done").exists(),
             what="a county done before the killed one")
    wait_for(_county_waits_on_lock, what=f"the {KILLED_COUNTY} shard to be mid-transaction")
    workers.kill("w1")
    blocker.rollback()

    # Nothing half-written: the killed county's shard is pending and none of its items were committed.
    assert MatchingShard.objects.get(run_id=run_id, county=KILLED_COUNTY).status == "pending"
    assert not MatchingItem.objects.filter(first_run_id=run_id, region__code__startswith=KILLED_COUNTY).exists()
    assert MatchingRun.objects.get(pk=run_id).status == "running"
    assert_audit_verifies()

    # Within the lease nobody touches it (a busy queue is not a dead worker); once it expired, beat resumes it.
    assert recover_matching.apply().get() == {}
    settings.MATCHING_LEASE_SECONDS = 0
    assert matching.abandoned_run(dt.timedelta(0)).pk == run_id
    workers.start("w2")
    assert recover_matching.apply().get() == {"run_id": run_id, "status": "dispatched", "resumed": True}
    run = finished_run(run_id)

    assert run.status == "finished" and run.counts == planted.expected
    assert "工作进程中断" in run.message and "自动接续" in run.message
    open_keys = list(MatchingItem.objects.filter(status__in=("new", "in_progress")).values_list("key", flat=True))
    assert len(open_keys) == len(set(open_keys)) == sum(planted.expected.values())
    assert blocked_key in open_keys
    assert MatchingRun.objects.filter(status="running").count() == 0
    assert recover_matching.apply().get() == {}  # nothing left to recover
    assert_audit_verifies()
