"""Issued reports: township × category summary, serial number, frozen lines whose SHA-256 verifies, a later
change shown as a difference (the report itself never edited), .xlsx and the A4 print page."""
from __future__ import annotations

import hashlib
import io
from decimal import Decimal

import openpyxl
import pytest
from django.db import connection, transaction
from django.db.utils import ProgrammingError
from django.urls import reverse

from enrollment.models import SubsidyLine, SubsidyReport
from enrollment.subsidies import compute_subsidies
from enrollment.subsidy_reports import (
    checksum_of_lines,
    compare_with_current,
    issue_report,
    report_summary,
    verify_report,
)
from tests.confirming import post_confirmed
from tests.conftest import VILLAGE_A
from tests.enrollment.conftest import categorised, enrol

pytestmark = pytest.mark.django_db
Y = 2024
TOWNSHIP_A2_VILLAGE = "430621101201"  # 黄沙街镇


@pytest.fixture
def computed(policies):
    people = [
        categorised(VILLAGE_A, 1, "甲", ("tekun", "2018-01-01", None)),
        categorised(VILLAGE_A, 2, "乙", ("dibao", "2018-01-01", None)),
        categorised(VILLAGE_A, 3, "丙", ("dibao", "2018-01-01", None)),
        categorised(TOWNSHIP_A2_VILLAGE, 4, "丁", ("tuopin", "2018-01-01", None)),
    ]
    for person in people:
        enrol(person, Y)
    compute_subsidies(Y)
    return people


def test_summary_per_township_and_category(computed, county_a):
    report = issue_report(Y, "430621", county_a)
    summary = report_summary(report)
    assert [(r.township, r.cells, r.persons, r.amount) for r in summary.rows] == [
        ("430621100", {"tekun": (1, Decimal("400.00")), "dibao": (2, Decimal("400.00"))}, 3, Decimal("800.00")),
        ("430621101", {"tuopin": (1, Decimal("100.00"))}, 1, Decimal("100.00")),
    ]
    assert (summary.persons, summary.amount) == (4, Decimal("900.00"))
    assert (report.serial_no, report.persons, report.total_subsidy) == ("ZZ2024-430621-0001", 4, Decimal("900.00"))
    assert issue_report(Y, "430621", county_a).serial_no == "ZZ2024-430621-0002"


def test_checksum_is_sha256_of_the_documented_line_text(computed, county_a):
    report = issue_report(Y, "430621", county_a)
    lines = sorted(report.lines.all(), key=lambda line: line.id_number)
    text = "\n".join(f"{x.id_number}|2024|{x.category}|{x.premium}|{x.subsidy}|{x.fund}|{x.region_code}|"
                     f"{x.policy_id}:1" for x in lines)
    assert report.checksum == hashlib.sha256(text.encode()).hexdigest() == checksum_of_lines(lines, Y)
    assert verify_report(report)


def test_altered_line_shows_as_difference_and_report_stays(computed, county_a):
    report = issue_report(Y, "430621", county_a)
    assert compare_with_current(report).differences == []
    SubsidyLine.objects.filter(name="乙").update(subsidy=Decimal("150.00"))  # altered after issuing
    comparison = compare_with_current(report)
    assert [(d.name, d.kind, d.old_subsidy, d.new_subsidy) for d in comparison.differences] == \
        [("乙", "changed", Decimal("200.00"), Decimal("150.00"))]
    assert (comparison.issued_amount, comparison.current_amount, comparison.delta) == \
        (Decimal("900.00"), Decimal("850.00"), Decimal("-50.00"))
    report.refresh_from_db()
    assert verify_report(report) and report.total_subsidy == Decimal("900.00")
    assert report.lines.get(name="乙").subsidy == Decimal("200.00")


def test_recompute_after_issue_shows_differences_never_edits(computed, county_a):
    report = issue_report(Y, "430621", county_a)
    enrol(categorised(VILLAGE_A, 5, "戊", ("tekun", "2018-01-01", None)), Y)
    compute_subsidies(Y)
    assert [(d.name, d.kind, d.new_subsidy) for d in compare_with_current(report).differences] == \
        [("戊", "added", Decimal("400.00"))]
    assert report.lines.count() == 4 and verify_report(report)


def test_frozen_lines_refuse_change_and_tampering_fails_verification(computed, county_a):
    report = issue_report(Y, "430621", county_a)
    with pytest.raises(ProgrammingError, match="存根冻结"), transaction.atomic():
        report.lines.filter(name="甲").update(subsidy=Decimal("1.00"))
    with pytest.raises(ProgrammingError, match="存根冻结"), transaction.atomic():
        SubsidyReport.objects.filter(pk=report.pk).update(checksum="0" * 64)
    with connection.cursor() as cursor:  # bypassing the trigger, as only a database superuser could
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("UPDATE enrollment_subsidyreportline SET subsidy = 1 WHERE report_id = %s AND name = '甲'",
                       [report.pk])
        cursor.execute("SET LOCAL session_replication_role = origin")
    assert not verify_report(report)


def test_nothing_to_issue(regions, policies, county_a):
    from enrollment.subsidy_reports import NothingToIssue

    with pytest.raises(NothingToIssue):
        issue_report(Y, "430621", county_a)
    assert not SubsidyReport.objects.exists()


def test_pages_xlsx_and_print(client, computed, county_a, clerk_b):
    client.force_login(county_a)
    response = post_confirmed(client, reverse("enrollment:issue"), {"year": Y, "region": "430621"})
    report = SubsidyReport.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("enrollment:report", args=[report.pk])
    page = client.get(response["Location"]).content.decode()
    assert report.serial_no in page and "校验通过" in page and report.checksum in page
    xlsx = client.get(reverse("enrollment:report_xlsx", args=[report.pk]))
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    summary = list(book["汇总"].values)
    assert summary[1][:2] == ("存根号", report.serial_no)
    assert summary[2][:2] == ("明细校验值（SHA-256）", report.checksum)
    totals = [row for row in summary if row[0] == "合计"][0]
    assert totals[2:10] == (1, 400, 2, 400, 1, 100, 4, 900)
    detail = list(book["资助明细"].values)
    assert len(detail) == 5 and detail[1][0].count("*") == 8  # masked for a county officer
    printed = client.get(reverse("enrollment:report_print", args=[report.pk])).content.decode()
    assert "size: A4" in printed and "制表人" in printed and "审核人" in printed and report.serial_no in printed
    client.force_login(clerk_b)
    assert client.get(reverse("enrollment:report", args=[report.pk])).status_code == 404
    assert client.get(reverse("enrollment:report_xlsx", args=[report.pk])).status_code == 404


def test_report_xlsx_download_is_recorded_with_its_rows(client, computed, county_a):
    from poverty_registry.models import AccessRecord

    report = issue_report(Y, "430621", county_a)
    client.force_login(county_a)
    client.get(reverse("enrollment:report_xlsx", args=[report.pk]))
    record = AccessRecord.objects.get()
    assert (record.kind, record.object_key, record.file_name, record.rows, record.full_ids) == (
        "export", f"enrollment.subsidyreport:{report.pk}", f"资助参保报表_{report.serial_no}.xlsx",
        report.lines.count(), 0)
    assert record.rows > 0
