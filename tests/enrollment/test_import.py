"""The enrolment list import (DOMAIN §5 columns) through the import framework: row errors, upsert counts,
person links, scope, and the command's exact JSON."""
from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from enrollment.models import Enrolment
from poverty_registry import importing
from poverty_registry.scoping import SERVER_COMMAND
from tests.conftest import VILLAGE_A, VILLAGE_B, make_person

pytestmark = pytest.mark.django_db
HEADER = "身份证号,姓名,参保年度,参保状态,缴费日期,参保地区划\n"


def write(tmp_path, body, name="参保名单.csv"):
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def run_command(path, *args):
    out = StringIO()
    call_command("import_enrolments", str(path), "--json", *args, stdout=out)
    return json.loads(out.getvalue())


def test_kind_is_registered_in_the_one_framework():
    assert importing.KINDS["enrolment"].label.startswith("参保名单")


def test_create_update_unchanged_and_errors(tmp_path, person_a, person_b):
    a, b = person_a.id_number, person_b.id_number
    first = write(tmp_path, f"{a},荣家湾甲,2024,正常参保,2023-11-02,{VILLAGE_A}\n"
                            f"{b.lower()},汉昌乙,2024,未缴费,,{VILLAGE_B}\n")
    assert run_command(first) == {"rows_read": 2, "created": 2, "updated": 0, "unchanged": 0, "rows_rejected": 0,
                                  "errors": []}
    enrolment = Enrolment.objects.get(id_number=a, year=2024)
    assert (enrolment.person, enrolment.status, str(enrolment.paid_date)) == (person_a, "enrolled", "2023-11-02")

    second = write(tmp_path, f"{a},荣家湾甲,2024,正常参保,2023/11/02,{VILLAGE_A}\n"
                             f"{b},汉昌乙,2024,正常参保,20231215,{VILLAGE_B}\n"
                             f"430621198001010010,坏号,2024,正常参保,,{VILLAGE_A}\n"
                             f"{a},荣家湾甲,2023,参保,2022-12-01,999999\n"
                             f"{a},荣家湾甲,二〇二四,退休,2023-13-01,{VILLAGE_A}\n"
                             f"{b},,2025,正常参保,,{VILLAGE_B}\n"
                             f"{b},汉昌乙,2025,正常参保,,{VILLAGE_B}\n")
    result = run_command(second)
    assert {k: result[k] for k in ("rows_read", "created", "updated", "unchanged", "rows_rejected")} == \
        {"rows_read": 7, "created": 0, "updated": 1, "unchanged": 1, "rows_rejected": 5}
    assert result["errors"] == [
        {"row": 4, "column": "身份证号", "message": "身份证号校验位错误，应为 8"},
        {"row": 5, "column": "参保地区划", "message": "区划代码 999999 不存在"},
        {"row": 6, "column": "参保年度", "message": "参保年度“二〇二四”应为四位年份"},
        {"row": 6, "column": "参保状态",
         "message": "参保状态“退休”无法识别，应为正常参保、暂停参保、终止参保、未缴费之一"},
        {"row": 6, "column": "缴费日期", "message": "“2023-13-01”不是有效日期"},
        {"row": 7, "column": "姓名", "message": "姓名不能为空"},
        {"row": 7, "column": "身份证号", "message": "身份证号在2025年度重复出现（另见第8行）"},
        {"row": 8, "column": "身份证号", "message": "身份证号在2025年度重复出现（另见第7行）"},
    ]
    assert Enrolment.objects.get(id_number=b, year=2024).status == "enrolled"
    assert Enrolment.objects.count() == 2


def test_dry_run_writes_nothing(tmp_path, person_a):
    path = write(tmp_path, f"{person_a.id_number},荣家湾甲,2024,正常参保,2023-11-02,{VILLAGE_A}\n")
    assert run_command(path, "--dry-run")["created"] == 1
    assert not Enrolment.objects.exists()


