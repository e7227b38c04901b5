"""Demo data that makes every page of a fresh `make run` meaningful (setup_demo, after the bulk seed): claims
planted to trip each screening rule R01–R09 and their screening run, a supervision case in each state, a
matching inbox with every difference M01–M07 and its run, a re-settlement after a policy change, and issued
subsidy reports. Each part is done once: a second `setup_demo` finds it and leaves it alone.

The matching inbox is the one the matching tests plant (tests/matching/scenario.py calls
`plant_every_difference`); the demo adds the whole ledger to the department lists, so that only the
planted persons differ."""
from __future__ import annotations

import csv
import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.utils import timezone

from enrollment.models import Enrolment, SubsidyReport
from poverty_registry.idnumber import check_char
from poverty_registry.models import Household, MatchingRun, Person, PersonCategory, Region
from poverty_registry.vocab import ASSISTANCE_CATEGORIES, CATEGORIES, DISABILITY_GRADES, POVERTY_STATUSES

from .models import Case, Claim, Hospital, ScreeningHit, ScreeningRun
from .settlement.models import ResettleRun

DEMO = "演示数据初始化"  # triggered_by of the demo's runs
CLAIM_PREFIX = "JGYS"  # claim numbers of the claims planted for the screening rules
VILLAGE_A, VILLAGE_B = "430621100201", "430626100201"  # 岳阳县荣家湾镇 (the demo clerk xiangzhen's), 平江县汉昌镇

TUOPIN, LIFTED = CATEGORIES["tuopin"], POVERTY_STATUSES["lifted"]  # as the poverty office's list spells them


# ---- matching: every difference M01–M07 ---------------------------------------------------------------------

HEADERS = {
    "poverty": ["身份证号", "姓名", "户编号", "人员类别", "脱贫状态", "所在村代码"],
    "civil_affairs": ["身份证号", "姓名", "救助类别", "起始日期", "终止日期"],
    "deaths": ["身份证号", "姓名", "死亡日期"],
    "disability": ["身份证号", "姓名", "残疾类别", "残疾等级"],
    "enrolment": ["身份证号", "姓名", "参保年度", "参保状态", "缴费日期", "参保地区划"],
}


def id_for(county: str, birth: str, seq: int) -> str:
    first17 = f"{county}{birth}{seq:03d}"
    return first17 + check_char(first17)


def one_digit_typo(number: str, position: int = 15) -> str:
    digit = str((int(number[position]) + 1) % 10)
    return number[:position] + digit + number[position + 1:]


def write_list(inbox: Path, source: str, rows: list[list], name: str | None = None, encoding: str = "utf-8",
               header: list[str] | None = None) -> Path:
    folder = Path(inbox) / source
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or f"{source}_20240601.csv")
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header or HEADERS[source])
        writer.writerows(rows)
    return path


def make_person(village: str, *, seq: int = 1, name: str = "张三", birth: str = "19800101", household_no=None,
                relation="户主") -> Person:
    first17 = f"{village[:6]}{birth}{seq:03d}"
    household, _ = Household.objects.get_or_create(household_no=household_no or f"{village}{seq:05d}",
                                                   defaults={"region_id": village})
    return Person.objects.create(id_number=first17 + check_char(first17), name=name, household=household,
                                 relation=relation, region_id=village)


@dataclass
class Planted:
    """What was planted: persons by role and the expected counts per difference."""

    persons: dict = field(default_factory=dict)
    outsiders: dict = field(default_factory=dict)
    expected: dict = field(default_factory=dict)


