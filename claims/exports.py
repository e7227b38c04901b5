"""Workbooks of settlement: the §6.7 statistics and the §9 warning list (for the rural-revitalisation office),
as sheets for poverty_registry.workbook (which masks ID numbers as the user may see them and neutralises
formulas)."""
from __future__ import annotations

from poverty_registry.workbook import Sheet

from .models import HOSPITAL_LEVELS, VISIT_TYPES
from .settlement.engine import CATEGORY_NAMES, TIER_NAMES
from .settlement.services import TIER_COLUMNS, paid_total

STAT_HEADER = ["分组", "人数", "人次", "医疗总费用", *[TIER_NAMES[c] for c in TIER_COLUMNS], "个人自付", "实际报销比例"]


def _stat_line(row) -> list:
    ratio = row.effective_ratio
    return [row.label, row.persons, row.times, row.total_cost, *[row.tiers[c] for c in TIER_COLUMNS],
            row.self_pay, float(ratio) if ratio is not None else None]


def statistics_sheets(stats: dict, year: int, region: str) -> list[Sheet]:
    share = stats["poor_inpatients_share"]
    summary = [_stat_line(stats["overall"])] if stats["overall"] else []
    summary += [[], ["县域内住院贫困人口人次", stats["poor_inpatients"]],
                ["其中个人自付比例≤10%的人次", stats["poor_inpatients_low"]],
                ["占比", float(share) if share is not None else None]]
    title = f"{year}年度一站式结算统计（区划 {region or '全部'}）"
    sheets = [Sheet("汇总", STAT_HEADER, summary, title_rows=[[title]])]
    for title, key in (("按乡镇", "townships"), ("按医疗机构", "hospitals"), ("按人员类别", "categories"),
                       ("按医院等级", "levels")):
        sheets.append(Sheet(title, STAT_HEADER, [_stat_line(row) for row in stats[key]]))
    return sheets


RISK_HEADER = ["姓名", "身份证号", "所在区划", "适用人员类别", "就诊人次", "医疗总费用累计", "各档报销累计",
               "个人自付累计", "预警线"]
CLAIM_HEADER = ["身份证号", "姓名", "结算单号", "医疗机构", "医院等级", "就诊类型", "入院日期", "出院日期",
                "医疗总费用", "报销合计", "个人自付"]


def risk_sheets(totals, claims_by_person: dict, year: int) -> list[Sheet]:
    persons = ([t.name, t.id_number, f"{t.region.name}（{t.region_id}）", CATEGORY_NAMES.get(t.category, "非贫困人口"),
                t.claim_count, t.total_cost, t.reimbursed, t.self_pay, t.threshold] for t in totals)
    claims = ([claim.id_number, claim.name, claim.claim_no, claim.hospital.name,
               HOSPITAL_LEVELS.get(claim.hospital_level), VISIT_TYPES.get(claim.visit_type), claim.admission_date,
               claim.discharge_date, claim.total_cost, paid_total(settlement) if settlement else None,
               settlement.self_pay if settlement else None]
              for t in totals for claim, settlement in claims_by_person.get(t.id_number, []))
    return [Sheet("预警人员", RISK_HEADER, persons, id_columns=(1,),
                  title_rows=[[f"{year}年度因病返贫致贫风险预警名单"]]),
            Sheet("相关结算单", CLAIM_HEADER, claims, id_columns=(0,))]
