"""The supervisors' pages: region scoping (404 outside), permissions, totals, drill-down links, exports."""
from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from claims.models import Case, ScreeningHit
from claims.supervision import cases as service
from claims.supervision.screening import screen_year
from tests.claims.supervision_helpers import claim, hospital
from tests.confirming import post_confirmed
from tests.conftest import COUNTY_A, VILLAGE_A, VILLAGE_B, make_person, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(regions):
    """Two counties, each with a duplicate claim (R06) and a case about it."""
    sup_a = make_staff("jg_county_a", COUNTY_A, "supervisor")
    sup_a2 = make_staff("jg_county_a2", COUNTY_A, "supervisor")
    sup_b = make_staff("jg_county_b", "430626", "supervisor")
    cases = {}
    for village, seq in ((VILLAGE_A, 601), (VILLAGE_B, 603)):
        p = make_person(village, seq=seq, name=f"参保{seq}")
        h = hospital(f"HP{seq}", region=village[:6])
        claim(f"D{seq}-1", "2025-05-01", "2025-05-04", person=p, hosp=h, total="4000.00")
        claim(f"D{seq}-2", "2025-05-01", "2025-05-04", person=p, hosp=h, total="4000.00")
    screen_year(2025, ["R06"])
    for hit in ScreeningHit.objects.select_related("claim"):
        sup = sup_a if hit.region_id == VILLAGE_A else sup_b
        cases[hit.region_id[:6]] = service.open_case_from_hits(sup, [hit.pk])
    return {"a": sup_a, "a2": sup_a2, "b": sup_b, "case_a": cases[COUNTY_A], "case_b": cases["430626"]}


def test_supervisor_cannot_see_another_countys_cases(client, world):
    client.force_login(world["a"])
    assert client.get(reverse("supervision:case", args=[world["case_b"].pk])).status_code == 404
    assert client.get(reverse("supervision:case", args=[world["case_a"].pk])).status_code == 200
    listing = client.get(reverse("supervision:cases")).content.decode()
    assert world["case_a"].number in listing and world["case_b"].number not in listing
    response = client.post(reverse("supervision:case_action", args=[world["case_b"].pk]), {"action": "investigate"})
    assert response.status_code == 404
    assert Case.objects.get(pk=world["case_b"].pk).state == "open"
    hit_b = ScreeningHit.objects.get(region_id=VILLAGE_B)
    assert client.get(reverse("supervision:claim", args=[hit_b.claim_id])).status_code == 404
    assert "D603-2" not in client.get(reverse("supervision:hits"), {"year": 2025}).content.decode()


def test_supervisor_cannot_confirm_own_case_through_the_page(client, world):
    case = world["case_a"]
    client.force_login(world["a"])
    url = reverse("supervision:case_action", args=[case.pk])
    client.post(url, {"action": "investigate", "seen_state": "open"})
    client.post(url, {"action": "findings", "seen_state": "investigating", "target_kind": "hospital",
                      "target_hospital": case.target_hospital_id, "amount_to_recover": "4000.00",
                      "penalty_multiple": "2", "finding": "重复结算"})
    response = client.post(url, {"action": "confirm", "seen_state": "investigating"}, follow=True)
    assert "不能审核认定自己立案或调查的案件" in response.content.decode()
    assert Case.objects.get(pk=case.pk).state == "investigating"
    client.force_login(world["a2"])
    post_confirmed(client, url, {"action": "confirm", "seen_state": "investigating"})
    case.refresh_from_db()
    assert (case.state, case.reviewer, case.penalty_amount) == ("confirmed", world["a2"], Decimal("8000.00"))
    response = client.post(url, {"action": "investigate", "seen_state": "investigating"}, follow=True)
    assert "案件状态已变为“已认定”" in response.content.decode()


def test_overview_totals_are_scoped_and_follow_recoveries(client, world):
    case = world["case_a"]
    service.start_investigation(case, world["a"])
    service.record_findings(case, world["a"], amount_to_recover=Decimal("4000"), penalty_multiple=None,
                            target_kind="hospital", target_hospital=case.target_hospital)
    service.confirm(case, world["a2"])
    service.start_recovery(case, world["a"])
    client.force_login(world["a"])
    response = client.get(reverse("supervision:overview"), {"year": 2025})
    assert response.context["total_hits"] == 1  # only county A's hit
    assert response.context["money"]["due"] == Decimal("4000.00")
    assert response.context["money"]["recovered"] == Decimal("0.00")
    service.add_recovery(case, world["a"], amount=Decimal("1500"), paid_on="2025-08-01")
    response = client.get(reverse("supervision:overview"), {"year": 2025})
    assert response.context["money"]["recovered"] == Decimal("1500.00")
    assert response.context["money"]["balance"] == Decimal("2500.00")
    html = response.content.decode()
    assert "<svg" in html and "<script" not in html
    assert [b["row"][0] for b in response.context["by_rule"] if b["value"]] == ["R06"]
    assert [b["label"] for b in response.context["by_township"]] == ["荣家湾镇"]


