"""What each role sees first: its region, the numbers it answers for this year as tiles with their trend by
month (each app's home_numbers: one set-based query per number), its counts and its to-dos.

The apps above this one register their home_numbers here at ready() (README "Layout"): the base calls them
without importing them."""
from __future__ import annotations

from collections.abc import Callable

from django.db.models import Count, Q
from django.urls import reverse

from .figures import Figures, cached_figures, oldest, scope_part
from .matching.selectors import home_numbers as matching_numbers
from .models import Household, Person, Region
from .navigation import identity
from .scoping import region_scope

# home_numbers(user) -> {"figures"|"tiles"|"todos"|"links"|"computed_at": [...]} of each upper app, in the order
# registered (INSTALLED_APPS order: enrolment, then settlement and supervision); the page shows them in that order.
# "computed_at": when the figure cache computed the app's figures (poverty_registry.figures); the page shows the
# oldest.
HomeNumbers = Callable[[object], dict[str, list]]
_PROVIDERS: list[HomeNumbers] = []


def register(provider: HomeNumbers) -> None:
    """Called by an upper app's AppConfig.ready(): its numbers join every user's home page."""
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)


def home_context(user) -> dict:
    region = user.region if user.region_id else None
    region_name, role_name = identity(user)
    context = {
        "region": region,
        "region_name": region_name,
        "role_name": role_name,
        "figures": [],
        "tiles": [],
        "todos": [],
        "links": [],
        "computed_at": [],  # when each cached figure was computed (providers add theirs under this key)
    }
    if user.has_perm("poverty_registry.view_person"):
        counts = registry_counts(user)
        context["figures"] += [
            ("建档立卡人员", counts.value["all"]),
            ("建档立卡户", counts.value["households"]),
            ("已死亡待核", counts.value["dead"]),
        ]
        context["computed_at"].append(counts.computed_at)
        context["links"].append(("建档立卡人员", reverse("admin:poverty_registry_person_changelist")))
    for provider in [*_PROVIDERS, matching_numbers]:
        for key, items in provider(user).items():
            context[key] += items
    context["figures_computed_at"] = oldest(context.pop("computed_at"))
    if user.has_perm("poverty_registry.view_auditrecord"):
        context["links"].append(("审计记录", reverse("admin:poverty_registry_auditrecord_changelist")))
    if user.has_perm("poverty_registry.view_region"):
        context["subregions"] = list(Region.objects.restrict(user).filter(parent=region)[:50]) if region else []
    return context


def registry_counts(user) -> Figures:
    """The ledger's persons, households and dead of the user's scope (figure cache: a count over a whole city
    is not for every opening of the home page). Households only with their permission."""
    households = user.has_perm("poverty_registry.view_household")

    def compute() -> dict:
        counts = Person.objects.restrict(user).aggregate(all=Count("id"),
                                                          dead=Count("id", filter=Q(death_date__isnull=False)))
        return {**counts, "households": Household.objects.restrict(user).count() if households else 0}

    return cached_figures(("registry_counts", scope_part(region_scope(user)), int(households)), compute)