def plant_every_difference(inbox: Path, run_date: dt.date, *, village_a: str = VILLAGE_A,
                           village_b: str = VILLAGE_B, birth_year: int | None = None,
                           extra_rows: dict[str, list[list]] | None = None) -> Planted:
    """Ledger persons, enrolments and five department lists (dated the first of the run's month) with each of
    M01–M07 planted once or twice. `birth_year` replaces the year of every planted birth date (to keep clear
    of persons already in the ledger); `extra_rows` are added to the lists (the rest of the ledger)."""
    def birth(date: str) -> str:
        return f"{birth_year}{date[4:]}" if birth_year else date

    planted = Planted()
    p = planted.persons
    p["fine"] = make_person(village_a, seq=11, name="甲一", birth=birth("19800101"))
    p["unenrolled"] = make_person(village_a, seq=12, name="乙二", birth=birth("19800101"))  # M01
    p["unlisted"] = make_person(village_a, seq=13, name="丙三", birth=birth("19800101"))  # M03
    p["dibao"] = make_person(village_a, seq=14, name="丁四", birth=birth("19800101"))  # M04 missing 低保
    p["tekun"] = make_person(village_a, seq=15, name="戊五", birth=birth("19800101"))  # M04 extra 特困
    p["disabled"] = make_person(village_a, seq=16, name="己六", birth=birth("19800101"))  # M04 重度残疾
    p["dead"] = make_person(village_a, seq=17, name="庚七", birth=birth("19800101"))  # M05
    p["renamed"] = make_person(village_a, seq=18, name="王五", birth=birth("19800101"))  # M06
    p["typo"] = make_person(village_a, seq=19, name="辛九", birth=birth("19750304"))  # M07
    p["spaced"] = make_person(village_a, seq=20, name="欧阳娜", birth=birth("19800101"))  # written "欧阳 娜" (not M06)
    p["far"] = make_person(village_b, seq=21, name="汉昌壬", birth=birth("19800101"))  # M01 in township B
    PersonCategory.objects.create(person=p["tekun"], category="tekun", valid_from=dt.date(2020, 1, 1))
    PersonCategory.objects.create(person=p["fine"], category="dibao", valid_from=dt.date(2023, 1, 1))
    for key, person in p.items():
        if key not in ("unenrolled", "far"):
            Enrolment.objects.create(id_number=person.id_number, name=person.name, year=run_date.year,
                                     status="enrolled", region_id=person.region_id, person=person)
    Enrolment.objects.create(id_number=p["unenrolled"].id_number, name="乙二", year=run_date.year, status="unpaid",
                             region_id=village_a)
    o = planted.outsiders
    o["not_in_ledger"] = id_for(village_a[:6], birth("19900101"), 31)  # M02
    o["enrolled_dead"] = id_for(village_a[:6], birth("19500505"), 32)  # M05 (enrolled, not in ledger)
    o["civil_only"] = id_for("430602", birth("19600101"), 33)
    Enrolment.objects.create(id_number=o["enrolled_dead"], name="癸十", year=run_date.year, status="enrolled",
                             region_id=village_a[:9])

    def listed(key, name=None):
        return [p[key].id_number, name or p[key].name, f"H{p[key].pk}", TUOPIN, LIFTED, p[key].region_id]

    extra = extra_rows or {}
    name = f"_{run_date.replace(day=1):%Y%m%d}.csv"
    write_list(inbox, "poverty", [
        listed("fine"), listed("unenrolled"), listed("dibao"), listed("tekun"), listed("disabled"), listed("dead"),
        listed("renamed", "王伍"), listed("spaced", "欧阳 娜"), listed("far"),
        [one_digit_typo(p["typo"].id_number), "辛九", "H19", TUOPIN, LIFTED, village_a],
        [o["not_in_ledger"], "外来人", "H31", TUOPIN, LIFTED, village_a],
        *extra.get("poverty", []),
    ], name="poverty" + name)
    write_list(inbox, "civil_affairs", [
        [p["dibao"].id_number, "丁四", ASSISTANCE_CATEGORIES["dibao"], "2024-01-01", ""],
        [p["fine"].id_number, "甲一", ASSISTANCE_CATEGORIES["dibao"], "2023-01-01", "2025-12-31"],
        # ended: civil affairs has none in force
        [p["tekun"].id_number, "戊五", ASSISTANCE_CATEGORIES["tekun"], "2019-01-01", "2023-12-31"],
        [o["civil_only"], "民政外", ASSISTANCE_CATEGORIES["dibao_edge"], "2024-01-01", ""],
        *extra.get("civil_affairs", []),
    ], name="civil_affairs" + name)
    write_list(inbox, "deaths", [
        [p["dead"].id_number, "庚七", "2024-03-05"],
        [o["enrolled_dead"], "癸十", "2024-02-01"],
        [id_for("430602", birth("19300101"), 34), "无关者", "2024-01-09"],
        *extra.get("deaths", []),
    ], name="deaths" + name)
    write_list(inbox, "disability", [
        [p["disabled"].id_number, "己六", "肢体", DISABILITY_GRADES[1]],
        [p["fine"].id_number, "甲一", "视力", DISABILITY_GRADES[3]],
        *extra.get("disability", []),
    ], name="disability" + name)
    planted.expected = {"M01": 2, "M02": 1, "M03": 1, "M04": 3, "M05": 2, "M06": 1, "M07": 1}
    return planted


ASSISTANCE_LABELS = {code: ASSISTANCE_CATEGORIES[code] for code in ("dibao", "tekun")}


