"""Settlement through the database (claims.settlement.services): the §6.5 example, versions, late claims, unenrolled,
parameter changes, the year-to-date totals behind the §9 warning list."""
from __future__ import annotations

from decimal import Decimal

import pytest

from claims.models import Claim, Settlement
from claims.settlement.services import REASON_FIRST, REASON_LATE_CLAIM, REASON_POLICY, settle_claims
from tests.claims.settlement_helpers import amounts, category, claim, current, enrol, policies  # noqa: F401
from tests.conftest import VILLAGE_A, make_person

pytestmark = pytest.mark.django_db


@pytest.fixture
def dibao(regions, policies):  # noqa: F811
    person = make_person(VILLAGE_A, seq=11, name="低保甲")
    category(person, "dibao")
    enrol(person, 2024)
    return person


def test_worked_example_6_5_through_the_database(dibao):
    c = claim(dibao)
    outcome = settle_claims([c.pk])
    assert (outcome.person_years, outcome.claims, outcome.written, outcome.first_settled) == (1, 1, 1, 1)
    s = current(c)
    assert amounts(s) == ("14200.00", "0.00", "2660.00", "157.00", "1193.20", "0.00", "1789.80")
    assert (s.version, s.category, s.enrolled, s.reason) == (1, "dibao", True, REASON_FIRST)
    assert s.policy.code == "4306-2024-v1"
    assert s.region_id == VILLAGE_A
    assert s.detail["effective_ratio"] == "0.9105"
    assert [t["amount"] for t in s.detail["tiers"]] == ["14200.00", "0.00", "2660.00", "157.00", "1193.20", "0.00"]
    assert s.detail["tiers"][0]["deductible"] == "250.00"
    assert s.detail["tiers"][0]["ratio"] == "0.80"
    assert "起付线250.00元" in s.detail["tiers"][0]["note"]
    c.refresh_from_db()
    assert c.status == "settled"


def test_settling_again_without_change_writes_nothing(dibao):
    c = claim(dibao)
    settle_claims([c.pk])
    outcome = settle_claims([c.pk])
    assert (outcome.claims, outcome.written) == (1, 0)
    assert Settlement.objects.filter(claim=c).count() == 1


def test_unenrolled_person_gets_nothing_but_is_settled(regions, policies):  # noqa: F811
    person = make_person(VILLAGE_A, seq=12, name="未参保")
    category(person, "dibao")
    enrol(person, 2023)  # enrolled the year before only
    c = claim(person, total="5000.00", uncovered="0.00")
    settle_claims([c.pk])
    s = current(c)
    assert amounts(s) == ("0.00",) * 6 + ("5000.00",)
    assert s.enrolled is False
    assert "2024年度未参保" in s.detail["tiers"][0]["note"]


def test_late_claim_resettles_the_year_and_keeps_old_versions(dibao):
    # First claim settled alone: basic 14,200 (as §6.5), tier 2 sees A = 3,800 < 7,500.
    later = claim(dibao, no="C2", admitted="2024-06-01")
    settle_claims([later.pk])
    assert amounts(current(later))[:2] == ("14200.00", "0.00")
    # An earlier admission arrives late: T 20,000, U 2,000 in March → a = 3,800, so A before C2 = 3,800.
    # C2 now: a = 3,800, A+a = 7,600 → f = (7,600 − 7,500) × 65% = 65.00 of 大病保险.
    early = claim(dibao, no="C1", admitted="2024-03-01")
    outcome = settle_claims([early.pk])
    assert (outcome.claims, outcome.written, outcome.first_settled) == (2, 2, 1)
    assert amounts(current(early))[:3] == ("14200.00", "0.00", "2660.00")
    new = current(later)
    assert (new.version, new.reason, new.critical) == (2, REASON_LATE_CLAIM, Decimal("65.00"))
    # Sc after tier 2 = 3,800 − 65 = 3,735; 医疗救助 70% = 2,614.50; S = 5,800 − 65 − 2,614.50 = 3,120.50;
    # 减免 156.03 (3,120.50 × 5% = 156.025 → 156.03); S = 2,964.47; 特惠保 40% = 1,185.79 (1,185.788);
    # S = 1,778.68; limit 2,000 ≥ S → 兜底 0.
    assert amounts(new) == ("14200.00", "65.00", "2614.50", "156.03", "1185.79", "0.00", "1778.68")
    old = Settlement.objects.get(claim=later, version=1)
    assert old.is_current is False
    assert amounts(old) == ("14200.00", "0.00", "2660.00", "157.00", "1193.20", "0.00", "1789.80")
    # the difference to pay: new total paid − old total paid = (20,000 − 1,778.68) − (20,000 − 1,789.80)
    assert outcome.paid_difference == Decimal("18210.20") + Decimal("11.12")


