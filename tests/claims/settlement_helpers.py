"""Helpers of the settlement tests (services, import, pages, commands): hospitals, claims, enrolments."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest


@pytest.fixture
def policies(regions):
    """The §6.4 defaults in force for the demo city, 2020–2026 (the data migration's rows, or new ones after
    a transactional test emptied the tables)."""
    from claims.settlement.policy_sets import install_defaults

    install_defaults()
    from claims.models import PolicySet

    return {p.year: p for p in PolicySet.objects.filter(region_id="4306", in_force=True)}


def hospital(code="H43062100001", name="岳阳县人民医院", level="county", region="430621"):
    from claims.models import Hospital

    return Hospital.objects.get_or_create(code=code, defaults={"name": name, "level": level, "region_id": region})[0]


def enrol(person_or_id, year=2024, status="enrolled", region=None, name="张三"):
    from enrollment.models import Enrolment

    person = None if isinstance(person_or_id, str) else person_or_id
    number = person_or_id if person is None else person.id_number
    return Enrolment.objects.create(id_number=number, name=person.name if person else name, year=year, status=status,
                                    region_id=region or (person.region_id if person else "430621100201"),
                                    person=person)


def category(person, code, since="2019-01-01", until=None):
    from poverty_registry.models import PersonCategory

    return PersonCategory.objects.create(person=person, category=code, valid_from=dt.date.fromisoformat(since),
                                         valid_to=until and dt.date.fromisoformat(until), source="manual")


def claim(person, no="C1", total="20000.00", uncovered="2000.00", level="county", in_county=True,
          visit="inpatient", referral=False, admitted="2024-03-01", days=9, where=None, diagnosis="J18.900"):
    from claims.models import Claim

    where = where or hospital()
    admission = dt.date.fromisoformat(admitted)
    return Claim.objects.create(
        hospital=where, claim_no=no, hospital_level=level, in_county=in_county, referral=referral, visit_type=visit,
        id_number=person.id_number, name=person.name, person=person, admission_date=admission,
        discharge_date=admission + dt.timedelta(days=days), diagnosis=diagnosis, total_cost=Decimal(total),
        uncovered_cost=Decimal(uncovered), region_id=person.region_id)


def current(claim_obj):
    from claims.models import Settlement

    return Settlement.objects.get(claim=claim_obj, is_current=True)


def amounts(settlement):
    return tuple(f"{getattr(settlement, c)}" for c in ("basic", "critical", "assistance", "hospital_waiver",
                                                       "special_insurance", "backstop", "self_pay"))
