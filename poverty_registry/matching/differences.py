"""Differences M01–M07 (DOMAIN §8.3) of one county, as work items for the person's township.

Everything is set-based: each difference is one INSERT … SELECT into a temporary table of this run's
differences, keyed so that the same difference has the same key in every run. Then new keys open items
(never a second open item for a key), open items whose key is gone close themselves with a note, and
differences a clerk marked "not a problem" are not raised again.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection

from ..models import MatchingItem, MatchingRecord, MatchLink, Person, PersonCategory, Region
from ..vocab import CATEGORIES, DISABILITY_GRADES, ENROLMENT_STATUSES
from .linkage import CLEAN_NAME_PARAMS, clean_name_sql
from .vocab import LINKED_SOURCES, OPEN_STATUSES, SOURCES

RECORDS = MatchingRecord._meta.db_table
PERSONS = Person._meta.db_table
LINKS = MatchLink._meta.db_table
ITEMS = MatchingItem._meta.db_table
CATS = PersonCategory._meta.db_table
REGIONS = Region._meta.db_table
# Enrolments through the view enrollment defines for this reading (its migration 0010, README "Layout"): the
# base imports nothing of enrollment; the view's columns are its promise (id_number, year, status, region_id,
# person_id).
ENROLMENTS = "enrolments_for_matching"
SUBSIDY_LINES = "subsidy_lines_for_matching"  # person_id, year, subsidy
NO_FILE = -1  # stands for a source that has no loaded list yet


def _case(column: str, labels: dict[str, str]) -> str:
    whens = " ".join(f"WHEN '{code}' THEN '{label}'" for code, label in labels.items())
    return f"(CASE {column} {whens} ELSE {column} END)"


GRADES = {str(grade): label for grade, label in DISABILITY_GRADES.items()}


@dataclass(frozen=True)
class Scope:
    """The part of a run one shard computes: a county (its code as prefix), or "" for regions above counties."""

    county: str

    def has(self, column: str) -> str:
        if self.county:
            return f"{column} LIKE %(county_like)s"
        return f"length({column}) < 6"


def masked_sql(column: str) -> str:
    """mask_id_number() in SQL: region and last four kept."""
    return (f"(CASE WHEN length({column}) < 10 THEN repeat('*', length({column})) ELSE left({column}, 6) || "
            f"repeat('*', length({column}) - 10) || right({column}, 4) END)")


def resolved_sql(file_param: str, scope: Scope) -> str:
    """Rows of one list file with the ledger person each one is (exactly, or through a confirmed link)."""
    return f"""
    SELECT r.*, p.id AS person_id, p.id_number AS person_id_number, p.name AS person_name,
           p.region_id AS person_region, p.death_date AS person_death, TRUE AS exact
      FROM {RECORDS} r JOIN {PERSONS} p ON p.id_number = r.id_number AND r.id_status = 'valid'
     WHERE r.file_id = %({file_param})s AND {scope.has('p.region_id')}
    UNION ALL
    SELECT r.*, p.id, p.id_number, p.name, p.region_id, p.death_date, FALSE
      FROM {RECORDS} r JOIN {LINKS} l ON l.match_key = r.match_key AND l.status = 'confirmed'
      JOIN {PERSONS} p ON p.id = l.person_id
     WHERE r.file_id = %({file_param})s AND {scope.has('p.region_id')}
       AND NOT (r.id_status = 'valid' AND EXISTS (SELECT 1 FROM {PERSONS} q WHERE q.id_number = r.id_number))
    """


def _is_listed(file_param: str, person: str = "p", where: str = "TRUE") -> str:
    """SQL: the ledger person appears in the list file (exactly, or through a confirmed link) on a row `where`."""
    return f"""(EXISTS (SELECT 1 FROM {RECORDS} r WHERE r.file_id = %({file_param})s AND r.id_status = 'valid'
                                                  AND r.id_number = {person}.id_number AND {where})
             OR EXISTS (SELECT 1 FROM {LINKS} l JOIN {RECORDS} r ON r.match_key = l.match_key
                         WHERE l.person_id = {person}.id AND l.status = 'confirmed'
                           AND r.file_id = %({file_param})s AND {where}))"""


def _region_of_sql(village: str, id_number: str) -> str:
    """The most specific known region: the listed village (or its township/county), else the ID's county."""
    tries = [f"{village}", f"left({village}, 9)", f"left({village}, 6)", f"left({id_number}, 6)",
             f"left({id_number}, 4)"]
    lookups = ", ".join(f"(SELECT code FROM {REGIONS} WHERE code = {expr} AND {expr} <> '')" for expr in tries)
    return f"coalesce({lookups}, %(home_region)s)"


