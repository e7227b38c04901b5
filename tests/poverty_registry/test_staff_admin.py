"""Managing staff accounts in the admin: a region's 系统管理员 changes role and region within its region and
nothing else (no superuser, staff flag, groups or raw permissions, however the POST is forged); nobody
changes their own role or region; superuser accounts and the permission tables are for superusers only."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from poverty_registry.models import User
from poverty_registry.roles import group_name
from tests.conftest import COUNTY_A, PASSWORD, TOWNSHIP_A, TOWNSHIP_B, make_staff

STRONG = "Xin-mima-2026-abc"


@pytest.fixture
def county_admin(regions):
    return make_staff("county_admin", COUNTY_A, "admin")


@pytest.fixture
def superuser(regions):
    return User.objects.create_superuser("root", password=PASSWORD)


def change_url(user):
    return reverse("admin:poverty_registry_user_change", args=[user.pk])


def form_data(response) -> dict:
    """What the browser would post back for the change form as shown (every field at its initial value)."""
    form = response.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        value = form.initial.get(name, field.initial)
        if value is True:
            data[name] = "on"
        elif isinstance(value, list | tuple):
            data[name] = [getattr(item, "pk", item) for item in value]
        elif value not in (None, False):
            data[name] = getattr(value, "pk", value)
    return data


def forged_extras() -> dict:
    """Fields a region admin's form does not offer, posted anyway."""
    return {"is_superuser": "on", "is_staff": "on",
            "groups": [Group.objects.get(name=group_name("admin")).pk],
            "user_permissions": [Permission.objects.get(codename="change_group").pk,
                                 Permission.objects.get(codename="view_full_id_number").pk]}


def snapshot(user) -> tuple:
    user = User.objects.get(pk=user.pk)
    return (user.username, user.region_id, user.role, user.is_superuser, user.is_staff, user.is_active,
            sorted(user.groups.values_list("name", flat=True)),
            sorted(user.user_permissions.values_list("pk", flat=True)), user.password)


def test_region_admin_form_offers_only_names_role_region_and_active(client, county_admin, clerk_a):
    client.force_login(county_admin)
    response = client.get(change_url(clerk_a))
    assert response.status_code == 200
    fields = set(response.context["adminform"].form.fields)
    assert fields == {"username", "password", "last_name", "first_name", "email", "region", "role", "is_active"}
    add = client.get(reverse("admin:poverty_registry_user_add"))
    assert set(add.context["adminform"].form.fields) == {"username", "usable_password", "password1", "password2",
                                                         "region", "role"}


def test_forged_change_post_cannot_escalate_or_leave_the_region(client, county_admin, clerk_a):
    client.force_login(county_admin)
    data = form_data(client.get(change_url(clerk_a)))
    before = snapshot(clerk_a)
    response = client.post(change_url(clerk_a), {**data, **forged_extras(), "region": TOWNSHIP_B})
    assert response.status_code == 200 and "region" in response.context["adminform"].form.errors
    assert snapshot(clerk_a) == before
    # A region inside: the role and region change, nothing of the forged extras does.
    response = client.post(change_url(clerk_a), {**data, **forged_extras(), "region": COUNTY_A, "role": "county"})
    assert response.status_code == 302
    clerk_a.refresh_from_db()
    assert (clerk_a.region_id, clerk_a.role, clerk_a.is_superuser) == (COUNTY_A, "county", False)
    assert list(clerk_a.groups.values_list("name", flat=True)) == [group_name("county")]
    assert not clerk_a.user_permissions.exists()


def test_region_admin_cannot_change_own_role_or_region(client, county_admin):
    client.force_login(county_admin)
    response = client.get(change_url(county_admin))
    fields = set(response.context["adminform"].form.fields)
    assert not fields & {"region", "role", "is_superuser", "groups", "user_permissions"}
    before = snapshot(county_admin)
    data = form_data(response)
    response = client.post(change_url(county_admin), {**data, **forged_extras(), "region": "4306", "role": "city",
                                                      "last_name": "王"})
    assert response.status_code == 302
    after = snapshot(county_admin)
    assert after == before  # role, region and powers untouched; the name (offered) did change
    assert User.objects.get(pk=county_admin.pk).last_name == "王"


def test_superuser_cannot_change_own_role_or_region_either(client, superuser, regions):
    client.force_login(superuser)
    fields = set(client.get(change_url(superuser)).context["adminform"].form.fields)
    assert not fields & {"region", "role", "is_superuser"}


def test_forged_add_post_makes_a_plain_account_of_the_region(client, county_admin):
    client.force_login(county_admin)
    url = reverse("admin:poverty_registry_user_add")
    base = {"username": "new_clerk", "usable_password": "true", "password1": STRONG, "password2": STRONG,
            "role": "township", **forged_extras()}
    response = client.post(url, {**base, "region": TOWNSHIP_B})
    assert response.status_code == 200 and not User.objects.filter(username="new_clerk").exists()
    response = client.post(url, {**base, "region": ""})
    assert response.status_code == 200 and not User.objects.filter(username="new_clerk").exists()
    response = client.post(url, {**base, "region": TOWNSHIP_A})
    assert response.status_code == 302
    made = User.objects.get(username="new_clerk")
    assert (made.region_id, made.role, made.is_superuser, made.is_staff) == (TOWNSHIP_A, "township", False, True)
    assert list(made.groups.values_list("name", flat=True)) == [group_name("township")]
    assert not made.user_permissions.exists()


