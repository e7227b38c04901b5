"""Settlement: re-settle a year after a policy change (set-based batch vs a per-claim ORM loop, side by side
on the same data) and the latency of settling one arriving claim.

Sizes (env): BENCH_SETTLE_PERSONS (100,000), BENCH_SETTLE_CLAIMS (300,000), BENCH_SETTLE_PEER_CLAIMS (3,000:
the ORM loop runs on a slice and is compared per claim), BENCH_SETTLE_ARRIVALS (300).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import random
import statistics
import time
from decimal import Decimal

from tests.bench.harness import Entry, celery_worker, steady_state, timed

YEAR = 2024
LEVELS = (("township", 30), ("county", 45), ("city", 20), ("province", 5))


def _env(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


def run() -> list[Entry]:
    from poverty_registry.audit.trail import audit_context

    persons = _env("BENCH_SETTLE_PERSONS", 100_000)
    claims = _env("BENCH_SETTLE_CLAIMS", 300_000)
    peer_claims = _env("BENCH_SETTLE_PEER_CLAIMS", 3_000)
    arrivals = _env("BENCH_SETTLE_ARRIVALS", 300)
    os.environ.setdefault("RESETTLE_WORKERS", "2")
    with audit_context(source="bench"):
        numbers = _seed(persons, claims)
        steady_state()
        with celery_worker(concurrency=int(os.environ["RESETTLE_WORKERS"])):  # as in production: a Celery job
            first = _resettle("首次结算")
            _change_policy("0.45")
            run, seconds = timed(_resettle, "政策调整重算")
            batch_rate = run.claims_done / seconds
        print(f"   batch: {run.claims_done} claims, {run.settlements_written} versions in {seconds:.1f} s", flush=True)
        _change_policy("0.50")
        done, peer_seconds = timed(_orm_loop, peer_claims)
        peer_rate = done / peer_seconds
        latencies = _arrivals(numbers, arrivals)
    p95 = statistics.quantiles(latencies, n=20)[-1] * 1000
    return [
        Entry("settlement first run claims/s", first.claims_done / first.seconds, "claims/s"),
        Entry(f"resettle year ({run.claims_done:,} claims) claims/s", batch_rate, "claims/s",
              peer="per-claim ORM loop", peer_value=peer_rate, ratio=batch_rate / peer_rate),
        Entry("settle one arriving claim p95", p95, "ms"),
        Entry("settle one arriving claim median", statistics.median(latencies) * 1000, "ms"),
    ]


def _seed(persons: int, claims: int) -> list[tuple[str, str]]:
    """Demo persons (with categories), their enrolment, a few hospitals and the year's claims, by COPY."""
    from django.db import connection, transaction

    from claims.models import Claim, Hospital
    from enrollment.models import Enrolment
    from poverty_registry.demo import seed_persons
    from poverty_registry.models import Person

    seed_persons(persons, 7)
    rng = random.Random(5)
    people = list(Person.objects.order_by("id").values_list("id", "id_number", "name", "region_id")[:persons])
    hospitals = [Hospital.objects.create(code=f"H{i:05d}", name=f"医院{i}", level=level, region_id="430621")
                 for i, (level, _) in enumerate(LEVELS * 3)]
    now = dt.datetime.now(dt.UTC)
    with transaction.atomic():
        _copy(connection, Enrolment, ["id_number", "name", "year", "status", "region_id", "person_id", "updated_at"],
              ((n, name, YEAR, "enrolled", region, pk, now) for pk, n, name, region in people if rng.random() < 0.97))
        _copy(connection, Claim, ["hospital_id", "claim_no", "hospital_level", "in_county", "referral", "visit_type",
                                  "id_number", "name", "person_id", "admission_date", "discharge_date", "diagnosis",
                                  "total_cost", "uncovered_cost", "year", "region_id", "status", "received_at"],
              (_claim_row(rng, i, people, hospitals, now) for i in range(claims)))
    return [(n, region) for _, n, _, region in people]


def _claim_row(rng, i, people, hospitals, now):
    pk, number, name, region = people[i % len(people)]
    where = rng.choice(hospitals)
    admission = dt.date(YEAR, 1, 1) + dt.timedelta(days=rng.randrange(350))
    total = Decimal(int(rng.lognormvariate(9, 0.9) * 100)) / 100
    uncovered = (total * Decimal(rng.randrange(0, 16)) / 100).quantize(Decimal("0.01"))
    visit = "inpatient" if rng.random() < 0.85 else "special_outpatient"
    return (where.pk, f"B{i:08d}", where.level, rng.random() < 0.8, rng.random() < 0.3, visit, number, name, pk,
            admission, admission + dt.timedelta(days=rng.randrange(0, 15)), "J18.900", total, uncovered, YEAR,
            region, "unsettled", now)


