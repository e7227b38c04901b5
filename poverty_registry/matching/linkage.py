"""Record linkage (DOMAIN §8.2): exact on the normalised ID number, then probable links with a score.

Blocking happens in PostgreSQL (hash joins, never all pairs): the ID's first 17 digits with two adjacent
positions masked (catches a one-character typo, a transposition, a wrong check character), the 15-digit
number converted, and name key + birth date (two typos). Candidate pairs are scored here with a
Fellegi–Sunter sum of log2 weights (rapidfuzz for the string distances); the README says why.
Probable links are proposed, never applied: a person confirms or rejects them (MatchLink).
"""
from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from rapidfuzz.distance import OSA, Levenshtein

from ..idnumber import to_halfwidth
from ..importing import stage
from ..models import MatchingRecord, MatchingSourceFile, MatchLink, Person
from .vocab import LINKED_SOURCES

# Variant characters (异体字) and traditional forms common in names → the standard simplified character.
# Used only for linkage; for M06 a variant character still counts as a different name (§8.3).
VARIANTS = {
    "陳": "陈", "張": "张", "劉": "刘", "楊": "杨", "黃": "黄", "趙": "赵", "吳": "吴", "孫": "孙", "鄭": "郑",
    "謝": "谢", "韓": "韩", "馮": "冯", "鄧": "邓", "許": "许", "蕭": "萧", "葉": "叶", "盧": "卢", "蔣": "蒋",
    "賈": "贾", "閻": "阎", "錢": "钱", "湯": "汤", "龍": "龙", "萬": "万", "顧": "顾", "羅": "罗", "馬": "马",
    "鍾": "钟", "鐘": "钟", "譚": "谭", "廖": "廖", "鄒": "邹", "陸": "陆", "薛": "薛", "蘇": "苏", "鄺": "邝",
    "國": "国", "華": "华", "偉": "伟", "軍": "军", "紅": "红", "蘭": "兰", "麗": "丽", "傑": "杰", "強": "强",
    "濤": "涛", "東": "东", "雲": "云", "鳳": "凤", "鵬": "鹏", "輝": "辉", "榮": "荣", "貴": "贵", "寶": "宝",
    "鋒": "锋", "剛": "刚", "興": "兴", "飛": "飞", "慶": "庆", "廣": "广", "長": "长", "進": "进", "義": "义",
    "愛": "爱", "學": "学", "靜": "静", "豔": "艳", "艷": "艳", "嬌": "娇", "鳴": "鸣", "紹": "绍", "濱": "滨",
    "峯": "峰", "羣": "群", "於": "于", "喆": "哲", "甯": "宁", "寧": "宁", "珎": "珍", "煕": "熙", "堃": "坤",
    "昇": "升", "啓": "启", "啟": "启", "淸": "清", "増": "增", "徳": "德", "姫": "姬", "衞": "卫", "衛": "卫",
    "衆": "众", "眞": "真", "爲": "为", "秀": "秀", "玆": "兹", "峩": "峨", "嶽": "岳", "岡": "冈", "崑": "昆",
    "•": "·", "・": "·", "．": "·", ".": "·",
}
VARIANTS = {old: new for old, new in VARIANTS.items() if old != new}
_VARIANT_TABLE = str.maketrans(VARIANTS)
_FULLWIDTH_FROM = "".join(chr(cp) for cp in range(0xFF01, 0xFF5F)) + "\u3000"
_FULLWIDTH_TO = "".join(chr(cp - 0xFEE0) for cp in range(0xFF01, 0xFF5F)) + " "


def clean_name(name: str) -> str:
    """A name as §8.3 compares it for M06: spaces removed, full-width converted; nothing else."""
    return "".join(to_halfwidth(name or "").split())


def name_key(name: str) -> str:
    """A name as linkage compares it: also compatibility forms (NFKC) and variant characters folded."""
    return "".join(unicodedata.normalize("NFKC", name or "").split()).translate(_VARIANT_TABLE)


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# The parameters clean_name_sql() needs (its translation contains "%", so it travels as parameters).
CLEAN_NAME_PARAMS = {"fullwidth_from": _FULLWIDTH_FROM, "fullwidth_to": _FULLWIDTH_TO}


def clean_name_sql(column: str) -> str:
    """clean_name() in SQL (same result for the same text); pass CLEAN_NAME_PARAMS with the query."""
    return rf"regexp_replace(translate({column}, %(fullwidth_from)s, %(fullwidth_to)s), '\s', '', 'g')"


def name_key_sql(column: str) -> str:
    """name_key() in SQL (PostgreSQL's normalize(…, NFKC), then the same variant table)."""
    olds, news = "".join(VARIANTS), "".join(VARIANTS.values())
    return (f"translate(regexp_replace(normalize({column}, NFKC), '\\s', '', 'g'), "
            f"{_sql_literal(olds)}, {_sql_literal(news)})")


# --- scoring ----------------------------------------------------------------------------------------------

