"""The inbox (DOMAIN §8.1): CSV (UTF-8, GB18030) and .xlsx through the one table reader, each file once,
bad files refused whole with a Chinese message, the newest file of a source in force."""
from __future__ import annotations

import datetime as dt
import io
import json

import openpyxl
import pytest
from django.core.management import call_command

from poverty_registry.matching import sources
from poverty_registry.matching.run import run_now
from poverty_registry.models import MatchingRecord, MatchingSourceFile
from tests.matching.scenario import HEADERS, RUN_DATE, id_for, write_list

pytestmark = pytest.mark.django_db
TODAY = dt.date(2024, 6, 15)


def test_records_normalise_ids_and_keep_what_the_list_says():
    valid = id_for("430621", "19800101", 1)
    legacy = "430621800101002"
    wrong = valid[:17] + ("0" if valid[17] != "0" else "1")  # check character fails
    fullwidth = wrong.translate({cp: cp + 0xFEE0 for cp in range(0x30, 0x3A)})
    rows = "\n".join([",".join(HEADERS["civil_affairs"]),
                      f" {valid.lower()[:-1]}{valid[-1].lower()} ,张三,低保,2024/01/01,",
                      f"{legacy},李四,特困供养人员,20230101,2024-12-31",
                      f"{fullwidth},王 五,低保边缘,2024.02.01,"])
    parsed = sources.parse_file("civil_affairs", rows.encode(), "民政.csv", TODAY)
    assert parsed.errors == []
    first, second, third = parsed.rows
    assert (first["id_number"], first["id_status"], first["match_key"], first["category"]) == (
        valid, "valid", valid, "dibao")
    assert first["start_date"] == dt.date(2024, 1, 1) and first["end_date"] is None
    assert (second["id_status"], second["match_key"], second["id_number"]) == (
        "legacy15", legacy, "43062119800101002" + second["id_number"][-1])
    assert (third["id_status"], third["id_number"], third["birth_date"], third["sex"]) == (
        "invalid", wrong, dt.date(1980, 1, 1), "M")  # sequence 009 is odd
    assert third["category"] == "dibao_edge" and third["name"] == "王 五"


def test_gb18030_and_xlsx_are_read(tmp_path):
    number = id_for("430621", "19800101", 3)
    data = f"身份证号,姓名,死亡日期\n{number},赵六,2024-01-02\n".encode("gb18030")
    assert sources.parse_file("deaths", data, "死亡.csv", TODAY).rows[0]["name"] == "赵六"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["残联残疾人名单（2024年6月）"])
    sheet.append(["姓名", "身份证号", "残疾类别", "残疾等级"])
    sheet.append(["钱七", number, "视力", "二级"])
    sheet.append(["合计", "", "", ""])
    buffer = io.BytesIO()
    book.save(buffer)
    rows = sources.parse_file("disability", buffer.getvalue(), "残联.xlsx", TODAY).rows
    assert [(r["name"], r["disability_grade"], r["row_no"]) for r in rows] == [("钱七", 2, 3)]


@pytest.mark.parametrize(("source", "content", "message"), [
    ("deaths", "身份证号,姓名\n430621198001010011,张三\n", "缺少必需的列：死亡日期"),
    ("deaths", "姓名,日期\n张三,2024-01-01\n", "未找到表头：需要包含“身份证号”或“公民身份号码”列"),
    ("deaths", "身份证号,姓名,死亡日期\n", ""),
])
def test_unreadable_files_are_refused(source, content, message):
    if not message:  # a header and no rows is readable, and empty
        assert sources.parse_file(source, content.encode(), "x.csv", TODAY).rows == []
        return
    with pytest.raises(sources.FileRefused, match=message):
        sources.parse_file(source, content.encode(), "x.csv", TODAY)


@pytest.mark.parametrize(("source", "content", "message"), [
    ("civil_affairs", "身份证号,姓名,救助类别,起始日期\n430621198001010011,张三,五保,2024-01-01\n",
     "第2行 救助类别：“五保”不是有效的救助类别（特困供养人员、低保对象、低保边缘）"),
    ("deaths", "身份证号,姓名,死亡日期\n430621198001010011,张三,2024-13-01\n",
     "第2行 死亡日期：“2024-13-01”不是有效日期"),
    ("deaths", "身份证号,姓名,死亡日期\n430621198001010011,张三,2099-01-01\n", "第2行 死亡日期：死亡日期晚于今天"),
    ("enrolment", "身份证号,姓名,参保年度,参保状态\n,张三,2024,正常参保\n", "第2行 身份证号：身份证号为空"),
    ("disability", "身份证号,姓名,残疾等级\n430621198001010011,,五级\n", "第2行 姓名：姓名为空"),
])
def test_row_errors_are_named(source, content, message):
    parsed = sources.parse_file(source, content.encode(), "x.csv", TODAY)
    assert message in [e.text() for e in parsed.errors]
    assert parsed.rows == []


def test_bad_file_is_reported_and_nothing_is_loaded(regions, inbox):
    good = id_for("430621", "19800101", 5)
    write_list(inbox, "deaths", [[good, "甲", "2024-01-01"]], name="deaths_20240101.csv")
    write_list(inbox, "deaths", [[good, "甲", "2024-01-01"], [good, "乙", "昨天"]], name="deaths_20240301.csv")
    run = run_now(inbox, "test", today=RUN_DATE)
    assert [(f["file_name"], f["status"], f["rows"]) for f in run.files] == [
        ("deaths_20240101.csv", "loaded", 1), ("deaths_20240301.csv", "failed", 0)]
    assert run.files[1]["message"] == ("公安死亡人员名单文件“deaths_20240301.csv”未载入：共1处错误，整个文件未载入，"
                                       "请更正后重新放入收件目录：第3行 死亡日期：“昨天”不是有效日期")
    failed = MatchingSourceFile.objects.get(file_name="deaths_20240301.csv")
    assert failed.status == "failed" and not MatchingRecord.objects.filter(file=failed).exists()
    assert run.current_files == {"deaths": MatchingSourceFile.objects.get(file_name="deaths_20240101.csv").pk}


def test_each_file_is_processed_once_and_the_newest_is_current(regions, inbox):
    number = id_for("430621", "19800101", 7)
    write_list(inbox, "deaths", [[number, "甲", "2024-01-01"]], name="deaths_20240301.csv")
    first = run_now(inbox, "test", today=RUN_DATE)
    write_list(inbox, "deaths", [[number, "甲", "2024-01-01"]], name="copy_of_the_same.csv")  # same bytes
    write_list(inbox, "deaths", [[number, "甲", "2024-01-01"], [number, "甲", "2024-01-01"]], name="d_20240201.csv")
    second = run_now(inbox, "test", today=RUN_DATE)
    assert [f["file_name"] for f in second.files] == ["d_20240201.csv"]
    assert second.current_files == first.current_files  # 2024-03-01 is newer than 2024-02-01
    assert MatchingRecord.objects.count() == 3


def test_command_prints_run_id_and_counts(regions, inbox, capsys):
    write_list(inbox, "deaths", [[id_for("430621", "19800101", 9), "甲", "2024-01-01"]])
    call_command("run_matching", "--inbox", str(inbox), "--json")
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"run_id", "counts"}
    assert out["counts"] == {"M01": 0, "M02": 0, "M03": 0, "M04": 0, "M05": 0, "M06": 0, "M07": 0}
    assert out["files"][0]["rows"] == 1