def test_rows_outside_the_users_region_are_rejected(tmp_path, county_a, person_a, person_b):
    path = write(tmp_path, f"{person_a.id_number},荣家湾甲,2024,正常参保,,{VILLAGE_A}\n"
                           f"{person_b.id_number},汉昌乙,2024,正常参保,,{VILLAGE_B}\n")
    result = run_command(path, "--user", "county_a")
    assert (result["created"], result["rows_rejected"]) == (1, 1)
    assert result["errors"][0]["message"] == f"区划 {VILLAGE_B} 不在您的辖区内"


def test_unregistered_persons_are_kept_unlinked_and_linked_later(tmp_path, regions):
    from enrollment.importer import link_persons

    number = "430621199001010011"
    from poverty_registry.idnumber import check_char

    number = number[:17] + check_char(number[:17])
    run_command(write(tmp_path, f"{number},非建档,2024,正常参保,,{VILLAGE_A}\n"))
    assert Enrolment.objects.get().person is None
    person = make_person(VILLAGE_A, seq=1, name="后建档", birth="19900101")
    assert person.id_number == number
    assert link_persons(2024) == 1
    assert Enrolment.objects.get().person == person


def test_excel_upload_and_error_workbook(regions, person_a):
    import io

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["2024年参保名单"])
    sheet.append(["身份证号", "姓名", "参保年度", "参保状态", "缴费日期", "参保地区划"])
    sheet.append([person_a.id_number, "荣家湾甲", 2024, "正常参保", "2023-11-02", VILLAGE_A])
    sheet.append(["123", "@坏", 2024, "正常参保", "", VILLAGE_A])
    data = io.BytesIO()
    book.save(data)
    kind = importing.KINDS["enrolment"]
    outcome = kind.run(data.getvalue(), "名单.xlsx", SERVER_COMMAND, dry_run=False, progress=lambda *a: None)
    assert (outcome.rows_read, outcome.counts["created"], outcome.rows_rejected) == (2, 1, 1)
    errors = openpyxl.load_workbook(io.BytesIO(kind.error_workbook(data.getvalue(), "名单.xlsx", outcome.errors)))
    rows = list(errors.active.values)
    # the framework's error file: the title above the header kept, then the header and the rejected row
    assert rows[0][0] == "2024年参保名单"
    assert rows[1][-1] == "错误说明" and rows[2][1] == "'@坏" and rows[2][-1].startswith("身份证号：")


def test_township_clerks_do_not_import_enrolments(tmp_path, clerk_a, person_a):
    from django.core.management.base import CommandError

    path = write(tmp_path, f"{person_a.id_number},荣家湾甲,2024,正常参保,,{VILLAGE_A}\n")
    with pytest.raises(CommandError, match="没有导入参保名单"):
        run_command(path, "--user", "clerk_a")


def test_repeated_cell_values_are_checked_on_every_row(tmp_path, regions):
    from poverty_registry.idnumber import check_char

    def number(birth, seq):
        first17 = f"430621{birth}{seq:03d}"
        return first17 + check_char(first17)

    leap, not_leap = number("19960229", 1), "43062119970229001" + "0"
    rows = [f"{number('19800101', 2)},甲,2024,正常参保,2023-11-02,{VILLAGE_A}",
            f"{leap},乙,2024,正常参保,2023-11-02,{VILLAGE_A}",
            f"{not_leap},丙,2024,正常参保,2023-11-02,{VILLAGE_A}",
            f"{number('19800102', 3)},丁,2024,正常参保,2023-11-31,{VILLAGE_A}",
            f"{number('19800103', 4)},戊,2024,正常参保,2023-11-02,{VILLAGE_B}1",
            *[f"{number('19800104', 5)},己,2024,正常参保,2023-11-02,{VILLAGE_A}"] * 3]
    result = run_command(write(tmp_path, "\n".join(rows) + "\n"))
    assert (result["created"], result["rows_rejected"]) == (2, 6)
    assert [(e["row"], e["column"]) for e in result["errors"]] == [
        (4, "身份证号"), (5, "缴费日期"), (6, "参保地区划"), (7, "身份证号"), (8, "身份证号"), (9, "身份证号")]
    assert result["errors"][0]["message"] == "身份证号出生日期 19970229 不是有效日期"
    assert result["errors"][3]["message"] == "身份证号在2024年度重复出现（另见第8、9行）"


