"""A township clerk logs in, sees their township's persons and not another's, changes one, and opens
the audit trail of that change."""
from __future__ import annotations

import pytest

from tests.browser.conftest import log_in
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_clerk_sees_own_township_and_audit_of_own_change(page, clerk_a, person_a, person_b, screenshots):
    log_in(page, "clerk_a", PASSWORD)
    assert page.inner_text("#region-name") == "湖南省岳阳市岳阳县荣家湾镇"
    assert page.inner_text("#role-name") == "乡镇经办"

    page.goto("/admin/poverty_registry/person/")
    rows = page.inner_text("#result_list")
    assert "荣家湾甲" in rows and "汉昌乙" not in rows
    assert person_a.id_number not in rows  # masked for a township clerk

    page.goto(f"/admin/poverty_registry/person/{person_b.pk}/change/")
    assert page.title().startswith("404 未找到")

    page.goto(f"/admin/poverty_registry/person/{person_a.pk}/change/")
    page.fill("#id_phone", "13912345678")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    page.click("text=审计记录")
    page.wait_for_selector("#result_list")
    listing = page.inner_text("#result_list")
    assert "clerk_a" in listing and "修改" in listing and "联系电话" in listing
    page.click("#result_list tbody tr:first-child th a, #result_list tbody tr:first-child td a")
    detail = page.inner_text("table.data")
    assert "13912345678" in detail
    page.screenshot(path=str(screenshots / "audit_detail.png"), full_page=True)
