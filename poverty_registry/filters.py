"""One FilterSet per model, shared by the admin lists, the pages and the exports."""
from __future__ import annotations

import datetime as dt

import django_filters
from django.db.models import Exists, OuterRef

from .models import Household, Person, PersonCategory
from .vocab import CATEGORIES, POVERTY_STATUSES


def within_region(queryset, field_path: str, code: str):
    return queryset.filter(**{f"{field_path}__startswith": code}) if code else queryset


class PersonFilterSet(django_filters.FilterSet):
    region = django_filters.CharFilter(label="区划代码", method="filter_region")
    category = django_filters.ChoiceFilter(label="人员类别（当前）", choices=list(CATEGORIES.items()),
                                           method="filter_category")
    poverty_status = django_filters.ChoiceFilter(label="脱贫状态", choices=list(POVERTY_STATUSES.items()))
    deceased = django_filters.BooleanFilter(label="已死亡", field_name="death_date", lookup_expr="isnull",
                                            exclude=True)

    class Meta:
        model = Person
        fields = ["region", "category", "poverty_status", "deceased"]

    def filter_region(self, queryset, name, value):
        return within_region(queryset, "region__code", value)

    def filter_category(self, queryset, name, value, on: dt.date | None = None):
        held = PersonCategory.objects.held_on(on or dt.date.today()).filter(person=OuterRef("pk"), category=value)
        return queryset.filter(Exists(held))


class HouseholdFilterSet(django_filters.FilterSet):
    region = django_filters.CharFilter(label="区划代码", method="filter_region")

    class Meta:
        model = Household
        fields = ["region"]

    def filter_region(self, queryset, name, value):
        return within_region(queryset, "region__code", value)