def _number(first17: str) -> str:
    from poverty_registry.idnumber import check_char

    return first17 + check_char(first17)


def test_batches_hold_back_rows_whose_number_and_year_repeat_in_a_later_batch(tmp_path, regions, monkeypatch):
    """Written two rows a batch while the next batch is checked: a number that stands again further down (as
    written, in lower case, or as its 15-digit form) is never written early; a row whose repeat turns out
    invalid is written once every row is checked."""
    from enrollment import importer
    from poverty_registry.idnumber import check_char

    monkeypatch.setattr(importer, "FIRST_BATCH_ROWS", 1)
    monkeypatch.setattr(importer, "BATCH_ROWS", 2)
    ending_x = next(f"430621198002{day:02d}00{seq}" for day in range(1, 29) for seq in range(1, 10)
                    if check_char(f"430621198002{day:02d}00{seq}") == "X") + "X"
    n1, n3, n5, n6 = (_number(f"43062119800301{seq:03d}") for seq in (1, 3, 5, 6))
    fifteen, eighteen = "430621800101123", _number("43062119800101123")
    rows = [f"{n1},甲,2024,正常参保,,{VILLAGE_A}",          # 2: written with the first batch
            f"{ending_x.lower()},乙,2024,正常参保,,{VILLAGE_A}",  # 3: the same as row 6
            f"{n3},丙,2024,正常参保,,{VILLAGE_A}",          # 4
            f"{fifteen},丁,2024,正常参保,,{VILLAGE_A}",     # 5: the same as row 7
            f"{ending_x},乙,2024,正常参保,,{VILLAGE_A}",     # 6
            f"{eighteen},丁,2024,正常参保,,{VILLAGE_A}",    # 7
            f"{n5},戊,2024,正常参保,,{VILLAGE_A}",          # 8: held back, then written
            f"{n5},戊,二〇二四,正常参保,,{VILLAGE_A}",       # 9: not a year, so not a repeat of row 8
            f"{n6},己,2025,正常参保,,{VILLAGE_A}",          # 10: another year, not a repeat
            f"{n6},己,2024,正常参保,,{VILLAGE_A}"]          # 11
    result = run_command(write(tmp_path, "\n".join(rows) + "\n"))
    assert {k: result[k] for k in ("rows_read", "created", "updated", "unchanged", "rows_rejected")} == \
        {"rows_read": 10, "created": 5, "updated": 0, "unchanged": 0, "rows_rejected": 5}
    assert [(e["row"], e["message"]) for e in result["errors"]] == [
        (3, "身份证号在2024年度重复出现（另见第6行）"), (5, "身份证号在2024年度重复出现（另见第7行）"),
        (6, "身份证号在2024年度重复出现（另见第3行）"), (7, "身份证号在2024年度重复出现（另见第5行）"),
        (9, "参保年度“二〇二四”应为四位年份")]
    assert sorted(Enrolment.objects.values_list("id_number", "year")) == sorted(
        [(n1, 2024), (n3, 2024), (n5, 2024), (n6, 2024), (n6, 2025)])


def test_a_batch_that_fails_leaves_nothing_of_the_file(tmp_path, regions, monkeypatch):
    """The batches are one transaction: the second failing undoes the first, already written."""
    from enrollment import importer

    monkeypatch.setattr(importer, "FIRST_BATCH_ROWS", 1)
    monkeypatch.setattr(importer, "BATCH_ROWS", 1)
    write_batch = importer.EnrolmentWriter.write

    def power_cut_after_the_first_batch(self, rows):
        if self.written:
            raise RuntimeError("断电")
        write_batch(self, rows)

    monkeypatch.setattr(importer.EnrolmentWriter, "write", power_cut_after_the_first_batch)
    body = "".join(f"{_number(f'43062119800301{seq:03d}')},甲{seq},2024,正常参保,,{VILLAGE_A}\n" for seq in (1, 2, 3))
    with pytest.raises(RuntimeError, match="断电"):
        importing.import_path("enrolment", write(tmp_path, body), SERVER_COMMAND, dry_run=False)
    assert not Enrolment.objects.exists()
