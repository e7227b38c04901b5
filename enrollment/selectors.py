"""Read-only questions about enrolment (live, set-based SQL): the enrolment rate of the registered poor per
village / township / county, and the chase list of those not enrolled, with the township's work status.

"Registered" counts the ledger's persons in the region who were alive on 1 January of the year (someone who
died during the year still had to be enrolled). "Enrolled" is an enrolment of the year with status 正常参保,
found through the person link the import sets, or by ID number for a person added to the ledger after the
enrolment was imported (that fallback probes one index entry, and only for persons without a link).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Sum

from poverty_registry import sql
from poverty_registry.figures import cached_figures, scope_part
from poverty_registry.models import Region
from poverty_registry.regions import LEVEL_LENGTHS
from poverty_registry.scoping import RegionScope

from .models import CHASE_STATUSES, SubsidyLine

# A county's 300,000 persons hash in memory, and the plan is too cheap to repay JIT compilation.
FAST_AGGREGATE = "SET LOCAL jit = off; SET LOCAL work_mem = '64MB'"
CHASE_COLUMNS = ("p.id, p.id_number, p.name, p.region_id, p.phone, coalesce(c.status, 'new'), coalesce(c.note, ''), "
                 "c.updated_at, coalesce(u.username, '')")


@dataclass
class RateRow:
    code: str
    name: str
    registered: int
    enrolled: int

    @property
    def unenrolled(self) -> int:
        return self.registered - self.enrolled

    @property
    def rate(self) -> Decimal:
        if not self.registered:
            return Decimal("100.00")
        return (Decimal(self.enrolled) * 100 / self.registered).quantize(Decimal("0.01"))


@dataclass
class RateTable:
    year: int
    region: Region | None
    total: RateRow
    rows: list[RateRow]  # one per region one level below


@dataclass
class ChaseItem:
    person_id: int
    id_number: str
    name: str
    region_code: str
    phone: str
    status: str
    note: str
    updated_at: dt.datetime | None
    updated_by: str

    @property
    def status_label(self) -> str:
        return CHASE_STATUSES.get(self.status, self.status)


def _params(year: int, scope_code: str) -> dict:
    return {"year": year, "scope": RegionScope(scope_code).like_pattern(), "jan1": dt.date(year, 1, 1)}


def child_length(scope_code: str) -> int:
    lengths = [n for n in LEVEL_LENGTHS if n > len(scope_code)]
    return lengths[0] if lengths else len(scope_code)


def enrolment_rates(year: int, scope_code: str, region: Region | None = None) -> RateTable:
    """Registered and enrolled per region one level below the scope, and in total; one aggregate query."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(FAST_AGGREGATE)
        cursor.execute(sql.load(__name__, "enrolment_rates"), _params(year, scope_code))
        per_village = cursor.fetchall()
    width = child_length(scope_code)
    grouped: dict[str, list[int]] = {}
    for village, registered, enrolled in per_village:
        counts = grouped.setdefault(village[:width], [0, 0])
        counts[0] += registered
        counts[1] += enrolled
    names = dict(Region.objects.filter(code__in=list(grouped)).values_list("code", "name"))
    rows = [RateRow(code, names.get(code, code), *counts) for code, counts in sorted(grouped.items())]
    total = RateRow(scope_code, region.name if region else "全部", sum(r.registered for r in rows),
                    sum(r.enrolled for r in rows))
    return RateTable(year, region, total, rows)


def _chase_from(status: str | None) -> tuple[str, dict]:
    from_ = sql.load(__name__, "chase_from")
    if status == "new":
        return sql.fill(from_, status_filter="AND (c.id IS NULL OR c.status = 'new')"), {}
    if status:
        return sql.fill(from_, status_filter="AND c.status = %(status)s"), {"status": status}
    return sql.fill(from_, status_filter=""), {}


def chase_count(year: int, scope_code: str, status: str | None = None) -> int:
    from_, extra = _chase_from(status)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) {from_}", {**_params(year, scope_code), **extra})
        return cursor.fetchone()[0]


def chase_list(year: int, scope_code: str, status: str | None = None, *, offset: int = 0,
               limit: int | None = None) -> list[ChaseItem]:
    """Registered persons in scope not enrolled for the year, by village, with their work status."""
    from_, extra = _chase_from(status)
    page = f"LIMIT {int(limit)} OFFSET {int(offset)}" if limit else ""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {CHASE_COLUMNS} {from_} ORDER BY p.region_id, p.id {page}",
                       {**_params(year, scope_code), **extra})
        return [ChaseItem(*row) for row in cursor.fetchall()]


def subsidy_total(year: int, scope_code: str) -> Decimal:
    lines = SubsidyLine.objects.filter(year=year, region__code__startswith=scope_code)
    return lines.aggregate(total=Sum("subsidy"))["total"] or Decimal("0.00")


