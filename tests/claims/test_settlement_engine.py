"""The settlement engine (claims.settlement.engine) against DOMAIN.md §6 and §9: hand-computed cases and properties.

Every expected amount below was worked out by hand from the §6.4 defaults; the comment above each case
shows the arithmetic (S = remaining self-pay, Sc = its covered part, A = the year's accumulation).
"""
from __future__ import annotations

import dataclasses
import json
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claims.settlement.engine import (
    CITY,
    COUNTY,
    DEFAULT_POLICY,
    DIBAO,
    INPATIENT,
    LOW_INCOME,
    MONITOR,
    PROVINCE,
    SEVERE_DISABILITY,
    SPECIAL_OUTPATIENT,
    TEKUN,
    TIER_CODES,
    TOWNSHIP,
    TUOPIN,
    CategorySpan,
    ClaimFacts,
    PersonFacts,
    PolicyParams,
    SettlementInputError,
    YearToDate,
    at_risk,
    category_code,
    hospital_level_code,
    risk_threshold,
    settle_claim,
    settle_document,
    settle_person,
    settle_person_year,
    visit_type_code,
)

D = Decimal
POOR = (TEKUN, DIBAO, MONITOR, TUOPIN, LOW_INCOME)
LEVELS = (TOWNSHIP, COUNTY, CITY, PROVINCE)
VISITS = (INPATIENT, SPECIAL_OUTPATIENT)


def span(category, start="2019-01-01", end=None):
    return CategorySpan(category, date.fromisoformat(start), None if end is None else date.fromisoformat(end))


def person(*spans, years=(2020,), death=None):
    return PersonFacts("430621199001010012", spans, frozenset(years), death and date.fromisoformat(death))


def claim(no="C1", total="20000.00", uncovered="0.00", level=COUNTY, in_county=True, visit=INPATIENT,
          referral=False, admitted="2020-03-01", discharged=None):
    admission = date.fromisoformat(admitted)
    discharge = date.fromisoformat(discharged) if discharged else admission + timedelta(days=9)
    return ClaimFacts(no, level, in_county, visit, referral, admission, discharge, "J18.900",
                      D(total), D(uncovered))


def amounts(settlement):
    """The six tier amounts and the self-pay, as strings with two decimals."""
    return tuple(f"{tier.amount:f}" for tier in settlement.tiers) + (f"{settlement.self_pay:f}",)


def settle(who, *claims, policy=DEFAULT_POLICY):
    return settle_person_year(who, claims, policy)


def policy_with(**changes):
    return PolicyParams.from_dict(changes)


# ---------------------------------------------------------------- §6.5 worked example

WORKED_PERSON = person(span(DIBAO))
WORKED_CLAIM = claim(total="20000.00", uncovered="2000.00")


def test_worked_example_tier_by_tier():
    [result] = settle(WORKED_PERSON, WORKED_CLAIM)
    basic, critical, assistance, waiver, special, backstop = result.tiers
    assert (result.category, result.poor, result.enrolled) == (DIBAO, True, True)
    assert result.covered_cost == D("18000.00")
    assert (basic.base, basic.deductible, basic.ratio, basic.amount) == (D("18000"), D("250"), D("0.80"), D("14200.00"))
    assert (critical.base, critical.deductible, critical.bands, critical.amount) == (D("3800"), D("7500"), (), D("0"))
    assert (assistance.base, assistance.ratio, assistance.amount) == (D("3800"), D("0.70"), D("2660.00"))
    assert (waiver.base, waiver.amount) == (D("3140.00"), D("157.00"))
    assert (special.base, special.amount) == (D("2983.00"), D("1193.20"))
    assert (backstop.base, backstop.deductible, backstop.amount) == (D("1789.80"), D("2000.00"), D("0"))
    assert amounts(result) == ("14200.00", "0.00", "2660.00", "157.00", "1193.20", "0.00", "1789.80")
    assert result.reimbursed == D("18210.20")
    assert result.effective_ratio == D("0.9105")


def test_worked_example_sheet_explains_each_tier_in_chinese():
    [result] = settle(WORKED_PERSON, WORKED_CLAIM)
    basic = result.tier("basic")
    assert basic.name_zh == "基本医保"
    assert "起付线250.00元" in basic.note_zh and "报销比例80%" in basic.note_zh
    assert "未超过起付线" in result.tier("critical").note_zh
    assert "2000.00元" in result.tier("backstop").note_zh
    assert [t.tier for t in result.tiers] == list(TIER_CODES)
    assert json.loads(json.dumps(result.to_dict()))["tiers"][0]["amount"] == "14200.00"


WORKED_DOCUMENT = {
    "policy": "YY-2020",
    "person": {
        "id_number": "430621199001010012",
        "categories": [{"category": "低保对象", "valid_from": "2019-01-01", "valid_to": None}],
        "enrolled_years": [2020],
        "death_date": None,
    },
    "claims": [{
        "claim_no": "ZY2020-0001", "hospital_level": "县级", "in_county": "是", "visit_type": "住院",
        "referral": False, "admission_date": "2020-03-01", "discharge_date": "2020-03-10",
        "diagnosis": "J18.900", "total_cost": 20000, "uncovered_cost": "2000.00",
    }],
}


def test_worked_example_through_settle_document():
    result = settle_document(WORKED_DOCUMENT, lambda year: DEFAULT_POLICY)
    assert result == {"claims": [{
        "claim_no": "ZY2020-0001",
        "tiers": {"basic": "14200.00", "critical": "0.00", "assistance": "2660.00",
                  "hospital_waiver": "157.00", "special_insurance": "1193.20", "backstop": "0.00"},
        "self_pay": "1789.80",
    }]}


# ---------------------------------------------------------------- single claims, hand computed

