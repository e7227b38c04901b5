"""Running the screening: idempotent re-runs, stale hits, parameters per region and year, person runs, the
command, and agreement with a plain per-claim Python implementation on random claims."""
from __future__ import annotations

import datetime as dt
import io
import json
import random

import pytest
from django.core.management import call_command
from django.db import connection

from claims.models import ScreeningHit, SupervisionParam
from claims.supervision.rules import RULES
from claims.supervision.screening import (
    screen_claim,
    screen_claims_of_person,
    screen_on_commit,
    screen_persons,
    screen_year,
)
from tests.bench.bench_screening import python_screen_year
from tests.claims.supervision_helpers import claim, enrol, hits_of, hospital, id_number
from tests.conftest import COUNTY_A, VILLAGE_A, VILLAGE_B, make_person

pytestmark = pytest.mark.django_db


def readmission(person, first="R-1", second="R-2", days=15, region=None):
    claim(first, "2025-03-01", "2025-03-05", person=person)
    return claim(second, (dt.date(2025, 3, 5) + dt.timedelta(days=days)).isoformat(), "2025-04-30", person=person)


def test_rerun_never_duplicates_and_keeps_first_found(regions):
    p = make_person(VILLAGE_A, seq=101)
    readmission(p)
    assert screen_year(2025, ["R03"]) == {"R03": 1}
    first = ScreeningHit.objects.get()
    assert screen_year(2025, ["R03"]) == {"R03": 1}
    again = ScreeningHit.objects.get()
    assert again.pk == first.pk and again.found_at == first.found_at and again.checked_at > first.checked_at


def test_hit_that_no_longer_holds_is_deleted(regions):
    p = make_person(VILLAGE_A, seq=103)
    later = readmission(p)
    screen_year(2025, ["R03"])
    later.admission_date = dt.date(2025, 3, 21)  # day 16 now
    later.save()
    assert screen_year(2025, ["R03"]) == {"R03": 0}
    assert not ScreeningHit.objects.exists()


def test_region_and_year_parameters(regions):
    a = make_person(VILLAGE_A, seq=105)
    b = make_person(VILLAGE_B, seq=107)
    readmission(a, "A-1", "A-2", days=16)
    readmission(b, "B-1", "B-2", days=16)
    SupervisionParam.objects.create(code="R03", region_id=COUNTY_A, params={"days": 20}, severity="high")
    screen_year(2025, ["R03"])
    assert hits_of("R03") == {"A-2": ["A-1"]}
    assert ScreeningHit.objects.get().severity == "high"
    # A row for the year beats the row for all years; a township row beats the county's.
    SupervisionParam.objects.create(code="R03", region_id=COUNTY_A, year=2025, params={"days": 16})
    SupervisionParam.objects.create(code="R03", region_id="430621100", params={"days": 10})
    screen_year(2025, ["R03"])
    assert hits_of("R03") == {}
    SupervisionParam.objects.filter(region_id="430621100").delete()
    screen_year(2025, ["R03"])
    assert hits_of("R03") == {"A-2": ["A-1"]}
    assert ScreeningHit.objects.get().severity == "medium"  # the 2025 row has no severity: the default


def test_disabled_rule_finds_nothing(regions):
    p = make_person(VILLAGE_A, seq=109)
    readmission(p)
    screen_year(2025, ["R03"])
    SupervisionParam.objects.create(code="R03", region_id="43", enabled=False)
    assert screen_year(2025, ["R03"]) == {"R03": 0}
    assert not ScreeningHit.objects.exists()


def test_bad_parameters_are_refused_in_chinese(regions):
    from django.core.exceptions import ValidationError

    for params, message in (({"days": "十五"}, "须为整数"), ({"weeks": 2}, "没有参数：weeks"),
                            ({"days": -1}, "不能小于 0")):
        with pytest.raises(ValidationError, match=message):
            SupervisionParam(code="R03", region_id=COUNTY_A, params=params).full_clean()
    with pytest.raises(ValidationError, match="格式应为"):
        SupervisionParam(code="R04", region_id=COUNTY_A, params={"male": ["O00-O9"]}).full_clean()
    setting = SupervisionParam(code="R09", region_id=COUNTY_A, params={"max_days": "45"})
    setting.full_clean()
    assert setting.params == {"max_days": 45, "daily_floor": "100.00"} and setting.severity == "medium"


def test_person_run_touches_only_that_person_and_matches_year_run(regions):
    a = make_person(VILLAGE_A, seq=111)
    b = make_person(VILLAGE_A, seq=113)
    readmission(a, "A-1", "A-2")
    readmission(b, "B-1", "B-2")
    enrol(a.id_number, 2025)
    assert screen_persons([a.id_number], 2025) == {
        "R01": 0, "R02": 0, "R03": 1, "R04": 0, "R05": 0, "R06": 0, "R07": 0, "R08": 0, "R09": 0}
    assert set(hits_of("R03")) == {"A-2"}
    screen_year(2025)
    year_run = {(h.claim_id, h.rule) for h in ScreeningHit.objects.all()}
    ScreeningHit.objects.all().delete()
    screen_persons([a.id_number, b.id_number], 2025)
    assert {(h.claim_id, h.rule) for h in ScreeningHit.objects.all()} == year_run


