"""Region scoping for every model registered in the admin: lists, detail pages, search, autocomplete."""
from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import reverse

from tests.conftest import PASSWORD, VILLAGE_A
from tests.samples import GLOBAL_MODELS, SAMPLES

REGISTERED = sorted(model._meta.label_lower for model in admin.site._registry)
SCOPED = [label for label in REGISTERED if label not in GLOBAL_MODELS]


def admin_urls(obj):
    opts = obj._meta
    return (reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
            reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))


def test_every_admin_model_is_scoped_or_declared_global():
    assert set(SCOPED) <= set(SAMPLES), f"admin models without a scoping sample: {set(SCOPED) - set(SAMPLES)}"
    for model, model_admin in admin.site._registry.items():
        if model._meta.label_lower in SCOPED:
            assert hasattr(model._default_manager, "restrict"), model
            assert "ScopedAdmin" in [c.__name__ for c in type(model_admin).__mro__], model


@pytest.mark.django_db
def test_global_models_carry_no_role_permission(regions):
    for group in Group.objects.all():
        labels = {f"{p.content_type.app_label}.{p.content_type.model}" for p in group.permissions.all()}
        assert not labels & GLOBAL_MODELS, group.name


@pytest.mark.parametrize("label", SCOPED)
def test_other_township_gets_404_and_empty_list(label, client, clerk_a, clerk_b, county_a, city_officer, media):
    obj = SAMPLES[label](VILLAGE_A)
    changelist, change = admin_urls(obj)
    role = viewer_role(label)  # a persona who may see it, whoever else may not (cases, hits: supervisors)
    outsiders, insiders = [clerk_b, persona(role, False)], [county_a, city_officer, persona(role, True)]
    if label != "poverty_registry.user":  # township clerks do not manage accounts
        insiders.append(clerk_a)
    for user in outsiders:
        client.force_login(user)
        assert client.get(change).status_code == 404, (label, user)
        assert obj.pk not in [o.pk for o in _listed(client, changelist)], (label, user)
    checked = 0
    for user in insiders:
        client.force_login(user)
        if not user.has_perm(f"{obj._meta.app_label}.view_{obj._meta.model_name}"):
            continue
        assert client.get(change).status_code == 200, (label, user)
        assert obj.pk in [o.pk for o in _listed(client, changelist)], (label, user)
        checked += 1
    assert checked, f"no insider may view {label}"


def _listed(client, changelist):
    response = client.get(changelist, {"all": ""})
    assert response.status_code in (200, 403)
    if response.status_code == 403:
        return []
    return list(response.context["cl"].result_list)


def test_autocomplete_is_scoped(client, clerk_b, person_a, person_b):
    client.force_login(clerk_b)
    url = reverse("admin:autocomplete")
    response = client.get(url, {"app_label": "poverty_registry", "model_name": "person",
                                "field_name": "household", "term": ""})
    assert response.status_code == 200
    ids = {item["id"] for item in response.json()["results"]}
    assert str(person_b.household.pk) in ids
    assert str(person_a.household.pk) not in ids


def test_search_does_not_cross_regions(client, clerk_b, person_a):
    client.force_login(clerk_b)
    response = client.get(reverse("admin:poverty_registry_person_changelist"), {"q": person_a.id_number})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []


def test_login_page_in_chinese(client):
    response = client.get(reverse("admin:login"))
    assert "用户名" in response.content.decode()


