"""Demo data at scale: households, persons with valid ID numbers, and categories, written with COPY."""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from django.db import connection, transaction

from .idnumber import check_char
from .models import Household, Person, PersonCategory, Region

SURNAMES = (
    "李王张刘陈杨黄赵周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
    "余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国建华志强淑珍玉兰海燕红梅小红春花德明永红立新国强"
CATEGORY_WEIGHTS = (("tuopin", 55), ("dibao", 15), ("monitor", 10), ("tekun", 5), ("low_income", 10), (None, 5))
STATUS_WEIGHTS = (("lifted", 80), ("monitored", 12), ("not_lifted", 8))
RELATIONS = ("配偶", "子", "女", "父亲", "母亲", "孙子", "孙女", "儿媳")


@dataclass
class SeedResult:
    households: int
    persons: int
    categories: int


def _weighted(rng: random.Random, table):
    values, weights = zip(*table)
    return rng.choices(values, weights=weights)[0]


def _reserve_ids(model, count: int) -> int:
    """Take a block of ids from the table's sequence; returns the first."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [model._meta.db_table])
        seq = cursor.fetchone()[0]
        cursor.execute("SELECT nextval(%s)", [seq])
        first = cursor.fetchone()[0]
        cursor.execute("SELECT setval(%s, %s)", [seq, first + count])
    return first


def _copy(model, columns: list[str], rows) -> None:
    with connection.cursor() as cursor, cursor.connection.cursor().copy(
        f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN"
    ) as copy:
        for row in rows:
            copy.write_row(row)


def _id_number(rng: random.Random, county: str, used: set[str]) -> tuple[str, dt.date, str]:
    while True:
        birth = dt.date(1935, 1, 1) + dt.timedelta(days=rng.randrange(0, 31000))
        first17 = f"{county}{birth:%Y%m%d}{rng.randrange(0, 1000):03d}"
        number = first17 + check_char(first17)
        if number not in used:
            used.add(number)
            return number, birth, "M" if int(first17[16]) % 2 else "F"


def seed_persons(persons: int, seed: int, chunk: int = 100_000) -> SeedResult:
    """Build about `persons` persons in households of 1–6 under the demo villages."""
    rng = random.Random(seed)
    villages = list(Region.objects.filter(level=5).values_list("code", flat=True).order_by("code"))
    if not villages:
        raise ValueError("没有村（社区）区划，请先运行 load_regions")
    used = set(Person.objects.values_list("id_number", flat=True))
    start_no = Household.objects.count()
    now = dt.datetime.now(dt.UTC)
    made = SeedResult(0, 0, 0)
    while made.persons < persons:
        size = min(chunk, persons - made.persons)
        with transaction.atomic():
            made_chunk = _seed_chunk(rng, villages, used, size, start_no + made.households, now)
        made.households += made_chunk.households
        made.persons += made_chunk.persons
        made.categories += made_chunk.categories
    return made


def _seed_chunk(rng, villages, used, size, household_offset, now) -> SeedResult:
    households, persons, categories = [], [], []
    while len(persons) < size:
        village = rng.choice(villages)
        household_no = f"{village}{household_offset + len(households) + 1:07d}"
        members = min(rng.randint(1, 6), size - len(persons))
        status = _weighted(rng, STATUS_WEIGHTS)
        category = _weighted(rng, CATEGORY_WEIGHTS)
        households.append((household_no, village))
        for m in range(members):
            number, birth, sex = _id_number(rng, village[:6], used)
            name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.randint(1, 2)))
            relation = "户主" if m == 0 else rng.choice(RELATIONS)
            persons.append([number, name, sex, birth, len(households) - 1, relation, m == 0, village, status])
            if category:
                since = dt.date(2016, 1, 1) + dt.timedelta(days=rng.randrange(0, 1800))
                categories.append((len(persons) - 1, category, since))
            if rng.random() < 0.04:
                categories.append((len(persons) - 1, "severe_disability", dt.date(2015, 6, 1)))
    first_household = _reserve_ids(Household, len(households))
    first_person = _reserve_ids(Person, len(persons))
    _copy(Household, ["id", "household_no", "region_id", "created_at", "updated_at"],
          ((first_household + i, no, village, now, now) for i, (no, village) in enumerate(households)))
    _copy(Person, ["id", "id_number", "name", "sex", "birth_date", "household_id", "relation", "is_head",
                   "region_id", "poverty_status", "phone", "created_at", "updated_at"],
          ((first_person + i, p[0], p[1], p[2], p[3], first_household + p[4], p[5], p[6], p[7], p[8], "", now, now)
           for i, p in enumerate(persons)))
    _copy(PersonCategory, ["person_id", "category", "valid_from", "source"],
          ((first_person + i, category, since, "seed") for i, category, since in categories))
    return SeedResult(len(households), len(persons), len(categories))
