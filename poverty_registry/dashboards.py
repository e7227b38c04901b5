"""What each role sees first: its region, its numbers and its to-dos (read-only selectors)."""
from __future__ import annotations

from django.urls import reverse

from claims.selectors import home_numbers as settlement_numbers
from claims.supervision_reports import home_numbers as supervision_numbers
from enrollment.selectors import home_numbers as enrolment_numbers

from .matching.selectors import home_numbers as matching_numbers
from .models import Household, Person, Region
from .vocab import ROLES


def home_context(user) -> dict:
    region = user.region if user.region_id else None
    persons = Person.objects.restrict(user)
    context = {
        "region": region,
        "region_name": region.full_name if region else ("全部区划" if user.is_superuser else "未分配辖区"),
        "role_name": ROLES.get(user.role, "超级管理员" if user.is_superuser else "未分配角色"),
        "figures": [],
        "todos": [],
        "links": [],
    }
    if user.has_perm("poverty_registry.view_person"):
        context["figures"] += [
            ("建档立卡人员", persons.count()),
            ("建档立卡户", Household.objects.restrict(user).count()),
            ("已死亡待核", persons.filter(death_date__isnull=False).count()),
        ]
        context["links"].append(("建档立卡人员", reverse("admin:poverty_registry_person_changelist")))
    for key, items in enrolment_numbers(user).items():
        context[key] += items
    for key, items in settlement_numbers(user).items():
        context[key] += items
    for key, items in supervision_numbers(user).items():
        context[key] += items
    for key, items in matching_numbers(user).items():
        context[key] += items
    if user.has_perm("claims.view_auditrecord"):
        context["links"].append(("审计记录", reverse("admin:claims_auditrecord_changelist")))
    if user.has_perm("poverty_registry.view_region"):
        context["subregions"] = list(Region.objects.restrict(user).filter(parent=region)[:50]) if region else []
    return context
