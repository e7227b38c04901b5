"""Screening (DOMAIN §7.1): nine rules over a year of 1,000,000 claims, set-based SQL, against a straightforward
per-claim Python implementation of the same rules on a 100,000-claim slice; and one arriving claim.

The claims are generated in SQL (generate_series), not through the ORM. Sizes: BENCH_SCREEN_CLAIMS (1,000,000),
BENCH_SCREEN_SLICE (100,000: the year before, screened by both), BENCH_SCREEN_PEER_CLAIMS (claims of the slice
the Python peer screens; default all of them), BENCH_SCREEN_ARRIVING (200 arriving claims for the p95).
"""
from __future__ import annotations

import datetime as dt
import os
import random
import statistics
from decimal import Decimal

from tests.bench.harness import Entry, steady_state, timed

YEAR = 2025
CHECK_FUNCTION = """
CREATE OR REPLACE FUNCTION pg_temp.id_check(s text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT substr('10X98765432', (SELECT sum(substr(s, i::int, 1)::int * w)::int % 11
                                FROM unnest(ARRAY[7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2]) WITH ORDINALITY t(w, i)) + 1, 1)
$$"""


def diagnosis_codes() -> list[str]:
    rng = random.Random(7)
    codes = {"J18", "I10", "K35", "E11", "I63", "N18", "C34", "O80", "O82", "N40", "N81", "C53", "C61", "P07"}
    while len(codes) < 240:
        codes.add(rng.choice("ABCDEFGHIJKLMNQRSTZ") + f"{rng.randrange(100):02d}")
    return sorted(codes)


PEOPLE_SQL = """
CREATE TEMP TABLE bench_people AS
SELECT g AS pid, a.village AS region_id,
       substr(a.village, 1, 6) || to_char(DATE '1940-01-01' + (random() * 29000)::int, 'YYYYMMDD')
         || lpad((g %% 1000)::text, 3, '0') AS first17,
       (random() * (%(hospitals)s - 1))::int + 1 AS fav_hospital,
       (random() * (array_length(%(diags)s::text[], 1) - 1))::int + 1 AS fav_diag
FROM generate_series(1, %(people)s) g,
     LATERAL (SELECT (%(villages)s::text[])[1 + (g::bigint * 7919) %% array_length(%(villages)s::text[], 1)]
                     AS village) a
"""

# Persons are drawn skewed (a few are in hospital often); 60% of a person's claims go to their usual hospital
# with their usual diagnosis; 0.4% are long cheap stays, 0.5% cost five times the usual.
CLAIMS_SQL = """
INSERT INTO claims_claim (hospital_id, claim_no, hospital_level, in_county, referral, visit_type, id_number, name,
                          person_id, admission_date, discharge_date, diagnosis, total_cost, uncovered_cost, year,
                          region_id, status, received_at)
SELECT h.id, 'C' || %(year)s || lpad(x.g::text, 8, '0'), h.level, true, false,
       CASE WHEN x.r_visit < 0.85 THEN 'inpatient' ELSE 'special_outpatient' END,
       p.id_number, '参保人', p.person_id, x.adm, x.adm + x.los,
       (%(diags)s::text[])[CASE WHEN x.r_diag < 0.6 THEN p.fav_diag ELSE x.any_diag END] || '.' || x.diag_suffix,
       round((CASE WHEN x.los > 30 THEN 40 * x.los * (0.5 + x.r_cost)
                   WHEN x.r_out < 0.005 THEN 5 * (800 + 6000 * x.r_cost * x.r_cost)
                   ELSE 800 + 6000 * x.r_cost * x.r_cost END
              * CASE h.level WHEN 'township' THEN 0.5 WHEN 'county' THEN 1 WHEN 'city' THEN 1.6 ELSE 2.2 END)::numeric,
             2),
       0, %(year)s, p.region_id, 'unsettled', now()
FROM (
  SELECT g, random() AS r_visit, random() AS r_cost, random() AS r_out, random() AS r_hosp, random() AS r_diag,
         1 + floor(%(people)s * power(random(), 1.4))::int AS pid,
         make_date(%(year)s, 1, 1) + floor(random() * 365)::int AS adm,
         CASE WHEN random() < 0.004 THEN 31 + floor(random() * 30)::int
              ELSE floor(power(random(), 2) * 18)::int END AS los,
         floor(random() * 10)::int AS diag_suffix,
         (random() * (%(hospitals)s - 1))::int + 1 AS any_hospital,
         (random() * (array_length(%(diags)s::text[], 1) - 1))::int + 1 AS any_diag
  FROM generate_series(%(first)s, %(last)s) g
) x
JOIN bench_people_ids p ON p.pid = x.pid
JOIN bench_hospitals h ON h.no = CASE WHEN x.r_hosp < 0.6 THEN p.fav_hospital ELSE x.any_hospital END
"""


