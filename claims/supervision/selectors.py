"""Read-only selectors behind the supervisors' audit pages: hits by rule, hospital, township and month, open
cases by age, money to recover against money recovered, a hospital's profile. Every function takes querysets
already narrowed with restrict(user) — the pages never widen them."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.db.models.functions import Substr, TruncMonth

from poverty_registry.models import Region

from ..models import Case, Hospital
from .rules import RULES, SEVERITIES

OPEN_STATES = ("open", "investigating", "confirmed", "recovering")
AGE_BUCKETS = ((0, 30, "30天以内"), (31, 90, "31–90天"), (91, 180, "91–180天"), (181, None, "180天以上"))
ZERO = Decimal("0.00")


def bars(rows: list[tuple], label=lambda row: row[0], url=lambda row: "", value_index: int = -1) -> list[dict]:
    """Rows for the server-rendered bar charts: label, link, value and its width in % of the largest value."""
    top = max((row[value_index] or 0 for row in rows), default=0)
    return [{"row": row, "label": label(row), "url": url(row), "value": row[value_index] or 0, "cls": "",
             "pct": f"{float(row[value_index] or 0) * 100 / float(top):.1f}" if top else "0"} for row in rows]


def filter_hits(hits, *, year=None, rule="", severity="", status="active", hospital=None, township="", month="",
                claim_no=""):
    if year:
        hits = hits.filter(year=year)
    if rule:
        hits = hits.filter(rule=rule)
    if severity:
        hits = hits.filter(severity=severity)
    if status:
        hits = hits.filter(status=status)
    if hospital:
        hits = hits.filter(claim__hospital_id=hospital)
    if township:
        hits = hits.filter(region_id__startswith=township)
    if month:
        try:
            first = dt.date.fromisoformat(f"{month}-01")
        except ValueError:
            first = None
        if first:
            following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            hits = hits.filter(claim__admission_date__gte=first, claim__admission_date__lt=following)
    if claim_no:
        hits = hits.filter(claim__claim_no=claim_no.strip())
    return hits


def hits_by_rule(hits) -> list[tuple]:
    counts = dict(hits.values_list("rule").order_by().annotate(n=Count("id")))
    return [(code, rule.name, SEVERITIES[rule.severity], counts.get(code, 0)) for code, rule in RULES.items()]


def hits_by_hospital(hits, limit: int = 20) -> list[tuple]:
    rows = (hits.values("claim__hospital_id").order_by().annotate(n=Count("id")).order_by("-n")[:limit])
    names = dict(Hospital.objects.filter(pk__in=[r["claim__hospital_id"] for r in rows]).values_list("pk", "name"))
    return [(r["claim__hospital_id"], names.get(r["claim__hospital_id"], ""), r["n"]) for r in rows]


def hits_by_township(hits) -> list[tuple]:
    rows = list(hits.annotate(township=Substr("region_id", 1, 9)).values("township").order_by()
                .annotate(n=Count("id")).order_by("-n"))
    names = dict(Region.objects.filter(code__in=[r["township"] for r in rows]).values_list("code", "name"))
    return [(r["township"], names.get(r["township"], r["township"]), r["n"]) for r in rows]


def hits_by_month(hits) -> list[tuple]:
    rows = (hits.annotate(month=TruncMonth("claim__admission_date")).values("month").order_by("month")
            .annotate(n=Count("id")))
    return [(r["month"].strftime("%Y-%m"), r["n"]) for r in rows if r["month"]]


def open_cases_by_age(cases, today: dt.date) -> list[tuple]:
    rows = []
    for low, high, label in AGE_BUCKETS:
        newest = today - dt.timedelta(days=low)
        qs = cases.filter(state__in=OPEN_STATES, opened_at__date__lte=newest)
        if high is not None:
            qs = qs.filter(opened_at__date__gte=today - dt.timedelta(days=high))
        rows.append((label, qs.count()))
    return rows


def money(cases) -> dict:
    """Money due on confirmed cases (amount to recover + penalty), recovered, and the balance."""
    decided = cases.filter(state__in=("confirmed", "recovering", "closed"), reviewer__isnull=False)
    sums = decided.aggregate(recover=Sum("amount_to_recover"), penalty=Sum("penalty_amount"),
                             recovered=Sum("recovered_amount"))
    recover, penalty, recovered = (sums[k] or ZERO for k in ("recover", "penalty", "recovered"))
    return {"to_recover": recover, "penalty": penalty, "due": recover + penalty, "recovered": recovered,
            "balance": recover + penalty - recovered, "cases": decided.count()}


def cases_by_state(cases) -> list[tuple]:
    counts = dict(cases.values_list("state").order_by().annotate(n=Count("id")))
    return [(code, label, counts.get(code, 0)) for code, label in Case.STATES.items()]


def hospital_profile(hospital: Hospital, claims, hits, cases) -> dict:
    """One hospital: its claims (count, cost), its hits by rule and its cases, within the user's region."""
    claims = claims.filter(hospital=hospital)
    totals = claims.aggregate(n=Count("id"), cost=Sum("total_cost"), inpatient=Count("id", filter=Q(
        visit_type="inpatient")))
    hits = hits.filter(claim__hospital=hospital)
    hit_claims = hits.values("claim_id").distinct().count()
    related = cases.filter(Q(target_hospital=hospital) | Q(hits__claim__hospital=hospital)).distinct()
    by_year = list(claims.values("year").order_by("year").annotate(n=Count("id"), cost=Sum("total_cost")))
    return {"claims": totals["n"], "cost": totals["cost"] or ZERO, "inpatient": totals["inpatient"],
            "hit_claims": hit_claims, "hit_share": (hit_claims * 100 / totals["n"]) if totals["n"] else 0,
            "by_rule": hits_by_rule(hits), "cases": list(related.order_by("-opened_at")[:50]), "by_year": by_year,
            "recent_hits": list(hits.select_related("claim").order_by("-found_at")[:20])}


