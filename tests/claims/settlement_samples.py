"""Samples of the settlement admin models for the generic scoping tests (tests/samples.py)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal


def hospital_sample(village):
    from claims.models import Hospital

    return Hospital.objects.create(code=f"HS{village}", name="样本医院", level="township", region_id=village[:9])


def policyset_sample(village):
    from claims.models import PolicySet
    from claims.settlement.engine import DEFAULT_POLICY

    return PolicySet.objects.create(code=f"S-{village}", year=2030, region_id=village[:9], version=1,
                                    params=DEFAULT_POLICY.to_dict())


def claim_sample(village):
    from claims.models import Claim
    from tests.conftest import make_person

    person = make_person(village, seq=904, name="结算样本")
    return Claim.objects.create(
        hospital=hospital_sample(village), claim_no=f"CS{village}", hospital_level="township", in_county=True,
        visit_type="inpatient", id_number=person.id_number, name=person.name, person=person,
        admission_date=dt.date(2024, 3, 1), discharge_date=dt.date(2024, 3, 5), diagnosis="J18.900",
        total_cost=Decimal("1000.00"), uncovered_cost=Decimal("0.00"), region_id=village)


def settlement_sample(village):
    from claims.models import Settlement
    from claims.settlement.policy_sets import install_defaults
    from claims.settlement.services import settle_claims

    install_defaults()
    claim = claim_sample(village)
    settle_claims([claim.pk])
    return Settlement.objects.get(claim=claim, is_current=True)


def county_income_sample(village):
    from claims.models import CountyIncome

    return CountyIncome.objects.create(region_id=village[:6], year=2023, amount=Decimal("16000.00"))


SETTLEMENT_SAMPLES = {
    "claims.hospital": hospital_sample,
    "claims.policyset": policyset_sample,
    "claims.claim": claim_sample,
    "claims.settlement": settlement_sample,
    "claims.countyincome": county_income_sample,
}


def person_year_total_sample(village):
    from claims.models import PersonYearTotal
    from tests.conftest import make_person

    person = make_person(village, seq=905, name="累计样本")
    return PersonYearTotal.objects.create(id_number=person.id_number, year=2024, name=person.name, region_id=village,
                                          claim_count=1, total_cost=Decimal("90000.00"),
                                          reimbursed=Decimal("60000.00"), self_pay=Decimal("30000.00"),
                                          threshold=Decimal("8000.00"), at_risk=True)


def resettle_run_sample(village):
    from claims.models import ResettleRun

    return ResettleRun.objects.create(year=2024, region_id=village[:6], reason="样本重算")


# The models without an admin page of their own (tests/samples.py MODEL_SAMPLES).
SETTLEMENT_MODEL_SAMPLES = {
    **SETTLEMENT_SAMPLES,
    "claims.personyeartotal": person_year_total_sample,
    "claims.resettlerun": resettle_run_sample,
}