def generate(claims: int, slice_claims: int) -> dict:
    """Hospitals, persons (5% not in the ledger, 2% of the rest dead), enrolments and claims, in SQL."""
    from django.db import connection

    from poverty_registry.models import Household, Region

    villages = list(Region.objects.filter(level=5).values_list("code", flat=True))
    counties = sorted({v[:6] for v in villages})
    people = max(1000, (claims + slice_claims) * 3 // 10)
    diags = diagnosis_codes()
    household = Household.objects.create(household_no="BENCH-SCREENING", region_id=villages[0])
    args = {"people": people, "villages": villages, "diags": diags, "hospitals": 200}
    with connection.cursor() as cur:
        cur.execute("SET session_replication_role = replica")  # set-up data: no audit triggers, no FK checks
        cur.execute("SET work_mem = '256MB'")
        cur.execute(CHECK_FUNCTION)
        cur.execute("""
          INSERT INTO claims_hospital (code, name, level, region_id)
          SELECT 'BH' || lpad(i::text, 4, '0'), '测试医院' || i,
                 (ARRAY['township', 'county', 'city', 'province'])[1 + i %% 4],
                 (%(counties)s::text[])[1 + i %% array_length(%(counties)s::text[], 1)]
          FROM generate_series(1, 200) i""", {"counties": counties})
        cur.execute("CREATE TEMP TABLE bench_hospitals AS SELECT row_number() OVER (ORDER BY id) AS no, id, level "
                    "FROM claims_hospital WHERE code LIKE 'BH%%'")
        cur.execute(PEOPLE_SQL, args)
        cur.execute("ALTER TABLE bench_people ADD COLUMN id_number text")
        cur.execute("UPDATE bench_people SET id_number = first17 || pg_temp.id_check(first17)")
        cur.execute("""
          INSERT INTO poverty_registry_person (id_number, name, sex, birth_date, household_id, relation, is_head,
                                               region_id, poverty_status, phone, death_date, created_at, updated_at)
          SELECT DISTINCT ON (id_number) id_number, '参保人',
                 CASE WHEN substr(id_number, 17, 1)::int %% 2 = 1 THEN 'M' ELSE 'F' END,
                 to_date(substr(id_number, 7, 8), 'YYYYMMDD'), %(household)s, '', false, region_id, 'lifted', '',
                 CASE WHEN random() < 0.02 THEN make_date(%(year)s, 1, 1) + (random() * 365)::int END, now(), now()
          FROM bench_people WHERE pid %% 20 <> 0
          ON CONFLICT (id_number) DO NOTHING""", {"household": household.pk, "year": YEAR})
        cur.execute("""
          CREATE TEMP TABLE bench_people_ids AS
          SELECT b.pid, b.id_number, b.region_id, b.fav_hospital, b.fav_diag, p.id AS person_id
          FROM bench_people b LEFT JOIN poverty_registry_person p ON p.id_number = b.id_number""")
        cur.execute("CREATE UNIQUE INDEX ON bench_people_ids (pid)")
        cur.execute("ANALYZE bench_people_ids")
        cur.execute("""
          INSERT INTO enrollment_enrolment (id_number, name, year, status, region_id, person_id, updated_at)
          SELECT DISTINCT ON (b.id_number, y) b.id_number, '参保人', y,
                 CASE WHEN random() < 0.03 THEN 'unpaid' ELSE 'enrolled' END, b.region_id, b.person_id, now()
          FROM bench_people_ids b CROSS JOIN (VALUES (%(year)s - 1), (%(year)s)) years(y)
          ON CONFLICT DO NOTHING""", {"year": YEAR})
        for year, first, last in ((YEAR - 1, 1, slice_claims), (YEAR, slice_claims + 1, slice_claims + claims)):
            cur.execute(CLAIMS_SQL, {**args, "year": year, "first": first, "last": last})
        # About 0.1% re-sent under another number: duplicates for R06.
        cur.execute("""
          INSERT INTO claims_claim (hospital_id, claim_no, hospital_level, in_county, referral, visit_type, id_number,
                                    name, person_id, admission_date, discharge_date, diagnosis, total_cost,
                                    uncovered_cost, year, region_id, status, received_at)
          SELECT hospital_id, claim_no || 'R', hospital_level, in_county, referral, visit_type, id_number, name,
                 person_id, admission_date, discharge_date, diagnosis, total_cost, uncovered_cost, year, region_id,
                 status, received_at
          FROM claims_claim WHERE claim_no LIKE 'C%%' AND random() < 0.001""")
        cur.execute("SET session_replication_role = DEFAULT")
        # What autovacuum does to a loaded table: statistics and the visibility map (index-only scans).
        for table in ("claims_claim", "poverty_registry_person", "enrollment_enrolment"):
            cur.execute(f"VACUUM ANALYZE {table}")
    return {"people": people}


# ---- the peer: the same nine rules, one claim at a time, in plain Python ---------------------------------

CLAIM_COLUMNS = ("id", "claim_no", "hospital_id", "hospital_level", "visit_type", "id_number", "admission_date",
                 "discharge_date", "diagnosis", "total_cost", "year")


def _row(values) -> dict:
    return dict(zip(CLAIM_COLUMNS, values))


def _key(c: dict):
    return (c["admission_date"], c["claim_no"], c["id"])


def _in_ranges(d3: str, ranges: list[str]) -> bool:
    for item in ranges:
        low, _, high = item.partition("-")
        if low <= d3 <= (high or low):
            return True
    return False


def _birth_and_sex(number: str) -> tuple[dt.date | None, str | None]:
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        birth = None
    return birth, ("M" if int(number[16]) % 2 else "F") if number[16:17].isdigit() else None


def _median(values: list[Decimal]) -> Decimal:
    values = sorted(values)
    n = len(values)
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2


class PerClaimScreen:
    """A straightforward implementation: for each claim, read the person, the enrolment, the person's claims
    and the claim's diagnosis group, then check the nine rules with the default parameters."""

    def __init__(self, cursor):
        from claims.supervision.rules import RULES, validate_params

        self.cursor = cursor
        self.params = {code: validate_params(code, {}) for code in RULES}

    def _fetch(self, sql: str, args) -> list:
        self.cursor.execute(sql, args)
        return self.cursor.fetchall()

    def screen(self, c: dict) -> dict[str, list[int]]:
        """{rule: evidence claim ids} of the rules this claim hits."""
        cols = ", ".join(CLAIM_COLUMNS)
        person = self._fetch("SELECT sex, birth_date, death_date FROM poverty_registry_person WHERE id_number = %s",
                             [c["id_number"]])
        enrolment = self._fetch("SELECT status FROM enrollment_enrolment WHERE id_number = %s AND year = %s",
                                [c["id_number"], c["year"]])
        others = [_row(r) for r in self._fetch(f"SELECT {cols} FROM claims_claim WHERE id_number = %s",
                                               [c["id_number"]])]
        d3 = c["diagnosis"][:3].upper()
        group = [r[0] for r in self._fetch(
            "SELECT total_cost FROM claims_claim WHERE year = %s AND hospital_level = %s "
            "AND upper(left(diagnosis, 3)) = %s", [c["year"], c["hospital_level"], d3])]
        hits: dict[str, list[int]] = {}
        p = self.params
        sex, birth, death = person[0] if person else (None, None, None)
        if not person:
            birth, sex = _birth_and_sex(c["id_number"])
        if death and (c["admission_date"] > death or c["discharge_date"] > death):
            hits["R01"] = []
        inpatient = c["visit_type"] == "inpatient"
        earlier = sorted((e for e in others if _key(e) < _key(c)), key=_key)
        if inpatient:
            stays = [e for e in earlier if e["visit_type"] == "inpatient"]
            overlapping = [e["id"] for e in stays
                           if e["admission_date"] < c["discharge_date"] and c["admission_date"] < e["discharge_date"]]
            if overlapping:
                hits["R02"] = overlapping
            readmitted = [e["id"] for e in stays if e["hospital_id"] == c["hospital_id"]
                          and e["diagnosis"][:3].upper() == d3
                          and 0 <= (c["admission_date"] - e["discharge_date"]).days <= p["R03"]["days"]]
            if readmitted:
                hits["R03"] = readmitted
            window_start = c["admission_date"] - dt.timedelta(days=p["R08"]["window_days"] - 1)
            in_window = [e["id"] for e in stays if window_start <= e["admission_date"] <= c["admission_date"]]
            if len(in_window) + 1 > p["R08"]["max_admissions"]:
                hits["R08"] = in_window
            days = (c["discharge_date"] - c["admission_date"]).days
            if days > p["R09"]["max_days"] and c["total_cost"] < Decimal(p["R09"]["daily_floor"]) * days:
                hits["R09"] = []
        r04 = p["R04"]
        if (sex == "M" and _in_ranges(d3, r04["male"])) or (sex == "F" and _in_ranges(d3, r04["female"])) or (
                birth and _in_ranges(d3, r04["infant"]) and _add_years(birth, r04["infant_max_years"])
                <= c["admission_date"]):
            hits["R04"] = []
        if not enrolment or enrolment[0][0] not in p["R05"]["enrolled_statuses"]:
            hits["R05"] = []
        duplicates = sorted((e for e in others if e["id"] != c["id"] and e["hospital_id"] == c["hospital_id"]
                             and e["admission_date"] == c["admission_date"]
                             and e["discharge_date"] == c["discharge_date"] and e["total_cost"] == c["total_cost"]
                             and (e["claim_no"], e["id"]) < (c["claim_no"], c["id"])),
                            key=lambda e: (e["claim_no"], e["id"]))
        if duplicates:
            hits["R06"] = [e["id"] for e in duplicates]
        if len(group) >= p["R07"]["min_claims"] and c["total_cost"] > Decimal(p["R07"]["k"]) * _median(group):
            hits["R07"] = []
        return hits


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February → 28 February, as PostgreSQL does
        return day.replace(year=day.year + years, day=28)


def python_screen_year(cursor, year: int, limit: int | None = None) -> dict[int, dict[str, list[int]]]:
    """{claim id: {rule: evidence}} for the year's claims (the first `limit` by id), claim by claim."""
    screen = PerClaimScreen(cursor)
    cursor.execute(f"SELECT {', '.join(CLAIM_COLUMNS)} FROM claims_claim WHERE year = %s ORDER BY id"
                   + (" LIMIT %s" if limit else ""), [year, limit] if limit else [year])
    claims = [_row(r) for r in cursor.fetchall()]
    return {c["id"]: screen.screen(c) for c in claims}


# ---- the benchmark -----------------------------------------------------------------------------------------

def _sql_hits(year: int) -> dict[int, dict[str, list[int]]]:
    from claims.models import ScreeningHit

    found: dict[int, dict[str, list[int]]] = {}
    for claim_id, rule, evidence in ScreeningHit.objects.filter(year=year, status="active").values_list(
            "claim_id", "rule", "evidence"):
        found.setdefault(claim_id, {})[rule] = [int(i) for i in evidence.get("claims") or []]
    return found


def _arriving_p95(samples: int) -> float:
    """Insert one claim at a time for an existing person and screen it as the import would: ms, p95."""
    from django.db import connection

    from claims.models import Claim
    from claims.supervision.screening import screen_claim

    rng = random.Random(11)
    cursor = connection.cursor()
    cursor.execute("SELECT id FROM claims_claim WHERE year = %s ORDER BY random() LIMIT %s", [YEAR, samples])
    templates = [row[0] for row in cursor.fetchall()]
    times = []
    for i, template_id in enumerate(templates):
        template = Claim.objects.get(pk=template_id)
        template.pk = None
        template.claim_no = f"ARRIVING{i:05d}"
        template.admission_date = dt.date(YEAR, 1, 1) + dt.timedelta(days=rng.randrange(360))
        template.discharge_date = template.admission_date + dt.timedelta(days=rng.randrange(5))
        template.save()
        _, seconds = timed(screen_claim, template)
        times.append(seconds * 1000)
    return statistics.quantiles(times, n=20)[18]


def run() -> list[Entry]:
    from django.db import connection

    from claims.supervision.screening import screen_year
    from poverty_registry.audit.trail import audit_context

    claims = int(os.environ.get("BENCH_SCREEN_CLAIMS", "1000000"))
    slice_claims = int(os.environ.get("BENCH_SCREEN_SLICE", "100000"))
    peer_claims = int(os.environ.get("BENCH_SCREEN_PEER_CLAIMS", str(slice_claims)))
    arriving = int(os.environ.get("BENCH_SCREEN_ARRIVING", "200"))
    _, gen_seconds = timed(generate, claims, slice_claims)
    steady_state()
    print(f"generated {claims:,} + {slice_claims:,} claims in {gen_seconds:.1f} s", flush=True)
    with audit_context(source="bench"):
        year_counts, year_seconds = timed(screen_year, YEAR)
        print(f"screened {YEAR}: {year_counts} in {year_seconds:.1f} s", flush=True)
        slice_counts, slice_seconds = timed(screen_year, YEAR - 1)
        print(f"screened the slice {YEAR - 1}: {slice_counts} in {slice_seconds:.1f} s", flush=True)
        with connection.cursor() as cursor:
            peer, peer_seconds = timed(python_screen_year, cursor, YEAR - 1, peer_claims)
        print(f"python peer: {len(peer):,} claims in {peer_seconds:.1f} s", flush=True)
        sql = _sql_hits(YEAR - 1)
        disagree = [cid for cid in peer if peer[cid] != sql.get(cid, {})]
        if disagree:
            raise AssertionError(f"SQL and Python disagree on {len(disagree)} claims, e.g. {disagree[:5]}")
        p95 = _arriving_p95(arriving)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM claims_claim WHERE year = %s", [YEAR])
        year_claims = cursor.fetchone()[0]
    sql_per_claim = slice_seconds / slice_claims * 1e6
    peer_per_claim = peer_seconds / len(peer) * 1e6
    return [
        Entry(f"screening {year_claims:,} claims, 9 rules", year_seconds, "s"),
        Entry("screening claims/s (1 year)", year_claims / year_seconds, "claims/s"),
        Entry("screening per claim (100k slice) vs Python", sql_per_claim, "µs/claim", "per-claim Python",
              peer_per_claim, peer_per_claim / sql_per_claim),
        Entry("screening one arriving claim p95", p95, "ms"),
    ]
