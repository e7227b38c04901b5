"""Screening rule parameters (基金监管规则参数) as labelled fields: every parameter declared once in
claims.supervision.rules.PARAMETERS has a field with label, unit, bounds and a Chinese explanation; out-of-bounds values
are refused in Chinese; a saved form stores the JSON the rules read, and screening uses it."""
from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from claims.forms import rule_field_name
from claims.models import ScreeningHit, SupervisionParam
from claims.supervision.rules import PARAM_CHOICES, PARAMETERS, defaults_of, validate_params
from claims.supervision.screening import effective_setting, screen_year
from tests.claims.supervision_helpers import claim
from tests.conftest import CITY, COUNTY_A, VILLAGE_A, make_person, make_staff

pytestmark = pytest.mark.django_db
ADD = reverse("admin:claims_supervisionparam_add")


@pytest.fixture
def root(regions):
    user = make_staff("root", CITY, "admin")
    user.is_superuser = True
    user.save()
    return user


def form_data(code, region=COUNTY_A, **params) -> dict:
    """The add form of `code` as a browser would send it: defaults, with some parameters changed."""
    data = {"region": region, "year": "", "severity": "", "enabled": "on", "note": ""}
    for key, p in PARAMETERS[code].items():
        value = params.get(key, defaults_of(code)[key])
        data[rule_field_name(key)] = (", ".join(value) if p.kind == "codes" else value if p.kind == "statuses"
                                      else str(value))
    return data


def test_every_parameter_is_a_labelled_field_with_unit_bounds_and_explanation(client, root):
    client.force_login(root)
    picker = client.get(ADD).content.decode()
    assert all(f'href="?code={code}"' in picker for code in PARAM_CHOICES)
    for code in PARAM_CHOICES:
        response = client.get(ADD, {"code": code})
        html = response.content.decode()
        form = response.context["adminform"].form
        assert 'name="params"' not in html  # no raw JSON box
        assert form.fields["code"].disabled and form.initial["code"] == code
        for key, p in PARAMETERS[code].items():
            field = form.fields[rule_field_name(key)]
            assert field.label.startswith(p.label) and key not in field.label and field.label in html
            assert p.help and field.help_text.startswith(p.help) and field.help_text in html
            if p.kind in ("int", "decimal"):
                assert p.unit in field.label and (p.min, p.max) == (field.min_value, field.max_value)
                assert f"范围 {p.min}–{p.max} {p.unit}" in field.help_text
                assert f'max="{p.max}"' in html  # the browser knows the bounds too


@pytest.mark.parametrize(("code", "params", "field", "message"), [
    ("R03", {"days": 91}, "days", "再入院间隔不能大于 90天"),
    ("R03", {"days": -1}, "days", "再入院间隔不能小于 0天"),
    ("R03", {"days": "十五"}, "days", "再入院间隔须为整数"),
    ("R07", {"k": "0.5"}, "k", "费用倍数不能小于 1倍"),
    ("R07", {"k": "2.555"}, "k", "费用倍数最多保留两位小数"),
    ("R09", {"daily_floor": "一百"}, "daily_floor", "日均费用下限须为数字"),
    ("R08", {"window_days": 731}, "window_days", "统计期不能大于 730天"),
    ("R04", {"male": ["O00-O9"]}, "male", "诊断编码区间“O00-O9”格式应为 A00-B99（3位编码）"),
    ("R05", {"enrolled_statuses": []}, "enrolled_statuses", "视为已参保的参保状态至少选择一项"),
    ("PENALTY", {"min_multiple": "6", "max_multiple": "3"}, "max_multiple", "最低处罚倍数不能大于最高处罚倍数"),
])
def test_out_of_bounds_values_are_refused_in_chinese(client, root, code, params, field, message):
    client.force_login(root)
    response = client.post(f"{ADD}?code={code}", form_data(code, **params))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors[rule_field_name(field)] == [message]
    assert not SupervisionParam.objects.exists()


def test_saved_form_stores_the_json_the_rules_read(client, root):
    client.force_login(root)
    response = client.post(f"{ADD}?code=R07", form_data("R07", k="2.5", min_claims="10"))
    assert response.status_code == 302
    row = SupervisionParam.objects.get()
    assert (row.code, row.params) == ("R07", {"k": "2.5", "min_claims": 10})
    assert validate_params("R07", row.params) == row.params  # the shape screening validates and reads
    assert effective_setting("R07", VILLAGE_A, 2025).params == {"k": "2.5", "min_claims": 10}
    client.post(f"{ADD}?code=R04", form_data("R04", male=["o00-o9a", "N70-N98"], infant_max_years="2"))
    r04 = SupervisionParam.objects.get(code="R04").params
    assert r04 == {**defaults_of("R04"), "male": ["O00-O9A", "N70-N98"], "infant_max_years": 2}
    for code in PARAM_CHOICES:  # every default has the type the stored JSON keeps
        assert {k: type(v) for k, v in validate_params(code, {}).items()} == \
            {k: type(v) for k, v in defaults_of(code).items()}


def test_change_form_shows_the_stored_values_and_keeps_the_rule(client, root):
    row = SupervisionParam.objects.create(code="R09", region_id=COUNTY_A, params={"max_days": 45,
                                                                                   "daily_floor": "80.00"})
    client.force_login(root)
    url = reverse("admin:claims_supervisionparam_change", args=[row.pk])
    form = client.get(url).context["adminform"].form
    assert (form[rule_field_name("max_days")].value(), form[rule_field_name("daily_floor")].value()) == \
        (45, "80.00")
    data = {**form_data("R09", max_days="60", daily_floor="80.00"), "code": "R03"}  # a forged rule change
    assert client.post(url, data).status_code == 302
    row.refresh_from_db()
    assert (row.code, row.params) == ("R09", {"max_days": 60, "daily_floor": "80.00"})


def test_screening_uses_the_values_saved_through_the_form(client, root):
    person = make_person(VILLAGE_A, seq=121)
    claim("P-1", "2025-03-01", "2025-03-05", person=person)
    claim("P-2", (dt.date(2025, 3, 5) + dt.timedelta(days=18)).isoformat(), "2025-04-30", person=person)
    assert screen_year(2025, ["R03"]) == {"R03": 0}  # 18 days: beyond the default 15
    client.force_login(root)
    client.post(f"{ADD}?code=R03", form_data("R03", days="20"))
    assert SupervisionParam.objects.get().params == {"days": 20}
    assert screen_year(2025, ["R03"]) == {"R03": 1}
    assert ScreeningHit.objects.get().claim.claim_no == "P-2"

