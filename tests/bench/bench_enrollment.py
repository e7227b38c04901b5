"""Enrolment and subsidies at the issue's sizes: subsidy computation for 300,000 registered persons over a
5,000,000-row enrolment table (≤ 10 s), the enrolment CSV import (≥ 50,000 rows/s) and the enrolment-rate
page of a county of 300,000 persons (≤ 300 ms). The bulk data is generated in SQL (generate_series) with
triggers off; every measured step runs with the audit triggers on.

Sizes: BENCH_ENROL_PERSONS (300000), BENCH_ENROL_ROWS (5000000), BENCH_ENROL_IMPORT_ROWS (200000),
BENCH_ENROL_PEER_PERSONS (2000, the per-person ORM peer, extrapolated).
"""
from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from tests.bench.harness import Entry, steady_state, timed

COUNTY = "430621"
REPEATS = int(os.environ.get("BENCH_ENROL_REPEATS", "3"))  # imports measured; the best is reported (noisy machine)
YEAR = 2025

SEED_SQL = """
SET session_replication_role = replica;
CREATE TEMP TABLE bench_village AS
  SELECT row_number() OVER (ORDER BY code) - 1 AS n, code FROM poverty_registry_region
  WHERE level = 5 AND code LIKE %(county)s || '%%';
INSERT INTO poverty_registry_household (household_no, region_id, created_at, updated_at)
  SELECT 'B' || lpad(h::text, 9, '0'), v.code, now(), now()
  FROM generate_series(0, %(persons)s / 3) h
  JOIN bench_village v ON v.n = h %% (SELECT count(*) FROM bench_village);
INSERT INTO poverty_registry_person (id_number, name, sex, birth_date, household_id, relation, is_head, region_id,
                                     poverty_status, phone, created_at, updated_at)
  SELECT '4306217' || lpad(i::text, 11, '0'), '测' || i, CASE WHEN i %% 2 = 0 THEN 'F' ELSE 'M' END,
         date '1950-01-01' + (i %% 20000), hh.id, CASE WHEN i %% 3 = 0 THEN '户主' ELSE '子' END, i %% 3 = 0,
         hh.region_id, 'lifted', '', now(), now()
  FROM generate_series(0, %(persons)s - 1) i
  JOIN poverty_registry_household hh ON hh.household_no = 'B' || lpad((i / 3)::text, 9, '0');
UPDATE poverty_registry_person SET death_date = date '2024-06-30'
  WHERE id_number LIKE '4306217%%' AND right(id_number, 3) = '999';
INSERT INTO poverty_registry_personcategory (person_id, category, valid_from, source)
  SELECT id, (ARRAY['tekun','dibao','dibao','dibao','monitor','monitor','tuopin','tuopin','tuopin','tuopin',
                    'tuopin','tuopin','tuopin','tuopin','tuopin','tuopin','low_income','low_income',
                    'severe_disability','tuopin'])[1 + id %% 20],
         CASE WHEN id %% 50 = 0 THEN date '2025-03-01' ELSE date '2016-01-01' + (id %% 1500)::int END, 'seed'
  FROM poverty_registry_person WHERE id_number LIKE '4306217%%';
INSERT INTO poverty_registry_personcategory (person_id, category, valid_from, source)
  SELECT id, 'dibao', date '2019-01-01', 'seed' FROM poverty_registry_person
  WHERE id_number LIKE '4306217%%' AND id %% 7 = 0 AND id %% 20 NOT IN (1, 2, 3);
-- the registered poor, every year 2021–2025, 98%% enrolled
INSERT INTO enrollment_enrolment (id_number, name, year, status, paid_date, region_id, person_id, updated_at)
  SELECT p.id_number, p.name, y, CASE WHEN p.id %% 50 = 7 THEN 'unpaid' ELSE 'enrolled' END,
         make_date(y - 1, 11, 15), p.region_id, p.id, now()
  FROM poverty_registry_person p CROSS JOIN generate_series(2021, 2025) y
  WHERE p.id_number LIKE '4306217%%';
-- everyone else in the city's resident insurance, up to the table size
INSERT INTO enrollment_enrolment (id_number, name, year, status, paid_date, region_id, updated_at)
  SELECT '4306218' || lpad((i / 5)::text, 11, '0'), '居民', 2021 + i %% 5, 'enrolled', date '2024-11-15',
         %(county)s, now()
  FROM generate_series(0, %(others)s - 1) i;
SET session_replication_role = origin;
ANALYZE poverty_registry_person; ANALYZE poverty_registry_personcategory; ANALYZE enrollment_enrolment;
"""