SINGLE_CLAIMS = [
    # 特困, 县级 in county, T 20000 U 2000, C 18000. Ded 250, 80%: 17750×80% = 14200; S 5800 Sc 3800.
    # Tier 2: 3800 < 7500 → 0. Tier 3: 100%, no deductible, no cap → 3800; S 2000 Sc 0.
    # Tier 4: 2000×5% = 100; S 1900. Tier 5: 760; S 1140. Tier 6: limit 2000 ≥ 1140 → 0.
    pytest.param([span(TEKUN)], dict(total="20000.00", uncovered="2000.00"),
                 ("14200.00", "0.00", "3800.00", "100.00", "760.00", "0.00", "1140.00"), id="tekun-county"),
    # 监测对象, same bill. Tier 3: (3800 − 1000)×60% = 1680; S 4120 Sc 2120. Tier 4: 206; S 3914.
    # Tier 5: 3914×40% = 1565.60; S 2348.40. Tier 6: 2348.40 − 2000 = 348.40; self 2000.
    pytest.param([span(MONITOR)], dict(total="20000.00", uncovered="2000.00"),
                 ("14200.00", "0.00", "1680.00", "206.00", "1565.60", "348.40", "2000.00"), id="monitor-county"),
    # 脱贫人口, 乡镇 in county, T 10000 U 1000, C 9000. Ded 200×0.5 = 100, 85+10 = 95%: 8900×95% = 8455;
    # S 1545 Sc 545. Tier 2: 0. Tier 3: 545 < deductible 1000 → 0. Tier 4: 77.25; S 1467.75.
    # Tier 5: 587.10; S 880.65. Tier 6: limit 1000 → 0.
    pytest.param([span(TUOPIN)], dict(total="10000.00", uncovered="1000.00", level=TOWNSHIP),
                 ("8455.00", "0.00", "0.00", "77.25", "587.10", "0.00", "880.65"), id="tuopin-township"),
    # 低收入, 县级 in county, T 30000 U 3000, C 27000. 26750×80% = 21400; S 8600 Sc 5600. Tier 2: 0.
    # Tier 3: (5600 − 1000)×50% = 2300; S 6300. Tier 4: 315; S 5985. Tier 5: 2394; S 3591.
    # Tier 6: limit 3000 → 591; self 3000.
    pytest.param([span(LOW_INCOME)], dict(total="30000.00", uncovered="3000.00"),
                 ("21400.00", "0.00", "2300.00", "315.00", "2394.00", "591.00", "3000.00"), id="low-income-county"),
    # Non-poor, 县级: ded 500, 70%: 17500×70% = 12250; S 7750 Sc 5750 < 15000 → tier 2 0; tiers 3–6 poor only.
    pytest.param([], dict(total="20000.00", uncovered="2000.00"),
                 ("12250.00", "0.00", "0.00", "0.00", "0.00", "0.00", "7750.00"), id="non-poor-county"),
    # 重度残疾人 is not a poor category: same as the non-poor case.
    pytest.param([span(SEVERE_DISABILITY)], dict(total="20000.00", uncovered="2000.00"),
                 ("12250.00", "0.00", "0.00", "0.00", "0.00", "0.00", "7750.00"), id="severe-disability-not-poor"),
    # Non-poor, 乡镇: (4500 − 200)×85% = 3655; self 5000 − 3655 = 1345.
    pytest.param([], dict(total="5000.00", uncovered="500.00", level=TOWNSHIP),
                 ("3655.00", "0.00", "0.00", "0.00", "0.00", "0.00", "1345.00"), id="non-poor-township"),
    # Non-poor, 市级 out of county, T 50000 U 5000: (45000 − 800)×60% = 26520; Sc 18480.
    # Tier 2: (18480 − 15000)×60% = 2088; self 50000 − 26520 − 2088 = 21392.
    pytest.param([], dict(total="50000.00", uncovered="5000.00", level=CITY, in_county=False),
                 ("26520.00", "2088.00", "0.00", "0.00", "0.00", "0.00", "21392.00"), id="non-poor-city-critical"),
    # 低保, 省级 out of county (+5), T 100000 U 10000, C 90000. Ded 750, 55%: 89250×55% = 49087.50;
    # S 50912.50 Sc 40912.50. Tier 2: (40912.50 − 7500)×65% = 21718.125 → 21718.13; S 29194.37 Sc 19194.37.
    # Tier 3: ×70% = 13436.059 → 13436.06; S 15758.31. Tier 4: out of county 0.
    # Tier 5: 15758.31×40% = 6303.324 → 6303.32; S 9454.99. Tier 6: out of county, no referral → 0.
    pytest.param([span(DIBAO)], dict(total="100000.00", uncovered="10000.00", level=PROVINCE, in_county=False),
                 ("49087.50", "21718.13", "13436.06", "0.00", "6303.32", "0.00", "9454.99"), id="dibao-province-out"),
    # 监测对象, 省级 out of county, T 100000 U 30000, C 70000. 69250×55% = 38087.50; S 61912.50 Sc 31912.50.
    # Tier 2: 24412.50×65% = 15868.125 → 15868.13; S 46044.37 Sc 16044.37.
    # Tier 3: (16044.37 − 1000)×60% = 9026.622 → 9026.62; S 37017.75. Tier 4: 0.
    # Tier 5: 14807.10; S 22210.65. Tier 6: no referral → 0.
    pytest.param([span(MONITOR)], dict(total="100000.00", uncovered="30000.00", level=PROVINCE, in_county=False),
                 ("38087.50", "15868.13", "9026.62", "0.00", "14807.10", "0.00", "22210.65"), id="out-no-referral"),
    # Same with 转诊: tier 6 limit 10% × 100000 = 10000 → 22210.65 − 10000 = 12210.65; self 10000.
    pytest.param([span(MONITOR)], dict(total="100000.00", uncovered="30000.00", level=PROVINCE, in_county=False,
                                       referral=True),
                 ("38087.50", "15868.13", "9026.62", "0.00", "14807.10", "12210.65", "10000.00"), id="out-referral"),
    # 低保, 特殊病种门诊 县级 in county, T 8000 U 800: no deductible, 90%: 7200×90% = 6480; S 1520 Sc 720.
    # Tier 3: 504; S 1016. Tier 4: 50.80; S 965.20. Tier 5: 386.08; S 579.12. Tier 6: limit 20% = 1600 → 0.
    pytest.param([span(DIBAO)], dict(total="8000.00", uncovered="800.00", visit=SPECIAL_OUTPATIENT),
                 ("6480.00", "0.00", "504.00", "50.80", "386.08", "0.00", "579.12"), id="special-outpatient-dibao"),
    # 监测对象, 特殊病种门诊 乡镇, T 10000 U 6000: 4000×90% = 3600 (no +10 for 门诊); S 6400 Sc 400.
    # Tier 3: 400 < 1000 → 0. Tier 4: 320; S 6080. Tier 5: 2432; S 3648. Tier 6: limit 2000 → 1648.
    pytest.param([span(MONITOR)], dict(total="10000.00", uncovered="6000.00", level=TOWNSHIP,
                                       visit=SPECIAL_OUTPATIENT),
                 ("3600.00", "0.00", "0.00", "320.00", "2432.00", "1648.00", "2000.00"),
                 id="special-outpatient-backstop"),
    # Non-poor, 特殊病种门诊 省级 out of county, T 10000: 90% at any level → 9000; self 1000.
    pytest.param([], dict(total="10000.00", level=PROVINCE, in_county=False, visit=SPECIAL_OUTPATIENT),
                 ("9000.00", "0.00", "0.00", "0.00", "0.00", "0.00", "1000.00"), id="special-outpatient-non-poor"),
    # Non-poor, 省级, T 400000: (400000 − 1500)×50% = 199250 → yearly cap 150000; Sc 250000.
    # Tier 2 on 235000 above 15000: 50000×60% + 50000×70% + 135000×80% = 30000 + 35000 + 108000 = 173000.
    pytest.param([], dict(total="400000.00", level=PROVINCE),
                 ("150000.00", "173000.00", "0.00", "0.00", "0.00", "0.00", "77000.00"), id="basic-cap-three-bands"),
    # 特困, 省级 out of county, T 1000000: 999250×55% = 549587.50 → cap 150000; Sc 850000.
    # Tier 2 (poor, no cap) on 842500: 50000×65% + 50000×75% + 742500×85% = 32500 + 37500 + 631125 = 701125.
    # Tier 3: 100% of 148875, no cap → 148875; S 0; tiers 4–6 0.
    pytest.param([span(TEKUN)], dict(total="1000000.00", level=PROVINCE, in_county=False),
                 ("150000.00", "701125.00", "148875.00", "0.00", "0.00", "0.00", "0.00"), id="tekun-no-caps"),
    # 低保, 市级 in county, T 20000 U 2000: ded 400, 70%: 17600×70% = 12320; S 7680 Sc 5680.
    # Tier 3: 3976; S 3704. Tier 4: 185.20; S 3518.80. Tier 5: 1407.52; S 2111.28. Tier 6: 111.28.
    pytest.param([span(DIBAO)], dict(total="20000.00", uncovered="2000.00", level=CITY),
                 ("12320.00", "0.00", "3976.00", "185.20", "1407.52", "111.28", "2000.00"), id="dibao-city-in"),
    # 低保, 县级 out of county: 70+5 = 75%: 17750×75% = 13312.50; S 6687.50 Sc 4687.50.
    # Tier 3: 3281.25; S 3406.25. Tier 4: out of county 0. Tier 5: 1362.50; S 2043.75. Tier 6: 0.
    pytest.param([span(DIBAO)], dict(total="20000.00", uncovered="2000.00", in_county=False),
                 ("13312.50", "0.00", "3281.25", "0.00", "1362.50", "0.00", "2043.75"), id="dibao-county-out"),
    # Same with 转诊: tier 6 2043.75 − 2000 = 43.75.
    pytest.param([span(DIBAO)], dict(total="20000.00", uncovered="2000.00", in_county=False, referral=True),
                 ("13312.50", "0.00", "3281.25", "0.00", "1362.50", "43.75", "2000.00"), id="dibao-county-referral"),
    # Non-poor, 乡镇, T 150 below the deductible 200 → nothing.
    pytest.param([], dict(total="150.00", level=TOWNSHIP),
                 ("0.00", "0.00", "0.00", "0.00", "0.00", "0.00", "150.00"), id="below-deductible"),
    # 特困, 乡镇, T 150: ded 100, 95%: 50×95% = 47.50; tier 3 100% of 102.50; self 0.
    pytest.param([span(TEKUN)], dict(total="150.00", level=TOWNSHIP),
                 ("47.50", "0.00", "102.50", "0.00", "0.00", "0.00", "0.00"), id="tekun-small-bill"),
    # 低保, all uncovered (T = U = 1000, C 0): tiers 1–3 0; tier 4 50; S 950; tier 5 380; S 570;
    # tier 6 limit 100 → 470; self 100.
    pytest.param([span(DIBAO)], dict(total="1000.00", uncovered="1000.00"),
                 ("0.00", "0.00", "0.00", "50.00", "380.00", "470.00", "100.00"), id="all-uncovered"),
    # 低保, 市级 out of county, T 300000: ded 400, 65%: 299600×65% = 194740 → cap 150000; Sc 150000.
    # Tier 2 on 142500: 32500 + 37500 + 42500×85% (36125) = 106125; Sc 43875.
    # Tier 3: 43875×70% = 30712.50 → cap 20000; S 23875. Tier 4: 0. Tier 5: 9550; self 14325.
    pytest.param([span(DIBAO)], dict(total="300000.00", level=CITY, in_county=False),
                 ("150000.00", "106125.00", "20000.00", "0.00", "9550.00", "0.00", "14325.00"), id="assistance-cap"),
    # 低保, 县级 in county, T 400000 U 300000, C 100000: 99750×80% = 79800; S 320200 Sc 20200.
    # Tier 2: 12700×65% = 8255; S 311945 Sc 11945. Tier 3: 8361.50; S 303583.50.
    # Tier 4: 15179.175 → 15179.18; S 288404.32. Tier 5: 115361.728 → cap 50000; S 238404.32.
    # Tier 6: limit 40000 → 198404.32; self 40000.
    pytest.param([span(DIBAO)], dict(total="400000.00", uncovered="300000.00"),
                 ("79800.00", "8255.00", "8361.50", "15179.18", "50000.00", "198404.32", "40000.00"),
                 id="special-insurance-cap"),
]


