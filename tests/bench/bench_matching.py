"""The nightly matching at city scale (issue 7): full run time and peak memory of `manage.py run_matching`,
and the quality of probable links on generated lists with planted variants.

Sizes default to the issue's numbers; override with BENCH_MATCHING_PERSONS, _ENROLMENTS, _POVERTY, _CIVIL,
_DEATHS, _DISABILITY. Data is generated with COPY / INSERT … SELECT (triggers off: it is test data).
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench.harness import ROOT, Entry

SIZES = {
    "persons": 300_000, "enrolments": 5_000_000, "poverty": 300_000, "civil": 200_000, "deaths": 50_000,
    "disability": 60_000,
}
# Planted variants of ledger persons in the poverty list, per 300,000 persons (scaled with the ledger).
VARIANTS_PER_300K = {"typo": 1500, "transposition": 1500, "legacy15": 800, "variant_typo": 700,
                     "variant_exact": 700, "decoy": 1500}
OTHER_COUNTIES = ("110101", "310104", "440106", "510107", "420102", "360102", "450103", "500103")


def sizes() -> dict[str, int]:
    return {name: int(os.environ.get(f"BENCH_MATCHING_{name.upper()}", default)) for name, default in SIZES.items()}


def run() -> list[Entry]:
    n = sizes()
    rng = random.Random(7)
    today = dt.date.today()
    started = time.perf_counter()
    persons = seed_ledger(n["persons"])
    others = seed_enrolments(persons, n["enrolments"], today.year, rng)
    inbox = Path(tempfile.mkdtemp(prefix="bench_inbox_"))
    truth = write_inbox(inbox, persons, n, rng, today, others)
    print(f"   生成数据 {time.perf_counter() - started:.0f} 秒", flush=True)
    try:
        first, first_seconds, first_rss = run_command(inbox)
        second, second_seconds, _ = run_command(inbox)
    finally:
        shutil.rmtree(inbox, ignore_errors=True)
    precision, recall, proposed = link_quality(truth)
    print(f"   第一次 {first_seconds:.1f} 秒 {first_rss:.0f} MB {first['counts']}；第二次 {second_seconds:.1f} 秒；"
          f"疑似关联 {proposed}，准确率 {precision:.4f}，召回率 {recall:.4f}", flush=True)
    assert first["counts"] == second["counts"]
    return [
        Entry("matching full run (city scale)", first_seconds, "s", "limit", 300.0, first_seconds / 300.0),
        Entry("matching full run peak memory", first_rss, "MB", "limit", 4096.0, first_rss / 4096.0),
        Entry("matching second run (no new files)", second_seconds, "s", "first run", first_seconds,
              second_seconds / first_seconds),
        Entry("matching probable links precision", precision, "ratio", "goal", 0.99, precision / 0.99),
        Entry("matching probable links recall", recall, "ratio", "goal", 0.97, recall / 0.97),
        Entry("matching differences found", float(sum(first["counts"].values())), "items"),
    ]


# --- the ledger and the enrolment table ---------------------------------------------------------------------

def seed_ledger(count: int) -> list[tuple]:
    from django.db import connection

    from poverty_registry.demo import seed_persons

    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        seed_persons(count, 11)
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute("ANALYZE")
        cursor.execute("SELECT p.id_number, p.name, p.region_id, p.birth_date, "
                       "  array_remove(array_agg(c.category) FILTER (WHERE c.valid_to IS NULL), NULL) "
                       "FROM poverty_registry_person p LEFT JOIN poverty_registry_personcategory c "
                       "  ON c.person_id = p.id GROUP BY p.id ORDER BY p.id")
        return cursor.fetchall()


CHECK_SQL = "substr('10X98765432', ((" + " + ".join(
    f"substr(f, {i + 1}, 1)::int * {w}" for i, w in enumerate((7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2))
) + ") %% 11) + 1, 1)"  # %% : the statement has parameters


def synthetic_first17(n_expr: str) -> str:
    """A first-17 of someone outside the ledger (born in another province), unique per row number."""
    counties = "ARRAY[" + ",".join(f"'{c}'" for c in OTHER_COUNTIES) + "]"
    return (f"({counties})[({n_expr}) %% {len(OTHER_COUNTIES)} + 1] || "
            f"to_char(date '1940-01-01' + ((({n_expr}) / {len(OTHER_COUNTIES)}) %% 25000)::int, 'YYYYMMDD') || "
            f"lpad(((({n_expr}) / {len(OTHER_COUNTIES)} / 25000) %% 1000)::text, 3, '0')")


def synthetic_id(n: int) -> str:
    from poverty_registry.idnumber import check_char

    k = len(OTHER_COUNTIES)
    first17 = (OTHER_COUNTIES[n % k] + (dt.date(1940, 1, 1) + dt.timedelta(days=(n // k) % 25000)).strftime("%Y%m%d")
               + f"{(n // k // 25000) % 1000:03d}")
    return first17 + check_char(first17)


def seed_enrolments(persons: list[tuple], total: int, year: int, rng: random.Random) -> int:
    """95% of the ledger enrolled this year (the rest unpaid or missing), the remaining rows the city's others."""
    from django.db import connection

    from poverty_registry.importing import copy_rows

    now = dt.datetime.now(dt.UTC)
    ledger_rows = []
    for id_number, name, region, _, _ in persons:
        draw = rng.random()
        if draw < 0.95:
            ledger_rows.append((id_number, name, year, "enrolled", region, now))
        elif draw < 0.97:
            ledger_rows.append((id_number, name, year, "unpaid", region, now))
    others = max(0, total - len(ledger_rows))
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        copy_rows("enrollment_enrolment", ("id_number", "name", "year", "status", "region_id", "updated_at"),
                  ledger_rows)
        cursor.execute("SELECT array_agg(code ORDER BY code) FROM poverty_registry_region WHERE level = 5")
        villages = cursor.fetchone()[0]
        cursor.execute(f"""
            INSERT INTO enrollment_enrolment (id_number, name, year, status, region_id, updated_at)
            SELECT f || {CHECK_SQL}, '参保人' || n, %s, 'enrolled', (%s::text[])[n %% %s + 1], now()
              FROM generate_series(0, %s - 1) n, LATERAL (SELECT {synthetic_first17('n')} AS f) g
        """, [year, villages, len(villages), others])
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute("ANALYZE enrollment_enrolment")
    print(f"   参保记录 {len(ledger_rows) + others:,} 条", flush=True)
    return others


