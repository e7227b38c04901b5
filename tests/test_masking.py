"""ID numbers are masked for a user without poverty_registry.view_full_id_number: every admin list of a model
that holds personal data, and every export of personal data, walked generically (tests/samples.py,
tests/url_samples.py). A model or export added without masking fails here."""
from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.urls import reverse

from poverty_registry.idnumber import mask_id_number
from tests.conftest import VILLAGE_A
from tests.samples import GLOBAL_MODELS, SAMPLES
from tests.test_scoping import media, persona, text_of  # noqa: F401 — fixtures and helpers of the walk

ID_PATTERN = re.compile(r"\d{17}[\dX]")
MAY_NOT_SEE_FULL = ("township", "county", "city")  # the roles without view_full_id_number

# Exports of personal data outside the admin: URL → the query that asks for the file. The insider of
# tests/url_samples.py requests it (a role without the permission).
EXPORTS = {
    "registry:ledger_export": {},
    "matching:queue": {"export": "xlsx"},
    "enrollment:report_xlsx": {},
    "enrollment:chase": {"format": "xlsx"},
    "claims:risk": {"format": "xlsx"},
}


def _report_with_a_line(user) -> dict:
    from tests.samples import MODEL_SAMPLES

    return {"kwargs": {"pk": MODEL_SAMPLES["enrollment.subsidyreportline"](VILLAGE_A).report_id}}


# Where the page's scoping sample lists nobody (an issued report of no lines).
BUILDERS = {"enrollment:report_xlsx": _report_with_a_line}
# Exports only roles holding the permission reach (supervisors: hits, overview) show full numbers by right; the
# publication masks whatever the user holds (tests/claims/test_cases.py); an import's error file goes to its
# uploader as uploaded (poverty_registry.import_views.may_take_error_file).
FULL_BY_RIGHT = {"supervision:hits_export", "supervision:overview_export", "supervision:publication",
                 "imports:errors", "imports:template"}


def personal_numbers() -> set[str]:
    """Every ID number the database holds in a person's or a row's ID column."""
    from django.apps import apps

    numbers = set()
    for app in ("poverty_registry", "enrollment", "claims"):
        for model in apps.get_app_config(app).get_models():
            for field in model._meta.fields:
                if field.name.endswith("id_number") and field.get_internal_type() == "CharField":
                    numbers |= {n for n in model._default_manager.values_list(field.name, flat=True)
                                if n and ID_PATTERN.fullmatch(n)}
    return numbers


def masking_persona(model):
    """An account that may view the model's list but not full ID numbers; None when only holders may."""
    perm = f"{model._meta.app_label}.view_{model._meta.model_name}"
    for role in MAY_NOT_SEE_FULL:
        user = persona(role, True)
        if user.has_perm(perm):
            assert not user.has_perm("poverty_registry.view_full_id_number"), role
            return user
    return None


ADMIN_MODELS = sorted(m._meta.label_lower for m in admin.site._registry if m._meta.label_lower not in GLOBAL_MODELS)


@pytest.mark.parametrize("label", ADMIN_MODELS)
def test_admin_list_masks_id_numbers(label, client, regions, media):  # noqa: F811
    from django.apps import apps

    model = apps.get_model(label)
    obj = SAMPLES[label](VILLAGE_A)
    numbers = personal_numbers()
    user = masking_persona(model)
    if user is None:  # cases, hits, the access log: only supervisors and administrators, who hold the permission
        return
    client.force_login(user)
    opts = model._meta
    response = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"), {"all": ""})
    assert response.status_code == 200, label
    assert obj.pk in [o.pk for o in response.context["cl"].result_list], label
    html = response.content.decode()
    assert [n for n in numbers if n in html] == [], f"{label}: full ID numbers in the list"
    own = getattr(obj, "id_number", None)
    if own:
        assert mask_id_number(own) in html, f"{label}: the masked number is not listed"


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_exports_mask_id_numbers(name, client, regions, media):  # noqa: F811
    from tests.conftest import make_person
    from tests.url_samples import PAGES

    page = PAGES[name]
    user = persona(page.role, True)
    assert not user.has_perm("poverty_registry.view_full_id_number")
    built = BUILDERS.get(name, page.build)(user)
    make_person(VILLAGE_A, seq=990, name="导出样本")  # one more person in every export's region
    numbers = personal_numbers()
    client.force_login(user)
    response = client.get(reverse(name, kwargs=built.get("kwargs")), {**(built.get("query") or {}), **EXPORTS[name]})
    assert response.status_code == 200, name
    assert response["Content-Type"].startswith("application/vnd.openxmlformats"), name
    text = text_of(response)
    assert [n for n in numbers if n in text] == [], f"{name}: full ID numbers in the export"
    assert any(mask_id_number(n) in text for n in numbers), f"{name}: no masked number: the export lists nobody"


def test_every_export_is_walked():
    """A page answering a workbook is either walked above or declared as showing full numbers by right."""
    from tests.url_samples import PAGES

    exports = {name for name in PAGES if name.endswith(("export", "xlsx", "publication", "errors", "template"))}
    assert exports - set(EXPORTS) - FULL_BY_RIGHT == set()
