"""The anti-fraud screening rules R01–R09 of DOMAIN §7.1: each a small named unit with its parameters
(defaults, validation) and one set-based SQL query that finds the claims it hits, with their evidence.

Every query returns `(claim_id, evidence jsonb)` for the claims selected by `{hit}` (a predicate on the
alias `c`: the year, optionally some persons, and the regions a parameter setting applies to). Rules about
two claims make the later claim (admission date, then claim number, then id) the hit and list the earlier
ones in `evidence.claims`. No Django models are imported here; claims.supervision.screening runs the queries.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from poverty_registry import sql
from poverty_registry.vocab import ENROLMENT_STATUSES

SEVERITIES = {"high": "高", "medium": "中", "low": "低"}
INPATIENT = "inpatient"
PENALTY = "PENALTY"  # the penalty multiple of a confirmed case (DOMAIN §7.2), kept with the rule settings

# The "later" order of DOMAIN §7.1 for two claims x, y: admission date, then claim number (code-point order).
LATER = '(x.admission_date, x.claim_no COLLATE "C", x.id) < (y.admission_date, y.claim_no COLLATE "C", y.id)'


def _earlier(earlier: str, later: str) -> str:
    return LATER.replace("x.", f"{earlier}.").replace("y.", f"{later}.")


@dataclass(frozen=True)
class Param:
    """One parameter of a rule, declared once: the form's field (label, unit, bounds, explanation), the
    rule's default and the validation of a stored value all read it."""

    label: str
    kind: str  # "int", "decimal" (stored as a string), "codes" (ICD-10 3-character ranges), "statuses"
    default: object
    unit: str = ""
    min: Decimal | int | None = None
    max: Decimal | int | None = None
    help: str = ""


# key → Param per rule (and the penalty multiple). The stored JSON of a SupervisionParam is {key: value} with
# exactly these keys and the default's type (int, decimal string, list of "A00-B99" strings, list of codes).
PARAMETERS: dict[str, dict[str, Param]] = {
    "R01": {}, "R02": {}, "R06": {},
    "R03": {
        "days": Param("再入院间隔", "int", 15, "天", 0, 90,
                      "出院后这么多天内（含当天）以相同3位诊断再次入住同一医院，即列为分解住院疑点"),
    },
    "R04": {
        "male": Param("男性不可能的诊断", "codes", ["O00-O9A", "N70-N98", "C51-C58"],
                      help="男性出现即为疑点的诊断编码区间（ICD-10 前3位），用逗号或换行分隔，如 O00-O9A"),
        "female": Param("女性不可能的诊断", "codes", ["N40-N51", "C60-C63"],
                        help="女性出现即为疑点的诊断编码区间（ICD-10 前3位），用逗号或换行分隔"),
        "infant": Param("仅婴儿可能的诊断", "codes", ["P00-P96"],
                        help="围产期等只应出现在婴儿身上的诊断编码区间；超过下方年龄的参保人出现即为疑点"),
        "infant_max_years": Param("婴儿年龄上限", "int", 1, "周岁", 0, 18,
                                  "入院时年满这个周岁数，再出现上方“仅婴儿可能的诊断”即为疑点"),
    },
    "R05": {
        "enrolled_statuses": Param("视为已参保的参保状态", "statuses", ["enrolled"],
                                   help="结算年度的参保状态不在所选之列（或没有参保记录）的结算单列为疑点"),
    },
    "R07": {
        "k": Param("费用倍数", "decimal", "3", "倍", Decimal("1"), Decimal("20"),
                   "总费用超过同诊断（3位）同等级医院中位数的这么多倍，即列为费用异常偏高"),
        "min_claims": Param("最少样本数", "int", 30, "张", 1, 10000,
                            "同诊断同等级医院的结算单不少于这么多张时才计算中位数，样本太少不判断"),
    },
    "R08": {
        "max_admissions": Param("住院次数上限", "int", 6, "次", 1, 100,
                                "统计期内住院次数超过这个数即列为频繁住院疑点"),
        "window_days": Param("统计期", "int", 365, "天", 1, 730, "向前统计住院次数的天数"),
    },
    "R09": {
        "max_days": Param("住院天数上限", "int", 30, "天", 1, 365,
                          "住院天数超过这个数且日均费用低于下限时列为挂床疑点"),
        "daily_floor": Param("日均费用下限", "decimal", "100.00", "元", Decimal("0"), Decimal("100000"),
                             "住院日均总费用低于这个金额（且住院天数超过上限）时列为挂床疑点"),
    },
    PENALTY: {
        "min_multiple": Param("最低处罚倍数", "decimal", "2", "倍", Decimal("0"), Decimal("10"),
                              "认定欺诈骗保后罚款的最低倍数（医疗保障基金使用监督管理条例：2至5倍）"),
        "max_multiple": Param("最高处罚倍数", "decimal", "5", "倍", Decimal("0"), Decimal("10"),
                              "罚款的最高倍数，不能小于最低倍数"),
    },
}


