"""Screening rules R01–R09 (DOMAIN §7.1): planted hits and near-misses, exact expected hits and evidence."""
from __future__ import annotations

import pytest

from claims.supervision.screening import screen_year
from tests.claims.supervision_helpers import claim, day, enrol, hits_of, hospital, id_number
from tests.conftest import VILLAGE_A, make_person

pytestmark = pytest.mark.django_db


def test_r01_after_death_but_not_discharged_on_the_death_day(regions):
    dead = make_person(VILLAGE_A, seq=11, name="已故者")
    dead.death_date = day("2025-03-10")
    dead.save()
    alive = make_person(VILLAGE_A, seq=13, name="健在者")
    claim("A", "2025-03-01", "2025-03-10", person=dead)  # died in hospital, discharged that day
    claim("B", "2025-03-01", "2025-03-11", person=dead)  # discharged the day after death
    claim("C", "2025-03-11", "2025-03-12", person=dead)
    claim("D", "2025-04-01", "2025-04-02", person=alive)
    claim("E", "2025-03-05", "2025-03-06", person=dead, visit="special_outpatient")  # before death
    assert screen_year(2025, ["R01"]) == {"R01": 2}
    assert hits_of("R01") == {"B": [], "C": []}
    from claims.models import ScreeningHit

    assert ScreeningHit.objects.get(claim__claim_no="B").evidence == {"death_date": "2025-03-10", "person_id": dead.pk}


def test_r02_touching_stays_do_not_overlap(regions):
    p = make_person(VILLAGE_A, seq=21)
    other = make_person(VILLAGE_A, seq=23)
    h2 = hospital("H002")
    claim("S1", "2025-01-01", "2025-01-10", person=p)
    claim("S2", "2025-01-10", "2025-01-15", person=p, hosp=h2)  # admitted on S1's discharge day: touching
    claim("S3", "2025-01-12", "2025-01-20", person=p)  # overlaps S2 (any hospital)
    claim("S4", "2025-01-14", "2025-01-14", person=p, hosp=h2)  # a same-day stay inside S2 and S3
    claim("S5", "2025-01-20", "2025-01-25", person=p)  # admitted on S3's discharge day: touching
    claim("O1", "2025-01-02", "2025-01-30", person=p, visit="special_outpatient")  # not inpatient
    claim("X1", "2025-01-03", "2025-01-05", person=other)  # another person
    claim("T-2", "2025-02-01", "2025-02-03", person=p)  # same admission day: the claim number decides
    claim("T-1", "2025-02-01", "2025-02-05", person=p)
    screen_year(2025, ["R02"])
    assert hits_of("R02") == {"S3": ["S2"], "S4": ["S2", "S3"], "T-2": ["T-1"]}


def test_r02_two_same_day_stays_on_the_same_day_do_not_overlap(regions):
    p = make_person(VILLAGE_A, seq=25)
    claim("U1", "2025-05-05", "2025-05-05", person=p)
    claim("U2", "2025-05-05", "2025-05-05", person=p, hosp=hospital("H002"))
    claim("U3", "2025-05-05", "2025-05-09", person=p, hosp=hospital("H003"))  # U1 is not admitted before… U3's end
    screen_year(2025, ["R02"])
    assert hits_of("R02") == {}


def test_r03_readmission_day_15_hits_day_16_does_not(regions):
    p = make_person(VILLAGE_A, seq=31)
    h2 = hospital("H002")
    claim("A1", "2025-03-01", "2025-03-05", person=p, diag="J18.9")
    claim("A2", "2025-03-20", "2025-03-22", person=p, diag="J18.0")  # day 15, same 3 characters
    claim("B1", "2025-05-01", "2025-05-05", person=p, diag="K35.8")
    claim("B2", "2025-05-21", "2025-05-23", person=p, diag="K35.8")  # day 16
    claim("C1", "2025-07-01", "2025-07-05", person=p, diag="I63.9")
    claim("C2", "2025-07-05", "2025-07-09", person=p, diag="I63.9")  # day 0: readmitted on the discharge day
    claim("C3", "2025-07-10", "2025-07-12", person=p, diag="I63.9", hosp=h2)  # other hospital
    claim("D1", "2025-09-01", "2025-09-03", person=p, diag="E11.9")
    claim("D2", "2025-09-04", "2025-09-06", person=p, diag="E10.9")  # other diagnosis
    claim("D3", "2025-09-05", "2025-09-07", person=p, diag="E11.9", visit="special_outpatient")  # not inpatient
    screen_year(2025, ["R03"])
    assert hits_of("R03") == {"A2": ["A1"], "C2": ["C1"]}
    from claims.models import ScreeningHit

    assert ScreeningHit.objects.get(claim__claim_no="A2").evidence["days_after_discharge"] == 15


