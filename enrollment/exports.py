"""Files a finance bureau or a township office takes away: the issued report as .xlsx (summary + frozen
detail) and the chase list as .xlsx. ID numbers are masked unless the user may see them in full; both go out
through poverty_registry.workbook."""
from __future__ import annotations

import openpyxl
from django.utils import timezone
from openpyxl.styles import Alignment, Font

from poverty_registry.admin_base import shown_id_number
from poverty_registry.models import Region
from poverty_registry.vocab import CATEGORIES
from poverty_registry.workbook import Sheet, safe_row, save

from .models import SubsidyReport
from .selectors import ChaseItem
from .subsidy_reports import report_summary

BOLD = Font(bold=True)


def report_workbook(report: SubsidyReport, user) -> bytes:
    book = openpyxl.Workbook()
    _summary_sheet(book.active, report)
    _detail_sheet(book.create_sheet("资助明细"), report, user)
    return save(book)


def _summary_sheet(sheet, report: SubsidyReport) -> None:
    summary = report_summary(report)
    sheet.title = "汇总"
    width = 2 + 2 * len(summary.categories) + 2
    sheet.append([f"{report.region.full_name} {report.year}年度资助参保资金汇总表"])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A1"].alignment = Alignment(horizontal="center")
    issued = timezone.localtime(report.issued_at).strftime("%Y-%m-%d %H:%M:%S")
    sheet.append(["存根号", report.serial_no, "出具人", report.issued_by.username, "出具时间", issued])
    sheet.append(["明细校验值（SHA-256）", report.checksum])
    sheet.append([])
    header = ["乡镇代码", "乡镇（街道）"]
    for code in summary.categories:
        header += [f"{CATEGORIES.get(code, code)}人数", f"{CATEGORIES.get(code, code)}金额（元）"]
    sheet.append(header + ["合计人数", "合计金额（元）"])
    for cell in sheet[5]:
        cell.font = BOLD
    for row in summary.rows:
        values = [row.township, row.township_name]
        for code in summary.categories:
            persons, amount = row.cells.get(code, (0, 0))
            values += [persons, amount]
        sheet.append(safe_row(values + [row.persons, row.amount]))
    totals = ["合计", ""]
    for code in summary.categories:
        totals += list(summary.totals[code])
    sheet.append(totals + [summary.persons, summary.amount])
    for cell in sheet[sheet.max_row]:
        cell.font = BOLD
    for row in sheet.iter_rows(min_row=6):
        for cell in row[2:]:
            if not isinstance(cell.value, int):
                cell.number_format = "#,##0.00"
    sheet.append([])
    sheet.append(["制表人：", "", "审核人：", "", "单位负责人：", "", "（单位盖章）"])
    sheet.column_dimensions["A"].width = 22
    sheet.column_dimensions["B"].width = 18


def _detail_sheet(sheet, report: SubsidyReport, user) -> None:
    sheet.append(["身份证号", "姓名", "村（社区）代码", "村（社区）", "资助类别", "个人缴费（元）", "资助金额（元）",
                  "资金来源", "政策版本"])
    names = dict(Region.objects.filter(level=5).values_list("code", "name"))
    lines = report.lines.order_by("id_number").values_list(
        "id_number", "name", "region_code", "category", "premium", "subsidy", "fund", "policy_version")
    for number, name, region, category, premium, subsidy, fund, version in lines.iterator(chunk_size=5000):
        sheet.append(safe_row([shown_id_number(user, number), name, region, names.get(region, ""),
                            CATEGORIES.get(category, category), premium, subsidy, fund, version]))
    sheet.column_dimensions["A"].width = 22


def chase_sheet(items: list[ChaseItem], year: int) -> Sheet:
    names = dict(Region.objects.filter(code__in={i.region_code for i in items}).values_list("code", "name"))
    rows = ([item.id_number, item.name, item.region_code, names.get(item.region_code, ""), item.phone,
             item.status_label, item.note, item.updated_by,
             timezone.localtime(item.updated_at).strftime("%Y-%m-%d %H:%M") if item.updated_at else ""]
            for item in items)
    header = ["身份证号", "姓名", "村（社区）代码", "村（社区）", "联系电话", "跟进状态", "备注", "跟进人", "跟进时间"]
    return Sheet(f"{year}年未参保人员", header, rows, id_columns=(0,))
