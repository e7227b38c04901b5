"""Small inboxes with every difference M01–M07 planted, shared by the matching tests (unit, Celery, browser)."""
from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import VILLAGE_A, VILLAGE_B, make_person

RUN_DATE = dt.date(2024, 6, 15)
HEADERS = {
    "poverty": ["身份证号", "姓名", "户编号", "人员类别", "脱贫状态", "所在村代码"],
    "civil_affairs": ["身份证号", "姓名", "救助类别", "起始日期", "终止日期"],
    "deaths": ["身份证号", "姓名", "死亡日期"],
    "disability": ["身份证号", "姓名", "残疾类别", "残疾等级"],
    "enrolment": ["身份证号", "姓名", "参保年度", "参保状态", "缴费日期", "参保地区划"],
}


def id_for(county: str, birth: str, seq: int) -> str:
    from poverty_registry.idnumber import check_char

    first17 = f"{county}{birth}{seq:03d}"
    return first17 + check_char(first17)


def one_digit_typo(number: str, position: int = 15) -> str:
    digit = str((int(number[position]) + 1) % 10)
    return number[:position] + digit + number[position + 1:]


def write_list(inbox: Path, source: str, rows: list[list], name: str | None = None, encoding: str = "utf-8",
               header: list[str] | None = None) -> Path:
    folder = inbox / source
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or f"{source}_20240601.csv")
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header or HEADERS[source])
        writer.writerows(rows)
    return path


@dataclass
class Planted:
    """What the scenario planted: persons by role and the expected counts per difference."""

    persons: dict = field(default_factory=dict)
    outsiders: dict = field(default_factory=dict)
    expected: dict = field(default_factory=dict)


def plant_everything(inbox: Path) -> Planted:
    """Ledger persons, enrolments and five department lists with each of M01–M07 planted once or twice."""
    from enrollment.models import Enrolment
    from poverty_registry.models import PersonCategory

    planted = Planted()
    p = planted.persons
    p["fine"] = make_person(VILLAGE_A, seq=11, name="甲一")
    p["unenrolled"] = make_person(VILLAGE_A, seq=12, name="乙二")  # M01
    p["unlisted"] = make_person(VILLAGE_A, seq=13, name="丙三")  # M03
    p["dibao"] = make_person(VILLAGE_A, seq=14, name="丁四")  # M04 missing 低保
    p["tekun"] = make_person(VILLAGE_A, seq=15, name="戊五")  # M04 extra 特困
    p["disabled"] = make_person(VILLAGE_A, seq=16, name="己六")  # M04 重度残疾
    p["dead"] = make_person(VILLAGE_A, seq=17, name="庚七")  # M05
    p["renamed"] = make_person(VILLAGE_A, seq=18, name="王五")  # M06
    p["typo"] = make_person(VILLAGE_A, seq=19, name="辛九", birth="19750304")  # M07
    p["spaced"] = make_person(VILLAGE_A, seq=20, name="欧阳娜")  # written "欧阳 娜" (not M06)
    p["far"] = make_person(VILLAGE_B, seq=21, name="汉昌壬")  # M01 in township B
    PersonCategory.objects.create(person=p["tekun"], category="tekun", valid_from=dt.date(2020, 1, 1))
    PersonCategory.objects.create(person=p["fine"], category="dibao", valid_from=dt.date(2023, 1, 1))
    for key, person in p.items():
        if key not in ("unenrolled", "far"):
            Enrolment.objects.create(id_number=person.id_number, name=person.name, year=RUN_DATE.year,
                                     status="enrolled", region_id=person.region_id, person=person)
    Enrolment.objects.create(id_number=p["unenrolled"].id_number, name="乙二", year=RUN_DATE.year, status="unpaid",
                             region_id=VILLAGE_A)
    o = planted.outsiders
    o["not_in_ledger"] = id_for("430621", "19900101", 31)  # M02
    o["enrolled_dead"] = id_for("430621", "19500505", 32)  # M05 (enrolled, not in ledger)
    o["civil_only"] = id_for("430602", "19600101", 33)
    Enrolment.objects.create(id_number=o["enrolled_dead"], name="癸十", year=RUN_DATE.year, status="enrolled",
                             region_id=VILLAGE_A[:9])

    def listed(key, name=None):
        return [p[key].id_number, name or p[key].name, f"H{p[key].pk}", "脱贫人口", "已脱贫", p[key].region_id]

    write_list(inbox, "poverty", [
        listed("fine"), listed("unenrolled"), listed("dibao"), listed("tekun"), listed("disabled"), listed("dead"),
        listed("renamed", "王伍"), listed("spaced", "欧阳 娜"), listed("far"),
        [one_digit_typo(p["typo"].id_number), "辛九", "H19", "脱贫人口", "已脱贫", VILLAGE_A],
        [o["not_in_ledger"], "外来人", "H31", "脱贫人口", "已脱贫", VILLAGE_A],
    ])
    write_list(inbox, "civil_affairs", [
        [p["dibao"].id_number, "丁四", "低保对象", "2024-01-01", ""],
        [p["fine"].id_number, "甲一", "低保对象", "2023-01-01", "2025-12-31"],
        [p["tekun"].id_number, "戊五", "特困供养人员", "2019-01-01", "2023-12-31"],  # ended: civil affairs has none
        [o["civil_only"], "民政外", "低保边缘", "2024-01-01", ""],
    ])
    write_list(inbox, "deaths", [
        [p["dead"].id_number, "庚七", "2024-03-05"],
        [o["enrolled_dead"], "癸十", "2024-02-01"],
        [id_for("430602", "19300101", 34), "无关者", "2024-01-09"],
    ])
    write_list(inbox, "disability", [
        [p["disabled"].id_number, "己六", "肢体", "一级"],
        [p["fine"].id_number, "甲一", "视力", "三级"],
    ])
    planted.expected = {"M01": 2, "M02": 1, "M03": 1, "M04": 3, "M05": 2, "M06": 1, "M07": 1}
    return planted
