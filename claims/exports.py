"""Workbooks of settlement: the §6.7 statistics and the §9 warning list (for the rural-revitalisation office).
Personal data as the user may see it; text cells neutralised against formula injection."""
from __future__ import annotations

import io

import openpyxl

from poverty_registry.admin_base import shown_id_number
from poverty_registry.tabular import neutralise_formula

from .models import HOSPITAL_LEVELS, VISIT_TYPES
from .services import TIER_COLUMNS, paid_total
from .settlement import CATEGORY_NAMES, TIER_NAMES

STAT_HEADER = ["分组", "人数", "人次", "医疗总费用", *[TIER_NAMES[c] for c in TIER_COLUMNS], "个人自付", "实际报销比例"]


def _safe(values) -> list:
    return [neutralise_formula(v) if isinstance(v, str) else v for v in values]


def _save(book) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _stat_line(row) -> list:
    ratio = row.effective_ratio
    return _safe([row.label, row.persons, row.times, row.total_cost, *[row.tiers[c] for c in TIER_COLUMNS],
                  row.self_pay, float(ratio) if ratio is not None else None])


def statistics_workbook(stats: dict, year: int, region: str) -> bytes:
    book = openpyxl.Workbook(write_only=True)
    summary = book.create_sheet("汇总")
    summary.append([f"{year}年度一站式结算统计（区划 {region or '全部'}）"])
    summary.append(STAT_HEADER)
    if stats["overall"]:
        summary.append(_stat_line(stats["overall"]))
    summary.append([])
    share = stats["poor_inpatients_share"]
    summary.append(["县域内住院贫困人口人次", stats["poor_inpatients"]])
    summary.append(["其中个人自付比例≤10%的人次", stats["poor_inpatients_low"]])
    summary.append(["占比", float(share) if share is not None else None])
    for title, key in (("按乡镇", "townships"), ("按医疗机构", "hospitals"), ("按人员类别", "categories"),
                       ("按医院等级", "levels")):
        sheet = book.create_sheet(title)
        sheet.append(STAT_HEADER)
        for row in stats[key]:
            sheet.append(_stat_line(row))
    return _save(book)


RISK_HEADER = ["姓名", "身份证号", "所在区划", "适用人员类别", "就诊人次", "医疗总费用累计", "各档报销累计",
               "个人自付累计", "预警线"]
CLAIM_HEADER = ["身份证号", "姓名", "结算单号", "医疗机构", "医院等级", "就诊类型", "入院日期", "出院日期",
                "医疗总费用", "报销合计", "个人自付"]


def risk_workbook(totals, claims_by_person: dict, user, year: int) -> bytes:
    book = openpyxl.Workbook(write_only=True)
    persons = book.create_sheet("预警人员")
    persons.append([f"{year}年度因病返贫致贫风险预警名单"])
    persons.append(RISK_HEADER)
    for t in totals:
        persons.append(_safe([t.name, shown_id_number(user, t.id_number), f"{t.region.name}（{t.region_id}）",
                              CATEGORY_NAMES.get(t.category, "非贫困人口"), t.claim_count, t.total_cost,
                              t.reimbursed, t.self_pay, t.threshold]))
    claims = book.create_sheet("相关结算单")
    claims.append(CLAIM_HEADER)
    for t in totals:
        for claim, settlement in claims_by_person.get(t.id_number, []):
            claims.append(_safe([shown_id_number(user, claim.id_number), claim.name, claim.claim_no,
                                 claim.hospital.name, HOSPITAL_LEVELS.get(claim.hospital_level),
                                 VISIT_TYPES.get(claim.visit_type), claim.admission_date, claim.discharge_date,
                                 claim.total_cost, paid_total(settlement) if settlement else None,
                                 settlement.self_pay if settlement else None]))
    return _save(book)