def _defaults(code: str) -> dict:
    return {key: list(p.default) if isinstance(p.default, list) else p.default for key, p in PARAMETERS[code].items()}


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    description: str
    severity: str
    inpatient_only: bool = False
    needs_person_death: bool = False

    @property
    def label(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def defaults(self) -> dict:
        return _defaults(self.code)


RULES: dict[str, Rule] = {rule.code: rule for rule in (
    Rule("R01", "死亡后就医", "入院或出院日期晚于本人死亡日期", "high", needs_person_death=True),
    Rule("R02", "住院时间重叠", "同一人两次住院时间重叠（任意医院）", "high", inpatient_only=True),
    Rule("R03", "分解住院", "出院后 N 天内以相同3位诊断再次入住同一医院", "medium", inpatient_only=True),
    Rule("R04", "诊断与性别年龄不符", "诊断不可能发生于该性别或年龄（借证/冒名）", "high"),
    Rule("R05", "未参保结算", "结算年度未参保", "high"),
    Rule("R06", "重复结算单", "同一人、医院、出入院日期、总费用相同而单号不同", "high"),
    Rule("R07", "费用异常偏高", "总费用超过同诊断（3位）同等级医院中位数的 k 倍（样本不少于设定数）", "low"),
    Rule("R08", "频繁住院", "365 天内住院超过 N 次", "medium", inpatient_only=True),
    Rule("R09", "挂床住院", "住院天数超过 N 天且日均费用低于下限", "medium", inpatient_only=True),
)}
PENALTY_DEFAULTS = _defaults(PENALTY)
PARAM_CHOICES = {**{code: rule.label for code, rule in RULES.items()}, PENALTY: "处罚倍数（欺诈骗保）"}


def defaults_of(code: str) -> dict:
    return _defaults(code)


def default_severity(code: str) -> str:
    return RULES[code].severity if code in RULES else ""


# ---- parameters ---------------------------------------------------------------------------------

class ParamError(ValueError):
    """A rule parameter that cannot be used; the message is for the admin form."""


ICD3 = re.compile(r"^[A-Z][0-9][0-9A-Z]$")


def _bounded(number, p: Param):
    if p.min is not None and number < p.min:
        raise ParamError(f"{p.label} 不能小于 {p.min}{p.unit}")
    if p.max is not None and number > p.max:
        raise ParamError(f"{p.label} 不能大于 {p.max}{p.unit}")
    return number


def _int(value, p: Param) -> int:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        raise ParamError(f"{p.label} 须为整数") from None
    return _bounded(number, p)


def _decimal(value, p: Param) -> str:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ParamError(f"{p.label} 须为数字") from None
    if not number.is_finite():
        raise ParamError(f"{p.label} 须为数字")
    return str(_bounded(number, p))


def parse_code_range(text: str) -> tuple[str, str]:
    """"O00-O9A" → ("O00", "O9A"); "P00" → ("P00", "P00"). Compared on the first 3 characters."""
    parts = [p.strip().upper() for p in str(text).split("-")]
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or not all(ICD3.match(p) for p in parts) or parts[0] > parts[1]:
        raise ParamError(f"诊断编码区间“{text}”格式应为 A00-B99（3位编码）")
    return parts[0], parts[1]


def _ranges(value, p: Param) -> list[str]:
    if not isinstance(value, list):
        raise ParamError(f"{p.label} 须为编码区间列表，如 [\"O00-O9A\"]")
    return ["-".join(parse_code_range(item)) for item in value]


def _statuses(value, p: Param) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(s, str) for s in value):
        raise ParamError(f"{p.label} 须为参保状态列表，至少选择一项")
    return value


