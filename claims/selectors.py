"""Read-side of settlement: the sheet's versions side by side, the §6.7 statistics and the §9 warning list,
always over a queryset already restricted to the user's region."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import EmptyResultSet
from django.db import connections, transaction
from django.db.models import BooleanField, Count, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import Substr

from enrollment.selectors import FAST_AGGREGATE
from poverty_registry.figures import cached_figures, scope_part
from poverty_registry.models import Region
from poverty_registry.scoping import region_scope

from .models import HOSPITAL_LEVELS, Claim, Hospital, Settlement
from .settlement.engine import CATEGORY_NAMES, TIER_NAMES
from .settlement.models import PersonYearTotal
from .settlement.services import TIER_COLUMNS, paid_total

ZERO = Decimal("0.00")


def ratio(part, whole) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


# ---------------------------------------------------------------- the settlement sheet

@dataclass
class TierLine:
    code: str
    name: str
    new: dict
    old: dict | None

    @property
    def difference(self) -> Decimal | None:
        if self.old is None:
            return None
        return Decimal(self.new["amount"]) - Decimal(self.old["amount"])


def sheet_versions(claim: Claim, version: int | None = None) -> dict:
    """The current (or a chosen) version and the one before it, tier by tier, with the difference."""
    versions = list(claim.settlements.select_related("policy", "explanation").order_by("-version"))
    if not versions:
        return {"versions": [], "current": None}
    chosen = next((v for v in versions if v.version == version), None) if version else None
    chosen = chosen or next(v for v in versions if v.is_current)
    before = next((v for v in versions if v.version < chosen.version), None)
    new_tiers = {t["tier"]: t for t in chosen.detail["tiers"]}
    old_tiers = {t["tier"]: t for t in before.detail["tiers"]} if before else {}
    lines = [TierLine(code, name, new_tiers[code], old_tiers.get(code)) for code, name in TIER_NAMES.items()]
    paid_new = paid_total(chosen)
    paid_old = paid_total(before) if before else None
    return {
        "versions": versions, "current": chosen, "previous": before, "lines": lines,
        "paid": paid_new, "paid_old": paid_old,
        "difference": None if before is None else paid_new - paid_old,
        "category_name": CATEGORY_NAMES.get(chosen.category, "非贫困人口"),
        "old_category_name": CATEGORY_NAMES.get(before.category, "非贫困人口") if before else "",
    }


# ---------------------------------------------------------------- §6.7 statistics

@dataclass
class StatRow:
    key: str
    label: str
    persons: int
    times: int
    total_cost: Decimal
    tiers: dict
    self_pay: Decimal

    @property
    def reimbursed(self) -> Decimal:
        return self.total_cost - self.self_pay

    @property
    def effective_ratio(self) -> Decimal | None:
        return ratio(self.reimbursed, self.total_cost)


def current_settlements(settlements, year: int, region: str = ""):
    qs = settlements.filter(is_current=True, claim__year=year)
    return qs.filter(region__code__startswith=region) if region else qs


# The groupings of the statistics page, and GROUPING()'s bit mask of each (a bit set: that column not grouped).
GROUPS = {"overall": 0b1111, "townships": 0b0111, "hospitals": 0b1011, "categories": 0b1101, "levels": 0b1110}
GROUPED_SQL = """
SELECT GROUPING(township, hospital, category, level), township, hospital, category, level,
       count(DISTINCT person), count(*), sum(cost), {tiers}, sum(self_pay),
       count(*) FILTER (WHERE poor_inpatient), count(*) FILTER (WHERE poor_inpatient AND low)
