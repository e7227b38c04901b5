"""Enrolment rate (live) per village / township / county, the chase list with its work status and export,
the compute page, and the home page numbers per role — each scoped to the user's region."""
from __future__ import annotations

import io

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone

from enrollment.models import ChaseEntry, SubsidyLine
from enrollment.selectors import chase_list, enrolment_rates
from tests.conftest import VILLAGE_A, VILLAGE_B, make_person
from tests.enrollment.conftest import categorised, enrol

pytestmark = pytest.mark.django_db
YEAR = timezone.localdate().year
VILLAGE_A2 = "430621100202"


@pytest.fixture
def ledger(regions, policies):
    from enrollment.services import issue_policy_version
    from enrollment.subsidy_rules import default_rules

    if YEAR > 2025:  # the defaults stop at 2025
        issue_policy_version(year=YEAR, region_code="4306", premium="400", cutoff_date=None, rules=default_rules())
    enrolled = [categorised(VILLAGE_A, 1, "甲", ("tekun", "2015-01-01", None)),
                categorised(VILLAGE_A, 2, "乙", ("dibao", "2015-01-01", None)),
                make_person(VILLAGE_A2, seq=3, name="丙")]
    missing = [make_person(VILLAGE_A2, seq=4, name="丁"), make_person(VILLAGE_B, seq=5, name="戊")]
    for person in enrolled:
        enrol(person, YEAR)
    enrol(missing[0], YEAR, status="unpaid")
    late = make_person(VILLAGE_B, seq=6, name="己")  # enrolment imported before the person was registered
    from enrollment.models import Enrolment

    Enrolment.objects.create(id_number=late.id_number, name="己", year=YEAR, status="enrolled", region_id=VILLAGE_B)
    dead = make_person(VILLAGE_B, seq=7, name="庚")
    dead.death_date = timezone.datetime(YEAR - 1, 6, 1).date()
    dead.save()
    return enrolled, missing


def test_rates_per_level(ledger):
    county = enrolment_rates(YEAR, "430621")
    assert [(r.code, r.registered, r.enrolled) for r in county.rows] == [("430621100", 4, 3)]
    assert str(county.total.rate) == "75.00"
    township = enrolment_rates(YEAR, "430621100")
    assert [(r.code, r.registered, r.enrolled, str(r.rate)) for r in township.rows] == [
        (VILLAGE_A, 2, 2, "100.00"), (VILLAGE_A2, 2, 1, "50.00")]
    city = enrolment_rates(YEAR, "4306")
    assert (city.total.registered, city.total.enrolled) == (6, 4)  # 庚 died before the year; 己 found by ID


def test_chase_list_and_status(client, ledger, clerk_a, clerk_b):
    _, missing = ledger
    assert [i.name for i in chase_list(YEAR, "4306")] == ["丁", "戊"]
    client.force_login(clerk_a)
    page = client.get(reverse("enrollment:chase"))
    assert page.status_code == 200 and [i.name for i in page.context["items"]] == ["丁"]
    response = client.post(reverse("enrollment:chase_status", args=[missing[0].pk]),
                           {"year": YEAR, "status": "refused", "note": "外出务工，电话联系拒绝"})
    assert response.status_code == 302
    entry = ChaseEntry.objects.get(person=missing[0], year=YEAR)
    assert (entry.status, entry.note, entry.updated_by) == ("refused", "外出务工，电话联系拒绝", clerk_a)
    assert [i.name for i in chase_list(YEAR, "4306", "refused")] == ["丁"]
    assert [i.name for i in chase_list(YEAR, "4306", "new")] == ["戊"]
    assert client.post(reverse("enrollment:chase_status", args=[missing[1].pk]),
                       {"year": YEAR, "status": "contacted"}).status_code == 404  # another township's person
    export = client.get(reverse("enrollment:chase"), {"format": "xlsx"})
    rows = list(openpyxl.load_workbook(io.BytesIO(export.content)).active.values)
    assert rows[1][1] == "丁" and rows[1][5] == "拒绝参保" and "*" in rows[1][0]
    client.force_login(clerk_b)
    assert client.get(reverse("enrollment:chase"), {"region": "430621100"}).status_code == 404


def test_rate_page_and_compute_page(client, ledger, county_a, clerk_a):
    client.force_login(county_a)
    page = client.get(reverse("enrollment:rate"))
    assert page.status_code == 200 and page.context["table"].total.registered == 4
    assert client.post(reverse("enrollment:compute"), {"year": YEAR}).status_code == 302
    assert SubsidyLine.objects.filter(year=YEAR).count() == 2
    page = client.get(reverse("enrollment:subsidies"), {"year": YEAR})
    assert page.context["summary"].amount > 0 and page.context["last_run"].added == 2
    client.force_login(clerk_a)
    assert client.post(reverse("enrollment:compute"), {"year": YEAR}).status_code == 403


def test_home_numbers_per_role(client, ledger, clerk_a, county_a):
    client.force_login(clerk_a)
    figures = dict(client.get(reverse("home")).context["figures"])
    assert figures[f"{YEAR}年未参保"] == 1
    client.force_login(county_a)
    client.post(reverse("enrollment:compute"), {"year": YEAR})
    tiles = {tile.key: tile for tile in client.get(reverse("home")).context["tiles"]}
    assert (tiles["enrolment_rate"].title, tiles["enrolment_rate"].value) == (f"{YEAR}年参保率", "75.00")
    total = sum(SubsidyLine.objects.values_list("subsidy", flat=True))
    assert tiles["subsidy_paid"].value == f"{total:,.2f}"


def test_rates_are_live_after_an_enrolment_or_a_ledger_change(ledger):
    from enrollment.models import Enrolment

    _, missing = ledger
    before = enrolment_rates(YEAR, "430621100")
    assert [(r.code, r.registered, r.enrolled) for r in before.rows][1] == (VILLAGE_A2, 2, 1)
    Enrolment.objects.filter(person=missing[0], year=YEAR).update(status="enrolled")  # paid since
    newcomer = make_person(VILLAGE_A2, seq=8, name="辛")  # registered after an unlinked enrolment arrived
    Enrolment.objects.create(id_number=newcomer.id_number, name="辛", year=YEAR, status="enrolled",
                             region_id=VILLAGE_A2)
    make_person(VILLAGE_A2, seq=9, name="壬")
    after = enrolment_rates(YEAR, "430621100")
    assert [(r.code, r.registered, r.enrolled) for r in after.rows] == [(VILLAGE_A, 2, 2), (VILLAGE_A2, 4, 3)]


def test_chase_export_is_recorded_with_filters_and_rows(client, ledger, supervisor):
    from poverty_registry.models import AccessRecord

    client.force_login(supervisor)  # sees full numbers
    client.get(reverse("enrollment:chase"), {"year": YEAR, "format": "xlsx"})
    record = AccessRecord.objects.get()
    assert (record.kind, record.rows, record.full_ids) == ("export", 2, 2)
    assert record.file_name == f"{YEAR}年未参保人员_4306.xlsx" and "format=xlsx" in record.filters
