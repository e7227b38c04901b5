"""A county officer imports a hospital's claims file, opens a settlement sheet, changes a ratio in the policy
set, re-settles the year and sees the old and new settlement side by side."""
from __future__ import annotations

import pytest

from claims.importer import COLUMNS
from claims.models import PolicySet, Settlement
from tests.browser.conftest import log_in
from tests.claims.settlement_helpers import category, enrol, policies  # noqa: F401
from tests.conftest import PASSWORD, VILLAGE_A, make_person

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HEADER = ",".join(COLUMNS.values())


@pytest.fixture
def eager_celery():
    """The re-settlement task runs in the request (no worker in the test)."""
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def test_import_sheet_policy_change_resettle(page, county_a, policies, eager_celery, tmp_path, screenshots):  # noqa: F811
    person = make_person(VILLAGE_A, seq=41, name="低保甲")
    category(person, "dibao")
    enrol(person, 2024)
    path = tmp_path / "县医院结算单.csv"
    path.write_text("\n".join([
        HEADER,
        f"ZY001,H43062100001,岳阳县人民医院,县级,是,否,住院,{person.id_number},低保甲,2024-03-01,2024-03-10,"
        "J18.900,20000.00,2000.00",
        "ZY002,H43062100001,岳阳县人民医院,县级,是,否,住院,430621198001010013,查无,2024-03-01,2024-03-10,"
        "J18.900,1000.00,0.00",
    ]) + "\n", encoding="utf-8")

    log_in(page, "county_a", PASSWORD)
    page.goto("/imports/claims/new/")
    page.set_input_files("#id_file", str(path))
    page.click("#upload-submit")
    page.wait_for_selector("#import-counts")
    assert "校验位错误" in page.inner_text("#import-errors")
    page.click("#confirm-import")
    page.wait_for_selector(".messagelist .success")

    page.goto("/admin/claims/claim/")
    page.click("text=查看结算单")
    page.wait_for_selector("#tiers")
    assert "1789.80" in page.inner_text("#self-pay")
    assert person.id_number not in page.content()  # masked for a county officer
    page.screenshot(path=str(screenshots / "settlement_sheet.png"), full_page=True)

    page.goto("/admin/claims/policyset/")
    page.click("text=4306-2024-v1")
    page.fill("#id_p__special_insurance__ratio", "0.50")
    page.fill("#id_note", "扶贫特惠保比例提高至50%")
    assert not page.is_checked("#id_resettle")  # re-settlement is opt-in
    page.check("#id_resettle")
    page.click("input[name=_save]")
    page.wait_for_selector("#confirm-facts")  # the claims it re-settles, before anything is saved
    assert page.inner_text("#confirm-claims") == "1 张"
    page.click("#confirm-submit")
    page.wait_for_selector("#run-status")
    assert page.inner_text("#run-status") == "已完成"
    assert page.inner_text("#written") == "1"
    own = PolicySet.objects.get(region_id="430621", year=2024)
    assert (own.version, own.in_force, own.params["special_insurance"]["ratio"]) == (1, True, "0.50")

    page.click("text=查看新旧对照")
    page.wait_for_selector("#compare")
    compare = page.inner_text("#compare")
    assert "1193.20" in compare and "1491.50" in compare
    assert "应补付 298.30 元" in page.inner_text("#difference-text")
    assert Settlement.objects.filter(claim__claim_no="ZY001").count() == 2
    page.screenshot(path=str(screenshots / "settlement_old_new.png"), full_page=True)
