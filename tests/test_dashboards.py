"""The home page per role: the numbers each role answers for this year, computed on sample data (exact values),
each with its monthly trend as a server-rendered SVG that parses as XML, in a bounded number of queries."""
from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.conftest import VILLAGE_A, VILLAGE_B, make_person

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()
YEAR = TODAY.year
ALL_TILES = ["enrolment_rate", "subsidy_paid", "oneshop_ratio", "low_self_pay", "fraud_hits", "money_recovered",
             "matching_open"]


def on(month: int, day: int = 1) -> dt.date:
    """A date of this year no later than today (the trend does not draw months still to come)."""
    return min(dt.date(YEAR, month, day), TODAY)


def at(date: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(date, dt.time(10)))


@pytest.fixture
def world(regions):
    from claims.models import Case, Claim, Recovery, ScreeningHit, Settlement
    from enrollment.models import Enrolment, SubsidyLine, SubsidyPolicy
    from enrollment.subsidy_rules import default_rules
    from poverty_registry.models import MatchingItem, MatchingRun
    from tests.claims.supervision_helpers import hospital
    from tests.conftest import make_staff

    # Four registered in township A: enrolled (paid last November, in March, in May) and one not; one in B.
    persons = [make_person(VILLAGE_A, seq=i, name=f"甲{i}") for i in range(1, 5)]
    for person, paid in zip(persons, (dt.date(YEAR - 1, 11, 1), on(3, 10), on(5, 2)), strict=False):
        Enrolment.objects.create(id_number=person.id_number, name=person.name, year=YEAR, status="enrolled",
                                 paid_date=paid, region_id=VILLAGE_A, person=person)
    outsider = make_person(VILLAGE_B, seq=1, name="乙")
    Enrolment.objects.create(id_number=outsider.id_number, name=outsider.name, year=YEAR, status="enrolled",
                             paid_date=on(2), region_id=VILLAGE_B, person=outsider)

    policy = SubsidyPolicy.objects.create(year=YEAR, region_id=VILLAGE_A[:9], premium=Decimal("400"),
                                          cutoff_date=dt.date(YEAR - 1, 12, 31), rules=default_rules())
    for person, amount, computed in ((persons[0], "100.00", on(2)), (persons[1], "50.50", on(4))):
        SubsidyLine.objects.create(person=person, id_number=person.id_number, name=person.name, year=YEAR,
                                   category="tekun", premium=Decimal("400"), subsidy=Decimal(amount),
                                   fund="医疗救助资金", policy=policy, region_id=VILLAGE_A, computed_at=at(computed))

    # Settled claims: two poor in-county inpatients (8 % and 15 % self-pay), a poor special outpatient and a
    # non-poor inpatient (left out of the poor's ratio): (22,000 − 2,500) / 22,000 = 88.64 %, 1 of 2 ≤ 10 %.
    hosp = hospital()
    claims = []
    for no, (category, visit, total, self_pay, admitted) in enumerate((
            ("dibao", "inpatient", "10000.00", "800.00", on(2, 10)),
            ("tekun", "inpatient", "10000.00", "1500.00", on(4, 1)),
            ("dibao", "special_outpatient", "2000.00", "200.00", on(4, 15)),
            ("", "inpatient", "5000.00", "2500.00", on(4, 20)))):
        claim = Claim.objects.create(
            hospital=hosp, claim_no=f"D{no}", hospital_level="county", in_county=True, visit_type=visit,
            id_number=persons[no].id_number, name=persons[no].name, person=persons[no], admission_date=admitted,
            discharge_date=admitted, diagnosis="J18.9", total_cost=Decimal(total), uncovered_cost=Decimal("0"),
            region_id=VILLAGE_A, status="settled")
        Settlement.objects.create(
            claim=claim, version=1, is_current=True, category=category, enrolled=True,
            basic=Decimal(total) - Decimal(self_pay), critical=0, assistance=0, hospital_waiver=0,
            special_insurance=0, backstop=0, self_pay=Decimal(self_pay), region_id=VILLAGE_A)
        claims.append(claim)

    # Two standing hits (February, April) and one that no longer holds.
    now = timezone.now()
    for claim, rule, status in ((claims[0], "R01", "active"), (claims[1], "R02", "active"),
                                (claims[2], "R03", "resolved")):
        ScreeningHit.objects.create(claim=claim, rule=rule, severity="high", year=YEAR, region_id=VILLAGE_A,
                                    found_at=now, checked_at=now, status=status)
    opener = make_staff("opener", "430621", "supervisor")
    case = Case.objects.create(title="样本案件", source="tip_off", region_id=VILLAGE_A, opened_by=opener)
    for amount, paid in (("300.00", on(3, 5)), ("200.50", on(6, 1)), ("999.00", dt.date(YEAR - 1, 12, 30))):
        Recovery.objects.create(case=case, amount=Decimal(amount), paid_on=paid, entered_by=opener,
                                region_id=VILLAGE_A)

    # Work items found 2, 10 and 40 days ago and open; one found 3 days ago and already resolved.
    run = MatchingRun.objects.create(run_date=TODAY, inbox="/tmp")
    ages = (2, 10, 40, 3)
    for n, (days, status) in enumerate(zip(ages, ("new", "in_progress", "new", "resolved"), strict=True)):
        item = MatchingItem.objects.create(code="M01", key=f"k{n}", status=status, region_id=VILLAGE_A,
                                           id_number=persons[0].id_number, name="甲", summary="差异",
                                           first_run=run)
        MatchingItem.objects.filter(pk=item.pk).update(created_at=timezone.now() - dt.timedelta(days=days))
    return {"found_this_year": sum(1 for days in ages if (TODAY - dt.timedelta(days=days)).year == YEAR)}