@pytest.mark.parametrize("spans, bill, expected", SINGLE_CLAIMS)
def test_single_claim(spans, bill, expected):
    [result] = settle(person(*spans), claim(**bill))
    assert amounts(result) == expected


def test_unenrolled_gets_nothing():
    [result] = settle(person(span(DIBAO), years=(2019,)), claim(total="20000.00", uncovered="2000.00"))
    assert (result.enrolled, result.poor) == (False, True)
    assert amounts(result) == ("0.00",) * 6 + ("20000.00",)
    assert all("2020年度未参保" in tier.note_zh for tier in result.tiers)
    assert result.effective_ratio == D("0")


def test_tier_bases_and_caps_on_the_sheet():
    # The tier-3 cap case: cap left 20000 shows, and the cap is named in the note.
    [result] = settle(person(span(DIBAO)), claim(total="300000.00", level=CITY, in_county=False))
    assistance = result.tier("assistance")
    assert (assistance.base, assistance.cap_left, assistance.amount) == (D("43875"), D("20000"), D("20000"))
    assert "按剩余额支付" in assistance.note_zh
    assert result.tier("critical").bands == (
        (D("0"), D("50000"), D("0.65"), D("32500")),
        (D("50000"), D("100000"), D("0.75"), D("37500")),
        (D("100000"), D("142500"), D("0.85"), D("36125")),
    )
    assert result.tier("hospital_waiver").note_zh == "县域外医院，不减免"
    assert result.tier("backstop").note_zh == "县域外就医且未转诊，不予兜底"