def test_township_clerk_and_city_officer_have_no_supervision_pages(client, world, clerk_a, city_officer):
    for user in (clerk_a, city_officer):
        client.force_login(user)
        assert client.get(reverse("supervision:overview")).status_code == 403
        assert client.get(reverse("supervision:cases")).status_code == 403


def test_supervisors_change_cases_only(world):
    sup = world["a"]
    assert sup.has_perm("claims.change_case") and sup.has_perm("claims.add_recovery")
    assert sup.has_perm("claims.view_claim") and sup.has_perm("claims.view_screeninghit")
    assert not sup.has_perm("claims.change_claim") and not sup.has_perm("claims.change_supervisionparam")
    assert not sup.has_perm("poverty_registry.change_person")


def test_claim_page_links_audit_trail_and_evidence(client, world):
    hit = ScreeningHit.objects.get(region_id=VILLAGE_A)
    client.force_login(world["a"])
    html = client.get(reverse("supervision:claim", args=[hit.claim_id])).content.decode()
    assert f"table_name=claims_claim&amp;object_pk={hit.claim_id}" in html
    assert "D601-1" in html and world["case_a"].number in html
    case_html = client.get(reverse("supervision:case", args=[world["case_a"].pk])).content.decode()
    assert f"table_name=claims_case&amp;object_pk={world['case_a'].pk}" in case_html
    assert f"table_name=claims_claim&amp;object_pk={hit.claim_id}" in case_html


def test_open_case_from_hits_page(client, world):
    hit = ScreeningHit.objects.get(region_id=VILLAGE_A)
    other = ScreeningHit.objects.get(region_id=VILLAGE_B)
    client.force_login(world["a2"])
    response = client.post(reverse("supervision:case_from_hits"), {"hit": [other.pk]}, follow=True)
    assert "请选择至少一条您辖区内的疑点" in response.content.decode()
    response = client.post(reverse("supervision:case_from_hits"), {"hit": [hit.pk], "title": "重复结算专项"})
    case = Case.objects.get(title="重复结算专项")
    assert response.url == reverse("supervision:case", args=[case.pk])
    assert case.opened_by == world["a2"] and case.region_id == VILLAGE_A


def test_hit_export_and_publication_mask(client, world):
    client.force_login(world["a"])
    response = client.get(reverse("supervision:hits_export"), {"year": 2025})
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.values)
    assert rows[0][:5] == ("规则", "名称", "风险等级", "状态", "结算单号")
    assert [r[4] for r in rows[1:]] == ["D601-2"]
    case = world["case_a"]
    service.start_investigation(case, world["a"])
    service.record_findings(case, world["a"], amount_to_recover=Decimal("4000"), penalty_multiple=Decimal("2"),
                            target_kind="person", target_name="参保601", target_id_number="430621198001016011")
    service.confirm(case, world["a2"])
    service.start_recovery(case, world["a"])
    service.add_recovery(case, world["a"], amount=Decimal("12000"), paid_on="2025-09-01")
    service.close(case, world["a"])
    response = client.get(reverse("supervision:publication"))
    rows = list(load_workbook(io.BytesIO(response.content)).active.values)
    assert rows[1][1:4] == ("参保人员", "参****", "430621********6011")


def test_hospital_profile(client, world):
    hit = ScreeningHit.objects.select_related("claim").get(region_id=VILLAGE_A)
    client.force_login(world["a"])
    response = client.get(reverse("supervision:hospital", args=[hit.claim.hospital_id]))
    assert response.status_code == 200
    assert (response.context["claims"], response.context["hit_claims"]) == (2, 1)
    assert response.context["cases"] == [world["case_a"]]
    other = ScreeningHit.objects.select_related("claim").get(region_id=VILLAGE_B)
    assert client.get(reverse("supervision:hospital", args=[other.claim.hospital_id])).status_code == 404


def test_home_page_numbers_and_links(client, world):
    case = world["case_a"]
    service.start_investigation(case, world["a"])
    client.force_login(world["a2"])
    context = client.get(reverse("home")).context
    assert ("基金监管总览", reverse("supervision:overview")) in context["links"]
    assert ("在办案件", 1) in context["figures"]
    assert ("待审核认定的案件", f"{reverse('supervision:cases')}?state=investigating", 1) in context["todos"]
    client.force_login(world["a"])  # their own case is not theirs to review
    assert not [t for t in client.get(reverse("home")).context["todos"] if t[0] == "待审核认定的案件"]


def test_claim_page_links_the_settlement_sheet_when_it_exists(client, world):
    from claims.supervision.views import settlement_sheet_url

    hit = ScreeningHit.objects.get(region_id=VILLAGE_A)
    client.force_login(world["a"])
    html = client.get(reverse("supervision:claim", args=[hit.claim_id])).content.decode()
    url = settlement_sheet_url(hit.claim_id)
    assert url == reverse("claims:sheet", args=[hit.claim_id])
    assert f'<a href="{url}" id="settlement-sheet">' in html
