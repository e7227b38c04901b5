"""Differences M01–M07 (DOMAIN §8.3) found by a run, as work items: exact items, no duplicates, auto-close."""
from __future__ import annotations

import datetime as dt

import pytest

from poverty_registry.matching import run as matching
from poverty_registry.models import MatchingItem, MatchingRunCount, MatchLink
from tests.conftest import TOWNSHIP_A, TOWNSHIP_B, VILLAGE_A
from tests.matching.scenario import RUN_DATE, one_digit_typo, plant_everything, write_list

pytestmark = pytest.mark.django_db


def run(inbox, today=RUN_DATE):
    return matching.run_now(inbox, "test", today=today)


def open_items(code=None):
    items = MatchingItem.objects.filter(status__in=("new", "in_progress"))
    return items.filter(code=code) if code else items


def test_every_difference_is_found_once(regions, inbox):
    planted = plant_everything(inbox)
    result = run(inbox)
    assert result.status == "finished"
    assert matching.report(result)["counts"] == planted.expected
    p = planted.persons
    assert {i.person_id for i in open_items("M01")} == {p["unenrolled"].pk, p["far"].pk}
    m01 = open_items("M01").get(person=p["unenrolled"])
    assert m01.summary == "2024年度未参保（参保状态：未缴费）"
    assert m01.region_id == VILLAGE_A
    m02 = open_items("M02").get()
    assert (m02.id_number, m02.name, m02.region_id) == (planted.outsiders["not_in_ledger"], "外来人", VILLAGE_A)
    assert open_items("M03").get().person == p["unlisted"]
    m04 = {i.key: i.summary for i in open_items("M04")}
    assert m04 == {
        f"M04:{p['dibao'].pk}:dibao:missing": "民政名单：低保对象（2024-01-01 起）；台账中无在享的低保对象",
        f"M04:{p['tekun'].pk}:tekun:extra": "台账在享特困供养人员（2020-01-01 起），民政名单中无有效的特困供养人员记录",
        f"M04:{p['disabled'].pk}:severe_disability:missing":
            "残联名单：残疾等级一级（肢体）；台账中无在享的重度残疾人类别",
    }
    m05 = {i.key: (i.summary, i.region_id) for i in open_items("M05")}
    assert m05 == {
        f"M05:{p['dead'].pk}:2024-03-05": ("公安死亡记录：死亡日期 2024-03-05；台账未记载死亡", VILLAGE_A),
        f"M05:E{planted.outsiders['enrolled_dead']}:2024-02-01": (
            "公安死亡记录：死亡日期 2024-02-01；该人员2024年度仍在参保", TOWNSHIP_A),
    }
    m06 = open_items("M06").get()
    assert (m06.person, m06.summary) == (p["renamed"], "姓名不一致：台账为“王五”，乡村振兴局贫困人口名单为“王伍”")
    m07 = open_items("M07").get()
    link = MatchLink.objects.get()
    assert (m07.person, m07.link, link.status) == (p["typo"], link, "proposed")
    assert link.match_key == one_digit_typo(p["typo"].id_number)
    assert link.score > 0.99
    counts = {(c.region_id, c.code): c.count for c in MatchingRunCount.objects.filter(run=result)}
    assert counts == {(TOWNSHIP_A, "M01"): 1, (TOWNSHIP_B, "M01"): 1, (TOWNSHIP_A, "M02"): 1,
                      (TOWNSHIP_A, "M03"): 1, (TOWNSHIP_A, "M04"): 3, (TOWNSHIP_A, "M05"): 2,
                      (TOWNSHIP_A, "M06"): 1, (TOWNSHIP_A, "M07"): 1}


def test_second_run_is_idempotent(regions, inbox):
    planted = plant_everything(inbox)
    first = run(inbox)
    items = set(MatchingItem.objects.values_list("id", "key", "status"))
    second = run(inbox)
    assert second.pk != first.pk
    assert matching.report(second)["counts"] == planted.expected
    assert set(MatchingItem.objects.values_list("id", "key", "status")) == items
    assert second.files == []  # every file was processed once, by the first run
    assert MatchLink.objects.count() == 1


def test_vanished_difference_closes_itself_with_a_note(regions, inbox):
    from enrollment.models import Enrolment

    planted = plant_everything(inbox)
    first = run(inbox)
    Enrolment.objects.filter(id_number=planted.persons["unenrolled"].id_number).update(status="enrolled")
    second = run(inbox)
    item = MatchingItem.objects.get(code="M01", person=planted.persons["unenrolled"])
    assert item.status == "resolved"
    assert item.closed_run == second and item.first_run == first
    assert item.note == f"第{second.pk}次比对（2024-06-15）未再发现该差异，系统自动关闭"
    assert matching.report(second)["counts"]["M01"] == 1


