"""Marking a person dead from a death-record work item (M05) asks first: the page names the person (masked
ID), the death date, the open work items, the categories still held after death and the enrolments and
subsidy lines of later years; a forged POST without the page's confirmation leaves the ledger as it was."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from enrollment.models import Enrolment, SubsidyLine, SubsidyPolicy
from poverty_registry.idnumber import mask_id_number
from poverty_registry.models import MatchingItem, PersonCategory
from tests.confirming import confirmation_of
from tests.matching.test_pages import item, planted  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def dead_with_future(planted, policies):  # noqa: F811
    """庚七 died 2024-03-05: enrolled 2024 (planted) and 2025, unpaid 2026; 低保 since 2020 still open, 特困
    ended 2023, 脱贫 ended on the day of death; subsidy lines 2024 (¥200) and 2025 (¥300)."""
    dead = planted.persons["dead"]
    for year, status in ((2025, "enrolled"), (2026, "unpaid")):
        Enrolment.objects.create(id_number=dead.id_number, name=dead.name, year=year, status=status,
                                 region_id=dead.region_id, person=dead)
    for category, start, end in (("dibao", "2020-01-01", None), ("tekun", "2019-01-01", "2023-12-31"),
                                 ("tuopin", "2020-01-01", "2024-03-05")):
        PersonCategory.objects.create(person=dead, category=category, valid_from=dt.date.fromisoformat(start),
                                      valid_to=end and dt.date.fromisoformat(end))
    policy = SubsidyPolicy.objects.first()
    for year, amount in ((2024, "200.00"), (2025, "300.00")):
        SubsidyLine.objects.create(person=dead, id_number=dead.id_number, name=dead.name, year=year,
                                   category="dibao", premium=Decimal("380.00"), subsidy=Decimal(amount),
                                   fund="医疗救助", policy=policy, region_id=dead.region_id, computed_at=timezone.now())
    return dead


@pytest.fixture
def policies(regions):
    from enrollment.services import ensure_default_policies

    ensure_default_policies()


def test_page_states_person_items_categories_enrolments_and_subsidies(client, dead_with_future, clerk_a):
    m05 = item("M05", dead_with_future)
    client.force_login(clerk_a)
    page = confirmation_of(client.post(reverse("matching:item", args=[m05.pk]), {"action": "mark_deceased"}))
    open_items = MatchingItem.objects.filter(person=dead_with_future, status__in=("new", "in_progress")).count()
    assert open_items == 1
    assert page["facts"] == {
        "person": f"庚七（{mask_id_number(dead_with_future.id_number)}）", "death": "2024-03-05", "recorded": "无",
        "items": "1 项（本事项将标为已处理，其余不变）", "categories": "1 条（不会自动终止）",
        "enrolments": "1 条", "subsidies": "1 条，¥300.00（下次计算资助时取消）"}
    assert dead_with_future.id_number not in client.post(
        reverse("matching:item", args=[m05.pk]), {"action": "mark_deceased"}).content.decode()
    dead_with_future.refresh_from_db()
    assert dead_with_future.death_date is None  # asking changed nothing
    client.post(reverse("matching:item", args=[m05.pk]), page["data"])
    dead_with_future.refresh_from_db()
    m05.refresh_from_db()
    assert dead_with_future.death_date == dt.date(2024, 3, 5) and m05.status == "resolved"


def test_forged_post_marks_nobody(client, dead_with_future, clerk_a):
    m05 = item("M05", dead_with_future)
    client.force_login(clerk_a)
    for extra in ({}, {"confirmed": "1"}, {"confirmed": "1", "seen": "0" * 16}):
        response = client.post(reverse("matching:item", args=[m05.pk]), {"action": "mark_deceased", **extra})
        assert response.status_code == 200 and "ask" in response.context
    dead_with_future.refresh_from_db()
    m05.refresh_from_db()
    assert (dead_with_future.death_date, m05.status) == (None, "new")