def test_no_bulk_delete_or_delete_of_accounts_by_region_admin(client, county_admin, clerk_a):
    client.force_login(county_admin)
    changelist = reverse("admin:poverty_registry_user_changelist")
    response = client.get(changelist)
    assert response.context["action_form"] is None  # no action on accounts is offered
    client.post(changelist, {"action": "delete_selected", "_selected_action": [clerk_a.pk], "post": "yes"})
    assert User.objects.filter(pk=clerk_a.pk).exists()
    assert client.post(reverse("admin:poverty_registry_user_delete", args=[clerk_a.pk]),
                       {"post": "yes"}).status_code == 403
    assert User.objects.filter(pk=clerk_a.pk).exists()


def test_superuser_accounts_are_out_of_a_region_admins_reach(client, county_admin, regions):
    root = User.objects.create_superuser("root_in_county", password=PASSWORD)
    root.region_id = COUNTY_A
    root.save()
    client.force_login(county_admin)
    assert client.get(change_url(root)).status_code == 404
    password_url = reverse("admin:auth_user_password_change", args=[root.pk])
    assert client.post(password_url, {"password1": STRONG, "password2": STRONG}).status_code == 404
    root.refresh_from_db()
    assert root.check_password(PASSWORD)


def test_permission_tables_are_for_superusers_only(client, county_admin):
    client.force_login(county_admin)
    groups_before = {g.name: sorted(g.permissions.values_list("pk", flat=True)) for g in Group.objects.all()}
    assert client.get(reverse("admin:auth_group_changelist")).status_code == 403
    township = Group.objects.get(name=group_name("township"))
    every_permission = list(Permission.objects.values_list("pk", flat=True))
    response = client.post(reverse("admin:auth_group_change", args=[township.pk]),
                           {"name": township.name, "permissions": every_permission})
    assert response.status_code == 403
    response = client.post(reverse("admin:auth_group_add"), {"name": "后门", "permissions": []})
    assert response.status_code == 403
    assert {g.name: sorted(g.permissions.values_list("pk", flat=True)) for g in Group.objects.all()} == groups_before


def test_region_chooser_offers_only_regions_of_the_admins_region(client, county_admin, regions):
    client.force_login(county_admin)
    response = client.get(reverse("admin:autocomplete"), {"app_label": "poverty_registry", "model_name": "user",
                                                          "field_name": "region", "term": ""})
    assert response.status_code == 200
    codes = [item["id"] for item in response.json()["results"]]
    assert codes and all(code.startswith(COUNTY_A) for code in codes)
    found = client.get(reverse("admin:autocomplete"), {"app_label": "poverty_registry", "model_name": "user",
                                                       "field_name": "region", "term": "平江"}).json()["results"]
    assert found == []


def test_only_a_superuser_makes_superusers_and_grants_permissions(client, superuser, clerk_a):
    client.force_login(superuser)
    response = client.get(change_url(clerk_a))
    assert {"is_superuser", "groups", "user_permissions"} <= set(response.context["adminform"].form.fields)
    data = form_data(response)
    perm = Permission.objects.get(codename="view_full_id_number")
    response = client.post(change_url(clerk_a), {**data, "is_superuser": "on", "user_permissions": [perm.pk]})
    assert response.status_code == 302
    clerk_a.refresh_from_db()
    assert clerk_a.is_superuser and list(clerk_a.user_permissions.all()) == [perm]


def test_admin_password_pages_run_the_password_validators(client, county_admin, clerk_a):
    client.force_login(county_admin)
    url = reverse("admin:poverty_registry_user_add")
    response = client.post(url, {"username": "weak", "usable_password": "true", "password1": "123",
                                 "password2": "123", "region": TOWNSHIP_A, "role": "township"})
    assert response.status_code == 200 and not User.objects.filter(username="weak").exists()
    assert "密码" in str(response.context["adminform"].form.errors)
    password_url = reverse("admin:auth_user_password_change", args=[clerk_a.pk])
    response = client.post(password_url, {"usable_password": "true", "password1": "123", "password2": "123"})
    assert response.status_code == 200
    clerk_a.refresh_from_db()
    assert clerk_a.check_password(PASSWORD)
    response = client.post(password_url, {"usable_password": "true", "password1": STRONG, "password2": STRONG})
    assert response.status_code == 302
    clerk_a.refresh_from_db()
    assert clerk_a.check_password(STRONG)


def test_own_password_change_runs_the_password_validators(client, clerk_a):
    client.force_login(clerk_a)
    url = reverse("admin:password_change")
    response = client.post(url, {"old_password": PASSWORD, "new_password1": "123", "new_password2": "123"})
    assert response.status_code == 200
    assert "密码太短，至少需要 10 个字符" in response.content.decode()
    clerk_a.refresh_from_db()
    assert clerk_a.check_password(PASSWORD)