CLEANERS = {"int": _int, "decimal": _decimal, "codes": _ranges, "statuses": _statuses}


def validate_params(code: str, params: dict | None) -> dict:
    """The rule's parameters completed with defaults and normalised; ParamError on a bad value."""
    if code != PENALTY and code not in RULES:
        raise ParamError(f"未知规则 {code}")
    given = dict(params or {})
    declared = PARAMETERS[code]
    unknown = set(given) - set(declared)
    if unknown:
        raise ParamError(f"{code} 没有参数：{'、'.join(sorted(unknown))}（可用：{'、'.join(declared) or '无'}）")
    values = {**_defaults(code), **given}
    for key, p in declared.items():
        values[key] = CLEANERS[p.kind](values[key], p)
    if code == PENALTY and Decimal(values["min_multiple"]) > Decimal(values["max_multiple"]):
        raise ParamError("最低处罚倍数不能大于最高处罚倍数")
    return values


def describe_params(code: str, params: dict | None) -> str:
    """Readable parameters for lists: "再入院间隔 20天；…" (defaults where the stored JSON has none)."""
    values = {**_defaults(code), **(params or {})} if code in PARAMETERS else dict(params or {})
    parts = []
    for key, p in PARAMETERS.get(code, {}).items():
        value = values.get(key)
        shown = ("、".join(ENROLMENT_STATUSES.get(item, item) for item in value) if isinstance(value, list)
                 else f"{value}{p.unit}")
        parts.append(f"{p.label} {shown}")
    return "；".join(parts) or "无参数"


# ---- queries ------------------------------------------------------------------------------------
# Each rule's SELECT is a file in sql/rules/ beside this module. Placeholders: %(year)s, %(year_start)s,
# %(year_end)s and the rule's own parameters (prefixed p_); the fragments {hit} (the claims that may be hit, alias c),
# {persons_e} / {persons_c} (alias e / c narrowed to the persons screened), {groups} (R07) and the "later"
# order below are filled by rule_query.

def _rule_sql(name: str) -> str:
    return sql.load(__name__, f"rules/{name}")


def claims_after_death(p: dict) -> tuple[str, dict]:
    """R01: admitted or discharged after the person's death date."""
    return _rule_sql("R01_claims_after_death"), {}


def overlapping_stays(p: dict) -> tuple[str, dict]:
    """R02: two stays of one person overlap in time (any hospitals)."""
    return _rule_sql("R02_overlapping_stays"), {}


def readmission_within_days(p: dict) -> tuple[str, dict]:
    """R03 (分解住院): back in the same hospital with the same 3-character diagnosis within N days."""
    return _rule_sql("R03_readmission_within_days"), {"p_days": p["days"]}


def _range_sql(ranges: list[str], key: str, params: dict) -> str:
    parts = []
    for i, item in enumerate(ranges):
        low, high = parse_code_range(item)
        params[f"p_{key}_{i}_lo"], params[f"p_{key}_{i}_hi"] = low, high
        parts.append(f"d3 BETWEEN %(p_{key}_{i}_lo)s AND %(p_{key}_{i}_hi)s")
    return "(" + " OR ".join(parts) + ")" if parts else "false"


