"""Subsidy reports (资助参保报表): the township × category summary, issuing a report as a frozen stub
(存根号, issuer, time, SHA-256 of its lines), verifying it, and the differences of today's lines against it.

The checksum is SHA-256 over the report's lines ordered by ID number, one line per person, joined by "\\n":
``身份证号|参保年度|类别代码|个人缴费|资助金额|资金来源|村（社区）代码|政策ID:版本`` (amounts with two decimals),
so a finance bureau can recompute it from the detail sheet of the export.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, transaction

from poverty_registry import locks, sql
from poverty_registry.models import Region

from .models import SubsidyLine, SubsidyReport, SubsidyReportLine
from .subsidies import scope_pattern
from .subsidy_rules import CATEGORY_RANK


class NothingToIssue(ValueError):
    """No subsidy lines in the report's scope: compute the subsidies first."""


@dataclass
class SummaryRow:
    township: str
    township_name: str
    cells: dict[str, tuple[int, Decimal]]
    persons: int
    amount: Decimal


@dataclass
class Summary:
    categories: list[str]
    rows: list[SummaryRow]
    totals: dict[str, tuple[int, Decimal]]
    persons: int
    amount: Decimal


@dataclass
class Difference:
    id_number: str
    name: str
    kind: str
    old_region: str | None
    new_region: str | None
    old_category: str | None
    new_category: str | None
    old_subsidy: Decimal | None
    new_subsidy: Decimal | None
    old_premium: Decimal | None
    new_premium: Decimal | None
    old_fund: str | None
    new_fund: str | None
    old_version: int | None
    new_version: int | None

    @property
    def delta(self) -> Decimal:
        return (self.new_subsidy or Decimal(0)) - (self.old_subsidy or Decimal(0))


@dataclass
class Comparison:
    differences: list[Difference] = field(default_factory=list)
    issued_amount: Decimal = Decimal("0.00")
    current_amount: Decimal = Decimal("0.00")

    @property
    def delta(self) -> Decimal:
        return self.current_amount - self.issued_amount


def _summary(rows: list[tuple]) -> Summary:
    """Rows (township code, category, persons, amount) into the township × category table."""
    by_township: dict[str, dict[str, tuple[int, Decimal]]] = defaultdict(dict)
    totals: dict[str, tuple[int, Decimal]] = {}
    for township, category, persons, amount in rows:
        by_township[township][category] = (persons, amount)
        old = totals.get(category, (0, Decimal("0.00")))
        totals[category] = (old[0] + persons, old[1] + amount)
    names = dict(Region.objects.filter(code__in=list(by_township)).values_list("code", "name"))
    categories = sorted(totals, key=lambda c: CATEGORY_RANK.get(c, 99))
    table = [SummaryRow(code, names.get(code, code), cells, sum(p for p, _ in cells.values()),
                        sum((a for _, a in cells.values()), Decimal("0.00")))
             for code, cells in sorted(by_township.items())]
    return Summary(categories, table, totals, sum(r.persons for r in table),
                   sum((r.amount for r in table), Decimal("0.00")))


def live_summary(year: int, scope_code: str) -> Summary:
    with connection.cursor() as cursor:
        cursor.execute(sql.inline("SELECT left(region_id, 9) AS township, category, count(*), sum(subsidy) "
                                  "FROM {subsidyline} WHERE year = %s AND region_id LIKE %s GROUP BY 1, 2"),
                       [year, scope_pattern(scope_code)])
        return _summary(cursor.fetchall())


def report_summary(report: SubsidyReport) -> Summary:
    with connection.cursor() as cursor:
        cursor.execute(sql.inline("SELECT left(region_code, 9) AS township, category, count(*), sum(subsidy) "
                                  "FROM {subsidyreportline} WHERE report_id = %s GROUP BY 1, 2"), [report.pk])
        return _summary(cursor.fetchall())


@dataclass
class IssuePreview:
    """What issuing a report would freeze: the figures its confirmation page shows."""

    persons: int
    lines: int
    amount: Decimal
    serial_no: str


def issue_preview(year: int, region_code: str) -> IssuePreview:
    """The lines report_freeze.sql would copy now (the same filter), counted."""
    with connection.cursor() as cursor:
        cursor.execute(sql.inline("SELECT count(DISTINCT person_id), count(*), coalesce(sum(subsidy), 0) "
                                  "FROM {subsidyline} WHERE year = %s AND region_id LIKE %s"),
                       [year, scope_pattern(region_code)])
        persons, lines, amount = cursor.fetchone()
    return IssuePreview(persons, lines, amount, next_serial(year, region_code))


def next_serial(year: int, region_code: str) -> str:
    prefix = f"ZZ{year}-{region_code}-"
    count = SubsidyReport.objects.filter(serial_no__startswith=prefix).count()
    return f"{prefix}{count + 1:04d}"


def issue_report(year: int, region_code: str, user) -> SubsidyReport:
    """Freeze the year's lines in the region as a report with a serial number and checksum."""
    with transaction.atomic(), connection.cursor() as cursor:
        locks.xact_lock(locks.SUBSIDY_REPORT_SERIAL, year)
        report = SubsidyReport.objects.create(serial_no=next_serial(year, region_code), year=year,
                                              region_id=region_code, issued_by=user, persons=0,
                                              total_subsidy=0, checksum="")
        cursor.execute(sql.load(__name__, "report_freeze"),
                       {"report": report.pk, "year": year, "scope": scope_pattern(region_code)})
        if cursor.rowcount == 0:
            raise NothingToIssue(f"{year}年该区划没有资助明细，请先计算资助")
        cursor.execute(sql.inline("SELECT count(*), sum(subsidy) FROM {subsidyreportline} WHERE report_id = %s"),
                       [report.pk])
        report.persons, report.total_subsidy = cursor.fetchone()
        report.checksum = line_checksum(report)
        report.save(update_fields=["persons", "total_subsidy", "checksum"])
    return report


def line_checksum(report: SubsidyReport) -> str:
    with connection.cursor() as cursor:
        cursor.execute(sql.load(__name__, "report_checksum"), [report.pk])
        return cursor.fetchone()[0]


def line_text(line: SubsidyReportLine, year: int) -> str:
    """One line of the checksummed text, as report_checksum.sql builds it (for recomputing outside the database)."""
    return (f"{line.id_number}|{year}|{line.category}|{line.premium:.2f}|{line.subsidy:.2f}|{line.fund}|"
            f"{line.region_code}|{line.policy_id}:{line.policy_version}")


def checksum_of_lines(lines, year: int) -> str:
    text = "\n".join(line_text(line, year) for line in sorted(lines, key=lambda line: line.id_number))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def verify_report(report: SubsidyReport) -> bool:
    """The frozen lines still hash to the checksum recorded when the report was issued."""
    return line_checksum(report) == report.checksum


def compare_with_current(report: SubsidyReport, limit: int | None = None) -> Comparison:
    """Today's subsidy lines in the report's region against the frozen ones (never touches the report)."""
    params = {"report": report.pk, "year": report.year, "scope": scope_pattern(report.region_id)}
    with connection.cursor() as cursor:
        cursor.execute(sql.load(__name__, "report_diff") + (f" LIMIT {int(limit)}" if limit else ""), params)
        differences = [Difference(*row) for row in cursor.fetchall()]
    current = SubsidyLine.objects.filter(year=report.year, region__code__startswith=report.region_id)
    from django.db.models import Sum

    return Comparison(differences, report.total_subsidy,
                      current.aggregate(s=Sum("subsidy"))["s"] or Decimal("0.00"))
