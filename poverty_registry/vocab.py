"""Every vocabulary the apps share, once: the codes stored, the Chinese labels shown, and the spellings each
file reader accepts for them (ledger, enrolment and claim imports, the matching inbox, the settlement engine).

Pure Python. A reader never keeps its own list: it asks ``code_of(SPELLINGS, cell)``, so a spelling added
here is understood by every reader the same night (two copies of the 参保状态 list drifted once, and the
nightly matching refused whole an enrolment file the import accepted). tests/test_vocabulary.py feeds every
spelling below to every reader of its column.

How the spellings were merged from the readers' former copies: where the copies agreed, nothing changed;
where they differed, each reader now accepts the union (noted at each vocabulary). Every vocabulary but sex
also accepts its codes (the settlement engine and the enrolment import always did). A cell is compared
half-width, without spaces anywhere, ASCII in lower case (``spelling_key``).
"""
from __future__ import annotations

from collections.abc import Mapping

from .idnumber import to_halfwidth


def spelling_key(value: object) -> str:
    """A cell as the spellings are compared: half-width, no spaces anywhere, ASCII lower-case."""
    text = value if type(value) is str else ("" if value is None else str(value))
    return "".join(to_halfwidth(text).split()).lower()


def spellings(labels: Mapping, extra: Mapping[str, object] | None = None, *, codes: bool = True) -> dict[str, object]:
    """spelling key → code: each label (and code, unless ``codes`` is false), then the other spellings."""
    table = {}
    for code, label in labels.items():
        if codes:
            table[spelling_key(code)] = code
        table[spelling_key(label)] = code
    for spelling, code in (extra or {}).items():
        assert code in labels, f"{spelling} → {code}: not a code of its vocabulary"
        table[spelling_key(spelling)] = code
    return table


def code_of(table: Mapping[str, object], value: object):
    """The code a cell spells, or None when it spells none."""
    return table.get(spelling_key(value))


# --- 人员类别 (person categories) ------------------------------------------------------------------------

CATEGORIES = {
    "tekun": "特困供养人员",
    "dibao": "低保对象",
    "monitor": "防止返贫监测对象",
    "tuopin": "脱贫人口",
    "low_income": "低收入人口",
    "severe_disability": "重度残疾人",
}
# The poor categories of DOMAIN §6.2, most favourable first.
POOR_CATEGORY_ORDER = ("tekun", "dibao", "monitor", "tuopin", "low_income")
# The ledger's and the civil-affairs reader's lists agreed on 特困 and 低保; the ledger's others are kept; the
# settlement engine's codes are added (it read labels and codes only).
CATEGORY_SPELLINGS = spellings(CATEGORIES, {
    "特困": "tekun", "特困人员": "tekun", "特困供养": "tekun",
    "低保": "dibao", "低保户": "dibao",
    "监测对象": "monitor", "防返贫监测对象": "monitor", "脱贫不稳定户": "monitor", "边缘易致贫户": "monitor",
    "突发严重困难户": "monitor",
    "脱贫户": "tuopin",
    "低收入": "low_income",
    "重度残疾": "severe_disability", "重残": "severe_disability",
})
# One 人员类别 cell may list several categories; a full-width comma is a "," once half-width.
CATEGORY_SEPARATORS = ("、", ",")


def parse_categories(text: str) -> tuple[tuple[str, ...], list[str]]:
    """(codes in CATEGORIES order, the parts no spelling matched) of one 人员类别 cell: split on
    CATEGORY_SEPARATORS, spaces inside a part ignored, empty parts skipped."""
    parts = to_halfwidth(text)
    for separator in CATEGORY_SEPARATORS[1:]:
        parts = parts.replace(separator, CATEGORY_SEPARATORS[0])
    found: set[str] = set()
    unknown: list[str] = []
    for part in parts.split(CATEGORY_SEPARATORS[0]):
        part = "".join(part.split())
        if not part:
            continue
        code = code_of(CATEGORY_SPELLINGS, part)
        if code is None:
            unknown.append(part)
        else:
            found.add(code)
    return tuple(code for code in CATEGORIES if code in found), unknown


# 救助类别 of the civil-affairs lists (DOMAIN §8.1): 特困 and 低保 as the ledger spells them, and 低保边缘, which
# the ledger does not hold as a category (the matching compares only 特困 and 低保).
ASSISTANCE_CATEGORIES = {"tekun": CATEGORIES["tekun"], "dibao": CATEGORIES["dibao"], "dibao_edge": "低保边缘"}
ASSISTANCE_SPELLINGS = {key: code for key, code in CATEGORY_SPELLINGS.items() if code in ASSISTANCE_CATEGORIES} | (
    spellings(ASSISTANCE_CATEGORIES, {"低保边缘户": "dibao_edge", "低保边缘家庭": "dibao_edge"}))