# ---------------------------------------------------------------- several claims in a year

def test_basic_cap_and_critical_bands_across_claims():
    # Non-poor, 县级. A (T 200000): 199500×70% = 139650; Sc 60350; tier 2 45350×60% = 27210; self 33140.
    # B (T 50000): 49500×70% = 34650 → cap left 150000 − 139650 = 10350; Sc 39650.
    # Tier 2: f(100000) − f(60350) = (30000 + 35000×70%) − 27210 = 54500 − 27210 = 27290; self 12360.
    first, second = settle(person(), claim("A", total="200000.00"),
                           claim("B", total="50000.00", admitted="2020-06-01"))
    assert amounts(first) == ("139650.00", "27210.00", "0.00", "0.00", "0.00", "0.00", "33140.00")
    assert amounts(second) == ("10350.00", "27290.00", "0.00", "0.00", "0.00", "0.00", "12360.00")
    assert second.tier("basic").cap_left == D("10350")
    assert second.tier("critical").bands == (
        (D("45350"), D("50000"), D("0.60"), D("2790")),
        (D("50000"), D("85000"), D("0.70"), D("24500")),
    )


def test_special_outpatient_shares_the_basic_yearly_cap():
    # Non-poor, 省级 T 400000 uses the whole cap 150000 (Sc 250000, tier 2 173000).
    # Then 特殊病种门诊 T 5000: tier 1 cap left 0 → 0; tier 2 A 250000 → 255000, all in the 80% band: 4000.
    first, second = settle(person(), claim("A", total="400000.00", level=PROVINCE),
                           claim("B", total="5000.00", visit=SPECIAL_OUTPATIENT, admitted="2020-07-01"))
    assert amounts(first)[:2] == ("150000.00", "173000.00")
    assert amounts(second) == ("0.00", "4000.00", "0.00", "0.00", "0.00", "0.00", "1000.00")


def test_critical_cap_for_non_poor():
    # Non-poor, 省级 T 1000000: tier 1 cap 150000; Sc 850000; tier 2 on 835000:
    # 30000 + 35000 + 735000×80% = 653000 → cap 300000; self 550000.
    # Then 县级 T 10000: tier 1 cap left 0; tier 2 10000×80% = 8000 → cap left 0; self 10000.
    first, second = settle(person(), claim("A", total="1000000.00", level=PROVINCE),
                           claim("B", total="10000.00", admitted="2020-08-01"))
    assert amounts(first) == ("150000.00", "300000.00", "0.00", "0.00", "0.00", "0.00", "550000.00")
    assert amounts(second) == ("0.00", "0.00", "0.00", "0.00", "0.00", "0.00", "10000.00")
    assert second.tier("critical").cap_left == D("0")


def test_assistance_cap_across_claims():
    # After the tier-3 cap case (tier 1 cap and tier 3 cap both used up), 低保 县级 in county T 10000:
    # tier 1 cap left 0; tier 2 A 150000 → 160000 (142500 → 152500 above 7500) at 85%: 8500; S 1500.
    # Tier 3 cap left 0 → 0. Tier 4: 75; S 1425. Tier 5: 570 (cap left 40450); S 855. Tier 6: limit 1000 → 0.
    first, second = settle(person(span(DIBAO)), claim("A", total="300000.00", level=CITY, in_county=False),
                           claim("B", total="10000.00", admitted="2020-09-01"))
    assert amounts(first)[2] == "20000.00"
    assert amounts(second) == ("0.00", "8500.00", "0.00", "75.00", "570.00", "0.00", "855.00")


def test_special_insurance_cap_across_claims():
    # After the tier-5 cap case (50000 paid), 低保 县级 T 10000: 9750×80% = 7800; Sc 2200.
    # Tier 2: A 20200 → 22400, 12700 → 14900 above 7500: 2200×65% = 1430; S 770. Tier 3: 539; S 231.
    # Tier 4: 11.55; S 219.45. Tier 5: cap left 0 → 0. Tier 6: limit 1000 → 0.
    first, second = settle(person(span(DIBAO)), claim("A", total="400000.00", uncovered="300000.00"),
                           claim("B", total="10000.00", admitted="2020-09-01"))
    assert amounts(first)[4] == "50000.00"
    assert amounts(second) == ("7800.00", "1430.00", "539.00", "11.55", "0.00", "0.00", "219.45")
    assert second.tier("special_insurance").cap_left == D("0")


