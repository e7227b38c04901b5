"""Operations on policy parameters, manual enrolments and chase-list work status (admin and views call these)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from poverty_registry.idnumber import IdNumberError, parse_id_number
from poverty_registry.models import Person

from .models import CHASE_STATUSES, ChaseEntry, Enrolment, SubsidyPolicy
from .subsidy_rules import NATIONAL_PREMIUM, check_rules, default_cutoff, default_rules

DEFAULT_REGION = "4306"  # 岳阳市


def ensure_default_policies(region_code: str = DEFAULT_REGION) -> int:
    """The defaults of DOMAIN §5 for 2020–2026 where the region has no policy for the year; returns rows made."""
    made = 0
    for year, premium in NATIONAL_PREMIUM.items():
        if not SubsidyPolicy.objects.filter(year=year, region_id=region_code).exists():
            SubsidyPolicy.objects.create(year=year, region_id=region_code, premium=Decimal(premium),
                                         cutoff_date=default_cutoff(year), rules=default_rules(),
                                         note="默认参数")
            made += 1
    return made


def issue_policy_version(*, year: int, region_code: str, premium, cutoff_date: dt.date | None, rules: dict,
                         note: str = "", user=None) -> SubsidyPolicy:
    """A new version of the year's parameters for the region; the one in force before stays, unchanged."""
    premium = Decimal(str(premium))
    problems = check_rules(premium, rules)
    if problems:
        raise ValidationError(problems)
    with transaction.atomic():
        current = (SubsidyPolicy.objects.select_for_update()
                   .filter(year=year, region_id=region_code).order_by("-version").first())
        SubsidyPolicy.objects.filter(year=year, region_id=region_code, in_force=True).update(in_force=False)
        return SubsidyPolicy.objects.create(
            year=year, region_id=region_code, version=(current.version + 1) if current else 1, premium=premium,
            cutoff_date=cutoff_date or default_cutoff(year), rules=rules, note=note, created_by=user)


def record_enrolment(enrolment: Enrolment) -> Enrolment:
    """Manual entry: normalise the ID number and link the ledger person, then save."""
    try:
        enrolment.id_number = parse_id_number(enrolment.id_number).number
    except IdNumberError as exc:
        raise ValidationError({"id_number": f"身份证号{exc}"}) from None
    enrolment.person = Person.objects.filter(id_number=enrolment.id_number).first()
    enrolment.save()
    return enrolment


def set_chase_status(person: Person, year: int, status: str, note: str, user) -> ChaseEntry:
    if status not in CHASE_STATUSES:
        raise ValidationError(f"未知的跟进状态“{status}”")
    entry, _ = ChaseEntry.objects.update_or_create(
        person=person, year=year, defaults={"status": status, "note": note.strip()[:200], "updated_by": user})
    return entry