def ledger_rows(run_date: dt.date) -> dict[str, list[list]]:
    """The department lists as they would be if they agreed with the ledger: every person on the poverty
    list, every 低保/特困 span in force with civil affairs, every 重度残疾 with the disability federation."""
    poverty = [[number, name, household, TUOPIN, LIFTED, region] for number, name, household, region in
               Person.objects.filter(death_date__isnull=True).order_by("id")
               .values_list("id_number", "name", "household__household_no", "region_id")]
    spans = (PersonCategory.objects.filter(valid_from__lte=run_date).exclude(valid_to__lt=run_date)
             .order_by("person_id"))
    civil = [[number, name, ASSISTANCE_LABELS[category], since.isoformat(), ""] for number, name, category, since in
             spans.filter(category__in=ASSISTANCE_LABELS).values_list("person__id_number", "person__name",
                                                                      "category", "valid_from")]
    disability = [[number, name, "肢体", DISABILITY_GRADES[1]] for number, name in
                  spans.filter(category="severe_disability").values_list("person__id_number", "person__name")]
    return {"poverty": poverty, "civil_affairs": civil, "disability": disability}


def seed_matching(inbox: Path, today: dt.date) -> MatchingRun | None:
    """The demo inbox (the ledger's lists plus every planted difference) and one run over it."""
    from poverty_registry.matching.run import run_now

    if MatchingRun.objects.exists():
        return None
    # Born after the bulk seed's last birth date (2019): no planted number can be a seeded person's.
    plant_every_difference(Path(inbox), today, birth_year=2021, extra_rows=ledger_rows(today))
    return run_now(inbox, DEMO, today)


# ---- supervision: a hit of every rule, a case in every state ------------------------------------------------

def demo_year(today: dt.date) -> int:
    """The year the planted claims fall in: this year once it has three months behind it."""
    return today.year if today.month >= 4 else today.year - 1


def _persons(year: int, count: int) -> list[Person]:
    """Living persons of the demo county with no claim yet, enrolled for the year (R05's is taken apart)."""
    enrolled = Enrolment.objects.filter(year=year, status="enrolled").values("id_number")
    return list(Person.objects.filter(region__code__startswith="430621", death_date__isnull=True, claims__isnull=True,
                                      id_number__in=enrolled).order_by("id")[:count])


def plant_rule_claims(year: int) -> list[Claim]:
    """Claims that trip each of R01–R09 (R07 needs the year's other claims of its diagnosis: the seed's)."""
    county = Hospital.objects.filter(code="H43062100001").first()
    township = Hospital.objects.filter(code="H43062110001").first()
    if county is None or township is None:
        return []
    people = _persons(year, 9)
    unenrolled = (Person.objects.filter(region__code__startswith="430621", claims__isnull=True, death_date__isnull=True)
                  .exclude(id_number__in=Enrolment.objects.filter(year=year).values("id_number")).first())
    males = [p for p in people if p.sex == "M"]
    if len(people) < 9 or unenrolled is None or not males:
        return []
    r04 = males[0]
    others = [p for p in people if p != r04]
    base = dt.date(year, 1, 10)
    day = dt.timedelta(days=1)
    specs = []  # (person, hospital, admission, days, diagnosis, total)

    def add(person, hospital, start, days, diagnosis, total):
        specs.append((person, hospital, base + start * day, days, diagnosis, Decimal(total)))

    r01, r02, r03, r06, r07, r08, r09 = others[:7]
    Person.objects.filter(pk=r01.pk).update(death_date=base + 10 * day)  # admitted after death
    add(r01, county, 20, 6, "J18.900", "5200.00")
    add(r02, county, 0, 10, "I63.900", "9800.00")  # two stays overlapping
    add(r02, township, 5, 7, "I10.X00", "2600.00")
    add(r03, township, 0, 6, "J18.900", "3100.00")  # readmitted 4 days after discharge, same diagnosis
    add(r03, township, 10, 5, "J18.000", "2900.00")
    add(r04, county, 3, 4, "O80.000", "4200.00")  # a man giving birth
    add(unenrolled, county, 8, 5, "K80.200", "7600.00")  # not enrolled in the year
    add(r06, county, 12, 3, "E11.900", "3800.00")  # the same bill twice
    add(r06, county, 12, 3, "E11.900", "3800.00")
    add(r07, county, 15, 12, "J18.900", "480000.00")  # far above the diagnosis's median
    for i in range(7):  # seven admissions within a year
        add(r08, township, i * 9, 3, "I10.X00", "1500.00")
    add(r09, township, 2, 40, "N18.500", "2400.00")  # 40 days at 60 yuan a day
    claims = [Claim(hospital=h, claim_no=f"{CLAIM_PREFIX}{year}{i:04d}", hospital_level=h.level, in_county=True,
                    visit_type="inpatient", id_number=p.id_number, name=p.name, person=p, admission_date=start,
                    discharge_date=start + days * day, diagnosis=diagnosis, total_cost=total,
                    uncovered_cost=Decimal("0.00"), year=start.year, region_id=p.region_id)
              for i, (p, h, start, days, diagnosis, total) in enumerate(specs)]
    return Claim.objects.bulk_create(claims)