def seed(persons: int, rows: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(SEED_SQL, {"county": COUNTY, "persons": persons, "others": max(0, rows - 5 * persons)})


def import_file(rows: int, year: int = 2026) -> Path:
    """A CSV of `rows` new enrolments with valid ID numbers (another county, the given year)."""
    import datetime as dt

    from poverty_registry.idnumber import check_char

    lines = ["身份证号,姓名,参保年度,参保状态,缴费日期,参保地区划"]
    birth = dt.date(1940, 1, 1)
    for i in range(rows):
        first17 = f"430626{birth + dt.timedelta(days=i // 999):%Y%m%d}{i % 999 + 1:03d}"
        paid = f"{year - 1}-11-{1 + i % 28:02d}"
        lines.append(f"{first17}{check_char(first17)},居民{i},{year},正常参保,{paid},430626100201")
    path = Path(tempfile.mkdtemp()) / "enrolments.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def orm_peer_seconds(sample: int) -> float:
    """The obvious per-person ORM loop (categories held, most favourable, save a line) on a sample."""
    from django.db import transaction
    from django.utils import timezone

    from enrollment.models import Enrolment, SubsidyLine, SubsidyPolicy
    from enrollment.subsidy_rules import most_favourable
    from poverty_registry.models import Person

    policy = SubsidyPolicy.objects.get(year=YEAR, in_force=True)
    amounts = {code: policy.subsidy_for(code) for code in policy.rules}
    cutoff, now = policy.cutoff_date, timezone.now()
    started = time.perf_counter()
    with transaction.atomic():
        SubsidyLine.objects.filter(year=YEAR).delete()
        started = time.perf_counter()
        for person in Person.objects.filter(region__code__startswith=COUNTY).order_by("id")[:sample]:
            if not Enrolment.objects.filter(id_number=person.id_number, year=YEAR, status="enrolled").exists():
                continue
            if person.death_date and person.death_date < cutoff:
                continue
            category = most_favourable(amounts, set(person.categories_on(cutoff)))
            if category:
                SubsidyLine.objects.create(person=person, id_number=person.id_number, name=person.name, year=YEAR,
                                           category=category, premium=policy.premium, subsidy=amounts[category],
                                           fund=policy.rule(category)["fund"], policy=policy,
                                           region_id=person.region_id, computed_at=now)
        transaction.set_rollback(True)
    return time.perf_counter() - started


def rate_page_ms(client, repeats: int = 7) -> float:
    from django.urls import reverse

    url = reverse("enrollment:rate")
    client.get(url, {"year": YEAR})  # warm-up
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        response = client.get(url, {"year": YEAR})
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return statistics.median(samples)


def run() -> list[Entry]:
    from django.test import Client

    from enrollment.services import ensure_default_policies
    from enrollment.subsidies import compute_subsidies
    from poverty_registry import importing
    from poverty_registry.audit.trail import audit_context, spread_journal
    from poverty_registry.services import save_staff

    persons = int(os.environ.get("BENCH_ENROL_PERSONS", "300000"))
    rows = int(os.environ.get("BENCH_ENROL_ROWS", "5000000"))
    import_rows = int(os.environ.get("BENCH_ENROL_IMPORT_ROWS", "200000"))
    peer_persons = int(os.environ.get("BENCH_ENROL_PEER_PERSONS", "2000"))
    ensure_default_policies()
    _, seconds = timed(seed, persons, rows)
    steady_state()
    print(f"  seeded {persons:,} persons and {rows:,} enrolment rows in {seconds:.1f} s", flush=True)

    entries = []
    with audit_context(source="bench"):
        run_, first = timed(compute_subsidies, YEAR)
        lines_spread, spread_seconds = timed(spread_journal)  # the worker's part, after the commit
        print(f"  first computation: {run_.persons:,} lines, ¥{run_.total_subsidy:,}; its audit journal spread "
              f"into {lines_spread:,} records in {spread_seconds:.1f} s", flush=True)
        again, second = timed(compute_subsidies, YEAR)
        assert (again.added, again.changed, again.removed) == (0, 0, 0)
        peer = orm_peer_seconds(peer_persons) * persons / peer_persons
        entries.append(Entry(f"compute_subsidies {persons // 1000}k persons / {rows / 1e6:g}M enrolments", first,
                             "s", "per-person ORM loop (extrapolated)", peer, peer / first))
        entries.append(Entry("compute_subsidies again, nothing changed", second, "s"))

        admin = save_staff("bench_city", region_code="4306", role="city", password=None)[0]
        rates, spreads = [], []
        for year in range(2026, 2026 + REPEATS):  # each a file of new enrolments (a year not imported yet)
            path = import_file(import_rows, year)
            steady_state()
            outcome, seconds = timed(importing.import_path, "enrolment", path, admin, dry_run=False)
            assert outcome.counts["created"] == import_rows and not outcome.errors, outcome.errors[:3]
            rates.append(import_rows / seconds)
            spread, spread_seconds = timed(spread_journal)  # off the import's path, before the next one
            assert spread == import_rows, spread
            spreads.append(spread_seconds)
        print(f"  enrolment imports {', '.join(f'{rate:,.0f}' for rate in rates)} rows/s; audit journal spread "
              f"after each in {', '.join(f'{s:.1f}' for s in spreads)} s", flush=True)
        entries.append(Entry(f"import_enrolments {import_rows // 1000}k rows, best of {REPEATS}", max(rates),
                             "rows/s"))
        entries.append(Entry(f"audit spread after a {import_rows // 1000}k enrolment import, slowest",
                             max(spreads), "s"))

    officer = save_staff("bench_county", region_code=COUNTY, role="county", password=None)[0]
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(officer)
    entries.append(Entry(f"enrolment-rate page, county of {persons // 1000}k", rate_page_ms(client), "ms"))
    return entries
