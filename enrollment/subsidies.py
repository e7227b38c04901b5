"""Subsidy computation (资助参保, DOMAIN §5), set-based: one INSERT … SELECT finds every enrolled registered
person's most favourable category held on the cut-off date; the difference against the current lines is
recorded as the run's changes, then applied. Recomputing with nothing changed changes nothing.

Choices where §5 is silent (also in the README):
- Lines are for registered persons enrolled (status 正常参保) for the year: the bureau pays the subsidy as
  part of the enrolment, so an unenrolled person has no line; they are on the chase list instead.
- A line needs a paying category: categories whose rule pays ¥0 (低收入人口 by default) give no line.
- A person who died before the cut-off date gets no subsidy; dying on or after it does not matter.
- A category must be held on the cut-off date: one starting after it does not count for that year.
- The line belongs to the person's village (hence township) at computation time. A person who moves
  township is carried by the new township on the next computation; an issued report keeps the township
  it was issued with and shows the move as a difference.
- The policy applying to a person is the version in force for the year whose region is the longest prefix
  of the person's village code (a county's own parameters override the city's).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from poverty_registry import locks, sql
from poverty_registry.importing import tune_bulk_transaction
from poverty_registry.scoping import RegionScope
from poverty_registry.vocab import CATEGORIES

from .models import SubsidyLine, SubsidyPolicy, SubsidyRun
from .subsidy_rules import CATEGORY_RANK


class NoPolicy(ValueError):
    """No policy parameters in force for the year: nothing can be computed."""


@dataclass
class CategoryTotal:
    persons: int = 0
    amount: Decimal = Decimal("0.00")


@dataclass
class SubsidyTotals:
    year: int
    persons: int = 0
    total_subsidy: Decimal = Decimal("0.00")
    by_category: dict[str, CategoryTotal] = field(default_factory=dict)

    def as_json(self) -> dict:
        return {
            "year": self.year,
            "persons": self.persons,
            "total_subsidy": f"{self.total_subsidy:.2f}",
            "by_category": {CATEGORIES.get(code, code): {"persons": t.persons, "amount": f"{t.amount:.2f}"}
                            for code, t in self.by_category.items()},
        }


def policies_in_force(year: int) -> list[SubsidyPolicy]:
    return list(SubsidyPolicy.objects.filter(year=year, in_force=True).select_related("region"))


def _rule_rows(policies: list[SubsidyPolicy]) -> list[tuple]:
    rows = []
    for policy in policies:
        for code in CATEGORIES:
            amount = policy.subsidy_for(code)
            if amount > 0:
                rows.append((policy.pk, code, CATEGORY_RANK.get(code, 99), policy.premium, amount,
                             policy.rule(code).get("fund", "")))
    return rows


def scope_pattern(scope_code: str | None) -> str:
    """The LIKE pattern of a region code the caller has already checked against the user's scope (None: all)."""
    return RegionScope(scope_code or "").like_pattern()


def compute_subsidies(year: int, *, user=None, scope_code: str | None = None) -> SubsidyRun:
    """Compute the year's subsidy lines for the persons in scope (all when None); return the run."""
    policies = policies_in_force(year)
    if not policies:
        raise NoPolicy(f"{year}年没有现行有效的资助参保政策参数，请先在“资助参保政策参数”中设置")
    params = {"year": year, "scope": scope_pattern(scope_code), "now": timezone.now()}
    with transaction.atomic(), connection.cursor() as cursor:
        tune_bulk_transaction()
        locks.xact_lock(locks.SUBSIDY_YEAR, year)
        run = SubsidyRun.objects.create(year=year, scope_id=scope_code or None, user=user)
        params["run"] = run.pk
        cursor.execute(sql.load(__name__, "subsidy_prepare"))
        with cursor.connection.cursor().copy(
            "COPY subsidy_rule (policy_id, category, rank, premium, subsidy, fund) FROM STDIN"
        ) as copy:
            for row in _rule_rows(policies):
                copy.write_row(row)
        cursor.execute(sql.load(__name__, "subsidy_village_policy"), params)
        cursor.execute("ANALYZE village_policy")
        cursor.execute(sql.load(__name__, "subsidy_compute"), params)
        computed = cursor.rowcount
        cursor.execute(sql.load(__name__, "subsidy_diff"), params)
        cursor.execute("SELECT kind, count(*) FROM subsidy_diff GROUP BY kind")
        kinds = dict(cursor.fetchall())
        cursor.execute(sql.load(__name__, "subsidy_changes"), params)
        if kinds.get("removed"):
            cursor.execute(sql.inline("DELETE FROM {subsidyline} l USING subsidy_diff d "
                                      "WHERE d.kind = 'removed' AND l.id = d.line_id"), params)
        if kinds.get("added"):
            cursor.execute(sql.load(__name__, "subsidy_insert_lines"), params)
        if kinds.get("changed"):
            cursor.execute(sql.load(__name__, "subsidy_update_lines"), params)
        _finish_run(run, kinds, computed, scope_code)
    return run


def _finish_run(run: SubsidyRun, kinds: dict[str, int], computed: int, scope_code: str | None) -> None:
    totals = subsidy_totals(run.year, scope_code)
    run.added, run.changed, run.removed = kinds.get("added", 0), kinds.get("changed", 0), kinds.get("removed", 0)
    run.unchanged = computed - run.added - run.changed
    run.persons, run.total_subsidy = totals.persons, totals.total_subsidy
    run.finished_at = timezone.now()
    run.save()


def subsidy_totals(year: int, scope_code: str | None = None, lines=None) -> SubsidyTotals:
    """Persons and amounts of the year's lines in scope, per category (most favourable first)."""
    if lines is None:
        lines = SubsidyLine.objects.filter(year=year)
        if scope_code:
            lines = lines.filter(region__code__startswith=scope_code)
    from django.db.models import Count, Sum

    rows = lines.values("category").annotate(persons=Count("id"), amount=Sum("subsidy"))
    totals = SubsidyTotals(year)
    for row in sorted(rows, key=lambda r: CATEGORY_RANK.get(r["category"], 99)):
        totals.by_category[row["category"]] = CategoryTotal(row["persons"], row["amount"])
        totals.persons += row["persons"]
        totals.total_subsidy += row["amount"]
    return totals
