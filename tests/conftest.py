"""Shared fixtures: the demo region tree and the test personas (two townships' clerks, their county,
the city, a supervisor and an administrator)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in the test thread; the ORM calls around it are still sync.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

REGIONS_CSV = Path(__file__).resolve().parent.parent / "poverty_registry" / "fixtures" / "yueyang_regions.csv"
TOWNSHIP_A, VILLAGE_A = "430621100", "430621100201"  # 岳阳县荣家湾镇
TOWNSHIP_B, VILLAGE_B = "430626100", "430626100201"  # 平江县汉昌镇
COUNTY_A, CITY = "430621", "4306"
PASSWORD = "Ceshi-mima-2026"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from django.db import connection

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        # Test databases are flushed between transactional tests: let the audit table be truncated there.
        cursor.execute(f"ALTER DATABASE {connection.ops.quote_name(connection.settings_dict['NAME'])} "
                       "SET audit.maintenance = 'on'")
    connection.close()


@pytest.fixture(autouse=True)
def _figures_of_this_test_only():
    """The figure cache (poverty_registry/figures.py) lives in the tests' Redis and outlives a test: a figure
    one test computed must not show in the next, whose data differ. Only the figures' keys go (the broker
    shares the Redis database)."""
    from django.core.cache import cache

    from poverty_registry import figures

    figures.forget_failures()
    try:
        client = cache._cache.get_client(write=True)
        stale = list(client.scan_iter(cache.make_key(figures.figure_key(("*",)))))
        if stale:
            client.delete(*stale)
    except Exception:  # noqa: BLE001,S110 — no Redis: no figure kept either
        pass


@pytest.fixture
def regions(db):
    from poverty_registry.services import load_regions

    result = load_regions(REGIONS_CSV.read_text(encoding="utf-8"))
    assert not result.errors
    return result


def make_staff(username, region, role):
    from poverty_registry.services import save_staff

    return save_staff(username, region_code=region, role=role, password=PASSWORD)[0]


@pytest.fixture
def clerk_a(regions):
    return make_staff("clerk_a", TOWNSHIP_A, "township")


@pytest.fixture
def clerk_b(regions):
    return make_staff("clerk_b", TOWNSHIP_B, "township")


@pytest.fixture
def county_a(regions):
    return make_staff("county_a", COUNTY_A, "county")


@pytest.fixture
def city_officer(regions):
    return make_staff("city", CITY, "city")


@pytest.fixture
def supervisor(regions):
    return make_staff("supervisor", CITY, "supervisor")


@pytest.fixture
def administrator(regions):
    return make_staff("administrator", CITY, "admin")


def make_person(village: str, *, seq: int = 1, name: str = "张三", birth: str = "19800101", household_no=None,
                relation="户主"):
    from poverty_registry.idnumber import check_char
    from poverty_registry.models import Household, Person

    first17 = f"{village[:6]}{birth}{seq:03d}"
    household, _ = Household.objects.get_or_create(household_no=household_no or f"{village}{seq:05d}",
                                                   defaults={"region_id": village})
    return Person.objects.create(id_number=first17 + check_char(first17), name=name, household=household,
                                 relation=relation, region_id=village)


@pytest.fixture
def person_a(regions):
    return make_person(VILLAGE_A, name="荣家湾甲")


@pytest.fixture
def person_b(regions):
    return make_person(VILLAGE_B, name="汉昌乙")


def test_database_url() -> str:
    """The URL of the database this test run uses, for child processes (a Celery worker, a command)."""
    from django.db import connection

    settings = connection.settings_dict
    host = settings["HOST"] or settings.get("OPTIONS", {}).get("host", "")
    if host.startswith("/"):  # a Unix socket directory (the embedded server)
        return f"postgresql://{settings['USER']}@/{settings['NAME']}?host={host}"
    host, port = host or "127.0.0.1", settings["PORT"] or 5432
    return f"postgresql://{settings['USER']}@{host}:{port}/{settings['NAME']}"


def child_environment() -> dict:
    return {**os.environ, "DATABASE_URL": test_database_url(), "DJANGO_SETTINGS_MODULE": "config.settings_test"}


@pytest.fixture
def celery_worker_process(transactional_db):
    """A real Celery worker process on the test database and the test Redis; stopped after the test."""
    import subprocess
    import sys
    import time

    from config.celery import app

    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "-l", "warning",
         "-n", f"test-{os.getpid()}@%h", "--without-heartbeat", "--without-gossip", "--without-mingle"],
        cwd=REGIONS_CSV.parents[2], env=child_environment())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if app.control.ping(timeout=0.5):
            break
        assert process.poll() is None, "the Celery worker did not start"
    else:
        process.kill()
        pytest.fail("the Celery worker did not answer within 60 s")
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
