"""Matching pages: scoping with restrict() (404 outside the region), masking, export, status moves with history,
confirming and rejecting links, and the follow-ups (mark deceased, add a category)."""
from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest
from django.urls import reverse

from poverty_registry.idnumber import mask_id_number
from poverty_registry.matching import run as matching
from poverty_registry.models import MatchingItem, MatchLink, PersonCategory
from tests.confirming import post_confirmed
from tests.matching.scenario import RUN_DATE, plant_everything

pytestmark = pytest.mark.django_db


@pytest.fixture
def planted(regions, inbox):
    planted = plant_everything(inbox)
    planted.run = matching.run_now(inbox, "test", today=RUN_DATE)
    return planted


def item(code, person=None):
    items = MatchingItem.objects.filter(code=code, status__in=("new", "in_progress"))
    return items.get(person=person) if person else items.first()


def test_queue_shows_only_the_clerks_township(client, planted, clerk_a, clerk_b):
    client.force_login(clerk_b)
    response = client.get(reverse("matching:queue"))
    assert [i.person_id for i in response.context["page"]] == [planted.persons["far"].pk]
    assert client.get(reverse("matching:item", args=[item("M06").pk])).status_code == 404
    client.force_login(clerk_a)
    response = client.get(reverse("matching:queue"))
    assert response.context["page"].paginator.count == 10
    assert mask_id_number(planted.persons["unenrolled"].id_number) in response.content.decode()
    assert planted.persons["unenrolled"].id_number not in response.content.decode()


def test_queue_filters_and_search(client, planted, clerk_a):
    client.force_login(clerk_a)
    by_code = client.get(reverse("matching:queue"), {"code": "M04"}).context["page"]
    assert {i.code for i in by_code} == {"M04"} and len(by_code) == 3
    found = client.get(reverse("matching:queue"), {"q": planted.persons["renamed"].id_number}).context["page"]
    assert [i.code for i in found] == ["M06"]
    assert [i.code for i in client.get(reverse("matching:queue"), {"q": "外来"}).context["page"]] == ["M02"]
    everything = client.get(reverse("matching:queue"), {"state": "all"}).context["page"]
    village = everything[0].region_id
    in_village = client.get(reverse("matching:queue"), {"state": "all", "region": village}).context["page"]
    assert len(in_village) and {i.region_id for i in in_village} == {village}
    assert len(in_village) == sum(i.region_id == village for i in everything)
    assert not client.get(reverse("matching:queue"), {"region": "999"}).context["page"].object_list


