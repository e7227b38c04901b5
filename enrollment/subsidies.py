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

from poverty_registry import locks
from poverty_registry.importing import tune_bulk_transaction
from poverty_registry.vocab import CATEGORIES

from .models import SubsidyLine, SubsidyPolicy, SubsidyRun
from .policy import CATEGORY_RANK


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


PREPARE_SQL = """
DROP TABLE IF EXISTS subsidy_rule, subsidy_new, subsidy_diff, village_policy;
CREATE TEMP TABLE subsidy_rule (policy_id bigint, category text, rank int, premium numeric(14,2),
                                subsidy numeric(14,2), fund text) ON COMMIT DROP;
CREATE TEMP TABLE subsidy_new (person_id bigint, id_number text, name text, region_id text,
                               category text, premium numeric(14,2), subsidy numeric(14,2), fund text,
                               policy_id bigint) ON COMMIT DROP;
"""

# The village → policy map first (a few hundred rows), so persons join it by equality.
VILLAGE_POLICY_SQL = """
CREATE TEMP TABLE village_policy ON COMMIT DROP AS
SELECT DISTINCT ON (r.code) r.code AS region_id, pol.id AS policy_id, pol.cutoff_date
FROM poverty_registry_region r
JOIN enrollment_subsidypolicy pol ON pol.year = %(year)s AND pol.in_force AND r.code LIKE pol.region_id || '%%'
WHERE r.level = 5 AND r.code LIKE %(scope)s
ORDER BY r.code, length(pol.region_id) DESC
"""

# The one INSERT … SELECT of the computation: the most favourable category held on the cut-off date, once
# per person alive on it, then only the enrolled. Choosing first probes the enrolment index once per
# person instead of once per category held.
COMPUTE_SQL = """
INSERT INTO subsidy_new (person_id, id_number, name, region_id, category, premium, subsidy, fund, policy_id)
SELECT best.* FROM (
  SELECT DISTINCT ON (p.id) p.id, p.id_number, p.name, p.region_id, sr.category, sr.premium, sr.subsidy, sr.fund,
         vp.policy_id
  FROM poverty_registry_person p
  JOIN village_policy vp ON vp.region_id = p.region_id
  JOIN poverty_registry_personcategory c ON c.person_id = p.id AND c.valid_from <= vp.cutoff_date
       AND (c.valid_to IS NULL OR c.valid_to >= vp.cutoff_date)
  JOIN subsidy_rule sr ON sr.policy_id = vp.policy_id AND sr.category = c.category
  WHERE (p.death_date IS NULL OR p.death_date >= vp.cutoff_date)
  ORDER BY p.id, sr.subsidy DESC, sr.rank) best
WHERE EXISTS (SELECT FROM enrollment_enrolment e
              WHERE e.id_number = best.id_number AND e.year = %(year)s AND e.status = 'enrolled')
"""

# Lines before the run: those in scope, and those of persons now computed in scope (moved in).
OLD_LINES = """
SELECT * FROM enrollment_subsidyline
WHERE year = %(year)s AND (region_id LIKE %(scope)s OR person_id IN (SELECT person_id FROM subsidy_new))
"""

# The difference, found once: the change records and the writes to the lines are all read from it.
DIFF_SQL = f"""
CREATE TEMP TABLE subsidy_diff ON COMMIT DROP AS
SELECT CASE WHEN o.id IS NULL THEN 'added' WHEN n.person_id IS NULL THEN 'removed' ELSE 'changed' END AS kind,
       o.id AS line_id, coalesce(n.person_id, o.person_id) AS person_id,
       coalesce(n.id_number, o.id_number) AS id_number, coalesce(n.name, o.name) AS name,
       coalesce(n.region_id, o.region_id) AS region_id, coalesce(o.region_id, '') AS old_region,
       coalesce(o.category, '') AS old_category, coalesce(n.category, '') AS new_category,
       o.subsidy AS old_subsidy, n.subsidy AS new_subsidy, o.policy_id AS old_policy, n.policy_id AS new_policy,
       n.premium, n.fund
FROM subsidy_new n FULL JOIN ({OLD_LINES}) o ON o.person_id = n.person_id
WHERE o.id IS NULL OR n.person_id IS NULL
   OR (o.category, o.premium, o.subsidy, o.fund, o.policy_id, o.region_id)
      IS DISTINCT FROM (n.category, n.premium, n.subsidy, n.fund, n.policy_id, n.region_id)
ORDER BY 3
"""

CHANGES_SQL = """
INSERT INTO enrollment_subsidychange (run_id, person_id, id_number, name, kind, region_id, old_region,
    old_category, new_category, old_subsidy, new_subsidy, old_policy, new_policy)
SELECT %(run)s, person_id, id_number, name, kind, region_id, old_region, old_category, new_category, old_subsidy,
       new_subsidy, old_policy, new_policy
FROM subsidy_diff
"""

DELETE_SQL = """
DELETE FROM enrollment_subsidyline l USING subsidy_diff d WHERE d.kind = 'removed' AND l.id = d.line_id
"""

# A person found 'added' has no line for the year (the run holds the year's lock and only the computation
# writes lines), so a plain INSERT: cheaper than ON CONFLICT's speculative insertion.
INSERT_SQL = """
INSERT INTO enrollment_subsidyline (person_id, id_number, name, year, category, premium, subsidy, fund,
                                    policy_id, region_id, computed_at)
SELECT person_id, id_number, name, %(year)s, new_category, premium, new_subsidy, fund, new_policy, region_id, %(now)s
FROM subsidy_diff WHERE kind = 'added'
"""

UPDATE_SQL = """
UPDATE enrollment_subsidyline l SET
    id_number = d.id_number, name = d.name, category = d.new_category, premium = d.premium,
    subsidy = d.new_subsidy, fund = d.fund, policy_id = d.new_policy, region_id = d.region_id, computed_at = %(now)s
FROM subsidy_diff d WHERE d.kind = 'changed' AND l.id = d.line_id
"""


def scope_pattern(scope_code: str | None) -> str:
    return f"{scope_code or ''}%"


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
        cursor.execute(PREPARE_SQL)
        with cursor.connection.cursor().copy(
            "COPY subsidy_rule (policy_id, category, rank, premium, subsidy, fund) FROM STDIN"
        ) as copy:
            for row in _rule_rows(policies):
                copy.write_row(row)
        cursor.execute(VILLAGE_POLICY_SQL, params)
        cursor.execute("ANALYZE village_policy")
        cursor.execute(COMPUTE_SQL, params)
        computed = cursor.rowcount
        cursor.execute(DIFF_SQL, params)
        cursor.execute("SELECT kind, count(*) FROM subsidy_diff GROUP BY kind")
        kinds = dict(cursor.fetchall())
        cursor.execute(CHANGES_SQL, params)
        if kinds.get("removed"):
            cursor.execute(DELETE_SQL, params)
        if kinds.get("added"):
            cursor.execute(INSERT_SQL, params)
        if kinds.get("changed"):
            cursor.execute(UPDATE_SQL, params)
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