# --- 脱贫状态, 性别 ---------------------------------------------------------------------------------------

POVERTY_STATUSES = {"not_lifted": "未脱贫", "lifted": "已脱贫", "monitored": "监测"}
POVERTY_STATUS_SPELLINGS = spellings(POVERTY_STATUSES, {"脱贫": "lifted", "监测对象": "monitored",
                                                        "监测户": "monitored"})
SEXES = {"M": "男", "F": "女"}
# No codes: a ledger's "M" is refused ("男" or "女" only), as it always was.
SEX_SPELLINGS = spellings(SEXES, {"男性": "M", "女性": "F"}, codes=False)

# 残疾等级 of the disability list (DOMAIN §8.1).
DISABILITY_GRADES = {1: "一级", 2: "二级", 3: "三级", 4: "四级"}
DISABILITY_GRADE_SPELLINGS = spellings(DISABILITY_GRADES, {f"{grade}级": grade for grade in DISABILITY_GRADES})

# --- 参保状态 (enrolment statuses) -------------------------------------------------------------------------

ENROLMENT_STATUSES = {"enrolled": "正常参保", "suspended": "暂停参保", "terminated": "终止参保", "unpaid": "未缴费"}
# The enrolment import's list, which the matching inbox's copy lacked 已缴费, 参保缴费, 中断, 停保, 退保, 未参保
# and 待缴费 of (so the nightly matching refused whole a file the import took).
ENROLMENT_STATUS_SPELLINGS = spellings(ENROLMENT_STATUSES, {
    "参保": "enrolled", "正常": "enrolled", "已参保": "enrolled", "已缴费": "enrolled", "参保缴费": "enrolled",
    "暂停": "suspended", "中断": "suspended",
    "终止": "terminated", "停保": "terminated", "退保": "terminated",
    "未参保": "unpaid", "待缴费": "unpaid",
})

# --- claims: 医院等级, 就诊类型, 是/否 (DOMAIN §6.1) ---------------------------------------------------------

HOSPITAL_LEVELS = {"township": "乡镇", "county": "县级", "city": "市级", "province": "省级"}
# The claim import read the labels only, the settlement engine labels and codes: both now read both.
HOSPITAL_LEVEL_SPELLINGS = spellings(HOSPITAL_LEVELS)
VISIT_TYPES = {"inpatient": "住院", "special_outpatient": "特殊病种门诊"}
VISIT_TYPE_SPELLINGS = spellings(VISIT_TYPES)
YES_NO = {True: "是", False: "否"}
# The claim import read 是/否 only, the settlement engine JSON booleans and 是/否; hospital systems also
# export Y/N, 1/0 and true/false (an English "yes" stays an error, as the settlement tests pin).
YES_NO_SPELLINGS = spellings(YES_NO, {"y": True, "true": True, "1": True, "n": False, "false": False, "0": False},
                             codes=False)

# --- header names of the columns several files share ---------------------------------------------------

# The ID column: every reader accepts every name. A header row is found by one of ID_HEADER_MARKERS; only
# when no row has one, by another name of the column (a title above the header may well say 证件号码).
ID_HEADERS = ("身份证号", "公民身份号码", "身份证号码", "证件号码")
ID_HEADER_MARKERS = ID_HEADERS[:2]
ID_FALLBACK_MARKERS = ID_HEADERS[2:]
# Canonical column → accepted header names, the first the one templates write. Merged from the ledger's,
# the enrolment import's and the matching inbox's lists (each now reads every name of each).
HEADERS = {
    "id_number": ID_HEADERS,
    "name": ("姓名",),
    "household_no": ("户编号",),
    "sex": ("性别",),
    "birth_date": ("出生日期",),
    "categories": ("人员类别",),
    "village_code": ("所在村（社区）代码", "所在村代码", "村(社区)代码", "村代码"),
    "poverty_status": ("脱贫状态",),
    "enrol_year": ("参保年度", "年度"),
    "enrol_status": ("参保状态", "状态"),
    "paid_date": ("缴费日期",),
    "enrol_region": ("参保地区划", "参保地区划代码", "参保地区", "区划代码"),
}

# --- staff and regions -----------------------------------------------------------------------------------

ROLES = {
    "township": "乡镇经办",
    "county": "县级经办",
    "city": "市级经办",
    "supervisor": "基金监管",
    "admin": "系统管理员",
}

# The kinds of file the import framework takes (poverty_registry.importing.KINDS), as runs list them.
IMPORT_KINDS = {"ledger": "建档立卡台账", "enrolment": "参保名单", "claims": "医疗机构结算单"}

REGION_LEVELS = {1: "省", 2: "市", 3: "县（区）", 4: "乡镇（街道）", 5: "村（社区）"}
HEAD_RELATION = "户主"