def test_r03_reads_last_years_discharge(regions):
    p = make_person(VILLAGE_A, seq=33)
    claim("Y1", "2024-12-20", "2024-12-28", person=p)
    claim("Y2", "2025-01-05", "2025-01-08", person=p)
    screen_year(2025, ["R03"])
    assert hits_of("R03") == {"Y2": ["Y1"]}


def test_r04_diagnosis_impossible_for_sex_or_age(regions):
    man = make_person(VILLAGE_A, seq=41, name="男")  # odd sequence: male
    woman = make_person(VILLAGE_A, seq=42, name="女")
    baby = make_person(VILLAGE_A, seq=44, birth="20240601", name="婴儿")
    claim("M-O80", "2025-02-01", "2025-02-03", person=man, diag="O80.0")
    claim("M-O9A", "2025-02-04", "2025-02-05", person=man, diag="O9A.2")
    claim("M-N99", "2025-02-06", "2025-02-07", person=man, diag="N99.0")  # outside N70–N98
    claim("M-N40", "2025-02-08", "2025-02-09", person=man, diag="N40")  # allowed for the sex
    claim("F-O80", "2025-03-01", "2025-03-03", person=woman, diag="O80.0")  # allowed for the sex
    claim("F-N40", "2025-03-04", "2025-03-05", person=woman, diag="N40.x")
    claim("F-C61", "2025-03-06", "2025-03-07", person=woman, diag="C61")
    claim("F-C64", "2025-03-08", "2025-03-09", person=woman, diag="C64")  # outside C60–C63
    claim("B-P07a", "2025-05-31", "2025-06-02", person=baby, diag="P07.3")  # 364 days old: allowed
    claim("B-P07b", "2025-06-01", "2025-06-02", person=baby, diag="P07.3")  # one year old that day
    claim("W-P07", "2025-06-01", "2025-06-02", person=woman, diag="p07.1")  # lower case is read as P07
    # Not in the ledger: sex and age come from the ID number itself (17th digit even = female).
    claim("U-O80", "2025-04-01", "2025-04-02", id_no=id_number("19900101", 51), diag="O80")
    claim("U-O81", "2025-04-01", "2025-04-02", id_no=id_number("19900101", 52), diag="O80")
    screen_year(2025, ["R04"])
    assert set(hits_of("R04")) == {"M-O80", "M-O9A", "F-N40", "F-C61", "B-P07b", "W-P07", "U-O80"}
    from claims.models import ScreeningHit

    assert ScreeningHit.objects.get(claim__claim_no="M-O80").evidence == {
        "sex": "M", "birth_date": "1980-01-01", "diagnosis": "O80", "reason": "male"}
    assert ScreeningHit.objects.get(claim__claim_no="B-P07b").evidence["reason"] == "age"


def test_r05_not_enrolled_in_the_claims_year(regions):
    people = [make_person(VILLAGE_A, seq=60 + i) for i in range(4)]
    enrol(people[0].id_number, 2025)
    enrol(people[1].id_number, 2025, status="unpaid")
    enrol(people[3].id_number, 2024)
    for i, p in enumerate(people):
        claim(f"E{i}", "2025-06-01", "2025-06-03", person=p)
    claim("E0-2024", "2024-12-30", "2025-01-02", person=people[0])  # belongs to 2024: not screened as 2025
    screen_year(2025, ["R05"])
    assert set(hits_of("R05")) == {"E1", "E2", "E3"}
    from claims.models import ScreeningHit

    assert ScreeningHit.objects.get(claim__claim_no="E1").evidence["enrolment_status"] == "unpaid"
    assert ScreeningHit.objects.get(claim__claim_no="E2").evidence == {"enrolment_id": None, "enrolment_status": None}


def test_r06_duplicates_under_other_numbers(regions):
    p = make_person(VILLAGE_A, seq=71)
    claim("D-1", "2025-04-01", "2025-04-05", person=p, total="8000.00")
    claim("D-3", "2025-04-01", "2025-04-05", person=p, total="8000.00", visit="special_outpatient")
    claim("D-2", "2025-04-01", "2025-04-05", person=p, total="8000.00")
    claim("D-4", "2025-04-01", "2025-04-05", person=p, total="8000.01")  # a cent apart
    claim("D-5", "2025-04-01", "2025-04-06", person=p, total="8000.00")  # another discharge day
    claim("D-1", "2025-04-01", "2025-04-05", person=p, total="8000.00", hosp=hospital("H002"))  # other hospital
    screen_year(2025, ["R06"])
    assert hits_of("R06") == {"D-2": ["D-1"], "D-3": ["D-1", "D-2"]}