ALIVE = "(p.death_date IS NULL OR p.death_date > %(run_date)s)"
HOLDS = f"""EXISTS (SELECT 1 FROM {CATS} c WHERE c.person_id = p.id AND c.category = %(cat)s
                     AND c.valid_from <= %(run_date)s AND (c.valid_to IS NULL OR c.valid_to >= %(run_date)s))"""
DIFF_COLUMNS = "key, code, region_id, person_id, link_id, id_number, name, source, summary, detail"


def m01_sql(scope: Scope) -> str:
    enrolled_in_list = _is_listed("enrolment", where="r.year = %(year)s AND r.enrol_status = 'enrolled'")
    status = _case("e.status", ENROLMENT_STATUSES)
    return f"""
    INSERT INTO matching_diff ({DIFF_COLUMNS})
    SELECT 'M01:' || p.id || ':' || %(year)s, 'M01', p.region_id, p.id, NULL, p.id_number, p.name, '',
           %(year)s || '年度未参保' || coalesce('（参保状态：' || {status} || '）', ''),
           jsonb_build_object('year', %(year)s, 'enrolment_status', e.status)
      FROM {PERSONS} p
      LEFT JOIN {ENROLMENTS} e ON e.id_number = p.id_number AND e.year = %(year)s
     WHERE {scope.has('p.region_id')} AND {ALIVE} AND e.status IS DISTINCT FROM 'enrolled'
       AND NOT {enrolled_in_list}
    """


def m02_sql(scope: Scope) -> str:
    region = _region_of_sql("r.village", "r.id_number")
    return f"""
    INSERT INTO matching_diff ({DIFF_COLUMNS})
    SELECT DISTINCT ON (r.match_key) 'M02:' || r.match_key, 'M02', x.region_id, NULL, NULL, r.match_key, r.name,
           'poverty', '在乡村振兴局名单中（户编号 ' || coalesce(nullif(r.household_no, ''), '无') || '，所在村代码 '
           || coalesce(nullif(r.village, ''), '无') || '），台账中没有该身份证号',
           jsonb_build_object('household_no', r.household_no, 'village', r.village, 'category', r.category,
                              'poverty_status', r.poverty_status, 'row', r.row_no)
      FROM {RECORDS} r
      CROSS JOIN LATERAL (SELECT {region} AS region_id) x
     WHERE r.file_id = %(poverty)s
       AND NOT (r.id_status = 'valid' AND EXISTS (SELECT 1 FROM {PERSONS} q WHERE q.id_number = r.id_number))
       AND NOT EXISTS (SELECT 1 FROM {LINKS} l WHERE l.match_key = r.match_key
                                                AND l.status IN ('proposed', 'confirmed'))
       AND {scope.has('x.region_id')}
     ORDER BY r.match_key, r.row_no
    """


def m03_sql(scope: Scope) -> str:
    pending = f"""EXISTS (SELECT 1 FROM {LINKS} l JOIN {RECORDS} r ON r.match_key = l.match_key
                          WHERE l.person_id = p.id AND l.status = 'proposed' AND r.file_id = %(poverty)s)"""
    return f"""
    INSERT INTO matching_diff ({DIFF_COLUMNS})
    SELECT 'M03:' || p.id, 'M03', p.region_id, p.id, NULL, p.id_number, p.name, 'poverty',
           '在台账中，不在乡村振兴局名单中', '{{}}'::jsonb
      FROM {PERSONS} p
     WHERE %(poverty)s <> {NO_FILE} AND {scope.has('p.region_id')} AND {ALIVE}
       AND NOT {_is_listed('poverty')} AND NOT {pending}
    """