def screen_demo_years(years: list[int]) -> ScreeningRun:
    from .supervision.screening_runs import begin, execute

    run = begin(years, DEMO)
    return execute(run.pk)


def plant_cases(first, second) -> list[Case]:
    """One case in each state, from planted hits: `first` opens and investigates, `second` reviews."""
    from .supervision import cases as case_service

    hits = {h.rule: h for h in ScreeningHit.objects.filter(claim__claim_no__startswith=CLAIM_PREFIX)
            .select_related("claim__hospital").order_by("id")}
    wanted = ("R09", "R08", "R06", "R01", "R03", "R02")
    if any(rule not in hits for rule in wanted):
        return []
    made = []

    def opened(rule, note=""):
        case = case_service.open_case_from_hits(first, [hits[rule].pk], description=note)
        made.append(case)
        return case

    def investigated(rule):
        return case_service.start_investigation(opened(rule), first, "调取病历及费用明细")

    def confirmed(rule, penalty):
        case = investigated(rule)
        claim = hits[rule].claim
        case = case_service.record_findings(case, first, amount_to_recover=claim.total_cost,
                                            penalty_multiple=penalty, target_kind="hospital",
                                            target_hospital=claim.hospital, finding="经核查，违规结算属实")
        return case_service.confirm(case, second, "同意认定")

    opened("R09", "住院天数长、日均费用低，待核实是否挂床")
    investigated("R08")
    confirmed("R06", None)
    recovering = case_service.start_recovery(confirmed("R01", Decimal("2")), first, "已向医疗机构发出追缴通知")
    case_service.add_recovery(recovering, first, amount=(recovering.balance / 2).quantize(Decimal("0.01")),
                              paid_on=timezone.localdate(), payer=recovering.target_hospital.name,
                              receipt_no="ZJ-0001")
    case_service.dismiss(investigated("R03"), second, "两次住院诊断相同但病情确需再次入院，非分解住院")
    closing = case_service.start_recovery(confirmed("R02", None), first)
    case_service.add_recovery(closing, first, amount=closing.balance, paid_on=timezone.localdate(),
                              payer=closing.target_hospital.name, receipt_no="ZJ-0002")
    case_service.close(closing, first, "款项已全部追回")
    return made


def seed_supervision(first, second, today: dt.date) -> dict:
    year = demo_year(today)
    planted = 0
    if not Claim.objects.filter(claim_no__startswith=CLAIM_PREFIX).exists():
        from .settlement.services import settle_person_years

        claims = plant_rule_claims(year)
        settle_person_years({(c.id_number, c.year) for c in claims}, reason="演示数据结算")
        planted = len(claims)
    run = None
    if not ScreeningRun.objects.exists():
        run = screen_demo_years(sorted({year, today.year}))
    cases = [] if Case.objects.exists() else plant_cases(first, second)
    return {"rule_claims": planted, "hits": run.total_hits if run else None, "cases": len(cases)}


# ---- settlement and subsidies ---------------------------------------------------------------------------------

def seed_resettlement(user, year: int) -> ResettleRun | None:
    """A policy change (tier 1's ratio in township and county hospitals raised by 2 points) and the year
    re-settled."""
    from .settlement.policy_sets import params_of, policy_for, save_version
    from .settlement.services import REASON_POLICY, resettle_year

    if ResettleRun.objects.exists():
        return None
    city = Region.objects.filter(level=2).order_by("code").first()
    params = params_of(policy_for(year, city.code))
    ratio = params.basic.ratio
    step = Decimal("0.02")
    raised = dataclasses.replace(ratio, township=ratio.township + step, county=ratio.county + step)
    changed = dataclasses.replace(params, basic=dataclasses.replace(params.basic, ratio=raised))
    policy = save_version(year, city, changed, user=user, note="演示：乡镇、县级医院基本医保报销比例各提高2个百分点")
    run = ResettleRun.objects.create(year=year, region=city, reason=REASON_POLICY, policy=policy, created_by=user)
    return resettle_year(run.pk)


def seed_reports(issuers: list[tuple[str, object]], year: int) -> list[SubsidyReport]:
    """Issued (frozen) subsidy reports of the year: one per (region code, issuer)."""
    from enrollment.subsidy_reports import NothingToIssue, issue_report

    if SubsidyReport.objects.exists():
        return []
    made = []
    for region_code, user in issuers:
        try:
            made.append(issue_report(year, region_code, user))
        except NothingToIssue:
            continue
    return made
