"""A supervisor opens a case from a screening hit, a second supervisor confirms it, a recovery is entered,
and the audit overview's totals change."""
from __future__ import annotations

import pytest

from tests.browser.conftest import log_in
from tests.conftest import COUNTY_A, PASSWORD, VILLAGE_A, make_person, make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_out(page) -> None:
    page.click("header form button[type=submit]")
    page.wait_for_load_state()


def test_case_from_hit_to_recovery(page, regions, screenshots):
    from claims.supervision.screening import screen_year
    from tests.claims.supervision_helpers import claim, hospital

    make_staff("jg_one", COUNTY_A, "supervisor")
    make_staff("jg_two", COUNTY_A, "supervisor")
    person = make_person(VILLAGE_A, seq=701, name="赵六")
    h = hospital("HB01", name="岳阳县中医医院")
    claim("DUP-1", "2025-05-01", "2025-05-04", person=person, hosp=h, total="4000.00")
    claim("DUP-2", "2025-05-01", "2025-05-04", person=person, hosp=h, total="4000.00")
    screen_year(2025)

    log_in(page, "jg_one", PASSWORD)
    page.goto("/supervision/?year=2025")
    assert page.inner_text("#money-recovered") == "¥0.00"
    assert page.inner_text("#money-due") == "¥0.00"
    page.click("#by-rule >> text=R06 重复结算单")
    page.wait_for_selector("#hit-table")
    assert "DUP-2" in page.inner_text("#hit-table")
    page.check("#hit-table input[name=hit]")
    page.click("#open-case")
    page.wait_for_selector("#case-state")
    assert page.inner_text("#case-state") == "已立案"
    assert "DUP-2" in page.inner_text("#case-hits")
    page.click("#action-investigate")
    page.wait_for_selector("#findings-form")
    page.select_option("#id_target_kind", "hospital")
    page.select_option("#id_target_hospital", label=str(h))
    page.fill("#id_amount_to_recover", "4000.00")
    page.fill("#id_penalty_multiple", "2")
    page.fill("#id_finding", "同一住院重复上传两张结算单")
    page.click("#findings-form button[type=submit]")
    page.wait_for_selector("text=已保存调查结论")
    page.click("#action-confirm")
    page.wait_for_selector("text=不能审核认定自己立案或调查的案件")
    case_url = page.url
    log_out(page)

    log_in(page, "jg_two", PASSWORD)
    page.goto(case_url)
    page.click("#action-confirm")
    page.wait_for_selector("#confirm-facts")
    assert page.inner_text("#confirm-due") == "¥12,000.00"  # 4000 to recover + 2 × 4000 penalty
    page.click("#confirm-submit")
    page.wait_for_selector("text=已审核认定")
    assert page.inner_text("#case-state") == "已认定"
    page.click("#action-recover")
    page.wait_for_selector("#recovery-form")
    page.fill("#id_amount", "3000.00")
    page.fill("#id_receipt_no", "FS2025-001")
    with page.expect_navigation():
        page.click("#recovery-form button[type=submit]")
    assert "已录入追回款 ¥3,000.00" in page.inner_text(".messages")
    assert page.inner_text("#case-balance") == "¥9000.00"
    assert "FS2025-001" in page.inner_text("#case-recoveries")
    page.screenshot(path=str(screenshots / "supervision_case.png"), full_page=True)

    page.goto("/supervision/?year=2025")
    assert page.inner_text("#money-due") == "¥12,000.00"
    assert page.inner_text("#money-recovered") == "¥3,000.00"
    assert page.inner_text("#money-balance") == "¥9,000.00"
    page.screenshot(path=str(screenshots / "supervision_overview.png"), full_page=True)

    page.goto(case_url)
    page.click("#case-audit")
    page.wait_for_selector("#result_list")
    listing = page.inner_text("#result_list")
    assert "jg_one" in listing and "jg_two" in listing