ACTIVE_CA = ("r.category = %(cat)s AND r.start_date <= %(run_date)s"
             " AND (r.end_date IS NULL OR r.end_date >= %(run_date)s)")


def m04_missing_sql(scope: Scope) -> str:
    """Civil affairs has an active record of the category; the ledger person holds none on the run date."""
    return f"""
    INSERT INTO matching_diff ({DIFF_COLUMNS})
    SELECT DISTINCT ON (r.person_id) 'M04:' || r.person_id || ':' || %(cat)s || ':missing', 'M04', r.person_region,
           r.person_id, NULL, r.person_id_number, r.person_name, 'civil_affairs',
           '民政名单：' || %(cat_label)s || '（' || r.start_date || ' 起' || coalesce('，至 ' || r.end_date, '')
           || '）；台账中无在享的' || %(cat_label)s,
           jsonb_build_object('category', %(cat)s::text, 'direction', 'missing', 'valid_from', r.start_date,
                              'valid_to', r.end_date)
      FROM ({resolved_sql('civil_affairs', scope)}) r
      JOIN {PERSONS} p ON p.id = r.person_id
     WHERE {ACTIVE_CA} AND NOT {HOLDS}
     ORDER BY r.person_id, r.start_date DESC
    """


def m04_extra_sql(scope: Scope) -> str:
    """The ledger person holds the category on the run date; civil affairs has no active record of it."""
    # One set of persons, hashed once (NOT IN: person_id is never null), not the list re-read for every holder.
    active = f"""p.id IN (SELECT r.person_id FROM ({resolved_sql('civil_affairs', scope)}) r WHERE {ACTIVE_CA})"""
    since = f"""(SELECT max(c.valid_from) FROM {CATS} c WHERE c.person_id = p.id AND c.category = %(cat)s
                  AND c.valid_from <= %(run_date)s)"""
    return f"""
    INSERT INTO matching_diff ({DIFF_COLUMNS})
    SELECT 'M04:' || p.id || ':' || %(cat)s || ':extra', 'M04', p.region_id, p.id, NULL, p.id_number, p.name,
           'civil_affairs', '台账在享' || %(cat_label)s || '（' || {since} || ' 起），民政名单中无有效的'
           || %(cat_label)s || '记录',
           jsonb_build_object('category', %(cat)s::text, 'direction', 'extra', 'valid_from', {since})
      FROM {PERSONS} p
     WHERE %(civil_affairs)s <> {NO_FILE} AND {scope.has('p.region_id')} AND {HOLDS} AND NOT {active}
    """


def m04_disability_sql(scope: Scope) -> str:
    grade = _case("r.disability_grade::text", GRADES)
    return f"""
    INSERT INTO matching_diff ({DIFF_COLUMNS})
    SELECT DISTINCT ON (r.person_id) 'M04:' || r.person_id || ':severe_disability:missing', 'M04', r.person_region,
           r.person_id, NULL, r.person_id_number, r.person_name, 'disability',
           '残联名单：残疾等级' || {grade} || coalesce('（' || nullif(r.disability_kind, '') || '）', '')
           || '；台账中无在享的重度残疾人类别',
           jsonb_build_object('category', 'severe_disability', 'direction', 'missing', 'grade', r.disability_grade,
                              'valid_from', %(disability_as_of)s::date)
      FROM ({resolved_sql('disability', scope)}) r
      JOIN {PERSONS} p ON p.id = r.person_id
     WHERE r.disability_grade IN (1, 2) AND NOT {HOLDS}
     ORDER BY r.person_id, r.disability_grade
    """


def m05_sql(scope: Scope) -> str:
    return f"""
    INSERT INTO matching_diff ({DIFF_COLUMNS})
    SELECT DISTINCT ON (r.person_id, r.death_date)
           'M05:' || r.person_id || ':' || r.death_date, 'M05', r.person_region, r.person_id, NULL,
           r.person_id_number, r.person_name, 'deaths',
           '公安死亡记录：死亡日期 ' || r.death_date
           || coalesce('；台账记载的死亡日期为 ' || r.person_death, '；台账未记载死亡'),
           jsonb_build_object('death_date', r.death_date, 'ledger_death_date', r.person_death)
      FROM ({resolved_sql('deaths', scope)}) r
     WHERE r.person_death IS DISTINCT FROM r.death_date
     ORDER BY r.person_id, r.death_date
    """