def home_numbers(user) -> dict[str, list]:
    """The home page's enrolment numbers: the rate against 100 % and (for the bureau) the subsidy paid this
    year, each with its trend by month; a township clerk's unenrolled as a to-do; links to the pages."""
    from django.urls import reverse
    from django.utils import timezone

    from poverty_registry.charts import shows_tile
    from poverty_registry.scoping import region_scope

    numbers: dict[str, list] = {"figures": [], "todos": [], "links": [], "tiles": [], "computed_at": []}
    region = region_scope(user)
    if region.is_empty or not user.has_perm("enrollment.view_enrolment"):
        return numbers
    today = timezone.localdate()
    year = today.year
    chase_url = f"{reverse('enrollment:chase')}?year={year}"
    if shows_tile(user, "enrolment_rate"):
        progress, computed_at = cached_enrolment_progress(year, region)
        numbers["computed_at"].append(computed_at)
        numbers["tiles"].append(enrolment_tile(progress, year, today.month, reverse("enrollment:rate")))
        if user.role == "township":
            numbers["figures"].append((f"{year}年未参保", progress.total.unenrolled))
            if progress.total.unenrolled:
                numbers["todos"].append((f"动员{year}年未参保人员参保", chase_url, progress.total.unenrolled))
    if shows_tile(user, "subsidy_paid") and user.has_perm("enrollment.view_subsidyline"):
        by_month, computed_at = cached_subsidy_by_month(year, region)
        numbers["computed_at"].append(computed_at)
        numbers["tiles"].append(subsidy_tile(by_month, year, today.month, reverse("enrollment:subsidies")))
    numbers["links"] += [("参保率", reverse("enrollment:rate")), ("未参保人员", chase_url)]
    if user.has_perm("enrollment.view_subsidyline"):
        numbers["links"].append(("资助参保", reverse("enrollment:subsidies")))
    return numbers


def enrolment_tile(progress: EnrolmentProgress, year: int, months: int, url: str):
    from poverty_registry.charts import Tile, cumulative, monthly_trend, percent

    rate = progress.total.rate
    by_month = {month: percent(n, progress.registered) or 0
                for month, n in cumulative(progress.enrolled_by_month).items()}
    return Tile("enrolment_rate", f"{year}年参保率", f"{rate}", "%", "目标 100%",
                "ok" if progress.total.unenrolled == 0 else "warn" if rate >= 95 else "bad",
                [("应参保", f"{progress.registered:,}"), ("已参保", f"{progress.total.enrolled:,}"),
                 ("未参保", f"{progress.total.unenrolled:,}")],
                monthly_trend("参保率（月末累计，%）", by_month, months=months, unit="%", goal=100), url)


def subsidy_tile(by_month: dict[int, Decimal], year: int, months: int, url: str):
    from poverty_registry.charts import Tile, cumulative, monthly_trend

    total = sum(by_month.values(), Decimal("0.00"))
    return Tile("subsidy_paid", f"{year}年资助参保金额", f"{total:,.2f}", "元", "按资助计算月份累计", "",
                [], monthly_trend("资助金额（月末累计，元）", cumulative(by_month), months=months, unit="元"), url)


@dataclass
class EnrolmentProgress:
    """The year's registered and enrolled in a scope, and how many were enrolled by the end of each month."""

    registered: int
    enrolled_by_month: dict[int, int]  # newly enrolled in each month (paid before the year: January)

    @property
    def total(self) -> RateRow:
        return RateRow("", "", self.registered, sum(self.enrolled_by_month.values()))


def enrolment_progress(year: int, scope_code: str) -> EnrolmentProgress:
    """The dashboard's enrolment rate and its trend in one aggregate query (the rate as enrolment_rates.sql
    counts it)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(FAST_AGGREGATE)
        cursor.execute(sql.load(__name__, "enrolled_by_month"), _params(year, scope_code))
        counts = dict(cursor.fetchall())
    return EnrolmentProgress(sum(counts.values()), {month: n for month, n in counts.items() if month})


def cached_enrolment_progress(year: int, region: RegionScope) -> tuple[EnrolmentProgress, dt.datetime]:
    """enrolment_progress from the figure cache (the dashboard's heaviest aggregate), and when it was computed."""
    figures = cached_figures(("enrolment_progress", scope_part(region), year),
                             lambda: asdict(enrolment_progress(year, region.code())))
    by_month = {int(month): n for month, n in figures.value["enrolled_by_month"].items()}
    return EnrolmentProgress(figures.value["registered"], by_month), figures.computed_at


def cached_subsidy_by_month(year: int, region: RegionScope) -> tuple[dict[int, Decimal], dt.datetime]:
    """subsidy_by_month from the figure cache, and when it was computed."""
    figures = cached_figures(("subsidy_by_month", scope_part(region), year),
                             lambda: subsidy_by_month(year, region.code()))
    return {int(month): Decimal(total) for month, total in figures.value.items()}, figures.computed_at


def subsidy_by_month(year: int, scope_code: str) -> dict[int, Decimal]:
    """The year's subsidy in a scope by the month it was computed (computed before the year: January); the
    months add up to subsidy_total. One aggregate query."""
    from django.db.models.functions import ExtractMonth, ExtractYear

    rows = (SubsidyLine.objects.filter(year=year, region__code__startswith=scope_code)
            .annotate(computed_year=ExtractYear("computed_at"), computed_month=ExtractMonth("computed_at"))
            .values("computed_year", "computed_month").order_by().annotate(total=Sum("subsidy")))
    months: dict[int, Decimal] = {}
    for row in rows:
        offset = row["computed_year"] - year
        month = 1 if offset < 0 else 12 if offset > 0 else row["computed_month"]
        months[month] = months.get(month, Decimal("0.00")) + row["total"]
    return months
