"""Read-only numbers of the matching for the home page."""
from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q
from django.db.models.functions import ExtractMonth
from django.urls import reverse
from django.utils import timezone

from ..charts import Tile, monthly_trend, shows_tile
from ..models import MatchingItem, MatchLink
from .vocab import OPEN_STATUSES


def home_numbers(user) -> dict[str, list]:
    numbers: dict[str, list] = {"todos": [], "links": [], "tiles": []}
    if user.has_perm("poverty_registry.view_matchingitem"):
        items = MatchingItem.objects.restrict(user)
        today = timezone.localdate()
        ages = open_items_by_age(items, today)
        open_items = sum(n for _, n in ages)
        numbers["todos"].append(("比对差异待办", reverse("matching:queue"), open_items))
        if shows_tile(user, "matching_open"):
            numbers["tiles"].append(open_items_tile(ages, items_found_by_month(items, today.year), today.month,
                                                    reverse("matching:queue")))
        numbers["links"].append(("比对批次记录", reverse("matching:runs")))
    if user.has_perm("poverty_registry.view_matchlink"):
        pending = MatchLink.objects.restrict(user).filter(status="proposed").count()
        numbers["todos"].append(("疑似同一人待确认", reverse("matching:links"), pending))
    return numbers


AGE_BUCKETS = (("0–7天", 0, 7), ("8–30天", 8, 30), ("30天以上", 31, None))


def open_items_by_age(items, today: dt.date) -> list[tuple[str, int]]:
    """Open work items by days since they were found (0–7, 8–30, over 30), in one query."""
    def bucket(low, high):
        q = Q(created_at__date__lte=today - dt.timedelta(days=low))
        return q & Q(created_at__date__gte=today - dt.timedelta(days=high)) if high is not None else q

    counts = items.filter(status__in=OPEN_STATUSES).aggregate(
        **{f"b{i}": Count("id", filter=bucket(low, high)) for i, (_, low, high) in enumerate(AGE_BUCKETS)})
    return [(label, counts[f"b{i}"]) for i, (label, _, _) in enumerate(AGE_BUCKETS)]


def items_found_by_month(items, year: int) -> dict[int, int]:
    """Work items found in each month of the year (whatever their state now), in one query."""
    rows = (items.filter(created_at__year=year).annotate(month=ExtractMonth("created_at")).values("month")
            .order_by().annotate(n=Count("id")))
    return {row["month"]: row["n"] for row in rows}


def open_items_tile(ages: list[tuple[str, int]], found: dict[int, int], upto: int, url: str) -> Tile:
    total, oldest = sum(n for _, n in ages), ages[-1][1]
    return Tile("matching_open", "比对差异待办", f"{total:,}", "项", "按发现至今天数",
                "ok" if not total else "bad" if oldest else "warn", [(label, f"{n:,}") for label, n in ages],
                monthly_trend("每月新发现的差异（项）", found, months=upto, unit="项"), url)