# --- the inbox ----------------------------------------------------------------------------------------------

def write_inbox(inbox: Path, persons: list[tuple], n: dict, rng: random.Random, today: dt.date,
                enrolled_others: int) -> dict[str, str]:
    """Write the five lists; return the planted probable links: listed number → the ledger person's number."""
    truth: dict[str, str] = {}
    poverty = poverty_rows(persons, n, rng, truth)
    stamp = today.strftime("%Y%m%d")
    write(inbox, "poverty", stamp, ["身份证号", "姓名", "户编号", "人员类别", "脱贫状态", "所在村代码"], poverty)
    write(inbox, "civil_affairs", stamp, ["身份证号", "姓名", "救助类别", "起始日期", "终止日期"],
          civil_rows(persons, n["civil"], rng))
    write(inbox, "deaths", stamp, ["身份证号", "姓名", "死亡日期"],
          death_rows(persons, n["deaths"], rng, today, enrolled_others))
    write(inbox, "disability", stamp, ["身份证号", "姓名", "残疾类别", "残疾等级"],
          disability_rows(persons, n["disability"], rng))
    return truth


def write(inbox: Path, source: str, stamp: str, header: list[str], rows) -> None:
    folder = inbox / source
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"{source}_{stamp}.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def variant_name(name: str, rng: random.Random) -> str:
    from poverty_registry.matching.linkage import VARIANTS

    traditional = {new: old for old, new in VARIANTS.items() if len(old) == 1 and "\u4e00" <= old <= "\u9fff"}
    chars = [i for i, ch in enumerate(name) if ch in traditional]
    if chars and rng.random() < 0.6:
        i = rng.choice(chars)
        return name[:i] + traditional[name[i]] + name[i + 1:]
    if rng.random() < 0.5:
        return name[0] + " " + name[1:]
    return name[0] + "\u3000" + name[1:]


def typo(number: str, rng: random.Random) -> str:
    position = rng.randrange(0, 18)
    alphabet = "0123456789" if position < 17 else "0123456789X"
    return number[:position] + rng.choice([c for c in alphabet if c != number[position]]) + number[position + 1:]


def transposition(number: str, rng: random.Random) -> str | None:
    positions = [i for i in range(16) if number[i] != number[i + 1]]
    if not positions:
        return None
    i = rng.choice(positions)
    return number[:i] + number[i + 1] + number[i] + number[i + 2:]