def m05_enrolled_sql(scope: Scope, in_list: bool) -> str:
    """A death record for someone not in the ledger but enrolled for the current year (the enrolment table,
    or the enrolment list of the inbox)."""
    if in_list:
        enrolled = f"""{RECORDS} e ON e.file_id = %(enrolment)s AND e.id_number = d.id_number AND e.year = %(year)s
                      AND e.enrol_status = 'enrolled' AND e.id_status = 'valid' AND e.enrol_region <> ''"""
        region = "e.enrol_region"
    else:
        enrolled = (f"{ENROLMENTS} e ON e.id_number = d.id_number AND e.year = %(year)s "
                    "AND e.status = 'enrolled'")
        region = "e.region_id"
    return f"""
    INSERT INTO matching_diff ({DIFF_COLUMNS})
    SELECT DISTINCT ON (d.id_number, d.death_date)
           'M05:E' || d.id_number || ':' || d.death_date, 'M05', {region}, NULL, NULL, d.id_number, d.name,
           'deaths', '公安死亡记录：死亡日期 ' || d.death_date || '；该人员' || %(year)s || '年度仍在参保',
           jsonb_build_object('death_date', d.death_date, 'enrolled_year', %(year)s)
      FROM {RECORDS} d
      JOIN {enrolled}
      JOIN {REGIONS} g ON g.code = {region}
     WHERE d.file_id = %(deaths)s AND d.id_status = 'valid' AND {scope.has(region)}
       AND NOT EXISTS (SELECT 1 FROM {PERSONS} q WHERE q.id_number = d.id_number)
       AND NOT EXISTS (SELECT 1 FROM {LINKS} l WHERE l.match_key = d.match_key AND l.status = 'confirmed')
     ORDER BY d.id_number, d.death_date, {region}
    ON CONFLICT (key) DO NOTHING
    """


def m06_sql(scope: Scope, source: str) -> str:
    listed, ours = clean_name_sql("r.name"), clean_name_sql("r.person_name")
    return f"""
    INSERT INTO matching_diff ({DIFF_COLUMNS})
    SELECT DISTINCT ON (r.person_id, {listed})
           'M06:' || r.person_id || ':{source}:' || {listed}, 'M06', r.person_region, r.person_id, NULL,
           r.person_id_number, r.person_name, '{source}',
           '姓名不一致：台账为“' || r.person_name || '”，{SOURCES[source]}为“' || r.name || '”',
           jsonb_build_object('listed_name', r.name, 'ledger_name', r.person_name)
      FROM ({resolved_sql(source, scope)}) r
     WHERE r.exact AND {listed} <> {ours}
     ORDER BY r.person_id, {listed}, r.row_no
    """


def m07_sql(scope: Scope) -> str:
    return f"""
    INSERT INTO matching_diff ({DIFF_COLUMNS})
    SELECT 'M07:' || l.id, 'M07', p.region_id, p.id, l.id, p.id_number, p.name, l.source,
           '疑似同一人（得分 ' || to_char(l.score, 'FM0.000') || '）：' || {_case('l.source', SOURCES)}
           || '中的“' || l.name || '”（身份证号 ' || {masked_sql('l.match_key')} || '）',
           jsonb_build_object('listed_name', l.name, 'score', l.score, 'reasons', l.reasons)
      FROM {LINKS} l JOIN {PERSONS} p ON p.id = l.person_id
     WHERE l.status = 'proposed' AND {scope.has('p.region_id')}
       AND EXISTS (SELECT 1 FROM {RECORDS} r WHERE r.match_key = l.match_key AND r.file_id = ANY(%(linked_files)s))
    """


