"""A county officer computes the year's premium subsidies, issues the report (存根) and downloads its .xlsx."""
from __future__ import annotations

import openpyxl
import pytest

from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, VILLAGE_A
from tests.enrollment.conftest import categorised, enrol

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_county_officer_computes_issues_and_downloads(page, county_a, screenshots, tmp_path):
    from enrollment.models import SubsidyReport
    from enrollment.services import ensure_default_policies

    ensure_default_policies()  # transactional tests start from an empty database
    enrol(categorised(VILLAGE_A, 1, "特困甲", ("tekun", "2018-01-01", None)), 2024)
    enrol(categorised(VILLAGE_A, 2, "低保乙", ("dibao", "2018-01-01", None)), 2024)

    log_in(page, "county_a", PASSWORD)
    page.goto("/enrollment/subsidies/?year=2024")
    page.click("#compute")
    page.wait_for_selector("text=2024年资助计算完成")
    assert page.inner_text("#total-amount") == "600.00"
    assert "新增 2" in page.inner_text("#last-run")

    page.click("#issue")
    page.wait_for_selector("#confirm-facts")  # issuing asks first, with the figures it freezes
    assert (page.inner_text("#confirm-persons"), page.inner_text("#confirm-amount")) == ("2 人", "¥600.00")
    assert not SubsidyReport.objects.exists()
    page.screenshot(path=str(screenshots / "subsidy_report_confirm.png"), full_page=True)
    page.click("#confirm-submit")
    page.wait_for_selector("#serial-no")
    report = SubsidyReport.objects.get()
    assert page.inner_text("#serial-no") == report.serial_no == "ZZ2024-430621-0001"
    assert "校验通过" in page.inner_text("#verified")
    assert "无差异" in page.inner_text("#difference-summary")
    page.screenshot(path=str(screenshots / "subsidy_report.png"), full_page=True)

    with page.expect_download() as download_info:
        page.click("#download-xlsx")
    download = download_info.value
    assert download.suggested_filename == f"资助参保报表_{report.serial_no}.xlsx"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    book = openpyxl.load_workbook(path)
    rows = list(book["汇总"].values)
    assert rows[1][:2] == ("存根号", report.serial_no)
    assert rows[2][:2] == ("明细校验值（SHA-256）", report.checksum)
    totals = [row for row in rows if row[0] == "合计"][0]
    assert totals[2:8] == (1, 400, 1, 200, 2, 600)
