"""审核认定 of a case asks first: the confirmation page states the hits, the claims and the money due (amount to
recover + penalty) from the target; a forged POST without the page's confirmation leaves the case as it was,
and a user who may not confirm is refused before any page."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from claims.models import Case, ScreeningHit
from claims.supervision import cases as service
from claims.supervision.screening import screen_year
from tests.claims.supervision_helpers import claim, hospital
from tests.confirming import confirmation_of
from tests.conftest import COUNTY_A, VILLAGE_A, make_person, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def investigated(regions):
    """Two duplicated inpatient stays (R06 and, overlapping, R02): 4 hits on 2 claims; 3,500.00 to recover at
    2.5 times: 8,750.00 penalty, 12,250.00 due."""
    opener = make_staff("jg_open", COUNTY_A, "supervisor")
    reviewer = make_staff("jg_review", COUNTY_A, "supervisor")
    person = make_person(VILLAGE_A, seq=611, name="参保甲")
    h = hospital("HC611", region=COUNTY_A, name="荣家湾镇卫生院")
    for no, adm, dis, total in (("Y", "2025-05-01", "2025-05-04", "2000.00"), ("Z", "2025-08-01", "2025-08-06",
                                                                              "1500.00")):
        claim(f"{no}-1", adm, dis, person=person, hosp=h, total=total)
        claim(f"{no}-2", adm, dis, person=person, hosp=h, total=total)
    screen_year(2025, ["R02", "R06"])
    hits = list(ScreeningHit.objects.values_list("pk", flat=True))
    assert len(hits) == 4
    case = service.open_case_from_hits(opener, hits)
    service.start_investigation(case, opener)
    service.record_findings(case, opener, amount_to_recover=Decimal("3500.00"), penalty_multiple=Decimal("2.5"),
                            target_kind="hospital", target_hospital=h)
    return {"case": case, "opener": opener, "reviewer": reviewer}


def url(case):
    return reverse("supervision:case_action", args=[case.pk])


CONFIRM = {"action": "confirm", "seen_state": "investigating", "note": "证据确凿"}


def test_confirmation_page_states_hits_and_money(client, investigated):
    case = investigated["case"]
    client.force_login(investigated["reviewer"])
    page = confirmation_of(client.post(url(case), CONFIRM))
    assert {k: page["facts"][k] for k in ("target", "hits", "amount", "penalty", "due")} == {
        "target": "定点医疗机构“荣家湾镇卫生院”", "hits": "4 条（2 张结算单）", "amount": "¥3,500.00",
        "penalty": "¥8,750.00（2.50 倍）", "due": "¥12,250.00"}
    assert Case.objects.get(pk=case.pk).state == "investigating"
    response = client.post(url(case), page["data"])
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.state, case.reviewer) == ("confirmed", investigated["reviewer"])
    assert case.events.get(action="审核认定").note == "证据确凿"  # the first form's note carried through


def test_forged_confirm_changes_nothing(client, investigated):
    case = investigated["case"]
    client.force_login(investigated["reviewer"])
    for extra in ({}, {"confirmed": "1"}, {"confirmed": "1", "seen": "f" * 16}):
        response = client.post(url(case), {**CONFIRM, **extra})
        assert response.status_code == 200 and "ask" in response.context
    case.refresh_from_db()
    assert (case.state, case.reviewer, case.events.filter(action="审核认定").exists()) == ("investigating", None,
                                                                                        False)


def test_amount_changed_after_the_page_asks_again(client, investigated):
    case = investigated["case"]
    client.force_login(investigated["reviewer"])
    page = confirmation_of(client.post(url(case), CONFIRM))
    service.record_findings(case, investigated["opener"], amount_to_recover=Decimal("4000.00"),
                            penalty_multiple=None, target_kind="hospital", target_hospital=case.target_hospital)
    again = confirmation_of(client.post(url(case), page["data"]))
    assert again["facts"]["due"] == "¥4,000.00" and Case.objects.get(pk=case.pk).state == "investigating"


def test_who_may_not_confirm_is_told_before_any_page(client, investigated):
    case = investigated["case"]
    client.force_login(investigated["opener"])
    response = client.post(url(case), CONFIRM, follow=True)
    assert "ask" not in response.context
    assert "不能审核认定自己立案或调查的案件" in response.content.decode()
