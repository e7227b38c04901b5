"""A township clerk opens their matching work queue, resolves an M01 item and confirms an M07 link."""
from __future__ import annotations

import pytest

from tests.browser.conftest import log_in
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def matched(regions, tmp_path, settings):
    from poverty_registry.matching.run import run_now
    from tests.matching.scenario import RUN_DATE, plant_everything

    settings.MATCHING_INBOX = tmp_path
    planted = plant_everything(tmp_path)
    run_now(tmp_path, "test", today=RUN_DATE)
    return planted


def test_clerk_resolves_m01_and_confirms_m07(page, clerk_a, matched, screenshots):
    from poverty_registry.models import MatchingItem, MatchLink

    log_in(page, "clerk_a", PASSWORD)
    page.goto("/matching/")
    queue = page.inner_text("#queue-items")
    assert "乙二" in queue and "汉昌壬" not in queue  # township B's item is not in township A's queue
    assert matched.persons["unenrolled"].id_number not in queue  # masked
    page.select_option("#id_code", "M01")
    page.click("#queue-filter button[type=submit]")
    page.wait_for_url("**code=M01**")
    assert page.locator("#queue-items tbody tr").count() == 1
    page.click("#queue-items tbody tr[data-code=M01] >> text=办理")
    assert "2024年度未参保（参保状态：未缴费）" in page.inner_text("#item-summary")
    page.select_option("#move-status", "resolved")
    page.fill("#move-note", "已通知本人补缴，参保完成")
    page.click("#move-submit")
    page.wait_for_selector(".messages .ok")
    assert page.inner_text("#item-status") == "已处理"
    assert "已通知本人补缴，参保完成" in page.inner_text("#item-note")
    assert "clerk_a" in page.inner_text("#item-history")
    page.screenshot(path=str(screenshots / "matching_item_resolved.png"), full_page=True)

    page.click("text=疑似同一人确认")
    row = page.locator("#links tbody tr")
    assert row.count() == 1 and "辛九" in row.inner_text()
    row.locator(".confirm-link").click()
    page.wait_for_selector(".messages .ok")
    assert "没有待确认的疑似关联" in page.inner_text("main")
    page.screenshot(path=str(screenshots / "matching_link_confirmed.png"), full_page=True)

    m01 = MatchingItem.objects.get(code="M01", person=matched.persons["unenrolled"])
    assert m01.status == "resolved" and m01.closed_by.username == "clerk_a"
    link = MatchLink.objects.get()
    assert link.status == "confirmed" and link.decided_by.username == "clerk_a"
    assert MatchingItem.objects.get(code="M07").status == "resolved"
