"""Subsidy rules of DOMAIN §5 as plain functions: the amount a category's rule pays on a premium, the
most favourable category, and the default parameters loaded for 2020–2025."""
from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from poverty_registry.vocab import CATEGORIES, POOR_CATEGORY_ORDER

CENT = Decimal("0.01")
# Ties between categories paying the same amount go to the one first in DOMAIN §6.2's order.
CATEGORY_RANK = {code: rank for rank, code in enumerate((*POOR_CATEGORY_ORDER, "severe_disability"))}

# National minimum individual premium of resident insurance (DOMAIN §5); 2025 and 2026 kept at 2024's ¥400.
NATIONAL_PREMIUM = {2020: "280", 2021: "320", 2022: "350", 2023: "380", 2024: "400", 2025: "400", 2026: "400"}
ASSISTANCE_FUND = "医疗救助资金"
TRANSITION_FUND = "财政衔接推进乡村振兴补助资金"
# Yueyang's defaults (DOMAIN §5): 特困 100%, 低保 50%, 监测对象 / 脱贫人口 a fixed amount (a parameter).
TRANSITION_FIXED_AMOUNT = "100.00"


class RuleError(ValueError):
    """A rule the computation cannot apply; the message is for the officer editing it."""


def subsidy_amount(premium: Decimal, kind: str, value) -> Decimal:
    """What one rule pays on one premium, rounded half-up to the fen, never above the premium."""
    premium = Decimal(premium)
    value = Decimal(str(value or "0"))
    if kind == "none":
        return Decimal("0.00")
    if value < 0:
        raise RuleError("资助标准不能为负数")
    if kind == "percent":
        if value > 100:
            raise RuleError("资助比例不能超过100%")
        return (premium * value / 100).quantize(CENT, ROUND_HALF_UP)
    if kind == "fixed":
        return min(value, premium).quantize(CENT, ROUND_HALF_UP)
    raise RuleError(f"未知的资助方式“{kind}”")


def most_favourable(amounts: dict[str, Decimal], held: set[str]) -> str | None:
    """The held category paying the most (ties by §6.2's order); None when none pays anything."""
    paying = [c for c in held if amounts.get(c, Decimal(0)) > 0]
    if not paying:
        return None
    return min(paying, key=lambda c: (-amounts[c], CATEGORY_RANK.get(c, len(CATEGORY_RANK))))


def default_cutoff(year: int) -> dt.date:
    return dt.date(year - 1, 12, 31)


def default_rules() -> dict[str, dict[str, str]]:
    rules = {code: {"kind": "none", "value": "0", "fund": ""} for code in CATEGORIES}
    rules["tekun"] = {"kind": "percent", "value": "100", "fund": ASSISTANCE_FUND}
    rules["dibao"] = {"kind": "percent", "value": "50", "fund": ASSISTANCE_FUND}
    rules["monitor"] = {"kind": "fixed", "value": TRANSITION_FIXED_AMOUNT, "fund": TRANSITION_FUND}
    rules["tuopin"] = {"kind": "fixed", "value": TRANSITION_FIXED_AMOUNT, "fund": TRANSITION_FUND}
    return rules


def check_rules(premium: Decimal, rules: dict) -> list[str]:
    """Every problem of a rule set, in Chinese; empty when the computation can apply it."""
    problems = []
    for code, rule in rules.items():
        label = CATEGORIES.get(code)
        if label is None:
            problems.append(f"未知人员类别“{code}”")
            continue
        try:
            amount = subsidy_amount(premium, rule.get("kind", ""), rule.get("value"))
        except (RuleError, ArithmeticError, ValueError) as exc:
            problems.append(f"{label}：{exc if isinstance(exc, RuleError) else '资助标准不是有效数字'}")
            continue
        if amount > 0 and not (rule.get("fund") or "").strip():
            problems.append(f"{label}：请填写资金来源")
    return problems