TUOPIN_CLAIMS = [
    claim("T1", total="3000.00", admitted="2020-03-01"),
    claim("T2", total="3000.00", admitted="2020-05-01"),
    claim("T3", total="3000.00", admitted="2020-07-01"),
]


def test_assistance_yearly_deductible_used_across_claims():
    # 脱贫人口 县级, three bills of 3000 (C 3000): tier 1 2750×80% = 2200 each; Sc 800; A stays < 7500.
    # T1: tier 3 deductible 1000 absorbs 800 → 0; tier 4 40; S 760; tier 5 304; S 456; tier 6 limit 300 → 156.
    # T2: deductible left 200: (800 − 200)×60% = 360; S 440; tier 4 22; S 418; tier 5 167.20; S 250.80.
    # T3: deductible left 0: 480; S 320; tier 4 16; S 304; tier 5 121.60; S 182.40.
    results = settle(person(span(TUOPIN)), *TUOPIN_CLAIMS)
    assert [amounts(r) for r in results] == [
        ("2200.00", "0.00", "0.00", "40.00", "304.00", "156.00", "300.00"),
        ("2200.00", "0.00", "360.00", "22.00", "167.20", "0.00", "250.80"),
        ("2200.00", "0.00", "480.00", "16.00", "121.60", "0.00", "182.40"),
    ]
    assert [r.tier("assistance").deductible for r in results] == [D("1000"), D("200"), D("0")]


def test_critical_deductible_crossed_by_the_second_claim():
    # 低保 县级, two bills of 30000 (C 30000): tier 1 29750×80% = 23800; Sc 6200 each.
    # First: A 0 → 6200 < 7500 → 0; tier 3 4340; S 1860; tier 4 93; S 1767; tier 5 706.80; S 1060.20.
    # Second: A 6200 → 12400: 4900×65% = 3185; S 3015; tier 3 2110.50; S 904.50;
    # tier 4 45.225 → 45.23 (half up); S 859.27; tier 5 343.708 → 343.71; S 515.56; tier 6 limit 3000 → 0.
    first, second = settle(person(span(DIBAO)), claim("A", total="30000.00"),
                           claim("B", total="30000.00", admitted="2020-06-01"))
    assert amounts(first) == ("23800.00", "0.00", "4340.00", "93.00", "706.80", "0.00", "1060.20")
    assert amounts(second) == ("23800.00", "3185.00", "2110.50", "45.23", "343.71", "0.00", "515.56")


def test_late_claim_resettles_the_later_claims():
    # Without T1, T2 is the year's first claim (self 300.00) and T3 the second (250.80).
    # T1 arrives late but was discharged first: the year re-settles to 300.00, 250.80, 182.40.
    who = person(span(TUOPIN))
    before = settle(who, TUOPIN_CLAIMS[1], TUOPIN_CLAIMS[2])
    after = settle(who, TUOPIN_CLAIMS[1], TUOPIN_CLAIMS[2], TUOPIN_CLAIMS[0])
    assert [(r.claim_no, str(r.self_pay)) for r in before] == [("T2", "300.00"), ("T3", "250.80")]
    assert [(r.claim_no, str(r.self_pay)) for r in after] == [("T1", "300.00"), ("T2", "250.80"),
                                                               ("T3", "182.40")]


def test_same_discharge_date_settles_by_claim_number():
    # Both discharged 2020-03-10: "A" first takes the tier-3 deductible (as T1 above), "B" second.
    results = settle(person(span(TUOPIN)), claim("B", total="3000.00"), claim("A", total="3000.00"))
    assert [(r.claim_no, str(r.tier("assistance").amount)) for r in results] == [("A", "0.00"), ("B", "360.00")]


# ---------------------------------------------------------------- who gets what (§6.2)

@pytest.mark.parametrize("spans, expected_category", [
    # The category starts after admission (2020-03-01) though before discharge: not poor for this claim.
    pytest.param([span(DIBAO, start="2020-03-05")], None, id="starts-after-admission"),
    pytest.param([span(DIBAO, start="2020-03-01")], DIBAO, id="starts-on-admission-day"),
    pytest.param([span(DIBAO, end="2020-02-29")], None, id="ended-before-admission"),
    pytest.param([span(DIBAO, end="2020-03-01")], DIBAO, id="ends-on-admission-day"),
    pytest.param([span(TUOPIN), span(DIBAO)], DIBAO, id="dibao-beats-tuopin"),
    pytest.param([span(SEVERE_DISABILITY), span(TEKUN)], TEKUN, id="tekun-with-disability"),
    pytest.param([span(LOW_INCOME), span(MONITOR)], MONITOR, id="monitor-beats-low-income"),
    pytest.param([span(TUOPIN, end="2020-02-01"), span(LOW_INCOME)], LOW_INCOME, id="only-held-ones-count"),
])
def test_applicable_category_on_admission_date(spans, expected_category):
    [result] = settle(person(*spans), claim(total="20000.00", uncovered="2000.00"))
    assert result.category == expected_category


def test_category_starting_after_admission_settles_as_non_poor():
    # As the non-poor 县级 case: 12250, then nothing; self 7750.
    [result] = settle(person(span(DIBAO, start="2020-03-05")), claim(total="20000.00", uncovered="2000.00"))
    assert amounts(result) == ("12250.00", "0.00", "0.00", "0.00", "0.00", "0.00", "7750.00")


def test_most_favourable_category_wins():
    # 脱贫人口 and 低保 together settle as 低保: the worked example.
    [result] = settle(person(span(TUOPIN), span(DIBAO)), claim(total="20000.00", uncovered="2000.00"))
    assert amounts(result) == ("14200.00", "0.00", "2660.00", "157.00", "1193.20", "0.00", "1789.80")


def test_categories_on_a_past_date():
    who = person(span(DIBAO, "2018-01-01", "2019-06-30"), span(TUOPIN, "2019-07-01"), span(SEVERE_DISABILITY))
    assert who.categories_on(date(2019, 6, 30)) == {DIBAO, SEVERE_DISABILITY}
    assert who.categories_on(date(2019, 7, 1)) == {TUOPIN, SEVERE_DISABILITY}
    assert who.categories_on(date(2017, 12, 31)) == set()
    assert who.applicable_category(date(2019, 7, 1), DEFAULT_POLICY) == TUOPIN
    assert person(span(SEVERE_DISABILITY)).applicable_category(date(2020, 1, 1), DEFAULT_POLICY) is None


