"""The role table (poverty_registry/roles.py) names permissions as strings: every one must exist, and a label
that names nothing (a model moved to another app, renamed, an action misspelt) stops the sync and the startup."""
from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from poverty_registry import roles


def test_every_label_of_the_role_table_names_a_model_and_its_permissions():
    assert roles.unknown_labels() == []


@pytest.mark.django_db
def test_every_explicit_label_is_granted_to_its_role():
    for role, spec in roles.ROLE_PERMISSIONS.items():
        granted = {(p.content_type.app_label, p.codename) for p in roles.permissions_for(role)}
        for label, actions in spec.items():
            if label != "*":
                assert set(roles._codenames(label, actions)) <= granted, (role, label)


@pytest.mark.parametrize("label, actions, named", [
    ("claims.nosuchmodel", "view", "claims.nosuchmodel"),
    ("registry.person", "view", "registry.person"),  # an app renamed
    ("poverty_registry.person", "view frobnicate", "frobnicate_person"),
])
def test_an_unknown_label_is_an_error(label, actions, named):
    table = {"township": {**roles.LEDGER, label: actions}}
    assert any(named in entry for entry in roles.unknown_labels(table))
    with pytest.raises(ImproperlyConfigured, match=named):
        roles.check_labels(table)


@pytest.mark.django_db
def test_sync_refuses_an_unknown_label(monkeypatch):
    from django.contrib.auth.models import Group

    before = {g.name: set(g.permissions.values_list("pk", flat=True)) for g in Group.objects.all()}
    monkeypatch.setitem(roles.ROLE_PERMISSIONS, "township", {**roles.LEDGER, "claims.nosuchmodel": "view"})
    with pytest.raises(ImproperlyConfigured, match="claims.nosuchmodel"):
        roles.sync_roles()
    assert {g.name: set(g.permissions.values_list("pk", flat=True)) for g in Group.objects.all()} == before


def test_startup_check_reports_an_unknown_label(monkeypatch):
    from django.core import checks

    assert [e for e in checks.run_checks() if e.id == "poverty_registry.E001"] == []
    monkeypatch.setitem(roles.ROLE_PERMISSIONS, "county", {**roles.BUREAU, "claims.nosuchmodel": "view"})
    errors = [e for e in checks.run_checks() if e.id == "poverty_registry.E001"]
    assert len(errors) == 1 and "claims.nosuchmodel" in errors[0].msg
