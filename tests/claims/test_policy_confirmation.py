"""Saving a policy set and re-settling a year ask first: re-settlement is opt-in (unticked), the confirmation
page states the new version, the parameters changed and, when re-settling, the persons, claims and money it
rewrites; a forged POST without the page's confirmation saves nothing and starts nothing."""
from __future__ import annotations

import pytest
from django.urls import reverse

from claims.forms import PolicyParamsForm, field_name
from claims.models import PolicySet, Settlement
from claims.settlement.models import ResettleRun
from claims.settlement.services import resettle_preview, settle_claims
from tests.claims.settlement_helpers import category, claim, enrol, policies  # noqa: F401
from tests.claims.test_policy_sets import form_data
from tests.confirming import confirmation_of
from tests.conftest import VILLAGE_A, VILLAGE_B, make_person

pytestmark = pytest.mark.django_db


@pytest.fixture
def year_claims(regions, policies):  # noqa: F811
    """Person A of county A: two 2024 claims, a third recorded in county B and one of 2023; person B of
    county B: one 2024 claim. Re-settling county A's 2024 takes A's whole year: 1 person, 3 claims."""
    a = make_person(VILLAGE_A, seq=41, name="低保甲")
    category(a, "dibao")
    enrol(a, 2024)
    enrol(a, 2023)
    b = make_person(VILLAGE_B, seq=43, name="平江乙")
    enrol(b, 2024)
    made = [claim(a, "A-1"), claim(a, "A-2", total="10000.00", uncovered="1000.00", admitted="2024-06-01"),
            claim(a, "A-3", total="3000.00", uncovered="0.00", admitted="2024-09-01"),
            claim(a, "A-0", admitted="2023-05-01"), claim(b, "B-1")]
    made[2].region_id = VILLAGE_B  # treated as living in county B at the time: still A's person-year
    made[2].save(update_fields=["region_id"])
    settle_claims([c.pk for c in made])
    return made


def test_resettle_is_opt_in(client, county_a, policies):  # noqa: F811
    assert PolicyParamsForm(instance=policies[2024]).fields["resettle"].initial is False
    client.force_login(county_a)
    html = client.get(reverse("admin:claims_policyset_change", args=[policies[2024].pk])).content.decode()
    box = html[html.index('name="resettle"') - 80:html.index('name="resettle"') + 80]
    assert 'type="checkbox"' in box and "checked" not in box


def test_preview_counts_whole_person_years_of_the_region(year_claims):
    preview = resettle_preview(2024, "430621")
    paid = sum(s.basic + s.critical + s.assistance + s.hospital_waiver + s.special_insurance + s.backstop
               for s in Settlement.objects.filter(is_current=True, claim__claim_no__in=["A-1", "A-2", "A-3"]))
    assert (preview.persons, preview.claims, preview.paid) == (1, 3, paid)
    assert paid > 0
    assert (resettle_preview(2024, "4306").persons, resettle_preview(2024, "4306").claims) == (2, 4)


def test_save_without_resettle_asks_then_saves_and_starts_nothing(client, county_a, year_claims, policies):  # noqa: F811
    client.force_login(county_a)
    url = reverse("admin:claims_policyset_change", args=[policies[2024].pk])
    data = form_data(policies[2024], **{field_name("basic.ratio.county"): "0.75", "note": "县级比例"})
    page = confirmation_of(client.post(url, data))
    assert page["facts"]["version"].startswith("430621-2024-v1")
    assert (page["facts"]["changed"], page["facts"]["resettle"]) == ("1 项", "否")
    assert "claims" not in page["facts"]
    assert page["ask"].notes == ["修改：基本医保 · 比例 · 县级"]
    assert not PolicySet.objects.filter(region_id="430621").exists()  # asking saved nothing
    response = client.post(url, page["data"])
    assert response.status_code == 302
    assert PolicySet.objects.get(region_id="430621", year=2024).params["basic"]["ratio"]["county"] == "0.75"
    assert not ResettleRun.objects.exists()


def test_save_with_resettle_states_the_claims_then_starts_the_run(client, county_a, year_claims, policies,  # noqa: F811
                                                                  monkeypatch, django_capture_on_commit_callbacks):
    started = []
    monkeypatch.setattr("claims.tasks.resettle_year_task.delay", started.append)
    client.force_login(county_a)
    url = reverse("admin:claims_policyset_change", args=[policies[2024].pk])
    data = form_data(policies[2024], **{field_name("special_insurance.ratio"): "0.50", "resettle": "on"})
    page = confirmation_of(client.post(url, data))
    paid = resettle_preview(2024, "430621").paid
    assert {k: page["facts"][k] for k in ("resettle", "persons", "claims", "paid")} == {
        "resettle": "是", "persons": "1 人", "claims": "3 张", "paid": f"¥{paid:,.2f}"}
    assert "1 人的 3 张结算单将按现行政策重新结算" in page["ask"].consequence
    assert not ResettleRun.objects.exists() and not PolicySet.objects.filter(region_id="430621").exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, page["data"])
    run = ResettleRun.objects.get()
    assert response["Location"] == reverse("claims:resettle_run", args=[run.pk]) and started == [run.pk]
    assert (run.year, run.region_id, run.policy.region_id) == (2024, "430621", "430621")


def test_forged_save_does_nothing(client, county_a, year_claims, policies):  # noqa: F811
    client.force_login(county_a)
    url = reverse("admin:claims_policyset_change", args=[policies[2024].pk])
    data = form_data(policies[2024], **{field_name("special_insurance.ratio"): "0.50", "resettle": "on"})
    for extra in ({}, {"confirmed": "1"}, {"confirmed": "1", "seen": "0" * 16}):
        response = client.post(url, {**data, **extra})
        assert response.status_code == 200 and "ask" in response.context
    assert not PolicySet.objects.filter(region_id="430621").exists() and not ResettleRun.objects.exists()


def test_resettle_start_asks_with_the_figures(client, county_a, year_claims, monkeypatch):
    monkeypatch.setattr("claims.tasks.resettle_year_task.delay", lambda pk: None)
    client.force_login(county_a)
    url = reverse("claims:resettle_start")
    page = confirmation_of(client.post(url, {"year": 2024}))
    assert (page["facts"]["persons"], page["facts"]["claims"]) == ("1 人", "3 张")
    assert not ResettleRun.objects.exists()
    assert client.post(url, {"year": 2024, "confirmed": "1"}).status_code == 200  # forged: asks again
    assert not ResettleRun.objects.exists()
    assert client.post(url, page["data"]).status_code == 302
    assert ResettleRun.objects.get().region_id == "430621"


def test_first_version_of_a_new_year_asks_and_saves(client, city_officer, policies):  # noqa: F811
    client.force_login(city_officer)
    url = reverse("admin:claims_policyset_add")
    page = confirmation_of(client.post(url, {**form_data(policies[2024]), "year": "2027", "region": "4306"}))
    assert (page["facts"]["version"], page["facts"]["changed"]) == ("4306-2027-v1（保存后即为现行版本）",
                                                                      "新设（该年度此前没有现行政策）")
    assert not PolicySet.objects.filter(year=2027).exists()
    assert client.post(url, page["data"]).status_code == 302
    assert PolicySet.objects.get(year=2027).version == 1