def test_r07_above_three_times_the_median_of_thirty(regions):
    p = make_person(VILLAGE_A, seq=81)
    for i in range(28):
        claim(f"G{i:02d}", "2025-01-10", "2025-01-12", person=p, diag=f"J18.{i % 10}", total="1000.00")
    claim("G-AT", "2025-01-10", "2025-01-12", person=p, diag="J18.1", total="3000.00")  # exactly 3×: not above
    claim("G-ABOVE", "2025-01-10", "2025-01-12", person=p, diag="J18", total="3000.01")
    # The same diagnosis at another hospital level is another group (of 1).
    claim("G-TOWN", "2025-01-10", "2025-01-12", person=p, diag="J18.9", total="90000.00",
          hosp=hospital("T001", level="township"))
    # 29 claims only: too few for a median.
    for i in range(28):
        claim(f"K{i:02d}", "2025-01-10", "2025-01-12", person=p, diag="K35.8", total="1000.00")
    claim("K-BIG", "2025-01-10", "2025-01-12", person=p, diag="K35.8", total="50000.00")
    screen_year(2025, ["R07"])
    assert set(hits_of("R07")) == {"G-ABOVE"}
    from claims.models import ScreeningHit

    evidence = ScreeningHit.objects.get(claim__claim_no="G-ABOVE").evidence
    assert evidence == {"median": 1000.0, "group_size": 30, "k": 3, "threshold": 3000.0}


def test_r07_even_group_median_is_the_mean_of_the_middle_two(regions):
    p = make_person(VILLAGE_A, seq=83)
    for i in range(15):
        claim(f"L{i:02d}", "2025-02-01", "2025-02-02", person=p, diag="I10", total="100.00")
    for i in range(14):
        claim(f"H{i:02d}", "2025-02-01", "2025-02-02", person=p, diag="I10", total="100.10")
    claim("H-TOP", "2025-02-01", "2025-02-02", person=p, diag="I10", total="300.16")  # median 100.05 → 300.15
    screen_year(2025, ["R07"])
    assert set(hits_of("R07")) == {"H-TOP"}


def test_r08_seventh_admission_within_365_days(regions):
    busy = make_person(VILLAGE_A, seq=91)
    edge = make_person(VILLAGE_A, seq=93)
    for i, month in enumerate(range(1, 7)):
        claim(f"B{i}", f"2025-{month:02d}-01", f"2025-{month:02d}-03", person=busy)
        claim(f"E{i}", f"2025-{month:02d}-01", f"2025-{month:02d}-03", person=edge)
    claim("B6", "2025-12-31", "2026-01-02", person=busy)  # 365 days ending 12-31 start on 01-01: 7th
    claim("B-OUT", "2025-07-01", "2025-07-02", person=busy, visit="special_outpatient")  # not an admission
    claim("E6", "2026-01-01", "2026-01-03", person=edge)  # the window starts 2025-01-02: only 6
    claim("E7", "2026-01-01", "2026-01-04", person=edge, hosp=hospital("H002"))  # same day, later number: 7th
    screen_year(2025, ["R08"])
    screen_year(2026, ["R08"])
    assert hits_of("R08") == {"B6": ["B0", "B1", "B2", "B3", "B4", "B5"], "E7": ["E1", "E2", "E3", "E4", "E5", "E6"]}


def test_r09_long_stay_with_low_daily_cost(regions):
    p = make_person(VILLAGE_A, seq=95)
    claim("L1", "2025-01-01", "2025-02-01", person=p, total="3099.99")  # 31 days, 99.99…/day
    claim("L2", "2025-03-01", "2025-04-01", person=p, total="3100.00")  # exactly 100/day
    claim("L3", "2025-05-01", "2025-05-31", person=p, total="100.00")  # 30 days: not longer than 30
    claim("L4", "2025-06-01", "2025-08-01", person=p, total="100.00", visit="special_outpatient")
    screen_year(2025, ["R09"])
    assert set(hits_of("R09")) == {"L1"}
    from claims.models import ScreeningHit

    assert ScreeningHit.objects.get(claim__claim_no="L1").evidence == {
        "days": 31, "avg_daily_cost": 99.99, "daily_floor": 100.0}