def test_password_login_works(client, clerk_a):
    response = client.post(reverse("admin:login"), {"username": "clerk_a", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("home")).context["role_name"] == "乡镇经办"


# --- every model of our apps, admin page or not ------------------------------------------------------------

OUR_APPS = ("poverty_registry", "enrollment", "claims")
OTHER_COUNTY, OTHER_TOWNSHIP = "430626", "430626100"  # 平江县, 汉昌镇: the outsiders' regions


def our_models() -> list[str]:
    from django.apps import apps

    return sorted(m._meta.label_lower for app in OUR_APPS for m in apps.get_app_config(app).get_models())


def test_every_model_has_a_sample_or_is_declared_unscoped():
    from django.apps import apps

    from tests.samples import MODEL_SAMPLES, UNSCOPED_MODELS

    models = set(our_models())
    assert models - set(MODEL_SAMPLES) - set(UNSCOPED_MODELS) == set(), "models without a scoping sample"
    assert set(MODEL_SAMPLES) & set(UNSCOPED_MODELS) == set()
    for label in UNSCOPED_MODELS:
        model = apps.get_model(label)
        # an unscoped model has no page of its own; once it gets one (or a restrict()), it needs a sample
        assert model not in admin.site._registry and not hasattr(model._default_manager, "restrict"), label
    for label in MODEL_SAMPLES:
        assert hasattr(apps.get_model(label)._default_manager, "restrict"), label


def persona(role: str, inside: bool):
    """An account of `role` in the sample's county (township for clerks) or in another county."""
    from tests.conftest import COUNTY_A, TOWNSHIP_A, make_staff

    if role == "township":
        region = TOWNSHIP_A if inside else OTHER_TOWNSHIP
    else:
        region = COUNTY_A if inside else OTHER_COUNTY
    return make_staff(f"{'in' if inside else 'out'}_{role}", region, role)


def viewer_role(label: str) -> str | None:
    """The first role (a county officer, else a supervisor) whose group may view the model."""
    from poverty_registry.roles import group_name

    app_label, model_name = label.split(".")
    for role in ("county", "supervisor"):
        if Group.objects.filter(name=group_name(role), permissions__content_type__app_label=app_label,
                                permissions__codename=f"view_{model_name}").exists():
            return role
    return None


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path  # case evidence samples write their file


@pytest.mark.parametrize("label", sorted(__import__("tests.samples", fromlist=["MODEL_SAMPLES"]).MODEL_SAMPLES))
def test_every_model_is_scoped_for_a_persona_who_may_see_it(label, regions, media):
    from django.apps import apps

    from tests.samples import CITY_WIDE_MODELS, MODEL_SAMPLES, SUPERUSER_ONLY_MODELS

    model = apps.get_model(label)
    obj = MODEL_SAMPLES[label](VILLAGE_A)
    role = viewer_role(label)
    if role is None:
        assert label in SUPERUSER_ONLY_MODELS, f"no role may view {label}: list it in SUPERUSER_ONLY_MODELS"
        return
    assert label not in SUPERUSER_ONLY_MODELS, f"{role} may view {label}: it is not superuser-only"
    insider, outsider = persona(role, True), persona(role, False)
    assert model.objects.restrict(insider).filter(pk=obj.pk).exists(), (label, role)
    seen_outside = model.objects.restrict(outsider).filter(pk=obj.pk).exists()
    assert seen_outside == (label in CITY_WIDE_MODELS), (label, role)
    nobody = persona(role, True)
    nobody.region = None
    assert not model.objects.restrict(nobody).exists(), label  # fail closed


# --- every URL outside the admin ----------------------------------------------------------------------------

def url_names() -> list[str]:
    """Every named URL pattern of config.urls (namespaces walked recursively), the admin's aside."""
    from django.urls import URLPattern, URLResolver, get_resolver

    names = []

    def walk(patterns, namespace):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                if entry.namespace == "admin":
                    continue
                walk(entry.url_patterns, f"{namespace}{entry.namespace}:" if entry.namespace else namespace)
            elif isinstance(entry, URLPattern):
                assert entry.name, f"URL pattern without a name: {entry.pattern}"
                names.append(f"{namespace}{entry.name}")

    walk(get_resolver().url_patterns, "")
    return sorted(names)


def test_every_url_has_a_sample():
    from tests.url_samples import PAGES

    assert set(url_names()) - set(PAGES) == set(), "URLs without a scoping sample (tests/url_samples.py)"
    assert set(PAGES) - set(url_names()) == set(), "samples of URLs that no longer exist"


def text_of(response) -> str:
    """What the answer shows: a page's HTML, a workbook's cells, a file's bytes."""
    import io

    import openpyxl

    content = b"".join(response.streaming_content) if response.streaming else response.content
    if response.get("Content-Type", "").startswith("application/vnd.openxmlformats"):
        book = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
        return "\n".join(str(v) for sheet in book.worksheets for r in sheet.iter_rows(values_only=True)
                         for v in r if v is not None)
    return content.decode("utf-8", errors="replace")


def _request(client, name, page, built, user):
    from urllib.parse import urlencode

    client.logout()
    if user is not None:
        client.force_login(user)
    url = reverse(name, kwargs=built.get("kwargs"))
    if built.get("query"):
        url += "?" + urlencode(built["query"])
    if page.method == "post":
        return client.post(url, built.get("data", {}))
    return client.get(url)


@pytest.mark.parametrize("name", sorted(__import__("tests.url_samples", fromlist=["PAGES"]).PAGES))
def test_every_url_is_scoped(name, client, regions, media):
    from tests.url_samples import OK, PAGES

    page = PAGES[name]
    insider = outsider = None
    if page.role:
        insider, outsider = persona(page.role, True), persona(page.role, False)
    built = page.build(insider)
    marker, unchanged = built.get("marker"), built.get("unchanged")

    before = unchanged() if unchanged else None
    response = _request(client, name, page, built, outsider)
    assert response.status_code in page.outsider, (name, "outsider", response.status_code)
    if response.status_code == OK and marker:
        assert marker not in text_of(response), (name, "the outsider sees the insider's data")
    if unchanged:
        assert unchanged() == before, (name, "the outsider's request changed the insider's data")

    response = _request(client, name, page, built, insider)
    assert response.status_code in page.insider, (name, "insider", response.status_code)
    if response.status_code == OK and marker:
        assert marker in text_of(response), (name, "the insider's sample is not shown: the marker proves nothing")