def test_death_before_admission_is_a_policy_choice():
    # Default: settled as usual (rule R01 flags it); with settle_after_death off: nothing paid.
    who = person(span(DIBAO), death="2020-02-01")
    [settled] = settle(who, WORKED_CLAIM)
    [refused] = settle(who, WORKED_CLAIM, policy=policy_with(settle_after_death=False))
    assert settled.self_pay == D("1789.80")
    assert amounts(refused) == ("0.00",) * 6 + ("20000.00",)


# ---------------------------------------------------------------- parameters change results

def test_changed_waiver_ratio_changes_the_result():
    # Worked example with 医院减免 10%: 3140×10% = 314; S 2826; tier 5 1130.40; S 1695.60; tier 6 0.
    [result] = settle(WORKED_PERSON, WORKED_CLAIM, policy=policy_with(hospital_waiver={"ratio": "0.10"}))
    assert amounts(result) == ("14200.00", "0.00", "2660.00", "314.00", "1130.40", "0.00", "1695.60")


def test_poor_ratio_ceiling_reads_90_80():
    # 脱贫人口 乡镇 with a 90% ceiling: 8900×90% = 8010; S 1990 Sc 990; tier 3 990 < 1000 → 0;
    # tier 4 99.50; S 1890.50; tier 5 756.20; S 1134.30; tier 6 limit 1000 → 134.30.
    policy = policy_with(basic={"poor_ratio_ceiling": "0.90"})
    [result] = settle(person(span(TUOPIN)), claim(total="10000.00", uncovered="1000.00", level=TOWNSHIP),
                      policy=policy)
    assert amounts(result) == ("8010.00", "0.00", "0.00", "99.50", "756.20", "134.30", "1000.00")
    [county] = settle(WORKED_PERSON, WORKED_CLAIM, policy=policy)
    assert county.tier("basic").ratio == D("0.80")


def test_referral_parameter_off_means_no_backstop_out_of_county():
    # The out-of-county 转诊 case (tier 6 12210.65) with referral_counts_out_of_county off: tier 6 0.
    policy = policy_with(backstop={"referral_counts_out_of_county": False})
    [result] = settle(person(span(MONITOR)), claim(total="100000.00", uncovered="30000.00", level=PROVINCE,
                                                   in_county=False, referral=True), policy=policy)
    assert amounts(result) == ("38087.50", "15868.13", "9026.62", "0.00", "14807.10", "0.00", "22210.65")


def test_settle_person_uses_each_years_policy_and_year_to_date():
    # 2020: T1 (self 300.00) and a stay admitted 2020-12-25, discharged 2021-01-05: a 2020 claim, the
    # second of that year (as T2 above: 250.80). 2021: a fresh year-to-date and the 2021 policy with
    # 脱贫人口 assistance 80%, no deductible: 800×80% = 640; S 160; tier 4 8; S 152; tier 5 60.80; self 91.20.
    policy_2021 = policy_with(assistance={"ratio": {"tuopin": "0.80"}, "yearly_deductible": {"tuopin": "0"}})
    asked = []

    def policy_for_year(year):
        asked.append(year)
        return policy_2021 if year == 2021 else DEFAULT_POLICY

    claims = [
        claim("N21", total="3000.00", admitted="2021-03-01"),
        claim("X20", total="3000.00", admitted="2020-12-25", discharged="2021-01-05"),
        claim("T1", total="3000.00", admitted="2020-03-01"),
    ]
    results = settle_person(person(span(TUOPIN), years=(2020, 2021)), claims, policy_for_year)
    assert [(r.claim_no, r.year, str(r.self_pay)) for r in results] == [
        ("T1", 2020, "300.00"), ("X20", 2020, "250.80"), ("N21", 2021, "91.20")]
    assert sorted(asked) == [2020, 2021]
    unenrolled_2021 = settle_person(person(span(TUOPIN), years=(2020,)), claims, policy_for_year)
    assert amounts(unenrolled_2021[2]) == ("0.00",) * 6 + ("3000.00",)


def test_settle_person_year_refuses_mixed_years():
    with pytest.raises(SettlementInputError):
        settle(person(), claim("A"), claim("B", admitted="2021-01-02"))


# ---------------------------------------------------------------- §9 threshold

def test_risk_threshold_is_the_lower_of_amount_and_income_share():
    assert risk_threshold(DEFAULT_POLICY, D("15000")) == D("7500.00")
    assert risk_threshold(DEFAULT_POLICY, D("30000")) == D("10000")
    assert risk_threshold(DEFAULT_POLICY, None) == D("10000")
    assert risk_threshold(policy_with(risk={"absolute_threshold": "8000"}), D("30000")) == D("8000")
    assert at_risk(D("10000.01"), D("10000")) and not at_risk(D("10000.00"), D("10000"))


# ---------------------------------------------------------------- inputs

def test_labels_and_codes_both_accepted():
    assert category_code("特困供养人员") == category_code(TEKUN) == TEKUN
    assert hospital_level_code(" 省级 ") == PROVINCE
    assert visit_type_code("特殊病种门诊") == SPECIAL_OUTPATIENT
    with pytest.raises(SettlementInputError, match="人员类别"):
        category_code("五保户")


@pytest.mark.parametrize("changes", [
    dict(uncovered="30000.00"),  # U > T
    dict(admitted="2020-03-01", discharged="2020-02-28"),
    dict(total="100.001"),
    dict(level="乡镇"),  # the dataclass takes codes; labels are converted at the edge
    dict(total="-1.00"),
])
def test_claim_facts_refuse_impossible_claims(changes):
    with pytest.raises(SettlementInputError):
        claim(**changes)


def _document_with(path, value):
    doc = json.loads(json.dumps(WORKED_DOCUMENT))
    target = doc
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