def test_arriving_claim_screens_its_rules_and_next_years_claims(regions):
    p = make_person(VILLAGE_A, seq=115)
    enrol(p.id_number, 2025)
    enrol(p.id_number, 2026)
    later = claim("N-2", "2026-01-05", "2026-01-08", person=p)
    screen_claim(later)
    assert hits_of("R03") == {}
    late = claim("N-1", "2025-12-22", "2025-12-28", person=p)  # arrives late: N-2 is now a readmission
    screen_claim(late)
    assert hits_of("R03") == {"N-2": ["N-1"]}
    outpatient = claim("N-3", "2026-01-06", "2026-01-06", person=p, visit="special_outpatient", diag="O80")
    assert set(screen_claim(outpatient)) == {"R01", "R04", "R05", "R06", "R07"}
    assert set(hits_of("R04")) == {"N-3"}


def test_screen_on_commit_runs_after_the_transaction(regions, django_capture_on_commit_callbacks):
    p = make_person(VILLAGE_A, seq=117)
    readmission(p)
    with django_capture_on_commit_callbacks(execute=True):
        screen_on_commit([p.id_number], [2025])
        assert not ScreeningHit.objects.exists()
    assert set(hits_of("R03")) == {"R-2"}


def test_claims_of_person_entry_point(regions):
    p = make_person(VILLAGE_A, seq=119)
    readmission(p)
    assert screen_claims_of_person(p.id_number, 2025, ["R03"]) == {"R03": 1}


def test_command_prints_json_counts(regions):
    p = make_person(VILLAGE_A, seq=121)
    readmission(p)
    out = io.StringIO()
    call_command("screen_claims", "--year", "2025", "--json", stdout=out)
    assert json.loads(out.getvalue()) == {"hits": {
        "R01": 0, "R02": 0, "R03": 1, "R04": 0, "R05": 2, "R06": 0, "R07": 0, "R08": 0, "R09": 0}}
    out = io.StringIO()
    call_command("screen_claims", "--year", "2025", stdout=out)
    assert "R03 分解住院：1" in out.getvalue()


def test_sql_agrees_with_per_claim_python_on_random_claims(regions):
    """Random small worlds, dense enough to make every rule fire and miss, against the Python peer."""
    rng = random.Random(2026)
    hospitals = [hospital(f"Q{i}", level=level) for i, level in enumerate(("county", "county", "township"))]
    people = [make_person(VILLAGE_A, seq=200 + i, birth=rng.choice(["19800101", "20240301"])) for i in range(6)]
    strangers = [id_number("19900505", 300 + i) for i in range(2)]
    for p in people[:4]:
        enrol(p.id_number, 2025)
    people[0].death_date = dt.date(2025, 6, 1)
    people[0].save()
    for i in range(160):
        p = rng.choice(people + [None])
        adm = dt.date(2025, 1, 1) + dt.timedelta(days=rng.randrange(0, 200))
        claim(f"Z{i:03d}", adm.isoformat(), (adm + dt.timedelta(days=rng.choice([0, 1, 3, 8, 16, 31, 40]))).isoformat(),
              person=p, id_no=rng.choice(strangers), hosp=rng.choice(hospitals),
              diag=rng.choice(["J18.9", "J18.1", "J18.9", "O80", "N40", "P07.1", "C61"]),
              total=rng.choice(["100.00", "1000.00", "1000.00", "1000.00", "3500.00", "2999.99"]),
              visit=rng.choice(["inpatient", "inpatient", "special_outpatient"]))
    from claims.models import Claim

    for o in Claim.objects.order_by("id")[:20]:  # re-sent under another number
        Claim.objects.create(hospital=o.hospital, claim_no=f"{o.claim_no}D", hospital_level=o.hospital_level,
                             in_county=True, visit_type=o.visit_type, id_number=o.id_number, name=o.name,
                             person=o.person, admission_date=o.admission_date, discharge_date=o.discharge_date,
                             diagnosis=o.diagnosis, total_cost=o.total_cost, uncovered_cost=0, region_id=o.region_id)
    screen_year(2025)
    sql = {}
    for h in ScreeningHit.objects.all():
        sql.setdefault(h.claim_id, {})[h.rule] = h.evidence_claim_ids
    with connection.cursor() as cursor:
        python = {cid: hits for cid, hits in python_screen_year(cursor, 2025).items() if hits}
    assert sql == python
    assert {rule for hits in sql.values() for rule in hits} == set(RULES)  # every rule fired somewhere
