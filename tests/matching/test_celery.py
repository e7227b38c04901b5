"""The run on real Celery workers (separate processes against the test database): two workers share the
counties and a chord gathers the report; a worker killed mid-run, then started again, gives the same result
with no duplicates; two starts never make two runs."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from poverty_registry.models import MatchingItem, MatchingRun, MatchingShard, MatchLink
from tests.conftest import VILLAGE_A
from tests.matching.scenario import RUN_DATE, plant_everything

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))


def database_url() -> str:
    from tests.conftest import test_database_url

    return test_database_url()


class Workers:
    """Celery worker processes (solo pool: the process is the task, so killing it kills the task)."""

    def __init__(self):
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str) -> None:
        env = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": settings.REDIS_URL,
               "DJANGO_SETTINGS_MODULE": "config.settings_test", "MATCHING_INBOX": str(settings.MATCHING_INBOX)}
        self.processes[name] = subprocess.Popen(
            [CELERY, "-A", "config", "worker", "--pool=solo", "--prefetch-multiplier=1", "-n", f"{name}@%h",
             "--without-gossip", "--without-mingle", "-l", "warning"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.wait_ready(name)

    def wait_ready(self, name: str, timeout: float = 60) -> None:
        from config.celery import app

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            replies = app.control.ping(timeout=0.5) or []
            if any(name in host for reply in replies for host in reply):
                return
            assert self.processes[name].poll() is None, f"worker {name} exited"
        raise AssertionError(f"worker {name} did not start")

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.kill(name)


@pytest.fixture
def workers(regions):
    import redis

    redis.Redis.from_url(settings.REDIS_URL).flushdb()  # our own Redis DB: no messages left from earlier runs
    started = Workers()
    yield started
    started.stop_all()


def wait_for(predicate, timeout: float = 120, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def finished_run(run_id: int) -> MatchingRun:
    return wait_for(lambda: MatchingRun.objects.filter(pk=run_id).exclude(status="running").first(),
                    what=f"run {run_id} to finish")


def start(inbox, timeout: float = 60) -> dict:
    from poverty_registry.matching_tasks import start_matching

    return start_matching.delay(str(inbox), "test", RUN_DATE.isoformat()).get(timeout=timeout)


def open_keys() -> list[str]:
    return sorted(MatchingItem.objects.filter(status__in=("new", "in_progress")).values_list("key", flat=True))


def test_two_workers_run_the_job_end_to_end(workers, inbox):
    planted = plant_everything(inbox)
    workers.start("w1")
    workers.start("w2")
    started = start(inbox)
    assert started["status"] == "dispatched"
    run = finished_run(started["run_id"])
    assert run.status == "finished"
    assert run.counts == planted.expected
    shards = MatchingShard.objects.filter(run=run)
    assert {s.status for s in shards} == {"done"}
    assert len({s.done_by.split("@")[0] for s in shards}) == 2  # both workers took counties
    assert len(open_keys()) == sum(planted.expected.values())
    again = finished_run(start(inbox)["run_id"])
    assert again.counts == planted.expected and len(open_keys()) == sum(planted.expected.values())


@pytest.fixture
def side_connection():
    """A second database connection of the test (closed even when the test fails)."""
    conn = psycopg.connect(database_url())
    yield conn
    conn.close()


def test_killed_worker_then_restarted_gives_the_same_result(workers, inbox, side_connection):
    planted = plant_everything(inbox)
    blocked_key = f"M03:{planted.persons['unlisted'].pk}"
    earlier = MatchingRun.objects.create(run_date=RUN_DATE, inbox=str(inbox), status="finished", phase="finished")
    # An uncommitted item with a key the county 430621 will write: that county's shard waits on it, mid-run.
    # (Triggers off on this connection: the audit trigger's chain lock would hold up every other writer.)
    blocker = side_connection
    blocker.execute("SET session_replication_role = replica")
    blocker.execute(
        "INSERT INTO poverty_registry_matchingitem (code, key, status, region_id, id_number, name, source, summary,"
        " detail, note, first_run_id, created_at, updated_at) VALUES ('M03', %s, 'new', %s, '', '', '', '', '{}', '',"
        " %s, now(), now())", [blocked_key, VILLAGE_A, earlier.pk])
    workers.start("w1")
    run_id = start(inbox)["run_id"]
    before = {"", "430602", "430603", "430611"}  # shards run in county order; "" is above the counties
    wait_for(lambda: set(MatchingShard.objects.filter(run_id=run_id, status="done").values_list("county", flat=True))
             == before, what="the counties before 430621")
    wait_for(_waiting_on_lock, what="the 430621 shard to wait")
    workers.kill("w1")  # mid-run: four shards done, one in progress, the rest queued
    blocker.rollback()
    assert MatchingRun.objects.get(pk=run_id).status == "running"
    done_before = dict(MatchingShard.objects.filter(run_id=run_id, status="done").values_list("county", "finished_at"))

    workers.start("w2")
    restarted = wait_for(lambda: _start_unless_busy(inbox), what="the restarted run")
    assert restarted["run_id"] == run_id and restarted["resumed"]
    run = finished_run(run_id)
    assert run.status == "finished" and run.counts == planted.expected
    assert MatchingRun.objects.filter(status="finished").exclude(pk=earlier.pk).count() == 1
    keys = open_keys()
    assert len(keys) == len(set(keys)) == sum(planted.expected.values())
    assert blocked_key in keys
    assert MatchLink.objects.count() == 1
    redone = dict(MatchingShard.objects.filter(run_id=run_id, county__in=done_before).values_list("county",
                                                                                                  "finished_at"))
    assert redone == done_before  # finished counties were not done again


def _waiting_on_lock() -> bool:
    # Asked on the test's own autocommit connection: inside the blocker's open transaction
    # pg_stat_activity would be the snapshot taken at its first read.
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event_type = 'Lock'")
        return cursor.fetchone()[0] > 0


def _start_unless_busy(inbox):
    result = start(inbox)
    return result if result["status"] == "dispatched" else None


def test_two_starts_never_make_two_runs(workers, inbox, side_connection):
    from poverty_registry.matching import run as matching

    run, resumed = matching.begin(inbox, "first", RUN_DATE)
    holder = side_connection
    holder.execute("SELECT 1 FROM poverty_registry_matchingrun WHERE id = %s FOR UPDATE", [run.pk])
    with pytest.raises(matching.AlreadyRunning, match=f"第{run.pk}次比对正在进行中"):
        matching.begin(inbox, "second", RUN_DATE)
    workers.start("w1")
    assert start(inbox)["status"] == "already_running"
    holder.rollback()
    assert start(inbox) == {"run_id": run.pk, "status": "dispatched", "resumed": True}
    assert finished_run(run.pk).status == "finished"
    assert MatchingRun.objects.count() == 1