def tiles_of(client, user) -> dict:
    client.force_login(user)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    return {tile.key: tile for tile in response.context["tiles"]}, response.content.decode()


def values(tile) -> dict[int, float]:
    """{month: value} read back from the chart's points (their titles carry the numbers)."""
    return {p.month: p.title.split("：")[1] for p in tile.chart.points}


def test_each_role_sees_the_tiles_it_answers_for(client, world, clerk_a, county_a, supervisor, administrator):
    assert list(tiles_of(client, clerk_a)[0]) == ["enrolment_rate", "matching_open"]
    assert list(tiles_of(client, county_a)[0]) == ["enrolment_rate", "subsidy_paid", "oneshop_ratio",
                                                   "low_self_pay", "matching_open"]
    assert list(tiles_of(client, supervisor)[0]) == ["oneshop_ratio", "low_self_pay", "fraud_hits",
                                                     "money_recovered"]
    assert list(tiles_of(client, administrator)[0]) == ALL_TILES


def test_township_numbers(client, world, clerk_a):
    tiles, html = tiles_of(client, clerk_a)
    rate = tiles["enrolment_rate"]
    assert (rate.value, rate.unit, rate.state) == ("75.00", "%", "bad")  # under 95 %
    assert rate.parts == [("应参保", "4"), ("已参保", "3"), ("未参保", "1")]
    trend = values(rate)
    assert len(trend) == TODAY.month and trend[1] == "25%"
    assert trend[TODAY.month] == "75%"
    items = tiles["matching_open"]
    assert (items.value, items.state) == ("3", "bad")
    assert items.parts == [("0–7天", "1"), ("8–30天", "1"), ("30天以上", "1")]
    assert sum(int(v[:-1]) for v in values(items).values()) == world["found_this_year"]
    assert 'id="tile-enrolment_rate"' in html and ">75.00<" in html


def test_county_numbers(client, world, county_a):
    tiles, html = tiles_of(client, county_a)
    assert tiles["enrolment_rate"].value == "75.00"  # township B's enrolled person is outside the county
    assert tiles["subsidy_paid"].value == "150.50"
    assert values(tiles["subsidy_paid"])[TODAY.month] == "150.5元"
    ratio = tiles["oneshop_ratio"]
    assert (ratio.value, ratio.state, ratio.target) == ("88.64", "ok", "目标 85%–90%")
    assert ratio.parts == [("医疗总费用", "22,000.00元"), ("个人自付", "2,500.00元")]
    low = tiles["low_self_pay"]
    assert (low.value, low.state) == ("50.00", "warn")
    assert low.parts == [("县域内住院", "2人次"), ("自付≤10%", "1人次")]
    if TODAY.month >= 4:
        assert values(low) == {2: "100%", 4: "0%"}  # months without claims are not drawn as 0 %
    assert ">88.64<" in html


def test_supervisor_numbers(client, world, supervisor):
    tiles, _ = tiles_of(client, supervisor)
    assert tiles["fraud_hits"].value == "2"
    assert sum(int(v[:-1]) for v in values(tiles["fraud_hits"]).values()) == 2
    recovered = tiles["money_recovered"]
    assert recovered.value == "500.50"  # last year's 999.00 is not this year's
    assert values(recovered)[TODAY.month] == "500.5元"


def test_charts_are_valid_svg(client, world, administrator):
    _, html = tiles_of(client, administrator)
    charts = re.findall(r"<svg class=\"trend\".*?</svg>", html, re.S)
    assert len(charts) == len(ALL_TILES)
    for chart in charts:
        root = ET.fromstring(chart)
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        line = root.find("{http://www.w3.org/2000/svg}polyline")
        assert line is not None and len(line.get("points").split()) >= 1
        for point in line.get("points").split():
            x, y = (float(n) for n in point.split(","))
            assert 0 <= x <= 240 and 0 <= y <= 64


def test_home_page_stays_fast(client, world, administrator, django_assert_max_num_queries):
    client.force_login(administrator)
    client.get(reverse("home"))  # warm the session
    with django_assert_max_num_queries(28):
        assert client.get(reverse("home")).status_code == 200


def test_trend_geometry():
    from poverty_registry.charts import cumulative, monthly_trend

    chart = monthly_trend("t", {1: 10, 3: 20}, months=4, goal=40)
    assert [p.month for p in chart.points] == [1, 2, 3, 4]
    # 0 at the baseline (64 − 14), the goal of 40 at the top (6): 10 is three quarters of the way down
    assert [p.y for p in chart.points] == [39.0, 50.0, 28.0, 50.0] and chart.goal == 6.0 == 64 - 14 - 44
    assert cumulative({1: 1, 3: 2})[12] == 3
    assert [p.month for p in monthly_trend("t", {2: 5}, months=3, skip_missing=True).points] == [2]