def latest_year(hits, default: int) -> int:
    return hits.order_by("-year").values_list("year", flat=True).first() or default



def home_numbers(user) -> dict[str, list]:
    """The supervisor's numbers, tiles, to-dos and links on the home page (poverty_registry.dashboards)."""
    from django.urls import reverse
    from django.utils import timezone

    from poverty_registry.charts import shows_tile

    from ..models import Recovery, ScreeningHit

    if not user.has_perm("claims.view_screeninghit") or not user.has_perm("claims.view_case"):
        return {}
    cases = Case.objects.restrict(user)
    hits = ScreeningHit.objects.restrict(user).filter(status="active", case_links__isnull=True)
    # One query for the three case counts; a case is not for review by whoever opened or investigates it.
    counts = cases.aggregate(
        open=Count("id", filter=Q(state__in=OPEN_STATES)),
        to_review=Count("id", filter=Q(state="investigating") & ~Q(investigator=user) & ~Q(opened_by=user)),
        recovering=Count("id", filter=Q(state="recovering")))
    case_url = reverse("supervision:cases")
    today = timezone.localdate()
    tiles = []
    if shows_tile(user, "fraud_hits"):
        tiles.append(fraud_hits_tile(hits_of_year_by_month(ScreeningHit.objects.restrict(user), today.year),
                                     today.year, today.month, f"{reverse('supervision:hits')}?year={today.year}"))
    if shows_tile(user, "money_recovered") and user.has_perm("claims.view_recovery"):
        tiles.append(recovered_tile(recovered_by_month(Recovery.objects.restrict(user), today.year), today.year,
                                    today.month, reverse("supervision:overview")))
    return {
        "figures": [("未立案疑点", hits.count()), ("在办案件", counts["open"])],
        "todos": [(label, f"{case_url}?state={state}", n) for label, state, n in (
            ("待审核认定的案件", "investigating", counts["to_review"]),
            ("追缴中的案件", "recovering", counts["recovering"])) if n],
        "links": [("基金监管总览", reverse("supervision:overview")), ("筛查疑点", reverse("supervision:hits")),
                  ("基金监管案件", case_url)],
        "tiles": tiles,
    }


def hits_of_year_by_month(hits, year: int) -> dict[int, int]:
    """The year's standing hits by the admission month of their claim (hits_by_month): one query."""
    return {int(month[5:]): n for month, n in hits_by_month(hits.filter(year=year, status="active"))
            if month.startswith(f"{year}-")}


def recovered_by_month(recoveries, year: int) -> dict[int, Decimal]:
    """Money recovered (到账) in the year by month of arrival: one query."""
    from django.db.models.functions import ExtractMonth

    rows = (recoveries.filter(paid_on__year=year).annotate(month=ExtractMonth("paid_on")).values("month")
            .order_by().annotate(total=Sum("amount")))
    return {row["month"]: row["total"] for row in rows}


def fraud_hits_tile(by_month: dict[int, int], year: int, upto: int, url: str):
    from poverty_registry.charts import Tile, monthly_trend

    return Tile("fraud_hits", f"{year}年筛查疑点", f"{sum(by_month.values()):,}", "条", "成立的疑点，按入院月份",
                "", [], monthly_trend("疑点数（按入院月份，条）", by_month, months=upto, unit="条"), url)


def recovered_tile(by_month: dict[int, Decimal], year: int, upto: int, url: str):
    from poverty_registry.charts import Tile, cumulative, monthly_trend

    total = sum(by_month.values(), ZERO)
    return Tile("money_recovered", f"{year}年追回基金", f"{total:,.2f}", "元", "按到账月份累计", "",
                [], monthly_trend("追回金额（月末累计，元）", cumulative(by_month), months=upto, unit="元"), url)
