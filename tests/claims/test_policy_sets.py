"""Policy sets (claims.settlement.policy_sets, claims.forms, the admin): most specific region wins, every save a new
version, a readable form whose errors are in Chinese, a county's edit of the city policy becomes the county's own."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from claims.forms import PolicyParamsForm, field_name, parse_bands
from claims.models import PolicySet
from claims.settlement.engine import DEFAULT_POLICY
from claims.settlement.policy_sets import policies_for, policy_for, region_chain
from tests.claims.settlement_helpers import policies  # noqa: F401
from tests.confirming import post_confirmed

pytestmark = pytest.mark.django_db


def form_data(policy, **changes) -> dict:
    form = PolicyParamsForm(instance=policy)
    data = {}
    for name, field in form.fields.items():
        if name in ("year", "region"):
            continue
        value = form.get_initial_for_field(field, name)
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        else:
            data[name] = "" if value is None else str(value)
    data.pop("resettle", None)
    data.update(changes)
    return data


def test_region_chain_and_most_specific_policy(policies):  # noqa: F811
    assert region_chain("430621100201") == ["430621100201", "430621100", "430621", "4306", "43"]
    county = PolicySet.objects.create(code="430621-2024-v1", year=2024, region_id="430621", version=1,
                                      params=DEFAULT_POLICY.to_dict())
    assert policy_for(2024, "430621100201") == county
    assert policy_for(2024, "430626100201") == policies[2024]
    assert policies_for(2024, ["430621100201", "430626100201", "110101"]) == {
        "430621100201": county, "430626100201": policies[2024]}


def test_defaults_are_loaded_for_the_demo_city(policies):  # noqa: F811
    assert sorted(policies) == [2020, 2021, 2022, 2023, 2024, 2025, 2026]
    assert policies[2024].params == DEFAULT_POLICY.to_dict()


def test_form_shows_readable_labels(client, county_a, policies):  # noqa: F811
    client.force_login(county_a)
    html = client.get(reverse("admin:claims_policyset_change", args=[policies[2024].pk])).content.decode()
    assert "基本医保 · 比例 · 县级" in html and "大病保险 · 分段报销比例" in html
    assert "不封顶 0.80" in html
    assert "保存后将成为本辖区" in html


def test_county_edit_of_the_city_policy_makes_the_countys_own_version(client, county_a, policies):  # noqa: F811
    client.force_login(county_a)
    url = reverse("admin:claims_policyset_change", args=[policies[2024].pk])
    response = post_confirmed(client, url, form_data(policies[2024], **{field_name("basic.ratio.county"): "0.75",
                                                                        "note": "县级医院比例调整"}))
    assert response.status_code == 302
    own = PolicySet.objects.get(region_id="430621", year=2024)
    assert (own.code, own.version, own.in_force, own.note, own.created_by) == \
        ("430621-2024-v1", 1, True, "县级医院比例调整", county_a)
    assert own.params["basic"]["ratio"]["county"] == "0.75"
    policies[2024].refresh_from_db()
    assert policies[2024].in_force  # the city's version stays in force for the other counties


def test_city_save_makes_version_two(client, city_officer, policies):  # noqa: F811
    client.force_login(city_officer)
    url = reverse("admin:claims_policyset_change", args=[policies[2025].pk])
    post_confirmed(client, url, form_data(policies[2025], **{field_name("basic.yearly_cap"): ""}))
    new = PolicySet.objects.get(region_id="4306", year=2025, in_force=True)
    assert (new.version, new.params["basic"]["yearly_cap"]) == (2, None)
    assert PolicySet.objects.get(pk=policies[2025].pk).in_force is False


@pytest.mark.parametrize(("field", "value", "message"), [
    ("basic.ratio.county", "七成", "参数 basic.ratio.county 不是有效数值：'七成'"),
    ("critical.bands", "100000 0.6\n50000 0.7\n不封顶 0.8", "参数 critical.bands 的上限须为正数并逐段递增"),
    ("critical.bands", "50000", "第1段应写成“上限 比例”，如“50000 0.60”；最后一段上限写“不封顶”"),
    ("category_order", "特困供养人员 > 五保", "“五保”不是人员类别"),
    ("special_insurance.ratio", "-0.1", "参数 special_insurance.ratio 不能为负数或非数值：-0.1"),
])
def test_errors_are_in_chinese_on_the_field(client, city_officer, policies, field, value, message):  # noqa: F811
    client.force_login(city_officer)
    url = reverse("admin:claims_policyset_change", args=[policies[2024].pk])
    response = client.post(url, form_data(policies[2024], **{field_name(field): value}))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field_name(field)] == [message]
    assert PolicySet.objects.filter(region_id="4306", year=2024).count() == 1


def test_bands_text_round_trip():
    assert parse_bands("50000 0.60\n100000，0.70\n不封顶 0.80") == [["50000", "0.60"], ["100000", "0.70"],
                                                                   [None, "0.80"]]
    assert Decimal(DEFAULT_POLICY.critical.bands[0][1]) == Decimal("0.60")