def diagnosis_impossible_for_sex_or_age(p: dict) -> tuple[str, dict]:
    """R04 (借证/冒名): a diagnosis the person's sex or age rules out."""
    params = {"p_infant_years": p["infant_max_years"]}
    ranges = {kind: _range_sql(p[kind], kind, params) for kind in ("male", "female", "infant")}
    return sql.fill(_rule_sql("R04_diagnosis_impossible_for_sex_or_age"), **ranges), params


def not_enrolled_in_year(p: dict) -> tuple[str, dict]:
    """R05: a claim for a person not enrolled in the claim's year."""
    return _rule_sql("R05_not_enrolled_in_year"), {"p_statuses": p["enrolled_statuses"]}


def duplicate_claims(p: dict) -> tuple[str, dict]:
    """R06: same person, hospital, dates and total cost under another claim number."""
    return _rule_sql("R06_duplicate_claims"), {}


def cost_outlier(p: dict) -> tuple[str, dict]:
    """R07: total cost above k × the median of the same diagnosis and hospital level."""
    return _rule_sql("R07_cost_outlier"), {"p_k": p["k"], "p_min": p["min_claims"]}


def frequent_admissions(p: dict) -> tuple[str, dict]:
    """R08: more than N admissions of one person within the window."""
    return _rule_sql("R08_frequent_admissions"), {"p_window": p["window_days"], "p_max": p["max_admissions"]}


def bed_blocking(p: dict) -> tuple[str, dict]:
    """R09 (挂床): a long stay with an average daily cost below the floor."""
    return _rule_sql("R09_bed_blocking"), {"p_days": p["max_days"], "p_floor": p["daily_floor"]}


# The rule codes are data (stored on hits and parameter settings, shown on screens); the queries are named
# for what they catch.
QUERIES = {"R01": claims_after_death, "R02": overlapping_stays, "R03": readmission_within_days,
           "R04": diagnosis_impossible_for_sex_or_age, "R05": not_enrolled_in_year, "R06": duplicate_claims,
           "R07": cost_outlier, "R08": frequent_admissions, "R09": bed_blocking}


def rule_query(code: str, params: dict, *, hit: str, persons: bool, name: str = "") -> tuple[str, dict]:
    """The rule's SELECT with its placeholders filled: `hit` is the predicate on alias c choosing the
    claims that may be hit; `persons` narrows evidence and groups to %(persons)s (an array of ID numbers);
    `name` (default: the code) prefixes the rule's own parameters, so that several rules, or one rule under
    several settings, run in one statement."""
    query, rule_params = QUERIES[code](validate_params(code, params))
    narrowed = " AND {a}.id_number = ANY(%(persons)s)" if persons else ""
    groups = _rule_sql("R07_groups_of_persons" if persons else "R07_groups_of_year")
    query = sql.fill(query, hit=f"({hit})", groups=groups, persons_e=narrowed.format(a="e"),
                     persons_c=narrowed.format(a="c"), e_earlier_than_c=_earlier("e", "c"),
                     e_earlier_than_a=_earlier("e", "a"))
    name = name or code
    return query.replace("%(p_", f"%({name}_"), {f"{name}_{key[2:]}": value for key, value in rule_params.items()}


# Parameter names of the screening rules (RULES defaults, PENALTY_DEFAULTS) as the audit trail shows them inside
# a changed parameter set (registered with poverty_registry.audit.display by ClaimsConfig.ready()).
RULE_PARAMS = {
    "days": "天数", "k": "倍数", "min_claims": "最少样本数", "max_admissions": "最多住院次数",
    "window_days": "统计天数", "max_days": "最长住院天数", "daily_floor": "日均费用下限（元）",
    "enrolled_statuses": "视为参保的状态", "male": "男性不可能的诊断", "female": "女性不可能的诊断",
    "infant": "婴儿不可能的诊断", "infant_max_years": "婴儿年龄上限（岁）", "min_multiple": "最低处罚倍数",
    "max_multiple": "最高处罚倍数",
}