def test_export_is_scoped_and_masked(client, planted, clerk_b):
    client.force_login(clerk_b)
    response = client.get(reverse("matching:queue"), {"export": "xlsx"})
    rows = list(openpyxl.load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert rows[0][:5] == ("差异", "状态", "所属区划", "姓名", "身份证号")
    assert [(r[0], r[3], r[4]) for r in rows[1:]] == [
        ("M01 建档立卡人员当年未参保", "汉昌壬", mask_id_number(planted.persons["far"].id_number))]


def test_status_moves_are_recorded_with_history(client, planted, clerk_a):
    m01 = item("M01", planted.persons["unenrolled"])
    client.force_login(clerk_a)
    url = reverse("matching:item", args=[m01.pk])
    client.post(url, {"action": "status", "status": "in_progress", "note": "已电话联系"})
    client.post(url, {"action": "status", "status": "resolved", "note": "已缴费参保"})
    m01.refresh_from_db()
    assert m01.status == "resolved" and m01.closed_by == clerk_a
    assert m01.note.endswith("clerk_a：已处理，已缴费参保")
    history = client.get(url).context["history"]
    assert [r.status_label for r in history] == ["新发现", "处理中", "已处理"]
    assert history[2].actor_username == "clerk_a"
    response = client.post(url, {"action": "status", "status": "in_progress"}, follow=True)
    assert "不能改为" in response.content.decode()


def test_dismissing_needs_a_note(client, planted, clerk_a):
    m03 = item("M03")
    client.force_login(clerk_a)
    client.post(reverse("matching:item", args=[m03.pk]), {"action": "status", "status": "dismissed", "note": ""})
    m03.refresh_from_db()
    assert m03.status == "new"


def test_supervisor_reads_but_does_not_change(client, planted, supervisor):
    m01 = item("M01", planted.persons["unenrolled"])
    client.force_login(supervisor)
    url = reverse("matching:item", args=[m01.pk])
    assert client.get(url).status_code == 200
    assert client.post(url, {"action": "status", "status": "resolved"}).status_code == 404
    m01.refresh_from_db()
    assert m01.status == "new"


def test_confirming_a_link_closes_its_item(client, planted, clerk_a, clerk_b):
    link = MatchLink.objects.get()
    client.force_login(clerk_b)
    assert client.get(reverse("matching:links")).context["page"].paginator.count == 0
    assert client.post(reverse("matching:decide_link", args=[link.pk]), {"decision": "confirm"}).status_code == 404
    client.force_login(clerk_a)
    assert [x.pk for x in client.get(reverse("matching:links")).context["page"]] == [link.pk]
    client.post(reverse("matching:decide_link", args=[link.pk]), {"decision": "confirm", "note": "户籍核实"})
    link.refresh_from_db()
    assert (link.status, link.decided_by) == ("confirmed", clerk_a)
    m07 = MatchingItem.objects.get(code="M07")
    assert m07.status == "resolved" and "疑似关联已确认为同一人：户籍核实" in m07.note
    second = client.post(reverse("matching:decide_link", args=[link.pk]), {"decision": "reject"}, follow=True)
    assert "已被处理" in second.content.decode()


def test_rejecting_a_link(client, planted, clerk_a):
    link = MatchLink.objects.get()
    client.force_login(clerk_a)
    client.post(reverse("matching:decide_link", args=[link.pk]), {"decision": "reject"})
    link.refresh_from_db()
    assert link.status == "rejected"
    assert MatchingItem.objects.get(code="M07").status == "resolved"


def test_mark_deceased_follow_up(client, planted, clerk_a):
    dead = planted.persons["dead"]
    m05 = item("M05", dead)
    client.force_login(clerk_a)
    assert client.get(reverse("matching:item", args=[m05.pk])).context["may_mark_deceased"]
    post_confirmed(client, reverse("matching:item", args=[m05.pk]), {"action": "mark_deceased"})
    dead.refresh_from_db()
    assert dead.death_date == dt.date(2024, 3, 5)
    m05.refresh_from_db()
    assert m05.status == "resolved" and "已在台账标记死亡，死亡日期 2024-03-05" in m05.note


def test_add_category_follow_up(client, planted, clerk_a):
    person = planted.persons["dibao"]
    m04 = item("M04", person)
    client.force_login(clerk_a)
    client.post(reverse("matching:item", args=[m04.pk]), {"action": "add_category"})
    added = PersonCategory.objects.get(person=person)
    assert (added.category, added.valid_from, added.valid_to, added.source) == (
        "dibao", dt.date(2024, 1, 1), None, "civil_affairs")
    m04.refresh_from_db()
    assert m04.status == "resolved"
    extra = item("M04", planted.persons["tekun"])
    response = client.post(reverse("matching:item", args=[extra.pk]), {"action": "add_category"}, follow=True)
    assert "只有“台账缺少类别”的事项可以添加类别" in response.content.decode()


def test_run_history_counts_are_scoped(client, planted, clerk_b, city_officer):
    client.force_login(clerk_b)
    page = client.get(reverse("matching:runs")).context["page"]
    assert page[0].visible_counts == [1, 0, 0, 0, 0, 0, 0]
    client.force_login(city_officer)
    page = client.get(reverse("matching:runs")).context["page"]
    assert page[0].visible_counts == [2, 1, 1, 3, 2, 1, 1]
    detail = client.get(reverse("matching:run", args=[planted.run.pk]))
    assert [row[0] for row in detail.context["rows"]] == ["430621100", "430626100"]
    assert detail.context["totals"] == [2, 1, 1, 3, 2, 1, 1]


def test_queue_page_and_export_are_recorded(client, planted, clerk_a, supervisor):
    from poverty_registry.models import AccessRecord

    client.force_login(clerk_a)
    client.get(reverse("matching:queue"))
    assert not AccessRecord.objects.exists()  # masked numbers: nothing sensitive shown
    client.get(reverse("matching:queue"), {"export": "xlsx", "code": "M04"})
    record = AccessRecord.objects.get()
    assert (record.kind, record.rows, record.full_ids) == ("export", 3, 0)
    assert record.file_name.startswith("matching_items_") and "code=M04" in record.filters
    client.force_login(supervisor)
    client.get(reverse("matching:queue"), {"code": "M04"})
    record = AccessRecord.objects.latest("id")
    assert (record.kind, record.object_key, record.rows, record.full_ids) == (
        "full_id_list", "poverty_registry.matchingitem", 3, 3)
