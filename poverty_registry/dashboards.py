"""What each role sees first: its region, the numbers it answers for this year as tiles with their trend by
month (each app's home_numbers: one set-based query per number), its counts and its to-dos.

The apps above this one register their home_numbers here at ready() (README "Layout"): the base calls them
without importing them."""
from __future__ import annotations

from collections.abc import Callable

from django.db.models import Count, Q
from django.urls import reverse

from .matching.selectors import home_numbers as matching_numbers
from .models import Household, Person, Region
from .navigation import identity

# home_numbers(user) -> {"figures"|"tiles"|"todos"|"links": [...]} of each upper app, in the order registered
# (INSTALLED_APPS order: enrolment, then settlement and supervision); the page shows them in that order.
HomeNumbers = Callable[[object], dict[str, list]]
_PROVIDERS: list[HomeNumbers] = []


def register(provider: HomeNumbers) -> None:
    """Called by an upper app's AppConfig.ready(): its numbers join every user's home page."""
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)


def home_context(user) -> dict:
    region = user.region if user.region_id else None
    persons = Person.objects.restrict(user)
    region_name, role_name = identity(user)
    context = {
        "region": region,
        "region_name": region_name,
        "role_name": role_name,
        "figures": [],
        "tiles": [],
        "todos": [],
        "links": [],
    }
    if user.has_perm("poverty_registry.view_person"):
        counts = persons.aggregate(all=Count("id"), dead=Count("id", filter=Q(death_date__isnull=False)))
        context["figures"] += [
            ("建档立卡人员", counts["all"]),
            ("建档立卡户", Household.objects.restrict(user).count()),
            ("已死亡待核", counts["dead"]),
        ]
        context["links"].append(("建档立卡人员", reverse("admin:poverty_registry_person_changelist")))
    for provider in [*_PROVIDERS, matching_numbers]:
        for key, items in provider(user).items():
            context[key] += items
    if user.has_perm("poverty_registry.view_auditrecord"):
        context["links"].append(("审计记录", reverse("admin:poverty_registry_auditrecord_changelist")))
    if user.has_perm("poverty_registry.view_region"):
        context["subregions"] = list(Region.objects.restrict(user).filter(parent=region)[:50]) if region else []
    return context