CREATE_DIFF_SQL = """
    CREATE TEMP TABLE matching_diff (key text PRIMARY KEY, code text, region_id text, person_id bigint,
        link_id bigint, id_number text, name text, source text, summary text, detail jsonb) ON COMMIT DROP
"""
OPEN = ", ".join(f"'{s}'" for s in OPEN_STATUSES)
SUPPRESS_SQL = f"DELETE FROM matching_diff d USING {ITEMS} i WHERE i.key = d.key AND i.status = 'dismissed'"
OPEN_ITEMS_SQL = f"""
    INSERT INTO {ITEMS} (code, key, status, region_id, person_id, link_id, id_number, name, source, summary,
                         detail, note, first_run_id, created_at, updated_at)
    SELECT code, key, 'new', region_id, person_id, link_id, left(id_number, 40), left(name, 50), source,
           left(summary, 300), detail, '', %(run)s, now(), now()
      FROM matching_diff
    ON CONFLICT (key) WHERE status IN ({OPEN}) DO UPDATE SET region_id = EXCLUDED.region_id, updated_at = now()
     WHERE {ITEMS}.region_id <> EXCLUDED.region_id
    RETURNING (xmax = 0) AS inserted
"""


def close_items_sql(scope: Scope) -> str:
    return f"""
    UPDATE {ITEMS} i SET status = 'resolved', closed_run_id = %(run)s, closed_at = now(), updated_at = now(),
           note = concat_ws(E'\\n', nullif(i.note, ''), %(close_note)s)
     WHERE i.status IN ({OPEN}) AND {scope.has('i.region_id')}
       AND NOT EXISTS (SELECT 1 FROM matching_diff d WHERE d.key = i.key)
    """


COUNT_SQL = "SELECT left(region_id, 9), code, count(*) FROM matching_diff GROUP BY 1, 2"


@dataclass
class ShardResult:
    counts: dict[str, dict[str, int]]  # township → code → differences
    opened: int
    closed: int


def statements(scope: Scope, params: dict) -> list[tuple[str, dict]]:
    """Every difference query of a shard with its parameters, in code order."""
    steps = [(m01_sql(scope), params)]
    if params["poverty"] != NO_FILE:
        steps += [(m02_sql(scope), params), (m03_sql(scope), params)]
    if params["civil_affairs"] != NO_FILE:
        for cat in ("tekun", "dibao"):
            with_cat = {**params, "cat": cat, "cat_label": CATEGORIES[cat]}
            steps += [(m04_missing_sql(scope), with_cat), (m04_extra_sql(scope), with_cat)]
    if params["disability"] != NO_FILE:
        steps.append((m04_disability_sql(scope), {**params, "cat": "severe_disability"}))
    if params["deaths"] != NO_FILE:
        steps += [(m05_sql(scope), params), (m05_enrolled_sql(scope, in_list=False), params)]
        if params["enrolment"] != NO_FILE:
            steps.append((m05_enrolled_sql(scope, in_list=True), params))
    for source in SOURCES:
        if params[source] != NO_FILE:
            steps.append((m06_sql(scope, source), params))
    steps.append((m07_sql(scope), params))
    return steps


def compute_shard(run, county: str, home_region: str, disability_as_of: dt.date | None) -> ShardResult:
    """Find this county's differences, open new items, close vanished ones. Call inside a transaction."""
    scope = Scope(county)
    files = run.current_files
    params = {
        "run": run.pk, "run_date": run.run_date, "year": run.run_date.year, "county_like": f"{county}%",
        "home_region": home_region, "disability_as_of": disability_as_of,
        "linked_files": [files[s] for s in LINKED_SOURCES if s in files],
        "close_note": f"第{run.pk}次比对（{run.run_date}）未再发现该差异，系统自动关闭",
        **{source: files.get(source, NO_FILE) for source in SOURCES},
        **CLEAN_NAME_PARAMS,
    }
    with connection.cursor() as cursor:
        cursor.execute(CREATE_DIFF_SQL)
        for sql, step_params in statements(scope, params):
            cursor.execute(sql, step_params)
        cursor.execute(SUPPRESS_SQL)
        cursor.execute(OPEN_ITEMS_SQL, params)
        opened = sum(1 for (inserted,) in cursor.fetchall() if inserted)
        cursor.execute(close_items_sql(scope), params)
        closed = cursor.rowcount
        cursor.execute(COUNT_SQL)
        counts: dict[str, dict[str, int]] = {}
        for township, code, count in cursor.fetchall():
            counts.setdefault(township, {})[code] = count
        cursor.execute("DROP TABLE matching_diff")
    return ShardResult(counts, opened, closed)
