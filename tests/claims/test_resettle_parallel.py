"""A batch re-settlement shared out between workers: two at once in threads (each its own connection), and
the Celery fan-out on a real worker. Each chunk is settled once, every claim gets exactly one new version."""
from __future__ import annotations

import threading

import pytest
from django.db import connection

from claims.models import Settlement
from tests.claims.settlement_helpers import category, claim, enrol, policies  # noqa: F401
from tests.conftest import VILLAGE_A, make_person


def _persons_with_claims(count: int) -> list:
    persons = [make_person(VILLAGE_A, seq=200 + i, name=f"并行{i}") for i in range(count)]
    for i, p in enumerate(persons):
        category(p, "dibao" if i % 2 else "tuopin")
        enrol(p, 2024)
        claim(p, no=f"P{p.pk}a")
        claim(p, no=f"P{p.pk}b", total="3000.00", uncovered="100.00")
    return persons


@pytest.mark.django_db(transaction=True)
def test_two_workers_share_out_the_chunks(regions, policies):  # noqa: F811
    from claims.settlement.models import ResettleRun
    from claims.settlement.services import prepare_resettle, resettle_chunks

    _persons_with_claims(12)
    run = ResettleRun.objects.create(year=2024, region_id="4306", reason="首次结算")
    prepare_resettle(run.pk, chunk_persons=2)
    assert run.chunks.count() >= 6
    results, errors = [], []

    def worker():
        try:
            results.append(resettle_chunks(run.pk).status)
        except Exception as exc:  # pragma: no cover - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    run.refresh_from_db()
    assert (run.status, run.persons_total, run.persons_done, run.claims_done, run.settlements_written) == \
        ("done", 12, 12, 24, 24)
    assert not run.chunks.filter(done=False).exists()
    assert sorted(Settlement.objects.values_list("version", flat=True)) == [1] * 24


def test_the_celery_job_fans_out_and_finishes(regions, policies, celery_worker_process):  # noqa: F811
    """The worker's RESETTLE_WORKERS (its core count) tasks share the chunks; the solo pool runs them in turn."""
    import time

    from claims.settlement.models import ResettleRun
    from claims.settlement.services import start_resettle

    _persons_with_claims(5)
    from django.db import transaction

    with transaction.atomic():
        run = start_resettle(2024, "4306", reason="首次结算")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run = ResettleRun.objects.get(pk=run.pk)
        if run.status in ("done", "failed"):
            break
        time.sleep(0.2)
    assert (run.status, run.persons_done, run.claims_done, run.settlements_written) == ("done", 5, 10, 10), \
        run.message
    assert Settlement.objects.filter(is_current=True).count() == 10
