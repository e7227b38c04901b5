"""Counts for list pages over a city's tables: PostgreSQL's planner estimate above ADMIN_EXACT_COUNT_LIMIT rows, an
exact count (bounded by the limit) below it, so no page runs a COUNT(*) over a million rows."""
from __future__ import annotations

import json

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property


def exact_count_limit() -> int:
    return getattr(settings, "ADMIN_EXACT_COUNT_LIMIT", 100_000)


def planner_estimate(queryset) -> int:
    """The rows PostgreSQL expects the queryset to return (EXPLAIN, no execution): as fresh as the last ANALYZE,
    which autovacuum keeps within ~10% on a table that grows."""
    connection = connections[queryset.db]
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def bounded_count(queryset, limit: int) -> tuple[int, bool]:
    """(count, estimated): the exact count when the queryset has at most `limit` rows, else the planner's
    estimate (at least limit + 1). The exact count reads at most limit + 1 rows even when the estimate is wrong."""
    try:
        estimate = planner_estimate(queryset)
    except EmptyResultSet:  # .none() or an empty IN (): nothing to count
        return 0, False
    if estimate > limit:
        return estimate, True
    counted = queryset.order_by()[: limit + 1].count()
    if counted > limit:  # the statistics are stale: say "about", never count further
        return max(estimate, counted), True
    return counted, False


class EstimatedCountPaginator(Paginator):
    """The admin lists' paginator: `count` as bounded_count; `estimated` tells the page to say "约"."""

    estimated = False

    @cached_property
    def count(self):
        if not hasattr(self.object_list, "query"):  # a list, not a queryset: its length is free
            return len(self.object_list)
        count, self.estimated = bounded_count(self.object_list, exact_count_limit())
        return count
