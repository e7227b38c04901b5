"""Settlement pages: the sheet (tiers explained, ID masked per permission, old and new side by side), the
§6.7 statistics and their export, the §9 warning list and its export, the re-settlement run page; scoped."""
from __future__ import annotations

import io
from decimal import Decimal

import openpyxl
import pytest
from django.urls import reverse

from claims.settlement.engine import PolicyParams
from claims.settlement.policy_sets import params_of, save_version
from claims.settlement.services import resettle_year, settle_claims, start_resettle
from tests.claims.settlement_helpers import category, claim, enrol, policies  # noqa: F401
from tests.confirming import post_confirmed
from tests.conftest import VILLAGE_A, make_person

pytestmark = pytest.mark.django_db


@pytest.fixture
def settled(regions, policies):  # noqa: F811
    person = make_person(VILLAGE_A, seq=31, name="低保甲")
    category(person, "dibao")
    enrol(person, 2024)
    c = claim(person)
    settle_claims([c.pk])
    return c


def test_sheet_explains_each_tier_and_masks_the_id(client, settled, county_a):
    client.force_login(county_a)
    response = client.get(reverse("claims:sheet", args=[settled.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "14200.00" in html and "2660.00" in html and "1193.20" in html and "1789.80" in html
    assert "起付线250.00元，报销比例80%" in html
    assert "低保对象" in html
    assert settled.id_number not in html
    assert settled.id_number[:6] + "********" in html


def test_sheet_is_404_outside_the_region(client, settled, clerk_b):
    client.force_login(clerk_b)
    assert client.get(reverse("claims:sheet", args=[settled.pk])).status_code == 404


def test_sheet_shows_old_and_new_side_by_side(client, settled, county_a, policies):  # noqa: F811
    params = params_of(policies[2024]).to_dict()
    params["special_insurance"]["ratio"] = "0.50"
    policy = save_version(2024, policies[2024].region, PolicyParams.from_dict(params))
    resettle_year(start_resettle(2024, "4306", policy=policy).pk)
    client.force_login(county_a)
    html = client.get(reverse("claims:sheet", args=[settled.pk])).content.decode()
    assert "新旧版本对照（第1版 → 第2版）" in html
    assert "1193.20" in html and "1491.50" in html
    assert "应补付 298.30 元" in html


def test_statistics_reproduce_the_example(client, settled, county_a, clerk_b):
    client.force_login(county_a)
    response = client.get(reverse("claims:statistics"), {"year": 2024})
    stats = response.context["stats"]
    overall = stats["overall"]
    assert (overall.persons, overall.times, overall.total_cost, overall.self_pay) == \
        (1, 1, Decimal("20000.00"), Decimal("1789.80"))
    assert overall.effective_ratio == Decimal("0.9105")
    assert (stats["poor_inpatients"], stats["poor_inpatients_low"]) == (1, 1)  # 1,789.80 ≤ 10% of 20,000
    assert [(r.key, r.times) for r in stats["townships"]] == [("430621100", 1)]
    assert [(r.label, r.effective_ratio) for r in stats["categories"]] == [("低保对象", Decimal("0.9105"))]
    assert "<svg" in response.content.decode()
    book = openpyxl.load_workbook(io.BytesIO(client.get(reverse("claims:statistics"),
                                                        {"year": 2024, "format": "xlsx"}).content))
    assert book.sheetnames == ["汇总", "按乡镇", "按医疗机构", "按人员类别", "按医院等级"]
    assert list(book["汇总"].iter_rows(min_row=3, max_row=3, values_only=True))[0][:4] == ("合计", 1, 1, 20000)
    client.force_login(clerk_b)
    assert client.get(reverse("claims:statistics"), {"year": 2024}).context["stats"]["overall"] is None


def test_risk_list_and_export(client, regions, policies, county_a, clerk_b):  # noqa: F811
    person = make_person(VILLAGE_A, seq=32, name="大额自付")
    enrol(person, 2024)
    c = claim(person, total="30000.00", uncovered="0.00")  # non-poor: self-pay 9,350 (see test_services)
    c2 = claim(person, no="C2", total="2000.00", uncovered="1000.00", admitted="2024-05-01")
    settle_claims([c.pk, c2.pk])
    client.force_login(county_a)
    response = client.get(reverse("claims:risk"), {"year": 2024})
    assert response.context["count"] == 1
    html = response.content.decode()
    assert "大额自付" in html and "C2" in html and person.id_number not in html
    book = openpyxl.load_workbook(io.BytesIO(client.get(reverse("claims:risk"),
                                                        {"year": 2024, "format": "xlsx"}).content))
    rows = list(book["预警人员"].iter_rows(min_row=3, values_only=True))
    # C2 (county, 2,000 − 1,000 U): basic (1,000 − 500) × 70% = 350 → self-pay 1,650; year 9,350 + 1,650
    assert rows[0][0] == "大额自付" and rows[0][7] == 11000 and rows[0][8] == 10000
    assert len(list(book["相关结算单"].iter_rows(min_row=2))) == 2
    client.force_login(clerk_b)
    assert client.get(reverse("claims:risk"), {"year": 2024}).context["count"] == 0


def test_resettle_run_page_and_start(client, settled, county_a, monkeypatch, django_capture_on_commit_callbacks):
    started = []
    monkeypatch.setattr("claims.tasks.resettle_year_task.delay", started.append)
    client.force_login(county_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_confirmed(client, reverse("claims:resettle_start"), {"year": 2024})
    assert response.status_code == 302
    assert len(started) == 1
    page = client.get(response.url)
    assert 'http-equiv="refresh"' in page.content.decode()
    assert page.context["run"].region_id == "430621"


def test_township_clerk_may_not_start_a_resettlement(client, settled, clerk_a):
    client.force_login(clerk_a)
    assert client.post(reverse("claims:resettle_start"), {"year": 2024}).status_code == 403


def test_home_page_links_and_warning_count(client, county_a, settled):
    client.force_login(county_a)
    html = client.get("/").content.decode()
    assert "一站式结算统计" in html and "因病返贫致贫预警" in html and "导入结算单" in html


def test_manual_entry_in_the_admin_settles_on_save(client, regions, policies, county_a):  # noqa: F811
    from claims.models import Claim
    from tests.claims.settlement_helpers import hospital

    person = make_person(VILLAGE_A, seq=33, name="手工录入")
    category(person, "dibao")
    enrol(person, 2024)
    where = hospital()
    client.force_login(county_a)
    data = {"hospital": where.pk, "claim_no": "SG001", "in_county": "on", "visit_type": "inpatient",
            "id_number": person.id_number.lower(), "name": "手工录入", "admission_date": "2024-03-01",
            "discharge_date": "2024-03-10", "diagnosis": "J18.900", "total_cost": "20000.00",
            "uncovered_cost": "2000.00"}
    response = client.post(reverse("admin:claims_claim_add"), data)
    assert response.status_code == 302
    claim_obj = Claim.objects.get(claim_no="SG001")
    assert (claim_obj.status, claim_obj.person, claim_obj.region_id, claim_obj.hospital_level) == \
        ("settled", person, VILLAGE_A, "county")
    assert str(claim_obj.settlements.get().self_pay) == "1789.80"
    bad = client.post(reverse("admin:claims_claim_add"), {**data, "claim_no": "SG002",
                                                          "id_number": "110101199003070011"})
    assert bad.context["adminform"].form.errors["id_number"] == ["查无此人：既不在建档立卡台账中，2024年度也未参保"]
    assert client.get(reverse("admin:claims_claim_change", args=[claim_obj.pk])).context["has_change_permission"] \
        is False  # settled claims are not edited in place


def test_claim_page_masks_the_number_for_users_without_the_permission(client, regions, policies, county_a,  # noqa: F811
                                                                        supervisor):
    """The claim's change page (settled: read-only; unsettled: editable) shows a full number only to holders of
    view_full_id_number; an unsettled claim is still corrected without its number, which stays as it was."""
    from poverty_registry.idnumber import mask_id_number
    from tests.claims.settlement_samples import claim_sample

    claim_obj = claim_sample(VILLAGE_A)
    assert claim_obj.status == "unsettled"
    url = reverse("admin:claims_claim_change", args=[claim_obj.pk])
    client.force_login(county_a)
    html = client.get(url).content.decode()
    assert claim_obj.id_number not in html and mask_id_number(claim_obj.id_number) in html
    data = {"hospital": claim_obj.hospital_id, "claim_no": claim_obj.claim_no, "in_county": "on",
            "visit_type": "inpatient", "name": claim_obj.name, "admission_date": "2024-03-01",
            "discharge_date": "2024-03-06", "diagnosis": "J18.900", "total_cost": "1000.00", "uncovered_cost": "0"}
    forged = client.post(url, {**data, "id_number": "110101199003070011"})  # a field the page did not offer
    assert forged.status_code == 302
    claim_obj.refresh_from_db()
    assert claim_obj.id_number == claim_obj.person.id_number  # unchanged: the forged field was not taken
    assert claim_obj.discharge_date.day == 6
    client.force_login(supervisor)
    assert claim_obj.id_number in client.get(url).content.decode()