def poverty_rows(persons, n, rng, truth) -> list[list]:
    from poverty_registry.demo import GIVEN, SURNAMES
    from poverty_registry.idnumber import IdNumberError, check_char, parse_id_number

    scale = len(persons) / 300_000
    planted = {kind: int(count * scale) for kind, count in VARIANTS_PER_300K.items()}
    order = list(range(len(persons)))
    rng.shuffle(order)
    missing = int(len(persons) * 0.02)
    listed, cursor = order[missing:], 0
    rows = []
    kinds = [kind for kind, count in planted.items() if kind != "decoy" for _ in range(count)]
    variant_of = dict(zip(listed, kinds))
    ledger_ids = {p[0] for p in persons}
    for index in listed:
        number, name, region, birth, _ = persons[index]
        kind = variant_of.get(index)
        shown_number, shown_name = number, name
        if kind == "typo":
            shown_number = typo(number, rng)
        elif kind == "transposition":
            shown_number = transposition(number, rng) or typo(number, rng)
        elif kind == "legacy15" and number[6:8] == "19":
            shown_number = number[:6] + number[8:17]
        elif kind == "variant_typo":
            shown_number, shown_name = typo(number, rng), variant_name(name, rng)
        elif kind == "variant_exact":
            shown_name = variant_name(name, rng)
        if shown_number != number:
            try:
                if parse_id_number(shown_number).number in ledger_ids and len(shown_number) == 18:
                    shown_number = number  # the "typo" hit another real number: leave this row exact
            except IdNumberError:
                pass
        if shown_number != number:
            truth[shown_number] = number
        rows.append([shown_number, shown_name, f"H{index}", "脱贫人口", "已脱贫", region])
        cursor += 1
    decoys = 0
    for index in order[: planted["decoy"]]:
        number = persons[index][0]
        first17 = number[:14] + f"{(int(number[14:17]) + rng.randrange(1, 999)) % 1000:03d}"
        other = first17 + check_char(first17)
        if other in ledger_ids:
            continue
        name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=2))
        rows.append([other, name, f"D{index}", "脱贫人口", "未脱贫", persons[index][2]])
        decoys += 1
    extra = n["poverty"] - len(rows)
    for k in range(max(0, extra)):
        name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=2))
        rows.append([synthetic_id(10_000_000 + k), name, f"X{k}", "脱贫人口", "未脱贫", rng.choice(persons)[2]])
    rng.shuffle(rows)
    return rows


def civil_rows(persons, total, rng) -> list[list]:
    rows = []
    for number, name, _, _, categories in persons:
        held = [c for c in categories or () if c in ("dibao", "tekun")]
        if not held:
            continue
        category = held[0]
        if rng.random() < 0.03:  # civil affairs ended it: M04 "we hold, they do not"
            rows.append([number, name, CIVIL_LABEL[category], "2019-01-01", "2023-12-31"])
        else:
            rows.append([number, name, CIVIL_LABEL[category], "2019-01-01", ""])
        if len(rows) >= total * 0.4:
            break
    poor = [p for p in persons if not set(p[4] or ()) & {"dibao", "tekun"}]
    for number, name, _, _, _ in rng.sample(poor, min(len(poor), int(total * 0.05))):
        rows.append([number, name, "低保对象", "2024-01-01", ""])  # M04 "they have, we do not"
    k = 0
    while len(rows) < total:
        rows.append([synthetic_id(20_000_000 + k), f"民政{k}", rng.choice(("低保对象", "低保边缘", "特困供养人员")),
                     "2022-01-01", ""])
        k += 1
    return rows


CIVIL_LABEL = {"dibao": "低保对象", "tekun": "特困供养人员"}


def death_rows(persons, total, rng, today, enrolled_others: int) -> list[list]:
    rows = []
    for number, name, _, _, _ in rng.sample(persons, min(len(persons), int(total * 0.06))):
        rows.append([number, name, (today - dt.timedelta(days=rng.randrange(1, 300))).isoformat()])
    # Enrolled this year (synthetic rows of the enrolment table), not in the ledger.
    for k in rng.sample(range(enrolled_others), min(enrolled_others, int(total * 0.1))):
        rows.append([synthetic_id(k), f"参保人{k}", (today - dt.timedelta(days=30)).isoformat()])
    k = 0
    while len(rows) < total:
        rows.append([synthetic_id(30_000_000 + k), f"逝者{k}", "2023-05-01"])
        k += 1
    return rows


def disability_rows(persons, total, rng) -> list[list]:
    rows = []
    for number, name, _, _, _ in rng.sample(persons, min(len(persons), int(total * 0.25))):
        grade = rng.choice(("一级", "二级", "三级", "四级"))
        rows.append([number, name, rng.choice(("肢体", "视力", "听力", "智力")), grade])
    k = 0
    while len(rows) < total:
        rows.append([synthetic_id(40_000_000 + k), f"残疾人{k}", "肢体", rng.choice(("一级", "三级"))])
        k += 1
    return rows


# --- measuring ----------------------------------------------------------------------------------------------

def run_command(inbox: Path) -> tuple[dict, float, float]:
    """`manage.py run_matching --json` as a child process: its wall time and its own peak RSS (MB)."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "manage.py", "run_matching", "--inbox", str(inbox), "--json"],
                               cwd=ROOT, stdout=subprocess.PIPE, env={**os.environ, "DEBUG": "1"})
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise RuntimeError(f"run_matching failed ({status})")
    return json.loads(output), seconds, usage.ru_maxrss / 1024


def link_quality(truth: dict[str, str]) -> tuple[float, float, int]:
    from poverty_registry.models import MatchLink

    proposed = list(MatchLink.objects.filter(status="proposed").values_list("match_key", "person__id_number"))
    correct = sum(1 for key, number in proposed if truth.get(key) == number)
    precision = correct / len(proposed) if proposed else 0.0
    found = {key for key, number in proposed if truth.get(key) == number}
    recall = len(found) / len(truth) if truth else 0.0
    return precision, recall, len(proposed)
