"""The tour: from the state a fresh `make run` leaves (`setup_demo`, small), each demo role does its core task only
by clicking, and every step is a full-page screenshot in var/screenshots/<role>-<step>.png (the README's "Tour"
shows a few of them, copied to docs/tour/)."""
from __future__ import annotations

import re

import pytest
from django.core.management import call_command

from claims.management.commands.setup_demo import DEMO_ACCOUNTS
from tests.browser.conftest import log_in
from tests.poverty_registry.ledger_builders import ledger_xlsx, row

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PASSWORDS = {username: password for username, _region, _role, password in DEMO_ACCOUNTS}
VILLAGE = "430621100201"  # 竹青村 of 荣家湾镇, the township of the demo clerk `xiangzhen`


@pytest.fixture
def demo(tmp_path, settings):
    """What `make run` seeds on its first start, at a size a test can afford."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    settings.MATCHING_INBOX = inbox
    call_command("setup_demo", persons=300, inbox=str(inbox), stdout=open("/dev/null", "w"))


@pytest.fixture
def tour(page, demo, screenshots):
    page.set_viewport_size({"width": 1280, "height": 800})

    def shot(role: str, step: str) -> None:
        page.screenshot(path=str(screenshots / f"{role}-{step}.png"), full_page=True)

    return shot


def menu(page, label: str) -> None:
    """A click on the left menu, as a user finds a page."""
    with page.expect_navigation():
        page.click(f".bo-aside a:text-is('{label}')")


def log_out(page) -> None:
    with page.expect_navigation():
        page.click("#logout-form button[type=submit], header form button[type=submit]")


def test_township_clerk_imports_the_ledger_and_handles_a_work_item(page, tour, tmp_path):
    bad = row("T902", "错号", 903, VILLAGE, birth="19790615")
    bad[2] = bad[2][:-1] + ("0" if bad[2][-1] != "0" else "1")  # a wrong check character
    ledger = tmp_path / "荣家湾镇补录台账.xlsx"
    ledger.write_bytes(ledger_xlsx([
        row("T901", "柳一", 901, VILLAGE, birth="19790615"),
        row("T901", "柳二", 902, VILLAGE, relation="配偶", birth="19790615"),
        bad,
    ]))

    log_in(page, "xiangzhen", PASSWORDS["xiangzhen"])
    header = page.inner_text("#header, header")
    assert "荣家湾镇" in header and "乡镇经办" in header
    assert re.search(r"\d+(\.\d+)?\s*%", page.inner_text("main"))  # the enrolment rate tile
    tour("xiangzhen", "1-home")

    menu(page, "建档立卡人员")
    assert re.search(r"\d+ 条结果", page.inner_text("#changelist"))
    tour("xiangzhen", "2-ledger")

    page.click("#import-ledger")
    page.set_input_files("#id_file", str(ledger))
    page.click("#upload-submit")
    page.wait_for_selector("#import-counts")
    counts = page.inner_text("#import-counts")
    assert "新增人员\t2" in counts and "拒绝行数\t1" in counts
    errors = page.inner_text("#import-errors")
    assert "第5行" in errors and "校验位错误" in errors
    tour("xiangzhen", "3-import-preview")
    page.click("#confirm-import")
    page.wait_for_selector(".messagelist .success")
    tour("xiangzhen", "4-import-done")

    menu(page, "比对差异待办")
    queue = page.inner_text("#queue-items")
    assert "荣家湾镇" in queue and "新发现" in queue
    tour("xiangzhen", "5-work-queue")
    with page.expect_navigation():
        page.click("#queue-items tr:has-text('新发现') >> text=办理")
    page.select_option("#move-status", label="已处理")
    page.fill("#move-note", "已电话核实，台账已更正")
    with page.expect_navigation():
        page.click("#move-submit")
    assert page.inner_text("#item-status") == "已处理"
    assert "已电话核实，台账已更正" in page.inner_text("#item-history")
    tour("xiangzhen", "6-item-handled")


def test_county_officer_rates_chase_subsidy_report_and_sheet(page, tour):
    log_in(page, "xianji", PASSWORDS["xianji"])
    tour("xianji", "1-home")

    menu(page, "参保率")
    rates = page.inner_text("#rates")
    assert "荣家湾镇" in rates and re.search(r"\d+\.\d\d%", rates)
    tour("xianji", "2-rate")

    menu(page, "未参保人员")
    assert re.search(r"共 \d+ 人", page.inner_text("main"))
    tour("xianji", "3-chase")

    menu(page, "资助参保")
    page.click("#compute")
    page.wait_for_selector("text=资助计算完成")
    page.click("#issue")
    page.wait_for_selector("#confirm-facts")
    assert re.fullmatch(r"\d+ 人", page.inner_text("#confirm-persons"))
    assert re.fullmatch(r"¥[\d,]+\.\d\d", page.inner_text("#confirm-amount"))
    tour("xianji", "4-report-confirm")
    page.click("#confirm-submit")
    page.wait_for_selector("#serial-no")
    assert re.fullmatch(r"ZZ\d{4}-430621-\d{4}", page.inner_text("#serial-no"))
    assert "校验通过" in page.inner_text("#verified")
    tour("xianji", "5-report")

    menu(page, "结算统计")
    main = page.inner_text("main")
    assert "实际报销比例" in main and "个人自付" in main
    tour("xianji", "6-statistics")
    with page.expect_navigation():
        page.click("nav.subnav >> text=结算单")
    with page.expect_navigation():
        page.click("#result_list >> text=查看结算单 >> nth=0")
    sheet = page.inner_text("main")
    assert "个人自付" in sheet and "基本医保" in sheet
    tour("xianji", "7-sheet")


def test_supervisors_open_a_case_from_a_hit_and_the_second_confirms_it(page, tour):
    log_in(page, "jianguan", PASSWORDS["jianguan"])
    menu(page, "监管总览")
    assert int(page.inner_text("#total-hits")) > 0
    tour("jianguan", "1-overview")

    # R05 is one of the rules whose planted hit no demo case took (claims.demo_pages.plant_cases)
    with page.expect_navigation():
        page.click("#by-rule a:has-text('R05')")
    page.wait_for_selector("#hit-table")
    assert "R05" in page.inner_text("#hit-table")
    tour("jianguan", "2-hits")
    page.check("#hit-table input[name=hit] >> nth=0")
    with page.expect_navigation():
        page.click("#open-case")
    assert page.inner_text("#case-state") == "已立案"
    page.click("#action-investigate")
    page.wait_for_selector("#findings-form")
    page.select_option("#id_target_kind", "hospital")
    page.select_option("#id_target_hospital", index=1)
    page.fill("#id_amount_to_recover", "1000.00")
    page.fill("#id_finding", "病历与费用明细不符")
    page.click("#findings-form button[type=submit]")
    page.wait_for_selector("text=已保存调查结论")
    tour("jianguan", "3-case")
    case_url = page.url
    log_out(page)

    log_in(page, "jianguan2", PASSWORDS["jianguan2"])
    page.goto(case_url)
    page.click("#action-confirm")
    page.wait_for_selector("#confirm-facts")
    assert page.inner_text("#confirm-due") == "¥1,000.00"
    tour("jianguan2", "1-confirm")
    page.click("#confirm-submit")
    page.wait_for_selector("text=已审核认定")
    assert page.inner_text("#case-state") == "已认定"
    tour("jianguan2", "2-confirmed")


def test_administrator_creates_an_account_and_finds_it_in_the_audit_trail(page, tour):
    log_in(page, "admin", PASSWORDS["admin"])
    menu(page, "工作人员账号")
    with page.expect_navigation():
        page.click("a.addlink")
    assert not re.search(r"[A-Za-z]{3,} [A-Za-z]{3,}", page.inner_text("#content-main"))  # no English sentence
    page.fill("#id_username", "xiangzhen3")
    page.fill("#id_password1", "Rongjiawan-Xin-2026")
    page.fill("#id_password2", "Rongjiawan-Xin-2026")
    page.click(".field-region .select2-selection")
    page.fill(".select2-search__field", "荣家湾")
    page.click(".select2-results__option:has-text('荣家湾镇')")
    page.select_option("#id_role", label="乡镇经办")
    tour("admin", "1-new-account")
    with page.expect_navigation():
        page.click("input[name=_save]")
    assert "xiangzhen3" in page.inner_text(".messagelist")  # Django's account admin goes on to the new account
    menu(page, "工作人员账号")
    accounts = page.inner_text("#result_list")
    assert "xiangzhen3" in accounts and "乡镇经办" in accounts
    tour("admin", "2-accounts")

    menu(page, "审计记录")
    page.fill("#searchbar", "admin")
    with page.expect_navigation():
        page.press("#searchbar", "Enter")
    trail = page.inner_text("#result_list")
    assert "工作人员账号" in trail and "新增" in trail
    tour("admin", "3-audit")
