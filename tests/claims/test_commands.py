"""`settle_json` (DOMAIN §6.6: stdin → stdout, nothing saved) and `resettle_year`."""
from __future__ import annotations

import io
import json
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from claims.models import PolicySet, Settlement
from claims.settlement.engine import DEFAULT_POLICY
from tests.claims.settlement_helpers import category, claim, enrol, policies  # noqa: F401
from tests.conftest import VILLAGE_A, make_person

pytestmark = pytest.mark.django_db

DOC = {
    "person": {"id_number": "430621199001010012", "categories": [
        {"category": "低保对象", "valid_from": "2019-01-01", "valid_to": None}], "enrolled_years": [2024],
        "death_date": None},
    "claims": [{"claim_no": "C1", "hospital_level": "县级", "in_county": True, "visit_type": "住院", "referral": False,
                "admission_date": "2024-03-01", "discharge_date": "2024-03-10", "diagnosis": "J18.900",
                "total_cost": 20000.00, "uncovered_cost": "2000.00"}],
}
EXAMPLE = {"claims": [{"claim_no": "C1", "tiers": {
    "basic": "14200.00", "critical": "0.00", "assistance": "2660.00", "hospital_waiver": "157.00",
    "special_insurance": "1193.20", "backstop": "0.00"}, "self_pay": "1789.80"}]}


def settle_json(monkeypatch, payload) -> object:
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(payload)))
    out = io.StringIO()
    call_command("settle_json", stdout=out)
    return json.loads(out.getvalue())


def test_one_document(monkeypatch, policies):  # noqa: F811
    assert settle_json(monkeypatch, DOC) == EXAMPLE
    assert not Settlement.objects.exists()


def test_a_list_keeps_order_and_reports_bad_documents(monkeypatch, policies):  # noqa: F811
    bad = {"person": {"id_number": "x"}, "claims": [{**DOC["claims"][0], "hospital_level": "社区"}]}
    assert settle_json(monkeypatch, [DOC, bad]) == [
        EXAMPLE, {"error": "claims[0]：医院等级“社区”无法识别，应为乡镇、县级、市级、省级之一（或其代码）"}]


def test_policy_code_selects_a_version(monkeypatch, policies):  # noqa: F811
    params = DEFAULT_POLICY.to_dict()
    params["special_insurance"]["ratio"] = "0.50"
    PolicySet.objects.create(code="TEST-50", year=2024, region_id="4306", version=9, params=params, in_force=False)
    result = settle_json(monkeypatch, {**DOC, "policy": "TEST-50"})
    assert result["claims"][0]["tiers"]["special_insurance"] == "1491.50"
    with pytest.raises(CommandError, match="政策编码“NOPE”不存在"):
        settle_json(monkeypatch, {**DOC, "policy": "NOPE"})


def test_resettle_year_command(policies):  # noqa: F811
    person = make_person(VILLAGE_A, seq=51)
    category(person, "dibao")
    enrol(person, 2024)
    c = claim(person)
    out = io.StringIO()
    call_command("resettle_year", "--year", "2024", "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert {k: result[k] for k in ("year", "region", "persons", "claims", "settlements_written",
                                   "paid_difference")} == {"year": 2024, "region": "4306", "persons": 1, "claims": 1,
                                                           "settlements_written": 1, "paid_difference": "18210.20"}
    assert str(Settlement.objects.get(claim=c).self_pay) == "1789.80"
