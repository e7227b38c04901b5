"""Issuing a subsidy report (冻结存根) asks first: the confirmation page states persons, lines and the total,
and only its own POST (confirmed=1, the same figures) freezes the lines."""
from __future__ import annotations

import pytest
from django.urls import reverse

from enrollment.models import SubsidyReport
from enrollment.subsidies import compute_subsidies
from poverty_registry.models import Region
from tests.confirming import confirmation_of
from tests.conftest import VILLAGE_A
from tests.enrollment.conftest import categorised, enrol
from tests.enrollment.test_subsidy_reports import TOWNSHIP_A2_VILLAGE, Y, computed  # noqa: F401

pytestmark = pytest.mark.django_db
URL = reverse("enrollment:issue")


def test_confirmation_page_states_what_will_be_frozen(client, computed, county_a):  # noqa: F811
    client.force_login(county_a)
    page = confirmation_of(client.post(URL, {"year": Y, "region": "430621"}))
    # 甲 400 (特困), 乙 200 + 丙 200 (低保), 丁 100 (脱贫): four persons, one line each
    county = Region.objects.get(code="430621")
    assert page["facts"] == {"region": f"{county.full_name}（430621）",
                             "year": "2024年", "persons": "4 人", "lines": "4 行", "amount": "¥900.00",
                             "serial": "ZZ2024-430621-0001"}
    assert not SubsidyReport.objects.exists()  # the first POST only asks
    html = client.post(URL, {"year": Y, "region": "430621"}).content.decode()
    assert "确认出具报表" in html and "此操作不可撤销" in html and 'name="confirmed" value="1"' in html


def test_only_the_confirmed_post_issues(client, computed, county_a):  # noqa: F811
    client.force_login(county_a)
    page = confirmation_of(client.post(URL, {"year": Y, "region": "430621"}))
    response = client.post(URL, page["data"])
    report = SubsidyReport.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("enrollment:report", args=[report.pk])
    assert (report.persons, report.total_subsidy, report.lines.count()) == (4, 900, 4)


def test_forged_post_without_confirmation_issues_nothing(client, computed, county_a):  # noqa: F811
    client.force_login(county_a)
    for forged in ({"year": Y, "region": "430621"}, {"year": Y, "region": "430621", "confirmed": "0"},
                   {"year": Y, "region": "430621", "confirmed": "1"}, {"year": Y, "region": "430621", "seen": "x"}):
        response = client.post(URL, forged)
        assert response.status_code == 200 and "ask" in response.context
    assert not SubsidyReport.objects.exists()


def test_figures_changed_before_the_click_ask_again(client, computed, county_a):  # noqa: F811
    client.force_login(county_a)
    page = confirmation_of(client.post(URL, {"year": Y, "region": "430621"}))
    enrol(categorised(VILLAGE_A, 5, "戊", ("tekun", "2018-01-01", None)), Y)
    compute_subsidies(Y)  # another user recomputed meanwhile: 戊 adds 400
    again = client.post(URL, page["data"])
    assert not SubsidyReport.objects.exists()
    fresh = confirmation_of(again)
    assert (fresh["facts"]["persons"], fresh["facts"]["amount"]) == ("5 人", "¥1,300.00")
    assert again.context["changed"] and "数据在您确认前已发生变化" in again.content.decode()
    client.post(URL, fresh["data"])
    assert SubsidyReport.objects.get().persons == 5


def test_a_township_report_counts_only_its_lines(client, computed, county_a):  # noqa: F811
    client.force_login(county_a)
    page = confirmation_of(client.post(URL, {"year": Y, "region": TOWNSHIP_A2_VILLAGE[:9]}))
    assert (page["facts"]["persons"], page["facts"]["lines"], page["facts"]["amount"]) == ("1 人", "1 行", "¥100.00")