def test_not_a_problem_is_not_raised_again_but_resolved_is(regions, inbox):
    planted = plant_everything(inbox)
    run(inbox)
    MatchingItem.objects.filter(code="M01", person=planted.persons["far"]).update(status="dismissed")
    MatchingItem.objects.filter(code="M01", person=planted.persons["unenrolled"]).update(status="resolved")
    second = run(inbox)
    assert matching.report(second)["counts"]["M01"] == 1
    assert open_items("M01").get().person == planted.persons["unenrolled"]
    assert MatchingItem.objects.filter(code="M01").count() == 3


def test_newest_file_replaces_older_ones(regions, inbox):
    planted = plant_everything(inbox)
    run(inbox)
    p = planted.persons
    newer = [[person.id_number, person.name, "H", "脱贫人口", "已脱贫", person.region_id]
             for key, person in p.items() if key not in ("typo",)]
    write_list(inbox, "poverty", newer, name="poverty_20240610.csv")
    second = run(inbox)
    counts = matching.report(second)["counts"]
    assert (counts["M02"], counts["M03"], counts["M06"], counts["M07"]) == (0, 1, 0, 0)
    assert open_items("M03").get().person == p["typo"]  # the typo'd row left the list: the link expired
    assert MatchLink.objects.get().status == "expired"
    assert MatchingItem.objects.get(code="M02").status == "resolved"


def test_rejected_link_reports_m02_and_m03(regions, inbox):
    planted = plant_everything(inbox)
    run(inbox)
    MatchLink.objects.update(status="rejected")
    second = run(inbox)
    counts = matching.report(second)["counts"]
    assert (counts["M02"], counts["M03"], counts["M07"]) == (2, 2, 0)
    typo = one_digit_typo(planted.persons["typo"].id_number)
    assert open_items("M02").filter(id_number=typo).exists()
    assert open_items("M03").filter(person=planted.persons["typo"]).exists()


def test_confirmed_link_counts_as_exact(regions, inbox):
    planted = plant_everything(inbox)
    run(inbox)
    MatchLink.objects.update(status="confirmed")
    second = run(inbox)
    counts = matching.report(second)["counts"]
    assert (counts["M02"], counts["M03"], counts["M07"]) == (1, 1, 0)
    assert not open_items().filter(person=planted.persons["typo"]).exists()


def test_marked_deceased_closes_m05_and_stops_m01(regions, inbox):
    planted = plant_everything(inbox)
    run(inbox)
    dead = planted.persons["dead"]
    dead.death_date = dt.date(2024, 3, 5)
    dead.save()
    second = run(inbox)
    assert matching.report(second)["counts"]["M05"] == 1
    assert MatchingItem.objects.get(code="M05", person=dead).status == "resolved"


def test_no_poverty_list_means_no_m02_m03(regions, inbox):
    from tests.conftest import make_person

    make_person(VILLAGE_A, seq=1, name="甲")
    counts = matching.report(run(inbox))["counts"]
    assert counts == {"M01": 1, "M02": 0, "M03": 0, "M04": 0, "M05": 0, "M06": 0, "M07": 0}


def test_enrolment_list_counts_for_m01_and_m05(regions, inbox):
    from tests.matching.scenario import id_for

    planted = plant_everything(inbox)
    listed_dead = id_for("430621", "19450101", 51)
    far = planted.persons["far"]
    write_list(inbox, "enrolment", [
        [far.id_number, "汉昌壬", "2024", "正常参保", "2024-01-10", far.region_id],
        [listed_dead, "列表人", "2024", "正常参保", "2024-01-10", TOWNSHIP_B],
    ])
    write_list(inbox, "deaths", [[planted.persons["dead"].id_number, "庚七", "2024-03-05"],
                                 [listed_dead, "列表人", "2024-04-01"]], name="deaths_20240602.csv")
    result = run(inbox)
    counts = matching.report(result)["counts"]
    assert (counts["M01"], counts["M05"]) == (1, 2)
    m05 = open_items("M05").get(region_id=TOWNSHIP_B)
    assert m05.summary == "公安死亡记录：死亡日期 2024-04-01；该人员2024年度仍在参保"


def test_unknown_village_goes_to_the_city(regions, inbox):
    from tests.matching.scenario import id_for

    write_list(inbox, "poverty", [[id_for("110101", "19800101", 1), "外省人", "H1", "", "", "999999999999"]])
    result = run(inbox)
    item = open_items("M02").get()
    assert item.region_id == "4306"
    assert {(c.region_id, c.code, c.count) for c in MatchingRunCount.objects.filter(run=result)} == {("4306", "M02", 1)}