def test_parameter_change_writes_new_versions_with_the_new_policy(dibao, policies):  # noqa: F811
    from claims.settlement.policy_sets import params_of, save_version

    c = claim(dibao)
    settle_claims([c.pk])
    base = policies[2024]
    params = params_of(base).to_dict()
    params["special_insurance"]["ratio"] = "0.50"
    from claims.settlement.engine import PolicyParams

    new_policy = save_version(2024, base.region, PolicyParams.from_dict(params), note="特惠保提至50%")
    base.refresh_from_db()
    assert (base.in_force, new_policy.in_force, new_policy.version, new_policy.code) == \
        (False, True, 2, "4306-2024-v2")
    from claims.settlement.services import resettle_year, start_resettle

    run = start_resettle(2024, "4306", policy=new_policy)
    run = resettle_year(run.pk)
    assert (run.status, run.persons_total, run.persons_done, run.claims_done, run.settlements_written) == \
        ("done", 1, 1, 1, 1)
    s = current(c)
    # S before tier 5 = 2,983.00 → 50% = 1,491.50; S = 1,491.50 < limit 2,000 → 兜底 0.
    assert amounts(s) == ("14200.00", "0.00", "2660.00", "157.00", "1491.50", "0.00", "1491.50")
    assert (s.version, s.policy_id, s.reason) == (2, new_policy.pk, REASON_POLICY)
    assert Settlement.objects.get(claim=c, version=1).policy_id == base.pk
    assert run.paid_difference == Decimal("298.30")


def test_county_policy_wins_over_the_city_one(dibao, policies):  # noqa: F811
    from claims.settlement.engine import PolicyParams
    from claims.settlement.policy_sets import params_of, policy_for, save_version
    from poverty_registry.models import Region

    params = params_of(policies[2024]).to_dict()
    params["hospital_waiver"]["ratio"] = "0"
    county = save_version(2024, Region.objects.get(code="430621"), PolicyParams.from_dict(params))
    assert (county.code, county.version) == ("430621-2024-v1", 1)
    assert policy_for(2024, VILLAGE_A) == county
    assert policy_for(2024, "430626100201") == policies[2024]
    c = claim(dibao)
    settle_claims([c.pk])
    assert current(c).hospital_waiver == Decimal("0.00")


def test_year_totals_put_a_person_on_the_warning_list(regions, policies):  # noqa: F811
    from claims.models import CountyIncome, PersonYearTotal

    CountyIncome.objects.create(region_id="430621", year=2023, amount=Decimal("16000.00"))
    person = make_person(VILLAGE_A, seq=13, name="非贫困")
    enrol(person, 2024)
    # non-poor, 县级: basic (30,000 − 500) × 70% = 20,650; Sc = 29,500 − 20,650 = 8,850 < 15,000 → 0
    # self-pay 9,350 > min(10,000, 50% × 16,000 = 8,000) → on the list
    c = claim(person, total="30000.00", uncovered="0.00")
    settle_claims([c.pk])
    total = PersonYearTotal.objects.get(id_number=person.id_number, year=2024)
    assert (total.self_pay, total.threshold, total.at_risk, total.claim_count) == \
        (Decimal("9350.00"), Decimal("8000.00"), True, 1)


def test_claim_without_policy_stays_unsettled(regions):
    from claims.models import PolicySet

    PolicySet.objects.all().delete()
    person = make_person(VILLAGE_A, seq=14)
    enrol(person, 2024)
    c = claim(person)
    outcome = settle_claims([c.pk])
    assert outcome.written == 0
    assert "未找到2024年度适用于区划430621100201的现行结算政策" in outcome.unsettled[c.pk]
    assert Claim.objects.get(pk=c.pk).status == "unsettled"


def test_a_crashed_batch_resumes_where_it_stopped(regions, policies, monkeypatch):  # noqa: F811
    import claims.settlement.services as services
    from claims.settlement.models import ResettleRun
    from claims.settlement.services import resettle_year

    persons = [make_person(VILLAGE_A, seq=60 + i, name=f"批量{i}") for i in range(3)]
    for p in persons:
        enrol(p, 2024)
        claim(p, no=f"B{p.pk}")
    real, calls = services.settle_person_years, []

    def crash_on_second_chunk(keys, **kwargs):
        calls.append(keys)
        if len(calls) == 2:
            raise RuntimeError("worker lost")
        return real(keys, **kwargs)

    monkeypatch.setattr(services, "settle_person_years", crash_on_second_chunk)
    run = ResettleRun.objects.create(year=2024, region_id="4306", reason="首次结算")
    with pytest.raises(RuntimeError):
        resettle_year(run.pk, chunk_persons=1)
    run.refresh_from_db()
    assert (run.status, run.persons_done, run.settlements_written) == ("running", 1, 1)
    assert run.chunks.filter(done=True).count() == 1 and run.chunks.count() == 3
    monkeypatch.setattr(services, "settle_person_years", real)
    run = resettle_year(run.pk, chunk_persons=1)
    assert (run.status, run.persons_total, run.persons_done, run.claims_done, run.settlements_written) == \
        ("done", 3, 3, 3, 3)
    assert set(Settlement.objects.values_list("version", flat=True)) == {1}


def test_a_large_batch_goes_through_the_staging_table(regions, policies):  # noqa: F811
    from claims.models import PersonYearTotal
    from claims.settlement.services import SMALL_WRITE, settle_person_years

    persons = [make_person(VILLAGE_A, seq=100 + i, name=f"大批{i}") for i in range(SMALL_WRITE + 6)]
    for p in persons:
        category(p, "dibao")
        enrol(p, 2024)
        claim(p, no=f"L{p.pk}")
    outcome = settle_person_years([(p.id_number, 2024) for p in persons], reason="测试")
    assert (outcome.claims, outcome.written, outcome.first_settled) == (70, 70, 70)
    assert set(Settlement.objects.values_list("self_pay", flat=True)) == {Decimal("1789.80")}
    assert PersonYearTotal.objects.filter(year=2024, self_pay=Decimal("1789.80")).count() == 70