FROM ({inner}) AS s
GROUP BY GROUPING SETS ((), (township), (hospital), (category), (level))
"""


def _grouped(qs) -> dict[str, list[tuple]]:
    """The year's settlements read once, summed overall and by township, hospital, category and hospital level
    (GROUPING SETS: one scan where a query per grouping read the year's claims five times)."""
    inner = qs.order_by().values_list(
        Substr("region_id", 1, 9), "claim__hospital_id", "category", "claim__hospital_level", "claim__id_number",
        "claim__total_cost", *TIER_COLUMNS, "self_pay",
        ExpressionWrapper(~Q(category="") & Q(claim__in_county=True, claim__visit_type="inpatient"),
                          output_field=BooleanField()),
        ExpressionWrapper(Q(self_pay__lte=F("claim__total_cost") * Decimal("0.10")), output_field=BooleanField()))
    groups: dict[str, list[tuple]] = {name: [] for name in GROUPS}
    try:
        sql, params = inner.query.sql_with_params()
    except EmptyResultSet:  # a user who may see no region: the overall row of nothing
        groups["overall"].append((GROUPS["overall"], None, None, None, None, 0, 0, None,
                                  *(None for _ in TIER_COLUMNS), None, 0, 0))
        return groups
    columns = ("township", "hospital", "category", "level", "person", "cost", *TIER_COLUMNS, "self_pay",
               "poor_inpatient", "low")
    query = GROUPED_SQL.format(tiers=", ".join(f"sum({c})" for c in TIER_COLUMNS),
                               inner=f"SELECT * FROM ({sql}) AS v ({', '.join(columns)})")
    names = {mask: name for name, mask in GROUPS.items()}
    with transaction.atomic(using=qs.db), connections[qs.db].cursor() as cursor:
        cursor.execute(FAST_AGGREGATE)  # the year's claims sorted in memory, no JIT compiling for a 0.2 s query
        cursor.execute(query, params)
        for row in cursor.fetchall():
            groups[names[row[0]]].append(row)
    return groups


def _stat_row(key, label: str, row: tuple) -> StatRow:
    persons, times, cost, *tiers, self_pay = row[5:9 + len(TIER_COLUMNS)]
    return StatRow(str(key), label, persons, times, cost or ZERO,
                   {c: t or ZERO for c, t in zip(TIER_COLUMNS, tiers)}, self_pay or ZERO)


def _rows(rows: list[tuple], position: int, labels: dict) -> list[StatRow]:
    """One grouping's rows, ordered by its key as ORDER BY would (NULL last)."""
    rows = sorted(rows, key=lambda r: (r[position] is None, r[position]))
    return [_stat_row(r[position], labels.get(r[position], str(r[position]) or "—"), r) for r in rows]


def statistics(qs) -> dict:
    """Persons and person-times, total cost, paid by tier, effective ratio overall and per township,
    hospital, category and hospital level; the share of poor in-county inpatients paying ≤ 10 %."""
    return _statistics(_grouped(qs))


def year_statistics(user, year: int, region: str = "") -> dict:
    """statistics() of the user's current settlements of the year (in `region`, within the user's scope) from
    the figure cache — shared by everyone of the same scope — with when they were computed ("computed_at")."""
    qs = current_settlements(Settlement.objects.restrict(user), year, region)
    may_view = int(user.has_perm("claims.view_settlement"))  # without it restrict() gives nothing
    figures = cached_figures(("claims_statistics", scope_part(region_scope(user)), may_view, year, region or "all"),
                             lambda: _grouped(qs))
    return {**_statistics(_from_json(figures.value)), "computed_at": figures.computed_at}


# The money columns of a _grouped row (total cost, each tier, self-pay): Decimals, strings in the cache.
_MONEY = range(7, 9 + len(TIER_COLUMNS))


def _from_json(groups: dict[str, list[list]]) -> dict[str, list[tuple]]:
    return {name: [tuple(Decimal(v) if i in _MONEY and v is not None else v for i, v in enumerate(row))
                   for row in rows] for name, rows in groups.items()}


def _statistics(groups: dict[str, list[tuple]]) -> dict:
    total = groups["overall"][0]
    overall = _stat_row("all", "合计", total)
    townships = _rows(groups["townships"], 1, {})
    names = dict(Region.objects.filter(code__in=[r.key for r in townships]).values_list("code", "name"))
    for row in townships:
        row.label = f"{names.get(row.key, row.key)}（{row.key}）"
    hospitals = _rows(groups["hospitals"], 2, {})
    hospital_names = dict(Hospital.objects.filter(pk__in=[r.key for r in hospitals]).values_list("pk", "name"))
    for row in hospitals:
        row.label = hospital_names.get(int(row.key), row.key)
    categories = _rows(groups["categories"], 3, {"": "非贫困人口", **CATEGORY_NAMES})
    levels = _rows(groups["levels"], 4, HOSPITAL_LEVELS)
    share_all, share_low = total[-2], total[-1]
    return {
        "overall": overall if overall.times else None,
        "townships": townships, "hospitals": hospitals, "categories": categories, "levels": levels,
        "poor_inpatients": share_all, "poor_inpatients_low": share_low,
        "poor_inpatients_share": ratio(share_low, share_all),
    }


def bars(rows: list[StatRow]) -> list[dict]:
    """Rows for the SVG bar chart of effective ratios (percent of 100)."""
    return [{"label": r.label, "value": f"{r.effective_ratio * 100:.2f}%" if r.effective_ratio is not None else "—",
             "pct": f"{(r.effective_ratio or 0) * 100:.2f}"} for r in rows]


def tier_bars(row: StatRow | None) -> list[dict]:
    if row is None or not row.total_cost:
        return []
    parts = [(TIER_NAMES[c], row.tiers[c]) for c in TIER_COLUMNS] + [("个人自付", row.self_pay)]
    return [{"label": label, "value": f"{amount:,.2f}", "pct": f"{amount / row.total_cost * 100:.2f}"}
            for label, amount in parts]


# ---------------------------------------------------------------- §9 warning list

def warnings(totals, year: int, region: str = ""):
    qs = totals.filter(year=year, at_risk=True).select_related("region").order_by("-self_pay", "id_number")
    return qs.filter(region__code__startswith=region) if region else qs


def claims_of(year_totals: list[PersonYearTotal], claims) -> dict[str, list]:
    """{id_number: [(claim, current settlement)]} of the listed person-years, in settlement order."""
    by_person: dict[str, list] = {t.id_number: [] for t in year_totals}
    if not by_person:
        return by_person
    years = {t.year for t in year_totals}
    current = {s.claim_id: s for s in Settlement.objects.filter(
        is_current=True, claim__id_number__in=list(by_person), claim__year__in=years)}
    for claim in (claims.filter(id_number__in=list(by_person), year__in=years).select_related("hospital")
                  .order_by("discharge_date", "claim_no")):
        by_person[claim.id_number].append((claim, current.get(claim.pk)))
    return by_person


def home_numbers(user) -> dict[str, list]:
    """The home page's settlement figures, tiles, to-dos and links for this user (scoped)."""
    from django.urls import reverse
    from django.utils import timezone

    from poverty_registry.charts import shows_tile

    out: dict[str, list] = {"figures": [], "todos": [], "links": [], "tiles": [], "computed_at": []}
    today = timezone.localdate()
    year = today.year
    if user.has_perm("claims.view_personyeartotal"):
        count = PersonYearTotal.objects.restrict(user).filter(year=year, at_risk=True).count()
        out["figures"].append((f"{year}年因病返贫致贫风险人数", count))
        if count:
            out["todos"].append(("因病返贫致贫风险预警", reverse("claims:risk"), count))
        out["links"].append(("因病返贫致贫预警", reverse("claims:risk")))
    if user.has_perm("claims.view_settlement"):
        url = f"{reverse('claims:statistics')}?year={year}"
        wanted = [key for key in ("oneshop_ratio", "low_self_pay") if shows_tile(user, key)]
        if wanted:
            months, computed_at = cached_poor_settlements_by_month(user, year)
            out["computed_at"].append(computed_at)
            tiles = {"oneshop_ratio": oneshop_ratio_tile, "low_self_pay": low_self_pay_tile}
            out["tiles"] += [tiles[key](months, year, today.month, url) for key in wanted]
        out["links"].append(("一站式结算统计", reverse("claims:statistics")))
    if user.has_perm("claims.add_claim"):
        out["links"].append(("导入结算单", reverse("imports:new", args=["claims"])))
    return out


# ---------------------------------------------------------------- the dashboard's settlement tiles

POOR = ~Q(category="")
POOR_IN_COUNTY_INPATIENT = POOR & Q(claim__in_county=True, claim__visit_type="inpatient")
ONESHOP_TARGET = (Decimal("85"), Decimal("90"))  # the poor's effective ratio the bureau is held to (percent)


def poor_settlements_by_month(settlements, year: int) -> dict[int, dict]:
    """The poor's current settlements of the year by admission month, in one aggregate query: their total
    cost and self-pay (the effective ratio, §6.7) and their in-county inpatient claims, all and those whose
    self-pay is ≤ 10 % of the cost."""
    from django.db.models.functions import ExtractMonth

    rows = (current_settlements(settlements, year).filter(POOR)
            .annotate(month=ExtractMonth("claim__admission_date")).values("month").order_by()
            .annotate(cost=Sum("claim__total_cost"), paid_self=Sum("self_pay"),
                      inpatients=Count("id", filter=POOR_IN_COUNTY_INPATIENT),
                      low=Count("id", filter=POOR_IN_COUNTY_INPATIENT & Q(
                          self_pay__lte=F("claim__total_cost") * Decimal("0.10")))))
    return {row["month"]: row for row in rows}


def cached_poor_settlements_by_month(user, year: int) -> tuple[dict[int, dict], dt.datetime]:
    """poor_settlements_by_month of the user's scope (who has view_settlement) from the figure cache, and when
    it was computed."""
    figures = cached_figures(("poor_settlements_by_month", scope_part(region_scope(user)), year),
                             lambda: poor_settlements_by_month(Settlement.objects.restrict(user), year))
    return {int(month): {**row, "cost": _decimal(row["cost"]), "paid_self": _decimal(row["paid_self"])}
            for month, row in figures.value.items()}, figures.computed_at


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _sum(months: dict[int, dict], key: str):
    return sum((row[key] or 0 for row in months.values()), 0)


def oneshop_ratio_tile(months: dict[int, dict], year: int, upto: int, url: str):
    from poverty_registry.charts import Tile, monthly_trend, percent

    cost, self_pay = _sum(months, "cost"), _sum(months, "paid_self")
    value = percent(cost - self_pay, cost)
    low, high = ONESHOP_TARGET
    state = "" if value is None else "ok" if low <= value <= high else "bad" if value < low else "warn"
    trend = {month: percent((row["cost"] or 0) - (row["paid_self"] or 0), row["cost"])
             for month, row in months.items() if row["cost"]}
    return Tile("oneshop_ratio", f"{year}年贫困人口一站式结算实际报销比例", "—" if value is None else f"{value}", "%",
                f"目标 {low}%–{high}%", state,
                [("医疗总费用", f"{cost:,.2f}元"), ("个人自付", f"{self_pay:,.2f}元")],
                monthly_trend("实际报销比例（按入院月份，%）", trend, months=upto, unit="%", band=ONESHOP_TARGET,
                              ceiling=100, skip_missing=True), url)


def low_self_pay_tile(months: dict[int, dict], year: int, upto: int, url: str):
    from poverty_registry.charts import Tile, monthly_trend, percent

    inpatients, low = _sum(months, "inpatients"), _sum(months, "low")
    value = percent(low, inpatients)
    trend = {month: percent(row["low"], row["inpatients"]) for month, row in months.items() if row["inpatients"]}
    return Tile("low_self_pay", f"{year}年贫困人口县域内住院个人自付≤10%占比", "—" if value is None else f"{value}",
                "%", "目标 100%", "" if value is None else "ok" if low == inpatients else "warn",
                [("县域内住院", f"{inpatients:,}人次"), ("自付≤10%", f"{low:,}人次")],
                monthly_trend("自付≤10%占比（按入院月份，%）", trend, months=upto, unit="%", goal=100,
                              skip_missing=True), url)