# log2(m/u) per comparison level: how much more often the level is seen among true pairs than among
# the blocked candidate pairs that are not the same person.
WEIGHTS = {
    "id": {"legacy15": 9.0, "one_edit": 9.0, "two_edits": 4.0, "different": -8.0},
    "name": {"same": 7.0, "variant": 6.0, "one_char": 1.0, "different": -6.0},
    "birth": {"equal": 3.0, "different": -2.0, "unknown": 0.0},
    "sex": {"equal": 0.5, "different": -3.0, "unknown": 0.0},
    "region": {"village": 2.0, "township": 1.0, "different": -0.5, "unknown": 0.0},
}
PRIOR = -9.0  # log2 odds that a blocked candidate pair is the same person, before comparing
LEVEL_LABELS = {
    "id": {"legacy15": "15位旧号码转换后相同", "one_edit": "身份证号相差一位（错一位或相邻两位颠倒）",
           "two_edits": "身份证号相差两位", "different": "身份证号不同"},
    "name": {"same": "姓名相同", "variant": "姓名写法不同（空格、全角、异体字）", "one_char": "姓名相差一个字",
             "different": "姓名不同"},
    "birth": {"equal": "出生日期相同", "different": "出生日期不同", "unknown": "出生日期无法判断"},
    "sex": {"equal": "性别相同", "different": "性别不同", "unknown": "性别无法判断"},
    "region": {"village": "所在村相同", "township": "所在乡镇相同", "different": "所在地不同",
               "unknown": "名单无所在地"},
}


@dataclass(frozen=True)
class Side:
    id_number: str
    name: str
    birth_date: dt.date | None
    sex: str
    region: str  # village code ("" when the list has none)


def compare(record: Side, person: Side, id_status: str) -> dict[str, str]:
    """The comparison level of each field for one candidate pair."""
    if id_status == "legacy15" and record.id_number == person.id_number:
        id_level = "legacy15"
    else:
        edits = OSA.distance(record.id_number, person.id_number)
        id_level = {1: "one_edit", 2: "two_edits"}.get(edits, "different")
    if clean_name(record.name) == clean_name(person.name):
        name_level = "same"
    elif name_key(record.name) == name_key(person.name):
        name_level = "variant"
    elif min(len(record.name), len(person.name)) >= 3 and Levenshtein.distance(name_key(record.name),
                                                                                 name_key(person.name)) == 1:
        name_level = "one_char"
    else:
        name_level = "different"
    return {
        "id": id_level,
        "name": name_level,
        "birth": _level(record.birth_date, person.birth_date),
        "sex": _level(record.sex, person.sex),
        "region": _region_level(record.region, person.region),
    }


def _level(a, b) -> str:
    if not a or not b:
        return "unknown"
    return "equal" if a == b else "different"


def _region_level(listed: str, ours: str) -> str:
    if not listed:
        return "unknown"
    if listed == ours:
        return "village"
    return "township" if listed[:9] == ours[:9] else "different"


def score(levels: dict[str, str]) -> float:
    """The probability that the pair is the same person."""
    weight = PRIOR + sum(WEIGHTS[field][level] for field, level in levels.items())
    return 1.0 / (1.0 + 2.0 ** -weight)


def explain(levels: dict[str, str]) -> list[str]:
    return [LEVEL_LABELS[field][level] for field, level in levels.items()]


def threshold() -> float:
    return float(getattr(settings, "MATCHING_LINK_THRESHOLD", 0.9))


# --- blocking and proposing (SQL) --------------------------------------------------------------------------

RECORDS = MatchingRecord._meta.db_table
PERSONS = Person._meta.db_table
LINKS = MatchLink._meta.db_table
SOURCE_FILES = MatchingSourceFile._meta.db_table
SOURCE_ORDER = "array_position(ARRAY['poverty','civil_affairs','deaths','disability']::text[], f.source::text)"


def _unlinked_sql() -> str:
    """Rows of the current linked-source files that match nobody exactly and have no pending/confirmed link."""
    return f"""
    CREATE TEMP TABLE matching_unlinked ON COMMIT DROP AS
    SELECT DISTINCT ON (r.match_key) r.match_key, r.id_number, r.id_status, r.id_raw, r.name, r.birth_date,
           r.sex, r.village, f.source
      FROM {RECORDS} r JOIN {SOURCE_FILES} f ON f.id = r.file_id
     WHERE r.file_id = ANY(%(files)s)
       AND NOT (r.id_status = 'valid' AND EXISTS (SELECT 1 FROM {PERSONS} p WHERE p.id_number = r.id_number))
       AND NOT EXISTS (SELECT 1 FROM {LINKS} l WHERE l.match_key = r.match_key
                                                  AND l.status IN ('proposed', 'confirmed'))
     ORDER BY r.match_key, {SOURCE_ORDER}, r.id
    """