@pytest.mark.parametrize("path, value, message", [
    (("claims", 0, "total_cost"), "abc", "claims[0].total_cost"),
    (("claims", 0, "total_cost"), 0.1 + 0.2, "两位小数"),
    (("claims", 0, "total_cost"), True, "claims[0].total_cost"),
    (("claims", 0, "uncovered_cost"), "30000", "目录外费用大于医疗总费用"),
    (("claims", 0, "admission_date"), "2020-13-01", "claims[0].admission_date"),
    (("claims", 0, "in_county"), "yes", "claims[0].in_county"),
    (("claims", 0, "hospital_level"), "村级", "医院等级"),
    (("claims", 0, "visit_type"), KeyError, "claims[0].visit_type"),
    (("person", "categories", 0, "category"), "五保户", "person.categories[0]"),
    (("person", "categories", 0, "valid_to"), "2018-01-01", "终止日期早于起始日期"),
    (("person", "enrolled_years"), "2020", "person.enrolled_years"),
    (("person",), KeyError, "person"),
    (("claims",), {"claim_no": "x"}, "claims"),
])
def test_settle_document_explains_malformed_input(path, value, message):
    with pytest.raises(SettlementInputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        settle_document(_document_with(path, value), lambda year: DEFAULT_POLICY)


def test_settle_document_refuses_duplicate_claim_numbers():
    doc = json.loads(json.dumps(WORKED_DOCUMENT))
    doc["claims"].append(dict(doc["claims"][0]))
    with pytest.raises(SettlementInputError, match="重复"):
        settle_document(doc, lambda year: DEFAULT_POLICY)


def test_settle_document_accepts_codes_and_returns_settlement_order():
    doc = json.loads(json.dumps(WORKED_DOCUMENT))
    doc["person"]["categories"] = [{"category": "tuopin", "valid_from": "2019-01-01"}]
    doc["claims"] = [
        {**doc["claims"][0], "claim_no": "T2", "hospital_level": "county", "in_county": True,
         "visit_type": "inpatient", "admission_date": "2020-05-01", "discharge_date": "2020-05-10",
         "total_cost": "3000", "uncovered_cost": 0},
        {**doc["claims"][0], "claim_no": "T1", "in_county": "是", "admission_date": "2020-03-01",
         "discharge_date": "2020-03-10", "total_cost": 3000.0, "uncovered_cost": "0.00"},
    ]
    result = settle_document(doc, lambda year: DEFAULT_POLICY)
    assert [(c["claim_no"], c["self_pay"], c["tiers"]["assistance"]) for c in result["claims"]] == [
        ("T1", "300.00", "0.00"), ("T2", "250.80", "360.00")]


# ---------------------------------------------------------------- policy parameters as data

def test_policy_from_empty_dict_is_the_default():
    assert PolicyParams.from_dict({}) == DEFAULT_POLICY


def test_policy_from_partial_dict_keeps_the_other_defaults():
    policy = PolicyParams.from_dict({"critical": {"cap": None}, "assistance": {"cap": {"dibao": "30000"}}})
    assert policy.critical.cap is None
    assert policy.assistance.cap.dibao == D("30000") and policy.assistance.cap.monitor == D("20000")
    assert policy.basic == DEFAULT_POLICY.basic


@pytest.mark.parametrize("data, message", [
    ({"basic": {"ratoi": {}}}, "basic.ratoi"),
    ({"basic": {"ratio": {"county": "七成"}}}, "basic.ratio.county"),
    ({"special_insurance": {"ratio": "-0.4"}}, "special_insurance.ratio"),
    ({"critical": {"bands": [["50000", "0.6"], ["40000", "0.7"], [None, "0.8"]]}}, "递增"),
    ({"critical": {"bands": [[None, "0.6"], ["40000", "0.7"]]}}, "最后一段"),
    ({"category_order": ["tekun", "severe_disability"]}, "category_order"),
    ({"hospital_waiver": {"in_county_only": "是"}}, "in_county_only"),
])
def test_policy_from_dict_refuses_bad_parameters(data, message):
    with pytest.raises(SettlementInputError, match=message):
        PolicyParams.from_dict(data)


# ---------------------------------------------------------------- properties

RATE_WORDS = ("ratio", "share", "bonus", "factor", "ceiling")


@st.composite
def policies(draw):
    """Any valid policy: the defaults' shape with every number, flag and band redrawn; caps may be None."""
    data = DEFAULT_POLICY.to_dict()
    rate = st.decimals(min_value=0, max_value=1, places=2).map(str)
    amount = st.decimals(min_value=0, max_value=400_000, places=2).map(str)

    def redraw(node, parent):
        for key, value in node.items():
            name = f"{parent}.{key}"
            if isinstance(value, dict):
                redraw(value, name)
            elif isinstance(value, bool):
                node[key] = draw(st.booleans())
            elif not isinstance(value, list):
                number = rate if any(word in name for word in RATE_WORDS) else amount
                optional = "cap" in name or "ceiling" in name
                node[key] = draw(st.none() | number) if optional else draw(number)

    redraw(data, "")
    uppers = sorted(draw(st.sets(st.integers(1, 300_000), max_size=3)))
    data["critical"]["bands"] = [[str(u), draw(rate)] for u in uppers] + [[None, draw(rate)]]
    data["category_order"] = draw(st.permutations(POOR))[: draw(st.integers(0, len(POOR)))]
    return PolicyParams.from_dict(data)


def cents(value):
    return D(value).scaleb(-2)


@st.composite
def year_claims(draw, year=2020, max_claims=6):
    claims = []
    for i in range(draw(st.integers(1, max_claims))):
        total = draw(st.integers(0, 3_000_000) | st.integers(0, 60_000_000))
        admission = date(year, 1, 1) + timedelta(days=draw(st.integers(0, 364)))
        claims.append(ClaimFacts(
            f"C{i:02d}", draw(st.sampled_from(LEVELS)), draw(st.booleans()), draw(st.sampled_from(VISITS)),
            draw(st.booleans()), admission, admission + timedelta(days=draw(st.integers(0, 40))), "",
            cents(total), cents(draw(st.integers(0, total))),
        ))
    return claims


@st.composite
def persons(draw, steady=False):
    """A person; a steady one holds one category (or none) all year, so yearly caps can be summed."""
    categories = st.sampled_from((*POOR, SEVERE_DISABILITY))
    if steady:
        spans = [span(c) for c in draw(st.lists(categories, max_size=1))]
    else:
        spans = []
        for category in draw(st.lists(categories, max_size=3)):
            start = date(2020, 1, 1) + timedelta(days=draw(st.integers(-30, 364)))
            end = draw(st.none() | st.integers(0, 200).map(lambda n, s=start: s + timedelta(days=n)))
            spans.append(CategorySpan(category, start, end))
    enrolled = draw(st.sampled_from([(2020,), (2020, 2021), (2020, 2021), ()]))
    return PersonFacts("430621199001010012", tuple(spans), frozenset(enrolled), None)


def fold(who, claims, policy):
    """(year-to-date before, settlement) for each claim, settled one at a time in settlement order."""
    ytd, steps = YearToDate(), []
    for one in sorted(claims, key=lambda c: (c.discharge_date, c.claim_no)):
        settlement, after = settle_claim(who, one, policy, ytd)
        steps.append((ytd, settlement))
        ytd = after
    return steps


PROPERTY = settings(max_examples=150, deadline=None)


@PROPERTY
@given(persons(), year_claims(), policies())
def test_tier_amounts_are_never_negative_nor_above_their_base(who, claims, policy):
    for result in settle_person_year(who, claims, policy):
        for tier in result.tiers:
            assert D(0) <= tier.amount <= tier.base
            assert tier.amount == tier.amount.quantize(D("0.01"))


@PROPERTY
@given(persons(), year_claims(), policies())
def test_tiers_sum_to_total_minus_self_pay(who, claims, policy):
    for result in settle_person_year(who, claims, policy):
        assert sum(tier.amount for tier in result.tiers) == result.total_cost - result.self_pay == result.reimbursed


@PROPERTY
@given(persons(), year_claims(), policies())
def test_self_pay_between_zero_and_the_bill(who, claims, policy):
    for result in settle_person_year(who, claims, policy):
        assert D(0) <= result.self_pay <= result.total_cost


@PROPERTY
@given(persons(steady=True), year_claims(), policies())
def test_yearly_caps_hold_over_the_year(who, claims, policy):
    results = settle_person_year(who, claims, policy)
    category = who.applicable_category(date(2020, 6, 1), policy)
    paid = {code: sum(r.tier(code).amount for r in results) for code in TIER_CODES}
    caps = {
        "basic": policy.basic.yearly_cap,
        "critical": policy.critical.cap if category is None else policy.critical.poor_cap,
        "assistance": None if category is None else policy.assistance.cap.of(category),
        "special_insurance": policy.special_insurance.yearly_cap,
    }
    for code, cap in caps.items():
        assert cap is None or paid[code] <= cap
    for _, result in fold(who, claims, policy):
        for tier in result.tiers:
            assert tier.cap_left is None or tier.amount <= tier.cap_left


def banded(x, deductible, bands, bonus):
    """f(x) of §6.4 written out independently: each band's ratio times the part of x above the deductible in it."""
    above, total, lower = max(D(0), x - deductible), D(0), D(0)
    for upper, ratio in bands:
        top = above if upper is None else min(above, upper)
        total += max(D(0), top - lower) * (ratio + bonus)
        if upper is None:
            break
        lower = upper
    return total


@PROPERTY
@given(persons(), year_claims(), policies())
def test_critical_pays_f_of_a_plus_a_minus_f_of_a_within_bands(who, claims, policy):
    params = policy.critical
    for ytd, result in fold(who, claims, policy):
        critical = result.tier("critical")
        if critical.base == 0:
            assert critical.amount == 0
            continue
        deductible = params.poor_deductible if result.poor else params.deductible
        bonus = params.poor_band_bonus if result.poor else D(0)
        a, big_a = critical.base, ytd.critical_accumulated
        exact = banded(big_a + a, deductible, params.bands, bonus) - banded(big_a, deductible, params.bands, bonus)
        expected = min(exact.quantize(D("0.01"), rounding=ROUND_HALF_UP), a)
        if critical.cap_left is not None:
            expected = min(expected, critical.cap_left)
        assert critical.amount == expected
        assert sum(piece[3] for piece in critical.bands) == exact
        bands = zip([D(0)] + [upper for upper, _ in params.bands[:-1]], params.bands)
        bounds = [(lower, upper, band_ratio + bonus) for lower, (upper, band_ratio) in bands]
        for low, high, ratio, _ in critical.bands:
            assert any(lower <= low and (upper is None or high <= upper) and ratio == band_ratio
                       for lower, upper, band_ratio in bounds)


@PROPERTY
@given(persons(), year_claims(), policies())
def test_claim_by_claim_equals_the_year_at_once(who, claims, policy):
    assert [result for _, result in fold(who, claims, policy)] == settle_person_year(who, claims, policy)
    assert settle_person_year(who, list(reversed(claims)), policy) == settle_person_year(who, claims, policy)


@PROPERTY
@given(persons(), year_claims(year=2020, max_claims=3), year_claims(year=2021, max_claims=3))
def test_settle_person_settles_each_year_apart(who, claims_2020, claims_2021):
    renamed = [dataclasses.replace(c, claim_no=f"N{c.claim_no}") for c in claims_2021]
    results = settle_person(who, claims_2020 + renamed, lambda year: DEFAULT_POLICY)
    by_year = settle_person_year(who, claims_2020, DEFAULT_POLICY) + settle_person_year(who, renamed, DEFAULT_POLICY)
    assert sorted(results, key=lambda r: r.claim_no) == sorted(by_year, key=lambda r: r.claim_no)


@PROPERTY
@given(policies())
def test_policy_round_trips_through_json(policy):
    stored = json.loads(json.dumps(policy.to_dict()))
    assert PolicyParams.from_dict(stored) == policy
    assert PolicyParams.from_dict(stored).to_dict() == stored
