"""Every filter of every FilterSet works (issue 13, finding 10): found by walking the three apps, each filter is
given a valid value built from its form field, applied to a real queryset and evaluated, then submitted to every
page that uses the FilterSet as a persona who may see that page. A new FilterSet is covered without a new test."""
from __future__ import annotations

import datetime as dt
import importlib
import pkgutil
import uuid

import django_filters
import pytest
from django import forms
from django.contrib import admin
from django.urls import reverse

from poverty_registry.models import MatchingItem

pytestmark = pytest.mark.django_db

APPS = ("poverty_registry", "enrollment", "claims")
CHAR_VALUE = "4306"  # a string that is also a region prefix, a name start and a number's start


def _import_app_modules() -> None:
    for app in APPS:
        package = importlib.import_module(app)
        for module in pkgutil.walk_packages(package.__path__, f"{app}."):
            if ".migrations" not in module.name:
                importlib.import_module(module.name)


def project_filtersets() -> list[type[django_filters.FilterSet]]:
    _import_app_modules()
    found, todo = [], list(django_filters.FilterSet.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.split(".")[0] in APPS and cls._meta.model is not None:
            found.append(cls)
    return sorted(set(found), key=lambda cls: f"{cls.__module__}.{cls.__qualname__}")


def _label(cls) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


FILTERSETS = project_filtersets()
FILTERS = [(cls, name) for cls in FILTERSETS for name in cls.base_filters]

# The pages that apply each FilterSet from the query string (besides the admin lists found below), and the
# persona who may see them. A new FilterSet must say here which pages use it, so its pages are tested too.
PAGES: dict[str, list[tuple[str, dict, str]]] = {
    "poverty_registry.filters.PersonFilterSet": [("registry:ledger_export", {}, "clerk_a")],
    "poverty_registry.filters.HouseholdFilterSet": [],  # no page uses it yet
    "poverty_registry.matching.filters.MatchingItemFilterSet": [
        ("matching:queue", {}, "clerk_a"), ("matching:queue", {"export": "xlsx"}, "clerk_a")],
}


def admin_pages() -> list[tuple[type, str, str]]:
    """(FilterSet, filter name, changelist URL name) of every admin list filter that applies a FilterSet."""
    pages = []
    for model, model_admin in admin.site._registry.items():
        for list_filter in model_admin.list_filter:
            filterset_class = getattr(list_filter, "filterset_class", None)
            if filterset_class is not None:
                url = f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"
                pages.append((filterset_class, list_filter.parameter_name, url))
    return pages


def value_for(field: forms.Field, name: str) -> dict:
    """Query parameters holding a valid value for a filter's form field."""
    if isinstance(field, forms.MultiValueField):  # range filters: one parameter per part, named by suffix
        params = {}
        for suffix, part in zip(field.widget.suffixes, field.fields, strict=True):
            params.update(value_for(part, f"{name}_{suffix}" if suffix else name))
        return params
    if isinstance(field, forms.ModelChoiceField):
        obj = field.queryset.first()
        assert obj is not None, f"{name}: the test data has no {field.queryset.model.__name__} to choose"
        value = str(obj.pk)
        return {name: [value] if isinstance(field, forms.ModelMultipleChoiceField) else value}
    if isinstance(field, forms.ChoiceField):
        choices = [str(value) for value, _ in field.choices if value not in ("", None)]
        assert choices, f"{name}: a choice filter without choices"
        return {name: [choices[0]] if isinstance(field, forms.MultipleChoiceField) else choices[0]}
    if isinstance(field, forms.BooleanField | forms.NullBooleanField):
        return {name: "true"}
    if isinstance(field, forms.DateTimeField):
        return {name: "2025-01-01 08:00:00"}
    if isinstance(field, forms.DateField):
        return {name: dt.date(2025, 1, 1).isoformat()}
    if isinstance(field, forms.TimeField):
        return {name: "08:00"}
    if isinstance(field, forms.DurationField):
        return {name: "1 00:00:00"}
    if isinstance(field, forms.IntegerField | forms.DecimalField | forms.FloatField):
        return {name: "1"}
    if isinstance(field, forms.UUIDField):
        return {name: str(uuid.uuid4())}
    if isinstance(field, forms.CharField):
        return {name: CHAR_VALUE}
    raise AssertionError(f"{name}: teach this test a valid value for {type(field).__name__}")


def params_for(filterset_class, name: str) -> dict:
    filterset = filterset_class({}, queryset=filterset_class._meta.model._default_manager.all())
    return value_for(filterset.form.fields[name], name)


def evaluate(filterset_class, params: dict) -> list:
    """Apply the filters to a real queryset and run the query; raises on a broken filter."""
    filterset = filterset_class(dict(params), queryset=filterset_class._meta.model._default_manager.all())
    assert filterset.is_valid(), f"{_label(filterset_class)} refused {params}: {filterset.errors.as_json()}"
    return list(filterset.qs)


@pytest.fixture
def data(person_a, person_b):
    """A row or two in the tables the FilterSets read, so a filter also runs on data, not only on an empty table."""
    return [person_a, person_b]


def test_the_projects_filtersets_are_found():
    labels = {_label(cls) for cls in FILTERSETS}
    assert {"poverty_registry.filters.PersonFilterSet",
            "poverty_registry.matching.filters.MatchingItemFilterSet"} <= labels


@pytest.mark.parametrize(("filterset_class", "name"), FILTERS, ids=[f"{c.__name__}.{n}" for c, n in FILTERS])
def test_every_filter_accepts_a_valid_value_on_a_real_queryset(data, filterset_class, name):
    evaluate(filterset_class, params_for(filterset_class, name))


def test_a_broken_filter_is_caught():
    """The check above fails for a lookup the model field does not have (a region prefix on a foreign key)."""
    class Broken(django_filters.FilterSet):
        region = django_filters.CharFilter(field_name="region_id", lookup_expr="startswith")

        class Meta:
            model = MatchingItem
            fields = ["region"]

    with pytest.raises(Exception, match="startswith"):
        evaluate(Broken, params_for(Broken, "region"))


@pytest.mark.parametrize("filterset_class", FILTERSETS, ids=[c.__name__ for c in FILTERSETS])
def test_every_filterset_names_its_pages(filterset_class):
    assert _label(filterset_class) in PAGES, f"say in PAGES which pages use {_label(filterset_class)}"


@pytest.mark.parametrize(("filterset_class", "name"), FILTERS, ids=[f"{c.__name__}.{n}" for c, n in FILTERS])
def test_every_page_accepts_every_filter(client, request, data, filterset_class, name):
    params = params_for(filterset_class, name)
    for url_name, extra, persona in PAGES.get(_label(filterset_class), []):
        client.force_login(request.getfixturevalue(persona))
        response = client.get(reverse(url_name), {**extra, **params})
        assert response.status_code == 200, f"{url_name} with {params}: {response.status_code}"


@pytest.mark.parametrize(("filterset_class", "name", "url_name"), admin_pages(),
                         ids=[f"{url}.{name}" for _, name, url in admin_pages()])
def test_every_admin_list_filter_accepts_a_valid_value(client, administrator, data, filterset_class, name, url_name):
    client.force_login(administrator)
    params = params_for(filterset_class, name)
    response = client.get(reverse(url_name), params)
    # The admin answers an unknown parameter with a redirect to ?e=1: 200 means the filter was applied.
    assert response.status_code == 200, f"{url_name} with {params}: {response.status_code}"