PAIRS_SQL = f"""
    WITH u17 AS (
        SELECT match_key, left(id_number, 17) AS id17 FROM matching_unlinked WHERE id_number ~ '^[0-9]{{17}}[0-9X]$'
    ), ukeys AS (
        SELECT match_key, overlay(id17 PLACING '__' FROM i + 1 FOR 2) AS mk FROM u17, generate_series(0, 15) i
    ), pkeys AS (
        SELECT p.id AS person_id, overlay(left(p.id_number, 17) PLACING '__' FROM i + 1 FOR 2) AS mk
          FROM {PERSONS} p, generate_series(0, 15) i
    ), pairs AS (
        SELECT u.match_key, p.person_id FROM ukeys u JOIN pkeys p ON p.mk = u.mk
        UNION
        SELECT u.match_key, p.id FROM matching_unlinked u JOIN {PERSONS} p ON p.id_number = u.id_number
         WHERE u.id_status = 'legacy15'
        UNION
        SELECT u.match_key, p.id FROM matching_unlinked u JOIN {PERSONS} p
            ON p.birth_date = u.birth_date AND {name_key_sql('p.name')} = {name_key_sql('u.name')}
    )
    SELECT c.match_key, u.id_number, u.id_status, u.id_raw, u.name, u.birth_date, u.sex, u.village, u.source,
           p.id, p.id_number, p.name, p.birth_date, p.sex, p.region_id
      FROM pairs c
      JOIN matching_unlinked u ON u.match_key = c.match_key
      JOIN {PERSONS} p ON p.id = c.person_id
     WHERE NOT EXISTS (SELECT 1 FROM {LINKS} l WHERE l.match_key = c.match_key AND l.person_id = c.person_id
                                                AND l.status IN ('rejected', 'confirmed'))
"""

NEW_LINK_COLUMNS = {"match_key": "text", "person_id": "bigint", "source": "text", "id_raw": "text", "name": "text",
                    "score": "float8", "reasons": "text"}
INSERT_LINKS_SQL = f"""
    INSERT INTO {LINKS} (match_key, person_id, source, id_raw, name, score, reasons, status, proposed_run_id,
                         note, created_at)
    SELECT match_key, person_id, source, id_raw, name, score, reasons::jsonb, 'proposed', %(run)s, '', now()
      FROM matching_new_links
    ON CONFLICT (match_key, person_id) DO UPDATE
       SET status = 'proposed', score = EXCLUDED.score, reasons = EXCLUDED.reasons,
           proposed_run_id = EXCLUDED.proposed_run_id
     WHERE {LINKS}.status = 'expired'
"""

EXPIRE_SQL = f"""
    UPDATE {LINKS} l SET status = 'expired', note = %(note)s
     WHERE l.status = 'proposed'
       AND NOT EXISTS (SELECT 1 FROM {RECORDS} r WHERE r.file_id = ANY(%(files)s) AND r.match_key = l.match_key)
"""


@dataclass(frozen=True)
class Proposal:
    match_key: str
    person_id: int
    source: str
    id_raw: str
    name: str
    score: float
    levels: dict


def candidate_proposals(rows, cutoff: float) -> list[Proposal]:
    """Score every candidate pair; keep, per listed number, the best pairs at or above the cutoff."""
    best: dict[str, list[Proposal]] = {}
    for (key, id_number, id_status, id_raw, name, birth, sex, village, source,
         person_id, p_id, p_name, p_birth, p_sex, p_region) in rows:
        levels = compare(Side(id_number, name, birth, sex, village), Side(p_id, p_name, p_birth, p_sex, p_region),
                         id_status)
        value = score(levels)
        if value < cutoff:
            continue
        kept = best.setdefault(key, [])
        if kept and value < kept[0].score - 1e-9:
            continue
        if kept and value > kept[0].score + 1e-9:
            kept.clear()
        kept.append(Proposal(key, person_id, source, id_raw, name, value, levels))
    return [proposal for kept in best.values() for proposal in kept]


def propose_links(run, file_ids: dict[str, int]) -> int:
    """Expire proposals whose listed number left the lists, then propose new probable links; returns how many."""
    files = [file_ids[source] for source in LINKED_SOURCES if source in file_ids]
    with connection.cursor() as cursor:
        cursor.execute(EXPIRE_SQL, {"files": files, "note": f"第{run.pk}次比对时该号码已不在名单中"})
        if not files:
            return 0
        cursor.execute(_unlinked_sql(), {"files": files})
        cursor.execute("ANALYZE matching_unlinked")
        cursor.execute(PAIRS_SQL)
        proposals = candidate_proposals(cursor.fetchall(), threshold())
        stage(cursor, "matching_new_links", NEW_LINK_COLUMNS,
                  ((p.match_key, p.person_id, p.source, p.id_raw, p.name, round(p.score, 6),
                    _reasons_json(p.levels)) for p in proposals))
        cursor.execute(INSERT_LINKS_SQL, {"run": run.pk})
        made = cursor.rowcount
        cursor.execute("DROP TABLE matching_unlinked; DROP TABLE matching_new_links")
    return made


def _reasons_json(levels: dict) -> str:
    import json

    return json.dumps({"levels": levels, "labels": explain(levels)}, ensure_ascii=False)
