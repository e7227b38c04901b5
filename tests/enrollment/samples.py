"""Scoping samples of the enrolment app's admin models, made in a given village (tests/samples.py)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from tests.conftest import make_person


def _policy(village):
    from enrollment.models import SubsidyPolicy
    from enrollment.subsidy_rules import default_rules

    return SubsidyPolicy.objects.create(year=2030, region_id=village[:9], premium=Decimal("400"),
                                        cutoff_date=dt.date(2029, 12, 31), rules=default_rules())


def enrolment_sample(village):
    from enrollment.models import Enrolment

    person = make_person(village, seq=911, name="参保样本")
    return Enrolment.objects.create(id_number=person.id_number, name=person.name, year=2030, status="enrolled",
                                    region_id=village, person=person)


def subsidy_line_sample(village):
    from django.utils import timezone

    from enrollment.models import SubsidyLine

    person = make_person(village, seq=912, name="资助样本")
    return SubsidyLine.objects.create(person=person, id_number=person.id_number, name=person.name, year=2030,
                                      category="tekun", premium=Decimal("400"), subsidy=Decimal("400"),
                                      fund="医疗救助资金", policy=_policy(village), region_id=village,
                                      computed_at=timezone.now())


def subsidy_report_sample(village):
    from enrollment.models import SubsidyReport
    from tests.conftest import make_staff

    issuer = make_staff(f"issuer_{village}", village[:9], "county")
    return SubsidyReport.objects.create(serial_no=f"ZZ2030-{village[:9]}-0001", year=2030, region_id=village[:9],
                                        issued_by=issuer, persons=0, total_subsidy=0, checksum="0" * 64)


def chase_entry_sample(village):
    from enrollment.models import ChaseEntry

    return ChaseEntry.objects.create(person=make_person(village, seq=913, name="动员样本"), year=2030)


ENROLLMENT_SAMPLES = {
    "enrollment.enrolment": enrolment_sample,
    "enrollment.subsidypolicy": _policy,
    "enrollment.subsidyline": subsidy_line_sample,
    "enrollment.subsidyreport": subsidy_report_sample,
    "enrollment.chaseentry": chase_entry_sample,
}


def subsidy_run_sample(village):
    from django.utils import timezone

    from enrollment.models import SubsidyRun

    return SubsidyRun.objects.create(year=2030, scope_id=village[:9], finished_at=timezone.now())


def subsidy_change_sample(village):
    from enrollment.models import SubsidyChange

    person = make_person(village, seq=914, name="变动样本")
    return SubsidyChange.objects.create(run=subsidy_run_sample(village), person=person, id_number=person.id_number,
                                        name=person.name, kind="added", region_id=village)


def subsidy_report_line_sample(village):
    from enrollment.models import SubsidyReportLine

    person = make_person(village, seq=915, name="报表样本")
    return SubsidyReportLine.objects.create(
        report=subsidy_report_sample(village), person_id=person.pk, id_number=person.id_number, name=person.name,
        region_code=village, category="tekun", premium=Decimal("400"), subsidy=Decimal("400"), fund="医疗救助资金",
        policy_id=0, policy_version=1)


# The models without an admin page of their own (tests/samples.py MODEL_SAMPLES).
ENROLLMENT_MODEL_SAMPLES = {
    **ENROLLMENT_SAMPLES,
    "enrollment.subsidyrun": subsidy_run_sample,
    "enrollment.subsidychange": subsidy_change_sample,
    "enrollment.subsidyreportline": subsidy_report_line_sample,
}