def _copy(connection, model, columns, rows):
    with connection.cursor() as cursor, cursor.connection.cursor().copy(
        f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN"
    ) as copy:
        for row in rows:
            copy.write_row(row)


def _resettle(reason: str):
    """Start the batch Celery job (claims.tasks) and wait until its run is done."""
    from claims.settlement.models import ResettleRun
    from claims.tasks import resettle_year_task

    run = ResettleRun.objects.create(year=YEAR, region_id="4306", reason=reason)
    started = time.perf_counter()
    resettle_year_task.delay(run.pk)
    while run.status not in ("done", "failed"):
        time.sleep(0.05)
        run = ResettleRun.objects.get(pk=run.pk)
    assert run.status == "done", run.message
    run.seconds = time.perf_counter() - started
    return run


def _change_policy(special_insurance_ratio: str) -> None:
    from claims.settlement.engine import PolicyParams
    from claims.settlement.policy_sets import params_of, policy_for, save_version

    base = policy_for(YEAR, "4306")
    params = params_of(base).to_dict()
    params["special_insurance"]["ratio"] = special_insurance_ratio
    params["basic"]["ratio"]["county"] = str(Decimal(params["basic"]["ratio"]["county"]) + Decimal("0.01"))
    save_version(YEAR, base.region, PolicyParams.from_dict(params), note="bench")


def _orm_loop(limit: int) -> int:
    """The straightforward way: for each claim in settlement order, load it and its person through the ORM,
    compute with the engine (year-to-date kept per person), save the old version and the new one."""
    from claims.models import Claim, Settlement, SettlementDetail
    from claims.settlement.engine import CategorySpan, ClaimFacts, PersonFacts, YearToDate, settle_claim
    from claims.settlement.policy_sets import params_of, policy_for
    from enrollment.models import Enrolment
    from poverty_registry.models import Person, PersonCategory

    ids = list(Claim.objects.filter(year=YEAR).order_by("id_number", "discharge_date", "claim_no")
               .values_list("pk", flat=True)[:limit])
    ytd: dict[str, YearToDate] = {}
    for pk in ids:
        claim = Claim.objects.get(pk=pk)
        person = Person.objects.filter(id_number=claim.id_number).first()
        spans = [CategorySpan(c.category, c.valid_from, c.valid_to)
                 for c in PersonCategory.objects.filter(person=person)] if person else []
        years = Enrolment.objects.filter(id_number=claim.id_number, status="enrolled").values_list("year", flat=True)
        facts = PersonFacts(claim.id_number, tuple(spans), frozenset(years), person.death_date if person else None)
        policy = policy_for(claim.year, claim.region_id)
        result, ytd[claim.id_number] = settle_claim(facts, ClaimFacts(
            claim.claim_no, claim.hospital_level, claim.in_county, claim.visit_type, claim.referral,
            claim.admission_date, claim.discharge_date, claim.diagnosis, claim.total_cost, claim.uncovered_cost,
        ), params_of(policy), ytd.get(claim.id_number))
        old = Settlement.objects.filter(claim=claim, is_current=True).first()
        if old:
            old.is_current = False
            old.save(update_fields=["is_current"])
        version = Settlement.objects.create(
            claim=claim, version=(old.version if old else 0) + 1, policy=policy, category=result.category or "",
            enrolled=result.enrolled, **{t.tier: t.amount for t in result.tiers}, self_pay=result.self_pay,
            reason="逐单重算", region_id=claim.region_id)
        SettlementDetail.objects.create(settlement=version, detail=json.dumps(result.to_dict(), ensure_ascii=False))
        claim.status = "settled"
        claim.save(update_fields=["status"])
    return len(ids)


def _arrivals(numbers: list[tuple[str, str]], count: int) -> list[float]:
    """A new claim for a random person, saved; then the time to settle it (its person-year), committed."""
    from claims.models import Claim, Hospital
    from claims.settlement.services import settle_claims

    rng = random.Random(9)
    where = Hospital.objects.filter(level="county").first()
    latencies = []
    for i in range(count):
        number, region = rng.choice(numbers)
        admission = dt.date(YEAR, 12, 1) + dt.timedelta(days=rng.randrange(20))
        claim = Claim.objects.create(
            hospital=where, claim_no=f"A{i:06d}", hospital_level="county", in_county=True, visit_type="inpatient",
            id_number=number, name="到达", admission_date=admission, discharge_date=admission + dt.timedelta(days=5),
            diagnosis="J18.900", total_cost=Decimal("8000.00"), uncovered_cost=Decimal("600.00"), region_id=region)
        started = time.perf_counter()
        settle_claims([claim.pk])
        latencies.append(time.perf_counter() - started)
    return latencies
