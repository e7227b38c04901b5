"""DOMAIN §5 subsidy rules with exact amounts: premium per year, most favourable category held on the
cut-off date, once; death before the cut-off; categories starting after it; a township move; a new policy
version; idempotent recomputation that records what changed."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import F

from enrollment.models import SubsidyChange, SubsidyLine, SubsidyPolicy
from enrollment.services import issue_policy_version
from enrollment.subsidies import NoPolicy, compute_subsidies
from poverty_registry.models import AuditRecord
from tests.conftest import VILLAGE_A, VILLAGE_B
from tests.enrollment.conftest import categorised, enrol

pytestmark = pytest.mark.django_db
Y = 2024  # premium ¥400, cut-off 2023-12-31


def line(person, year=Y):
    return SubsidyLine.objects.filter(person=person, year=year).first()


@pytest.fixture
def people(policies):
    folks = {
        "tekun_dibao": categorised(VILLAGE_A, 1, "特困低保", ("tekun", "2019-01-01", None),
                                   ("dibao", "2018-05-01", None)),
        "dibao": categorised(VILLAGE_A, 2, "低保", ("dibao", "2020-01-01", None)),
        "tuopin": categorised(VILLAGE_A, 3, "脱贫", ("tuopin", "2017-01-01", None)),
        "monitor_tuopin": categorised(VILLAGE_A, 4, "监测脱贫", ("tuopin", "2017-01-01", None),
                                      ("monitor", "2022-03-01", None)),
        "dibao_tuopin": categorised(VILLAGE_A, 5, "低保脱贫", ("tuopin", "2017-01-01", None),
                                    ("dibao", "2023-12-31", None)),
        "low_income": categorised(VILLAGE_A, 6, "低收入", ("low_income", "2021-01-01", None)),
        "tekun_late": categorised(VILLAGE_A, 7, "特困迟", ("tekun", "2024-01-01", None),
                                  ("tuopin", "2016-01-01", None)),
        "tekun_ended": categorised(VILLAGE_A, 8, "特困止", ("tekun", "2018-01-01", "2023-12-30"),
                                   ("dibao", "2018-01-01", None)),
        "died_before": categorised(VILLAGE_A, 9, "亡前", ("tekun", "2018-01-01", None), death="2023-12-30"),
        "died_on": categorised(VILLAGE_A, 10, "亡当日", ("tekun", "2018-01-01", None), death="2023-12-31"),
        "died_after": categorised(VILLAGE_A, 11, "亡后", ("dibao", "2018-01-01", None), death="2024-03-01"),
        "not_enrolled": categorised(VILLAGE_A, 12, "未参保", ("tekun", "2018-01-01", None)),
        "unpaid": categorised(VILLAGE_A, 13, "未缴费", ("tekun", "2018-01-01", None)),
        "other_year": categorised(VILLAGE_A, 14, "往年", ("tekun", "2018-01-01", None)),
    }
    for key, person in folks.items():
        if key == "unpaid":
            enrol(person, Y, status="unpaid")
        elif key == "other_year":
            enrol(person, Y - 1)
        elif key != "not_enrolled":
            enrol(person, Y)
    return folks


EXPECTED = {  # person → (category, subsidy) for 2024; absent → no line
    "tekun_dibao": ("tekun", "400.00"),
    "dibao": ("dibao", "200.00"),
    "tuopin": ("tuopin", "100.00"),
    "monitor_tuopin": ("monitor", "100.00"),  # same amount: 监测对象 ranks before 脱贫人口
    "dibao_tuopin": ("dibao", "200.00"),  # started on the cut-off day: held on it
    "tekun_late": ("tuopin", "100.00"),  # 特困 from 2024-01-01 is after the cut-off
    "tekun_ended": ("dibao", "200.00"),  # 特困 ended the day before the cut-off
    "died_on": ("tekun", "400.00"),
    "died_after": ("dibao", "200.00"),
}


def test_each_rule_with_exact_amounts(people):
    run = compute_subsidies(Y)
    got = {key: (line(p).category, str(line(p).subsidy)) for key, p in people.items() if line(p)}
    assert got == EXPECTED
    assert SubsidyLine.objects.filter(year=Y).count() == len(EXPECTED)  # once per person
    assert set(SubsidyLine.objects.values_list("premium", flat=True)) == {Decimal("400.00")}
    assert line(people["tekun_dibao"]).fund == "医疗救助资金"
    assert line(people["tuopin"]).fund == "财政衔接推进乡村振兴补助资金"
    assert (run.persons, run.total_subsidy, run.added) == (9, Decimal("1900.00"), 9)


def test_premium_follows_the_year(people):
    for person in people.values():
        enrol(person, 2020)
    compute_subsidies(2020)  # premium ¥280, cut-off 2019-12-31: dibao from 2020-01-01 does not count yet
    assert line(people["tekun_dibao"], 2020).subsidy == Decimal("280.00")
    assert line(people["dibao"], 2020) is None
    assert (line(people["tekun_ended"], 2020).category, line(people["tekun_ended"], 2020).subsidy) == \
        ("tekun", Decimal("280.00"))
    assert line(people["died_before"], 2020).subsidy == Decimal("280.00")  # alive on 2019-12-31


def test_json_command_prints_totals(people):
    out = StringIO()
    call_command("compute_subsidies", year=Y, json=True, stdout=out)
    assert json.loads(out.getvalue()) == {
        "year": 2024, "persons": 9, "total_subsidy": "1900.00",
        "by_category": {
            "特困供养人员": {"persons": 2, "amount": "800.00"},
            "低保对象": {"persons": 4, "amount": "800.00"},
            "防止返贫监测对象": {"persons": 1, "amount": "100.00"},
            "脱贫人口": {"persons": 2, "amount": "200.00"},
        },
    }


def test_recompute_is_idempotent_and_records_changes(people):
    compute_subsidies(Y)
    lines_before = list(SubsidyLine.objects.values_list("id", "computed_at").order_by("id"))
    again = compute_subsidies(Y)
    assert (again.added, again.changed, again.removed, again.unchanged) == (0, 0, 0, 9)
    assert not again.changes.exists()
    assert list(SubsidyLine.objects.values_list("id", "computed_at").order_by("id")) == lines_before
    audited = AuditRecord.objects.filter(table_name="enrollment_subsidyrun", object_pk=str(again.pk))
    assert audited.filter(action="INSERT").exists()  # every run is in the audit trail
    line_records = AuditRecord.objects.filter(table_name="enrollment_subsidyline")
    assert line_records.filter(action="INSERT").count() == 9  # each line once; the unchanged re-run adds none

    from poverty_registry.models import PersonCategory

    PersonCategory.objects.filter(person=people["dibao"]).update(valid_to="2023-06-30")  # lost 低保
    enrol(categorised(VILLAGE_A, 30, "新增特困", ("tekun", "2023-01-01", None)), Y)
    third = compute_subsidies(Y)
    assert (third.added, third.changed, third.removed, third.unchanged) == (1, 0, 1, 8)
    kinds = {(c.name, c.kind, c.old_subsidy, c.new_subsidy) for c in third.changes.all()}
    assert kinds == {("低保", "removed", Decimal("200.00"), None), ("新增特困", "added", None, Decimal("400.00"))}
    assert line(people["dibao"]) is None


def test_person_moving_township_moves_the_line(people):
    compute_subsidies(Y)
    mover = people["dibao"]
    assert line(mover).region_id == VILLAGE_A
    from poverty_registry.models import Household

    household = Household.objects.create(household_no="迁入户", region_id=VILLAGE_B)
    mover.household, mover.region_id = household, VILLAGE_B
    mover.save()
    run = compute_subsidies(Y)
    assert line(mover).region_id == VILLAGE_B and line(mover).subsidy == Decimal("200.00")
    change = SubsidyChange.objects.get(run=run)
    assert (change.kind, change.old_region, change.region_id) == ("changed", VILLAGE_A, VILLAGE_B)


def test_scoped_computation_leaves_other_regions_alone(people):
    other = categorised(VILLAGE_B, 40, "平江特困", ("tekun", "2018-01-01", None))
    enrol(other, Y)
    run = compute_subsidies(Y, scope_code="430626")
    assert run.persons == 1 and line(other).subsidy == Decimal("400.00")
    assert SubsidyLine.objects.filter(region__code__startswith="430621").count() == 0
    compute_subsidies(Y, scope_code="430621")
    assert SubsidyLine.objects.count() == 10


def test_reissued_parameter_is_a_new_version_and_keeps_the_old(people):
    compute_subsidies(Y)
    old = SubsidyPolicy.objects.get(year=Y, in_force=True)
    rules = {**old.rules, "dibao": {"kind": "percent", "value": "60", "fund": "医疗救助资金"}}
    new = issue_policy_version(year=Y, region_code="4306", premium="400", cutoff_date=None, rules=rules,
                               note="低保提高到60%")
    old.refresh_from_db()
    assert (old.version, old.in_force, old.rules["dibao"]["value"]) == (1, False, "50")
    assert (new.version, new.in_force) == (2, True)
    assert line(people["dibao"]).policy == old  # nothing recomputed by itself
    run = compute_subsidies(Y)
    assert line(people["dibao"]).subsidy == Decimal("240.00") and line(people["dibao"]).policy == new
    assert line(people["tekun_dibao"]).policy == new and line(people["tekun_dibao"]).subsidy == Decimal("400.00")
    assert run.changed == 9  # every line now cites version 2; four of them with a new amount
    assert run.changes.exclude(old_subsidy=F("new_subsidy")).count() == 4


def test_county_policy_overrides_the_city(people):
    other = categorised(VILLAGE_B, 41, "平江低保", ("dibao", "2018-01-01", None))
    enrol(other, Y)
    city = SubsidyPolicy.objects.get(year=Y, in_force=True)
    issue_policy_version(year=Y, region_code="430626", premium="400", cutoff_date=None,
                         rules={**city.rules, "dibao": {"kind": "fixed", "value": "350", "fund": "县级资金"}})
    compute_subsidies(Y)
    assert (line(other).subsidy, line(other).fund) == (Decimal("350.00"), "县级资金")
    assert line(people["dibao"]).subsidy == Decimal("200.00")


def test_cutoff_date_is_a_parameter(people):
    city = SubsidyPolicy.objects.get(year=Y, in_force=True)
    issue_policy_version(year=Y, region_code="4306", premium="400", cutoff_date=dt.date(2024, 1, 31), rules=city.rules)
    compute_subsidies(Y)
    assert (line(people["tekun_late"]).category, line(people["tekun_late"]).subsidy) == ("tekun", Decimal("400.00"))
    assert line(people["died_after"]).subsidy == Decimal("200.00")


def test_no_policy_no_computation(regions):
    with pytest.raises(NoPolicy):
        compute_subsidies(1999)


def test_changed_and_removed_lines_are_in_the_audit_trail(people):
    from poverty_registry.models import PersonCategory

    compute_subsidies(Y)
    PersonCategory.objects.filter(person=people["dibao"]).update(valid_to="2023-06-30")  # lost 低保
    PersonCategory.objects.filter(person=people["tuopin"]).update(category="tekun")  # now 特困
    before = line(people["tuopin"])
    run = compute_subsidies(Y)
    assert (run.added, run.changed, run.removed) == (0, 1, 1)
    records = AuditRecord.objects.filter(table_name="enrollment_subsidyline")
    updated = records.get(action="UPDATE")
    assert updated.object_pk == str(before.pk)
    assert (Decimal(str(updated.before["subsidy"])), Decimal(str(updated.after["subsidy"]))) == (100, 400)
    assert records.get(action="DELETE").before["person_id"] == people["dibao"].pk
    assert line(people["tuopin"]).pk == before.pk  # updated in place
