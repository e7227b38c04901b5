"""Read-only questions about enrolment (live, set-based SQL): the enrolment rate of the registered poor per
village / township / county, and the chase list of those not enrolled, with the township's work status.

"Registered" counts the ledger's persons in the region who were alive on 1 January of the year (someone who
died during the year still had to be enrolled). "Enrolled" is an enrolment of the year with status 正常参保,
found through the person link the import sets, or by ID number for a person added to the ledger after the
enrolment was imported (that fallback probes one index entry, and only for persons without a link).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Sum

from poverty_registry.models import Region
from poverty_registry.regions import LEVEL_LENGTHS

from .models import CHASE_STATUSES, SubsidyLine

# Only indexed columns of e (enrolment_year_person_enrolled is then read index-only); the LATERAL probe by
# ID number runs, behind its one-time filter, only for persons without a linked enrolment.
ENROLLED_JOIN = """
LEFT JOIN enrollment_enrolment e ON e.person_id = p.id AND e.person_id IS NOT NULL AND e.year = %(year)s
     AND e.status = 'enrolled'
LEFT JOIN LATERAL (
    SELECT true AS found FROM enrollment_enrolment e2
    WHERE e.person_id IS NULL AND e2.id_number = p.id_number AND e2.year = %(year)s AND e2.status = 'enrolled'
    LIMIT 1) f ON true
"""
# A county's 300,000 persons hash in memory, and the plan is too cheap to repay JIT compilation.
FAST_AGGREGATE = "SET LOCAL jit = off; SET LOCAL work_mem = '64MB'"
PERSONS_IN_SCOPE = "p.region_id LIKE %(scope)s AND (p.death_date IS NULL OR p.death_date >= %(jan1)s)"

# The same test as ENROLLED_JOIN, the fallback as a CASE branch: evaluated only for persons without a linked
# enrolment, and without a LATERAL node re-run for each of the county's persons (a fifth of the page's time).
RATE_SQL = f"""
SELECT p.region_id, count(*), count(*) FILTER (WHERE CASE WHEN e.person_id IS NOT NULL THEN true ELSE EXISTS (
    SELECT FROM enrollment_enrolment e2
    WHERE e2.id_number = p.id_number AND e2.year = %(year)s AND e2.status = 'enrolled') END)
FROM poverty_registry_person p
LEFT JOIN enrollment_enrolment e ON e.person_id = p.id AND e.person_id IS NOT NULL AND e.year = %(year)s
     AND e.status = 'enrolled'
WHERE {PERSONS_IN_SCOPE}
GROUP BY p.region_id
"""

CHASE_FROM = f"""
FROM poverty_registry_person p {ENROLLED_JOIN}
LEFT JOIN enrollment_chaseentry c ON c.person_id = p.id AND c.year = %(year)s
LEFT JOIN poverty_registry_user u ON u.id = c.updated_by_id
WHERE {PERSONS_IN_SCOPE} AND e.person_id IS NULL AND f.found IS NULL {{status_filter}}
"""
CHASE_SQL = """
SELECT p.id, p.id_number, p.name, p.region_id, p.phone, coalesce(c.status, 'new'), coalesce(c.note, ''),
       c.updated_at, coalesce(u.username, '')
{from_} ORDER BY p.region_id, p.id {limit}
"""


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
    return {"year": year, "scope": f"{scope_code}%", "jan1": dt.date(year, 1, 1)}


def child_length(scope_code: str) -> int:
    lengths = [n for n in LEVEL_LENGTHS if n > len(scope_code)]
    return lengths[0] if lengths else len(scope_code)


def enrolment_rates(year: int, scope_code: str, region: Region | None = None) -> RateTable:
    """Registered and enrolled per region one level below the scope, and in total; one aggregate query."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(FAST_AGGREGATE)
        cursor.execute(RATE_SQL, _params(year, scope_code))
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
    if status == "new":
        return CHASE_FROM.format(status_filter="AND (c.id IS NULL OR c.status = 'new')"), {}
    if status:
        return CHASE_FROM.format(status_filter="AND c.status = %(status)s"), {"status": status}
    return CHASE_FROM.format(status_filter=""), {}


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
        cursor.execute(CHASE_SQL.format(from_=from_, limit=page), {**_params(year, scope_code), **extra})
        return [ChaseItem(*row) for row in cursor.fetchall()]


def subsidy_total(year: int, scope_code: str) -> Decimal:
    lines = SubsidyLine.objects.filter(year=year, region__code__startswith=scope_code)
    return lines.aggregate(total=Sum("subsidy"))["total"] or Decimal("0.00")


def home_numbers(user) -> dict[str, list]:
    """The home page's enrolment numbers: a township clerk's unenrolled; a county's (or city's) rate and
    subsidy total for the current year; plus links to the pages the role may open."""
    from django.urls import reverse
    from django.utils import timezone

    from poverty_registry.scoping import region_scope

    numbers: dict[str, list] = {"figures": [], "todos": [], "links": []}
    region = region_scope(user)
    if region.is_empty or not user.has_perm("enrollment.view_enrolment"):
        return numbers
    scope = region.code()
    year = timezone.localdate().year
    rates = enrolment_rates(year, scope)
    chase_url = f"{reverse('enrollment:chase')}?year={year}"
    if user.role == "township":
        numbers["figures"].append((f"{year}年未参保", rates.total.unenrolled))
        if rates.total.unenrolled:
            numbers["todos"].append((f"动员{year}年未参保人员参保", chase_url, rates.total.unenrolled))
    else:
        numbers["figures"] += [(f"{year}年参保率", f"{rates.total.rate}%"),
                               (f"{year}年资助金额（元）", subsidy_total(year, scope))]
    numbers["links"] += [("参保率", reverse("enrollment:rate")), ("未参保人员", chase_url)]
    if user.has_perm("enrollment.view_subsidyline"):
        numbers["links"].append(("资助参保", reverse("enrollment:subsidies")))
    return numbers
