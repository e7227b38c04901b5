"""Small builders shared by the supervision tests: hospitals, claims, enrolments, ID numbers."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from tests.conftest import COUNTY_A, VILLAGE_A


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def id_number(birth: str = "19800101", seq: int = 1, county: str = "430621") -> str:
    from poverty_registry.idnumber import check_char

    first17 = f"{county}{birth}{seq:03d}"
    return first17 + check_char(first17)


def hospital(code: str = "H001", level: str = "county", region: str = COUNTY_A, name: str | None = None):
    from claims.models import Hospital

    return Hospital.objects.get_or_create(code=code, defaults={"name": name or f"医院{code}", "level": level,
                                                               "region_id": region})[0]


def claim(no: str, adm: str, dis: str, *, person=None, id_no: str | None = None, hosp=None, diag: str = "J18.9",
          total: str = "5000.00", visit: str = "inpatient", level: str | None = None, region: str = VILLAGE_A,
          name: str = "测试人"):
    from claims.models import Claim

    hosp = hosp or hospital()
    number = person.id_number if person is not None else (id_no or id_number())
    return Claim.objects.create(
        hospital=hosp, claim_no=no, hospital_level=level or hosp.level, in_county=True, visit_type=visit,
        id_number=number, name=getattr(person, "name", name), person=person, admission_date=day(adm),
        discharge_date=day(dis), diagnosis=diag, total_cost=Decimal(total), uncovered_cost=Decimal("0"),
        region_id=getattr(person, "region_id", region))


def enrol(number: str, year: int, status: str = "enrolled", region: str = VILLAGE_A):
    from enrollment.models import Enrolment

    return Enrolment.objects.create(id_number=number, name="参保人", year=year, status=status, region_id=region)


def hits_of(rule: str, year: int | None = None) -> dict[str, list[str]]:
    """{hit claim number: [evidence claim numbers]} of one rule's active hits."""
    from claims.models import Claim, ScreeningHit

    hits = ScreeningHit.objects.filter(rule=rule, status="active").select_related("claim")
    if year is not None:
        hits = hits.filter(year=year)
    numbers = dict(Claim.objects.values_list("id", "claim_no"))
    return {h.claim.claim_no: [numbers[i] for i in h.evidence_claim_ids] for h in hits}
