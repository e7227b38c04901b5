"""Demo settlement data: designated hospitals, county incomes, and claims for some demo persons (COPY), all
settled through claims.settlement.services so `make run` shows real settlement sheets, statistics and warnings."""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from poverty_registry import sql
from poverty_registry.importing import copy_rows
from poverty_registry.models import Person, Region

from .models import Claim, Hospital
from .settlement.models import CountyIncome
from .settlement.policy_sets import install_defaults
from .settlement.services import settle_person_years

DIAGNOSES = ("J18.900", "I63.900", "E11.900", "I10.X00", "K80.200", "N18.500", "C34.900", "S72.000", "O80.000")
# Demo figures, not official statistics: per-capita rural disposable income by county (yuan).
DEMO_INCOME = Decimal("17500.00")


@dataclass
class ClaimSeed:
    hospitals: int
    claims: int
    settled: int


def _hospitals() -> list[Hospital]:
    counties = list(Region.objects.filter(level=3).order_by("code"))
    made = []
    for county in counties:
        made.append(Hospital.objects.get_or_create(code=f"H{county.code}00001", defaults={
            "name": f"{county.name}人民医院", "level": "county", "region": county})[0])
        township = Region.objects.filter(parent=county).order_by("code").first()
        if township:
            made.append(Hospital.objects.get_or_create(code=f"H{county.code}10001", defaults={
                "name": f"{township.name}卫生院", "level": "township", "region": township})[0])
    city = Region.objects.filter(level=2).order_by("code").first()
    if city:
        made.append(Hospital.objects.get_or_create(code=f"H{city.code}0200001", defaults={
            "name": f"{city.name}中心医院", "level": "city", "region": city})[0])
        province = Region.objects.filter(level=1).order_by("code").first() or city
        made.append(Hospital.objects.get_or_create(code="H43010200001", defaults={
            "name": "省人民医院", "level": "province", "region": province})[0])
    return made


def _incomes(years) -> None:
    for county in Region.objects.filter(level=3):
        for year in years:
            CountyIncome.objects.get_or_create(region=county, year=year - 1,
                                               defaults={"amount": DEMO_INCOME, "source": "演示数据"})


def seed_claims(seed: int = 2026, share: float = 0.2, years=None) -> ClaimSeed:
    """Claims for about `share` of the demo persons in each of `years` (default: last year and this year),
    enrolment for those persons where none exists, then settle every person-year touched."""
    today = timezone.localdate()
    years = tuple(years or (today.year - 1, today.year))
    rng = random.Random(seed)
    install_defaults(years=range(min(years), max(years) + 1))
    hospitals = _hospitals()
    _incomes(years)
    people = list(Person.objects.filter(claims__isnull=True).order_by("id")
                  .values_list("id", "id_number", "name", "region_id"))
    offset = Claim.objects.count()  # a second seeding adds claims for the persons it added
    now = dt.datetime.now(dt.UTC)
    rows, enrolments, keys = [], [], set()
    for year in years:
        last_day = min(today, dt.date(year, 12, 31))
        for pk, number, name, region in people:
            if rng.random() >= share:
                continue
            keys.add((number, year))
            if rng.random() < 0.96:
                enrolments.append((number, name, year, "enrolled", region, pk, now))
            for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
                rows.append(_claim(rng, offset + len(rows), pk, number, name, region, year, last_day, hospitals, now))
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql.inline("CREATE TEMP TABLE enrolment_seed (LIKE {enrolment}) ON COMMIT DROP"))
            cursor.execute("ALTER TABLE enrolment_seed DROP COLUMN id")
        copy_rows("enrolment_seed", ("id_number", "name", "year", "status", "region_id", "person_id", "updated_at"),
                  enrolments)
        with connection.cursor() as cursor:
            cursor.execute(sql.inline(
                "INSERT INTO {enrolment} (id_number, name, year, status, region_id, person_id, updated_at) "
                "SELECT id_number, name, year, status, region_id, person_id, updated_at FROM enrolment_seed "
                "ON CONFLICT (id_number, year) DO NOTHING"))
        copy_rows(sql.table("claim"), ("hospital_id", "claim_no", "hospital_level", "in_county", "referral",
                                       "visit_type", "id_number", "name", "person_id", "admission_date",
                                       "discharge_date", "diagnosis", "total_cost", "uncovered_cost", "year",
                                       "region_id", "status", "received_at"),
                  rows)
    outcome = settle_person_years(keys, reason="演示数据结算")
    return ClaimSeed(len(hospitals), len(rows), outcome.written)


def _claim(rng, i, pk, number, name, region, year, last_day, hospitals, now) -> tuple:
    where = rng.choice(hospitals)
    span = max(1, (last_day - dt.date(year, 1, 1)).days - 20)
    admission = dt.date(year, 1, 1) + dt.timedelta(days=rng.randrange(span))
    discharge = min(last_day, admission + dt.timedelta(days=rng.randrange(0, 18)))
    total = (Decimal(int(rng.lognormvariate(8.8, 1.0) * 100)) / 100).quantize(Decimal("0.01"))
    uncovered = (total * Decimal(rng.randrange(0, 18)) / 100).quantize(Decimal("0.01"))
    visit = "inpatient" if rng.random() < 0.85 else "special_outpatient"
    in_county = where.level in ("township", "county") and where.region_id[:6] == region[:6]
    return (where.pk, f"YS{year}{i:07d}", where.level, in_county, not in_county and rng.random() < 0.5, visit,
            number, name, pk, admission, discharge, rng.choice(DIAGNOSES), total, uncovered, year, region,
            "unsettled", now)
