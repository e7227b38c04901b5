"""Running the screening rules (claims.supervision.rules) over a year, or over the claims of a few persons, and keeping
the screening hits (ScreeningHit) in step with the data, set-based.

A run upserts every hit that holds (INSERT … ON CONFLICT (claim, rule): never a duplicate; the first
discovery time is kept) and then deals with the hits of the same rule, year and persons that it did not
find again: such a hit is deleted, unless a case refers to it, in which case it stays with status
"resolved" (the case keeps its evidence) and becomes "active" again if it holds again later.

Entry points for other modules: `screen_claim(claim)` after one claim is saved, `screen_persons(id_numbers,
year)` after an import, `screen_on_commit(id_numbers, years)` to do the latter once the transaction commits,
and `screen_year(year)` for the nightly run (claims.supervision_tasks).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from poverty_registry import locks, sql

from .rules import INPATIENT, PENALTY, RULES, default_severity, rule_query, validate_params


@dataclass(frozen=True)
class Setting:
    """The effective parameters of one rule for the regions under `prefix` ("" = everywhere else)."""

    code: str
    prefix: str
    params: dict
    severity: str
    enabled: bool = True


def _rows(codes: Iterable[str], year: int) -> dict[str, list[dict]]:
    from ..models import SupervisionParam

    rows: dict[str, list[dict]] = {code: [] for code in codes}
    for row in (SupervisionParam.objects.filter(code__in=list(rows)).filter(Q(year=year) | Q(year__isnull=True))
                .order_by("code", "region_id", F("year").asc(nulls_first=True))
                .values("code", "region_id", "year", "params", "severity", "enabled")):
        rows[row["code"]].append(row)
    return rows


def settings_for(code: str, year: int, rows: list[dict] | None = None) -> list[Setting]:
    """The built-in default plus one Setting per region that has a row, a row for the year beating one
    for all years."""
    chosen: dict[str, dict] = {}
    for row in _rows([code], year)[code] if rows is None else rows:  # year-specific rows come last and win
        chosen[row["region_id"]] = row
    settings = [Setting(code, "", validate_params(code, {}), default_severity(code))]
    for prefix, row in chosen.items():
        settings.append(Setting(code, prefix, validate_params(code, row["params"]),
                                row["severity"] or default_severity(code), row["enabled"]))
    return settings


def effective_setting(code: str, region_code: str, year: int) -> Setting:
    """The setting that applies to one region: the longest matching region prefix."""
    matching = [s for s in settings_for(code, year) if region_code.startswith(s.prefix)]
    return max(matching, key=lambda s: len(s.prefix))


def penalty_range(region_code: str, year: int) -> tuple[Decimal, Decimal]:
    params = effective_setting(PENALTY, region_code, year).params
    return Decimal(params["min_multiple"]), Decimal(params["max_multiple"])


def _scopes(settings: list[Setting]) -> list[tuple[Setting, str, dict]]:
    """(setting, predicate on c.region_id, parameters): each claim falls in exactly one scope."""
    prefixes = [s.prefix for s in settings if s.prefix]
    names = {prefix: f"{settings[0].code}_scope_{i}" for i, prefix in enumerate(prefixes)}
    params = {name: prefix for prefix, name in names.items()}
    scopes = []
    for setting in settings:
        inner = [p for p in prefixes if p != setting.prefix and p.startswith(setting.prefix)]
        parts = [f"starts_with(c.region_id, %({names[setting.prefix]})s)"] if setting.prefix else []
        parts += [f"NOT starts_with(c.region_id, %({names[p]})s)" for p in inner]
        scopes.append((setting, " AND ".join(parts) or "true", params))
    return scopes


def _found_sql(codes: list[str], year: int, persons: list[str] | None) -> tuple[str, dict]:
    """One SELECT (claim_id, evidence, rule, severity) over the rules, each under each of its settings."""
    parts, params = [], {}
    rows = _rows(codes, year)
    for code in codes:
        for i, (setting, scope_sql, scope_params) in enumerate(_scopes(settings_for(code, year, rows[code]))):
            if not setting.enabled:
                continue
            hit = "c.year = %(year)s" + (" AND c.id_number = ANY(%(persons)s)" if persons else "") + f" AND {scope_sql}"
            query, rule_params = rule_query(code, setting.params, hit=hit, persons=persons is not None,
                                            name=f"{code}_{i}")
            severity = f"{code}_severity_{i}"
            parts.append(f"SELECT r.claim_id, r.evidence, '{code}'::text AS rule, %({severity})s::text AS severity "
                         f"FROM ({query}) r")
            params.update(scope_params, **rule_params, **{severity: setting.severity})
    return " UNION ALL ".join(parts) or "SELECT NULL::bigint, NULL::jsonb, NULL::text, NULL::text WHERE false", params


def _run_rules(cursor, codes: list[str], year: int, persons: list[str] | None, now) -> dict[str, int]:
    """Upsert what the rules find, then drop (or resolve) the hits of these rules they no longer find."""
    base = {"year": year, "year_start": dt.date(year, 1, 1), "year_end": dt.date(year, 12, 31),
            "persons": persons, "rules": codes, "now": now}
    found, params = _found_sql(codes, year, persons)
    upsert = sql.fill(sql.load(__name__, "screening_upsert_hits"), found=found)
    cursor.execute(f"WITH up AS ({upsert} RETURNING rule) SELECT rule, count(*) FROM up GROUP BY rule",
                   {**base, **params})
    counts = dict.fromkeys(codes, 0)
    counts.update(cursor.fetchall())
    # For a few persons, start from their claims and look their hits up by claim, not from the year's hits.
    hits = sql.inline("(SELECT id FROM {claim} WHERE id_number = ANY(%(persons)s)) mine "
                      "JOIN {screeninghit} h ON h.claim_id = mine.id" if persons is not None else "{screeninghit} h")
    cursor.execute(sql.fill(sql.load(__name__, "screening_stale_hits"), hits=hits), base)
    return counts


def screen_year(year: int, codes: Iterable[str] | None = None,
                on_rule_done: Callable[[str], object] | None = None) -> dict[str, int]:
    """All claims of the year against the rules (all nine by default): {rule: claims hit}. One
    transaction per rule, holding the year's lock so that person runs wait rather than interleave;
    `on_rule_done(code)` after each rule's commit (a run's progress)."""
    now = timezone.now()
    counts = {}
    for code in codes or RULES:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL work_mem = '256MB'")
            locks.xact_lock(locks.SCREENING_YEAR, year)
            counts.update(_run_rules(cursor, [code], year, None, now))
        if on_rule_done is not None:
            on_rule_done(code)
    with connection.cursor() as cursor:  # fresh statistics, so that person runs plan on the new hits
        cursor.execute(sql.inline("ANALYZE {screeninghit}"))
    return counts


def screen_persons(id_numbers: Iterable[str], year: int, codes: Iterable[str] | None = None) -> dict[str, int]:
    """The claims of these persons in the year against the rules, in one statement: {rule: claims hit}.
    R07's medians still come from the whole year's claims of the same diagnosis and hospital level."""
    persons = sorted(set(id_numbers))
    if not persons:
        return {}
    with transaction.atomic(), connection.cursor() as cursor:
        locks.xact_lock(locks.SCREENING_YEAR, year, shared=True)
        locks.xact_lock_each(locks.SCREENING_PERSON, "SELECT DISTINCT hashtext(x) AS k FROM unnest(%s::text[]) x",
                             [persons])
        return _run_rules(cursor, list(codes or RULES), year, persons, timezone.now())


def screen_claims_of_person(id_number: str, year: int, codes: Iterable[str] | None = None) -> dict[str, int]:
    """One person's claims of the year, and of the next year when there are any (an earlier claim arriving
    late can make a later one a readmission, an overlap or one admission too many)."""
    from ..models import Claim

    counts = screen_persons([id_number], year, codes)
    if Claim.objects.filter(id_number=id_number, year=year + 1).exists():
        screen_persons([id_number], year + 1, codes)
    return counts


def rules_for_claim(claim) -> list[str]:
    """The rules a claim can trigger: the inpatient-only ones only for an inpatient stay."""
    return [code for code, rule in RULES.items() if claim.visit_type == INPATIENT or not rule.inpatient_only]


def screen_claim(claim) -> dict[str, int]:
    """Screen a claim just saved (and its person's other claims of the year) with the rules it can trigger."""
    return screen_claims_of_person(claim.id_number, claim.year, rules_for_claim(claim))


def screen_on_commit(id_numbers: Iterable[str], years: Iterable[int]) -> None:
    """After an import: once the transaction commits, screen these persons' claims of those years."""
    persons, wanted = sorted(set(id_numbers)), sorted(set(years))

    def run():
        for year in wanted:
            screen_persons(persons, year)
            screen_persons(persons, year + 1)

    transaction.on_commit(run)


def active_hit_counts(year: int) -> dict[str, int]:
    from ..models import ScreeningHit

    counts = dict.fromkeys(RULES, 0)
    rows = ScreeningHit.objects.filter(year=year, status="active").values_list("rule").order_by()
    counts.update(rows.annotate(n=Count("id")))
    return counts
