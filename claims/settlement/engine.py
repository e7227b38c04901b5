"""一站式结算: settles a person's claims through the six tiers of DOMAIN.md §6 and the §9 risk threshold.

Pure Python (no Django): the services, the admin, the settlement sheet and `settle_json` all call it.
"""
from __future__ import annotations

import datetime as dt
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields, is_dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from poverty_registry.vocab import (
    CATEGORIES,
    CATEGORY_SPELLINGS,
    HOSPITAL_LEVEL_SPELLINGS,
    HOSPITAL_LEVELS,
    VISIT_TYPE_SPELLINGS,
    VISIT_TYPES,
    YES_NO_SPELLINGS,
    code_of,
)

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
RATIO_PLACES = Decimal("0.0001")

# 人员类别 codes, shared with the ledger models.
TEKUN = "tekun"
DIBAO = "dibao"
MONITOR = "monitor"
TUOPIN = "tuopin"
LOW_INCOME = "low_income"
SEVERE_DISABILITY = "severe_disability"  # a category, but not "poor" for settlement
CATEGORY_NAMES = dict(CATEGORIES)  # the ledger's vocabulary (poverty_registry/vocab.py, pure Python)
# The category a settlement applied: none (blank) is how the engine settles everyone not poor.
SETTLED_CATEGORIES = {"": "非贫困人口", **CATEGORY_NAMES}

# Codes of vocab.HOSPITAL_LEVELS and vocab.VISIT_TYPES the engine's rules name.
TOWNSHIP = "township"
COUNTY = "county"
CITY = "city"
PROVINCE = "province"

INPATIENT = "inpatient"
SPECIAL_OUTPATIENT = "special_outpatient"

TIER_NAMES = {
    "basic": "基本医保",
    "critical": "大病保险",
    "assistance": "医疗救助",
    "hospital_waiver": "医院减免",
    "special_insurance": "扶贫特惠保",
    "backstop": "财政兜底",
}
TIER_CODES = tuple(TIER_NAMES)


class SettlementInputError(ValueError):
    """Facts or policy parameters the engine cannot settle; the message names the field, in Chinese."""


def _code(value: object, labels: Mapping[str, str], spellings: Mapping[str, str], what: str) -> str:
    code = code_of(spellings, value) if value is not None else None
    if code is not None:
        return code
    text = str(value).strip() if value is not None else ""
    allowed = "、".join(labels.values())
    raise SettlementInputError(f"{what}“{text}”无法识别，应为{allowed}之一（或其代码）")


def category_code(value: object) -> str:
    return _code(value, CATEGORY_NAMES, CATEGORY_SPELLINGS, "人员类别")


def hospital_level_code(value: object) -> str:
    return _code(value, HOSPITAL_LEVELS, HOSPITAL_LEVEL_SPELLINGS, "医院等级")


def visit_type_code(value: object) -> str:
    return _code(value, VISIT_TYPES, VISIT_TYPE_SPELLINGS, "就诊类型")


# ---------------------------------------------------------------- policy parameters (§6.4, §9)

def _d(text: str) -> Decimal:
    return Decimal(text)


@dataclass(frozen=True)
class ByLevel:
    township: Decimal
    county: Decimal
    city: Decimal
    province: Decimal

    def of(self, level: str) -> Decimal:
        return getattr(self, level)


@dataclass(frozen=True)
class ByCategory:
    tekun: Decimal
    dibao: Decimal
    monitor: Decimal
    tuopin: Decimal
    low_income: Decimal

    def of(self, category: str) -> Decimal:
        return getattr(self, category)


@dataclass(frozen=True)
class CapByCategory:
    """A yearly cap per poor category; None means no cap."""

    tekun: Decimal | None
    dibao: Decimal | None
    monitor: Decimal | None
    tuopin: Decimal | None
    low_income: Decimal | None

    def of(self, category: str) -> Decimal | None:
        return getattr(self, category)


Band = tuple[Decimal | None, Decimal]  # (upper bound above the deductible, None = open; ratio)


@dataclass(frozen=True)
class BasicParams:
    """Tier 1 基本医保."""

    deductible: ByLevel = ByLevel(_d("200"), _d("500"), _d("800"), _d("1500"))
    poor_deductible_factor: Decimal = _d("0.5")
    ratio: ByLevel = ByLevel(_d("0.85"), _d("0.70"), _d("0.60"), _d("0.50"))
    poor_bonus_in_county: Decimal = _d("0.10")
    poor_bonus_out_of_county: Decimal = _d("0.05")
    # §6.4 says "+10 points (90/80)", which for 乡镇 (85%) reads as either 95% or a 90% ceiling;
    # the rule text wins by default (no ceiling) and a region that means 90% sets 0.90 here.
    poor_ratio_ceiling: Decimal | None = None
    # 特殊病种门诊 applies to poor and non-poor alike: no deductible factor, no bonus.
    special_outpatient_deductible: Decimal = _d("0")
    special_outpatient_ratio: Decimal = _d("0.90")
    yearly_cap: Decimal | None = _d("150000")  # every cap: None = no cap


@dataclass(frozen=True)
class CriticalParams:
    """Tier 2 大病保险: bands on the year's accumulated covered self-pay above the deductible."""

    deductible: Decimal = _d("15000")
    poor_deductible: Decimal = _d("7500")
    bands: tuple[Band, ...] = ((_d("50000"), _d("0.60")), (_d("100000"), _d("0.70")), (None, _d("0.80")))
    poor_band_bonus: Decimal = _d("0.05")
    cap: Decimal | None = _d("300000")
    poor_cap: Decimal | None = None


@dataclass(frozen=True)
class AssistanceParams:
    """Tier 3 医疗救助, poor only."""

    ratio: ByCategory = ByCategory(_d("1.00"), _d("0.70"), _d("0.60"), _d("0.60"), _d("0.50"))
    yearly_deductible: ByCategory = ByCategory(_d("0"), _d("0"), _d("1000"), _d("1000"), _d("1000"))
    cap: CapByCategory = CapByCategory(None, _d("20000"), _d("20000"), _d("20000"), _d("20000"))


@dataclass(frozen=True)
class HospitalWaiverParams:
    """Tier 4 医院减免, poor only."""

    ratio: Decimal = _d("0.05")
    in_county_only: bool = True


@dataclass(frozen=True)
class SpecialInsuranceParams:
    """Tier 5 扶贫特惠保, poor only."""

    ratio: Decimal = _d("0.40")
    yearly_cap: Decimal | None = _d("50000")


@dataclass(frozen=True)
class BackstopParams:
    """Tier 6 财政兜底, poor only: the patient keeps at most a share of the bill."""

    inpatient_limit_share: Decimal = _d("0.10")
    special_outpatient_limit_share: Decimal = _d("0.20")
    # §6.4 leaves referral as a parameter; an out-of-county referral is limited at the same shares.
    referral_counts_out_of_county: bool = True


@dataclass(frozen=True)
class RiskParams:
    """§9 因病返贫致贫 warning threshold: the lower of an amount and a share of per-capita income."""

    absolute_threshold: Decimal = _d("10000")
    income_share: Decimal = _d("0.50")


@dataclass(frozen=True)
class PolicyParams:
    """One year's (and region's) policy set; stored as JSON through to_dict / from_dict."""

    basic: BasicParams = BasicParams()
    critical: CriticalParams = CriticalParams()
    assistance: AssistanceParams = AssistanceParams()
    hospital_waiver: HospitalWaiverParams = HospitalWaiverParams()
    special_insurance: SpecialInsuranceParams = SpecialInsuranceParams()
    backstop: BackstopParams = BackstopParams()
    # The poor categories, most favourable first (§6.2); any other category is not "poor".
    category_order: tuple[str, ...] = (TEKUN, DIBAO, MONITOR, TUOPIN, LOW_INCOME)
    # §6 is silent on claims admitted after the death date: they settle as usual and rule R01 (§7)
    # flags them for recovery; a region that refuses them at settlement sets this to False.
    settle_after_death: bool = True
    risk: RiskParams = RiskParams()

    def __post_init__(self):
        _check_not_negative(self, "")
        _check_bands(self.critical.bands)
        _check_category_order(self.category_order)

    def to_dict(self) -> dict:
        return _dump(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> PolicyParams:
        """Missing keys take the §6.4 defaults; unknown keys are refused so a typo cannot go unnoticed."""
        return _load_dataclass(cls, data, DEFAULT_POLICY, "")


def _check_not_negative(value: object, path: str) -> None:
    if is_dataclass(value):
        for f in fields(value):
            _check_not_negative(getattr(value, f.name), f"{path}.{f.name}" if path else f.name)
    elif isinstance(value, tuple):
        for i, item in enumerate(value):
            _check_not_negative(item, f"{path}[{i}]")
    elif isinstance(value, Decimal) and not (value.is_finite() and value >= 0):
        raise SettlementInputError(f"政策参数 {path} 不能为负数或非数值：{value}")


def _check_bands(bands: tuple[Band, ...]) -> None:
    if not bands or any(upper is None for upper, _ in bands[:-1]):
        raise SettlementInputError("政策参数 critical.bands 至少一段，且只有最后一段可以不设上限")
    bounded = [upper for upper, _ in bands if upper is not None]
    if any(high <= low for low, high in zip([ZERO, *bounded], bounded)):
        raise SettlementInputError("政策参数 critical.bands 的上限须为正数并逐段递增")


def _check_category_order(order: tuple[str, ...]) -> None:
    poor = set(CATEGORY_NAMES) - {SEVERE_DISABILITY}
    if len(set(order)) != len(order) or not set(order) <= poor:
        raise SettlementInputError(f"政策参数 category_order 应为不重复的贫困人口类别代码：{list(order)}")


def _dump(value: object) -> object:
    if is_dataclass(value):
        return {f.name: _dump(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple):
        return [_dump(item) for item in value]
    return value


def _load_dataclass(cls: type, data: object, default: object, path: str) -> object:
    if not isinstance(data, Mapping):
        raise SettlementInputError(f"政策参数 {path or '根'} 应为对象")
    names = [f.name for f in fields(cls)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise SettlementInputError(f"政策参数 {path}{unknown[0]} 不存在")
    hints = typing.get_type_hints(cls)
    values = {
        name: _load(hints[name], data[name], getattr(default, name), f"{path}{name}")
        if name in data else getattr(default, name)
        for name in names
    }
    return cls(**values)


def _load(hint: object, value: object, default: object, path: str) -> object:
    if is_dataclass(hint):
        return _load_dataclass(hint, value, default, f"{path}.")
    if hint is bool:
        if not isinstance(value, bool):
            raise SettlementInputError(f"政策参数 {path} 应为 true 或 false")
        return value
    if hint == Decimal | None:
        return None if value is None else _parameter_decimal(value, path)
    if hint is Decimal:
        return _parameter_decimal(value, path)
    if hint == tuple[str, ...]:
        return tuple(str(item) for item in _parameter_list(value, path))
    if hint == tuple[Band, ...]:
        return tuple(_load_band(item, f"{path}[{i}]") for i, item in enumerate(_parameter_list(value, path)))
    raise TypeError(f"unsupported policy parameter type {hint!r} at {path}")


def _load_band(item: object, path: str) -> Band:
    if not isinstance(item, list | tuple) or len(item) != 2:
        raise SettlementInputError(f"政策参数 {path} 应为 [上限或null, 比例]")
    upper, ratio = item
    return (None if upper is None else _parameter_decimal(upper, path), _parameter_decimal(ratio, path))


def _parameter_list(value: object, path: str) -> list | tuple:
    if not isinstance(value, list | tuple):
        raise SettlementInputError(f"政策参数 {path} 应为列表")
    return value


def _parameter_decimal(value: object, path: str) -> Decimal:
    try:
        return _to_decimal(value)
    except SettlementInputError:
        raise SettlementInputError(f"政策参数 {path} 不是有效数值：{value!r}") from None


DEFAULT_POLICY = PolicyParams()


# ---------------------------------------------------------------- facts

@dataclass(frozen=True)
class CategorySpan:
    """A category held from valid_from to valid_to, both days included; valid_to None = still held."""

    category: str
    valid_from: dt.date
    valid_to: dt.date | None = None

    def __post_init__(self):
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise SettlementInputError(f"人员类别 {self.category} 的终止日期早于起始日期")

    def holds_on(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True)
class PersonFacts:
    """What settlement needs to know of a person: dated categories, enrolment years, death date."""

    id_number: str
    categories: tuple[CategorySpan, ...] = ()
    enrolled_years: frozenset[int] = frozenset()
    death_date: dt.date | None = None

    def __post_init__(self):
        object.__setattr__(self, "categories", tuple(self.categories))
        object.__setattr__(self, "enrolled_years", frozenset(self.enrolled_years))

    def categories_on(self, day: dt.date) -> frozenset[str]:
        return frozenset(span.category for span in self.categories if span.holds_on(day))

    def applicable_category(self, day: dt.date, policy: PolicyParams) -> str | None:
        """The most favourable poor category held on the day, or None for a non-poor person."""
        held = self.categories_on(day)
        return next((category for category in policy.category_order if category in held), None)

    def is_enrolled(self, year: int) -> bool:
        return year in self.enrolled_years


@dataclass(frozen=True)
class ClaimFacts:
    """One claim (§6.1) in codes, not labels; amounts in yuan with at most two decimals."""

    claim_no: str
    hospital_level: str
    in_county: bool
    visit_type: str
    referral: bool
    admission_date: dt.date
    discharge_date: dt.date
    diagnosis: str
    total_cost: Decimal
    uncovered_cost: Decimal

    def __post_init__(self):
        where = f"结算单号 {self.claim_no}："
        if self.hospital_level not in HOSPITAL_LEVELS:
            raise SettlementInputError(f"{where}医院等级代码“{self.hospital_level}”无效")
        if self.visit_type not in VISIT_TYPES:
            raise SettlementInputError(f"{where}就诊类型代码“{self.visit_type}”无效")
        if self.discharge_date < self.admission_date:
            raise SettlementInputError(f"{where}出院日期早于入院日期")
        for name, label in (("total_cost", "医疗总费用"), ("uncovered_cost", "目录外费用")):
            amount = getattr(self, name)
            if not isinstance(amount, Decimal) or not amount.is_finite() or amount < 0:
                raise SettlementInputError(f"{where}{label}应为非负金额：{amount!r}")
            if amount != amount.quantize(CENT):
                raise SettlementInputError(f"{where}{label}最多两位小数：{amount}")
        if self.uncovered_cost > self.total_cost:
            raise SettlementInputError(f"{where}目录外费用大于医疗总费用")

    @property
    def year(self) -> int:
        """A claim belongs to the insurance year of its admission date (§6.3)."""
        return self.admission_date.year

    @property
    def covered_cost(self) -> Decimal:
        return self.total_cost - self.uncovered_cost


def settlement_order(claim: ClaimFacts) -> tuple[dt.date, str]:
    return (claim.discharge_date, claim.claim_no)


# ---------------------------------------------------------------- results

@dataclass(frozen=True)
class TierResult:
    """One tier of one claim, with what a settlement sheet needs to explain it.

    base is what the tier worked on (the covered self-pay Sc for tiers 1–3, the self-pay S for 4–6,
    zero when the tier does not apply); deductible is the deductible applied (tier 3: the part of the
    yearly deductible still open; tier 6: the self-pay limit); cap_left is the yearly cap still open
    before this claim (None = no cap); bands, for tier 2, are this claim's (lower, upper, ratio,
    unrounded amount) in each band, measured on the year's accumulation above the deductible.
    """

    tier: str
    name_zh: str
    base: Decimal
    deductible: Decimal
    ratio: Decimal | None
    bands: tuple[tuple[Decimal, Decimal, Decimal, Decimal], ...]
    cap_left: Decimal | None
    amount: Decimal
    note_zh: str


@dataclass(frozen=True)
class ClaimSettlement:
    claim_no: str
    year: int
    category: str | None
    poor: bool
    enrolled: bool
    total_cost: Decimal
    covered_cost: Decimal
    tiers: tuple[TierResult, ...]
    self_pay: Decimal
    reimbursed: Decimal
    effective_ratio: Decimal  # (T − self-pay) / T to four places; 0 for a zero bill

    def tier(self, code: str) -> TierResult:
        return self.tiers[TIER_CODES.index(code)]

    def to_dict(self) -> dict:
        """JSON-able, Decimals as strings: the stored version of a settlement."""
        return _dump(self)


@dataclass(frozen=True)
class YearToDate:
    """A person's running figures for one insurance year, before the next claim."""

    basic_paid: Decimal = ZERO
    critical_accumulated: Decimal = ZERO  # A: the earlier claims' covered self-pay after tier 1
    critical_paid: Decimal = ZERO
    assistance_deductible_used: Decimal = ZERO
    assistance_paid: Decimal = ZERO
    hospital_waiver_paid: Decimal = ZERO
    special_insurance_paid: Decimal = ZERO
    backstop_paid: Decimal = ZERO
    total_cost: Decimal = ZERO
    self_pay_total: Decimal = ZERO
    claim_count: int = 0

    def after(self, settlement: ClaimSettlement) -> YearToDate:
        basic, critical, assistance, waiver, special, backstop = settlement.tiers
        return YearToDate(
            basic_paid=self.basic_paid + basic.amount,
            critical_accumulated=self.critical_accumulated + critical.base,
            critical_paid=self.critical_paid + critical.amount,
            # only the part of this claim's Sc that the open deductible absorbed counts as used
            assistance_deductible_used=self.assistance_deductible_used
            + min(assistance.base, assistance.deductible),
            assistance_paid=self.assistance_paid + assistance.amount,
            hospital_waiver_paid=self.hospital_waiver_paid + waiver.amount,
            special_insurance_paid=self.special_insurance_paid + special.amount,
            backstop_paid=self.backstop_paid + backstop.amount,
            total_cost=self.total_cost + settlement.total_cost,
            self_pay_total=self.self_pay_total + settlement.self_pay,
            claim_count=self.claim_count + 1,
        )


# ---------------------------------------------------------------- the six tiers

@dataclass(frozen=True)
class _Context:
    claim: ClaimFacts
    policy: PolicyParams
    category: str | None
    ytd: YearToDate

    @property
    def poor(self) -> bool:
        return self.category is not None


def _round(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _cap_left(cap: Decimal | None, paid: Decimal) -> Decimal | None:
    return None if cap is None else max(ZERO, cap - paid)


def _limited(payable: Decimal, cap_left: Decimal | None, base: Decimal) -> Decimal:
    """A tier never pays more than its cap left or its base, and never less than zero."""
    amount = min(payable, base) if cap_left is None else min(payable, cap_left, base)
    return max(ZERO, amount)


def _tidy(amount: Decimal) -> Decimal:
    """Show a whole-cent figure with two places (250.0 → 250.00); keep any finer figure exact."""
    cents = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    return cents if cents == amount else amount.normalize()


def _yuan(amount: Decimal) -> str:
    return f"{_tidy(amount):f}"


def _pct(ratio: Decimal) -> str:
    return f"{(ratio * 100).normalize():f}%"


def _cap_note(cap_left: Decimal | None, payable: Decimal, amount: Decimal) -> str:
    if cap_left is None or amount >= payable or amount != cap_left:
        return ""
    return f"；年度封顶剩余{_yuan(cap_left)}元，按剩余额支付"


def _not_applicable(tier: str, note: str) -> TierResult:
    return TierResult(tier, TIER_NAMES[tier], ZERO, ZERO, None, (), None, ZERO, note)


def _basic_terms(claim: ClaimFacts, params: BasicParams, poor: bool) -> tuple[Decimal, Decimal]:
    if claim.visit_type == SPECIAL_OUTPATIENT:
        return params.special_outpatient_deductible, params.special_outpatient_ratio
    deductible = params.deductible.of(claim.hospital_level)
    ratio = params.ratio.of(claim.hospital_level)
    if not poor:
        return deductible, ratio
    ratio += params.poor_bonus_in_county if claim.in_county else params.poor_bonus_out_of_county
    if params.poor_ratio_ceiling is not None:
        ratio = min(ratio, params.poor_ratio_ceiling)
    return deductible * params.poor_deductible_factor, ratio


def _basic(ctx: _Context, s: Decimal, sc: Decimal) -> TierResult:
    params = ctx.policy.basic
    deductible, ratio = _basic_terms(ctx.claim, params, ctx.poor)
    deductible = _tidy(deductible)
    eligible = max(ZERO, sc - deductible)
    payable = _round(ratio * eligible)
    cap_left = _cap_left(params.yearly_cap, ctx.ytd.basic_paid)
    amount = _limited(payable, cap_left, sc)
    note = (f"起付线{_yuan(deductible)}元，报销比例{_pct(ratio)}：{_yuan(eligible)}元×{_pct(ratio)}"
            f"={_yuan(payable)}元{_cap_note(cap_left, payable, amount)}")
    return TierResult("basic", TIER_NAMES["basic"], sc, deductible, ratio, (), cap_left, amount, note)


def _band_pieces(start: Decimal, end: Decimal, bands: tuple[Band, ...], bonus: Decimal) -> tuple:
    """This claim's stretch [start, end] of the accumulation above the deductible, cut by band."""
    pieces = []
    lower = ZERO
    for upper, band_ratio in bands:
        low = max(start, lower)
        high = end if upper is None else min(end, upper)
        if high > low:
            ratio = band_ratio + bonus
            pieces.append((low, high, ratio, (high - low) * ratio))
        if upper is None:
            break
        lower = upper
    return tuple(pieces)


def _critical(ctx: _Context, s: Decimal, sc: Decimal) -> TierResult:
    # A person whose status changes within the year keeps one accumulation A; each claim uses the
    # deductible, bands and cap of its own status on its admission date (§6 is silent on this).
    params = ctx.policy.critical
    deductible = _tidy(params.poor_deductible if ctx.poor else params.deductible)
    bonus = params.poor_band_bonus if ctx.poor else ZERO
    before = ctx.ytd.critical_accumulated
    pieces = _band_pieces(before - deductible, before + sc - deductible, params.bands, bonus)
    payable = _round(sum((piece[3] for piece in pieces), ZERO))
    cap_left = _cap_left(params.poor_cap if ctx.poor else params.cap, ctx.ytd.critical_paid)
    amount = _limited(payable, cap_left, sc)
    note = _critical_note(before, before + sc, deductible, pieces, payable) + _cap_note(cap_left, payable, amount)
    return TierResult("critical", TIER_NAMES["critical"], sc, deductible, None, pieces, cap_left, amount, note)


def _critical_note(before: Decimal, after: Decimal, deductible: Decimal, pieces: tuple, payable: Decimal) -> str:
    head = f"年度起付线{_yuan(deductible)}元，年度累计政策范围内自付{_yuan(before)}→{_yuan(after)}元"
    if not pieces:
        return f"{head}，未超过起付线"
    bands = "；".join(
        f"超起付线{_yuan(low)}–{_yuan(high)}元段×{_pct(ratio)}={_yuan(amount)}元"
        for low, high, ratio, amount in pieces
    )
    return f"{head}：{bands}；合计{_yuan(payable)}元"


def _assistance(ctx: _Context, s: Decimal, sc: Decimal) -> TierResult:
    if not ctx.poor:
        return _not_applicable("assistance", "非贫困人口，不享受医疗救助")
    # The yearly deductible is what the earlier claims' tier-3 Sc actually absorbed; the cap counts all
    # assistance paid this year, whatever the category then (§6 is silent on category changes).
    params = ctx.policy.assistance
    ratio = params.ratio.of(ctx.category)
    deductible = max(ZERO, params.yearly_deductible.of(ctx.category) - ctx.ytd.assistance_deductible_used)
    eligible = max(ZERO, sc - deductible)
    payable = _round(ratio * eligible)
    cap_left = _cap_left(params.cap.of(ctx.category), ctx.ytd.assistance_paid)
    amount = _limited(payable, cap_left, sc)
    note = (f"{CATEGORY_NAMES[ctx.category]}，救助比例{_pct(ratio)}，年度起付线尚余{_yuan(deductible)}元："
            f"{_yuan(eligible)}元×{_pct(ratio)}={_yuan(payable)}元{_cap_note(cap_left, payable, amount)}")
    return TierResult("assistance", TIER_NAMES["assistance"], sc, deductible, ratio, (), cap_left, amount, note)


def _hospital_waiver(ctx: _Context, s: Decimal, sc: Decimal) -> TierResult:
    params = ctx.policy.hospital_waiver
    if not ctx.poor:
        return _not_applicable("hospital_waiver", "非贫困人口，不享受医院减免")
    if params.in_county_only and not ctx.claim.in_county:
        return _not_applicable("hospital_waiver", "县域外医院，不减免")
    amount = _limited(_round(params.ratio * s), None, s)
    note = f"个人负担{_yuan(s)}元×减免比例{_pct(params.ratio)}={_yuan(amount)}元"
    return TierResult("hospital_waiver", TIER_NAMES["hospital_waiver"], s, ZERO, params.ratio, (), None, amount, note)


def _special_insurance(ctx: _Context, s: Decimal, sc: Decimal) -> TierResult:
    if not ctx.poor:
        return _not_applicable("special_insurance", "非贫困人口，不享受扶贫特惠保")
    params = ctx.policy.special_insurance
    payable = _round(params.ratio * s)
    cap_left = _cap_left(params.yearly_cap, ctx.ytd.special_insurance_paid)
    amount = _limited(payable, cap_left, s)
    note = (f"个人负担{_yuan(s)}元×{_pct(params.ratio)}={_yuan(payable)}元"
            f"{_cap_note(cap_left, payable, amount)}")
    return TierResult(
        "special_insurance", TIER_NAMES["special_insurance"], s, ZERO, params.ratio, (), cap_left, amount, note
    )


def _backstop(ctx: _Context, s: Decimal, sc: Decimal) -> TierResult:
    params = ctx.policy.backstop
    claim = ctx.claim
    if not ctx.poor:
        return _not_applicable("backstop", "非贫困人口，不享受财政兜底")
    if not claim.in_county and not (claim.referral and params.referral_counts_out_of_county):
        return _not_applicable("backstop", "县域外就医且未转诊，不予兜底")
    if claim.visit_type == SPECIAL_OUTPATIENT:
        share = params.special_outpatient_limit_share
    else:
        share = params.inpatient_limit_share
    limit = _tidy(share * claim.total_cost)
    amount = _limited(_round(max(ZERO, s - limit)), None, s)
    note = (f"个人自付控制线：医疗总费用{_yuan(claim.total_cost)}元×{_pct(share)}={_yuan(limit)}元；"
            f"个人负担{_yuan(s)}元，兜底{_yuan(amount)}元")
    return TierResult("backstop", TIER_NAMES["backstop"], s, limit, None, (), None, amount, note)


_TIERS = (
    ("basic", _basic),
    ("critical", _critical),
    ("assistance", _assistance),
    ("hospital_waiver", _hospital_waiver),
    ("special_insurance", _special_insurance),
    ("backstop", _backstop),
)


# ---------------------------------------------------------------- settling

def _refusal(person: PersonFacts, claim: ClaimFacts, policy: PolicyParams) -> str:
    """Why no tier pays at all, or "" when the tiers apply."""
    if not person.is_enrolled(claim.year):
        return f"{claim.year}年度未参保，不予支付"
    died_before = person.death_date is not None and claim.admission_date > person.death_date
    if died_before and not policy.settle_after_death:
        return "入院日期晚于死亡日期，不予支付"
    return ""


def _effective_ratio(reimbursed: Decimal, total: Decimal) -> Decimal:
    if total == 0:
        return Decimal("0.0000")
    return (reimbursed / total).quantize(RATIO_PLACES, rounding=ROUND_HALF_UP)


def _run_tiers(ctx: _Context, refusal: str) -> tuple[TierResult, ...]:
    """Each tier works on what the one before left: S and Sc fall by every amount paid (Sc not below 0)."""
    s, sc = ctx.claim.total_cost, ctx.claim.covered_cost
    tiers = []
    for code, compute in _TIERS:
        tier = _not_applicable(code, refusal) if refusal else compute(ctx, s, sc)
        s -= tier.amount
        sc = max(ZERO, sc - tier.amount)
        tiers.append(tier)
    return tuple(tiers)


def settle_claim(
    person: PersonFacts, claim: ClaimFacts, policy: PolicyParams, ytd: YearToDate | None = None
) -> tuple[ClaimSettlement, YearToDate]:
    """Settle one claim on top of the person's year-to-date figures; return it and the new figures."""
    ytd = YearToDate() if ytd is None else ytd
    category = person.applicable_category(claim.admission_date, policy)
    tiers = _run_tiers(_Context(claim, policy, category, ytd), _refusal(person, claim, policy))
    reimbursed = sum((tier.amount for tier in tiers), ZERO)
    settlement = ClaimSettlement(
        claim_no=claim.claim_no,
        year=claim.year,
        category=category,
        poor=category is not None,
        enrolled=person.is_enrolled(claim.year),
        total_cost=claim.total_cost,
        covered_cost=claim.covered_cost,
        tiers=tiers,
        self_pay=claim.total_cost - reimbursed,
        reimbursed=reimbursed,
        effective_ratio=_effective_ratio(reimbursed, claim.total_cost),
    )
    return settlement, ytd.after(settlement)


def settle_person_year(
    person: PersonFacts, claims: Iterable[ClaimFacts], policy: PolicyParams, ytd: YearToDate | None = None
) -> list[ClaimSettlement]:
    """Settle one person's claims of one year in settlement order, carrying the year-to-date figures."""
    ordered = sorted(claims, key=settlement_order)
    if len({claim.year for claim in ordered}) > 1:
        raise SettlementInputError("同一年度结算的单据入院年度不一致")
    results = []
    for claim in ordered:
        settlement, ytd = settle_claim(person, claim, policy, ytd)
        results.append(settlement)
    return results


def settle_person(
    person: PersonFacts, claims: Iterable[ClaimFacts], policy_for_year: Callable[[int], PolicyParams]
) -> list[ClaimSettlement]:
    """Settle all of a person's claims, each admission year with its own policy and year-to-date."""
    policies: dict[int, PolicyParams] = {}
    ytds: dict[int, YearToDate] = {}
    results = []
    for claim in sorted(claims, key=settlement_order):
        if claim.year not in policies:
            policies[claim.year] = policy_for_year(claim.year)
        settlement, ytds[claim.year] = settle_claim(person, claim, policies[claim.year], ytds.get(claim.year))
        results.append(settlement)
    return results


# ---------------------------------------------------------------- §6.6 JSON document

def settle_document(doc: Mapping, policy_for_year: Callable[[int], PolicyParams]) -> dict:
    """Settle one §6.6 document. Its "policy" code is the caller's business: it picks policy_for_year."""
    if not isinstance(doc, Mapping):
        raise SettlementInputError("结算文档应为 JSON 对象")
    person = _person_from_doc(_required(doc, "person", ""))
    claims = _claims_from_doc(_required(doc, "claims", ""))
    return {"claims": [_settlement_to_doc(s) for s in settle_person(person, claims, policy_for_year)]}


def _settlement_to_doc(settlement: ClaimSettlement) -> dict:
    return {
        "claim_no": settlement.claim_no,
        "tiers": {tier.tier: _money_text(tier.amount) for tier in settlement.tiers},
        "self_pay": _money_text(settlement.self_pay),
    }


def _money_text(amount: Decimal) -> str:
    return f"{amount.quantize(CENT, rounding=ROUND_HALF_UP):f}"


def _required(mapping: Mapping, key: str, path: str) -> object:
    if key not in mapping or mapping[key] is None:
        raise SettlementInputError(f"{path}{key}：缺少必填字段")
    return mapping[key]


def _mapping(value: object, path: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise SettlementInputError(f"{path}：应为 JSON 对象")
    return value


def _list(value: object, path: str) -> list:
    if not isinstance(value, list):
        raise SettlementInputError(f"{path}：应为列表")
    return value


def _person_from_doc(value: object) -> PersonFacts:
    raw = _mapping(value, "person")
    spans = [_span_from_doc(item, f"person.categories[{i}]")
             for i, item in enumerate(_list(raw.get("categories") or [], "person.categories"))]
    years = [_year(item, f"person.enrolled_years[{i}]")
             for i, item in enumerate(_list(raw.get("enrolled_years") or [], "person.enrolled_years"))]
    death = raw.get("death_date")
    return PersonFacts(
        id_number=str(_required(raw, "id_number", "person.")),
        categories=tuple(spans),
        enrolled_years=frozenset(years),
        death_date=None if death is None else _date(death, "person.death_date"),
    )


def _span_from_doc(value: object, path: str) -> CategorySpan:
    raw = _mapping(value, path)
    valid_to = raw.get("valid_to")
    return _with_path(path, lambda: CategorySpan(
        category=category_code(_required(raw, "category", f"{path}.")),
        valid_from=_date(_required(raw, "valid_from", f"{path}."), f"{path}.valid_from"),
        valid_to=None if valid_to is None else _date(valid_to, f"{path}.valid_to"),
    ))


def _claims_from_doc(value: object) -> list[ClaimFacts]:
    claims = [_claim_from_doc(item, f"claims[{i}]") for i, item in enumerate(_list(value, "claims"))]
    numbers = [claim.claim_no for claim in claims]
    duplicates = sorted({no for no in numbers if numbers.count(no) > 1})
    if duplicates:
        raise SettlementInputError(f"claims：结算单号重复 {duplicates[0]}")
    return claims


def _claim_from_doc(value: object, path: str) -> ClaimFacts:
    raw = _mapping(value, path)

    def field(key: str) -> object:
        return _required(raw, key, f"{path}.")

    return _with_path(path, lambda: ClaimFacts(
        claim_no=str(field("claim_no")).strip(),
        hospital_level=hospital_level_code(field("hospital_level")),
        in_county=_flag(field("in_county"), f"{path}.in_county"),
        visit_type=visit_type_code(field("visit_type")),
        referral=_flag(raw.get("referral", False), f"{path}.referral"),
        admission_date=_date(field("admission_date"), f"{path}.admission_date"),
        discharge_date=_date(field("discharge_date"), f"{path}.discharge_date"),
        diagnosis=str(raw.get("diagnosis") or ""),
        total_cost=_amount(field("total_cost"), f"{path}.total_cost"),
        uncovered_cost=_amount(field("uncovered_cost"), f"{path}.uncovered_cost"),
    ))


def _with_path(path: str, build: Callable[[], object]) -> object:
    """Prefix a builder's error with the document path unless the message already names its field."""
    try:
        return build()
    except SettlementInputError as error:
        message = str(error)
        raise SettlementInputError(message if message.startswith(path) else f"{path}：{message}") from None


def _flag(value: object, path: str) -> bool:
    if isinstance(value, bool):
        return value
    flag = code_of(YES_NO_SPELLINGS, value) if isinstance(value, str) else None
    if flag is not None:
        return flag
    raise SettlementInputError(f"{path}：应为 true/false 或 是/否，而不是 {value!r}")


def _date(value: object, path: str) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise SettlementInputError(f"{path}：日期应为 YYYY-MM-DD，而不是 {value!r}") from None


def _year(value: object, path: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise SettlementInputError(f"{path}：年度应为整数，而不是 {value!r}")


def _to_decimal(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise SettlementInputError(f"不是数值：{value!r}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise SettlementInputError(f"不是数值：{value!r}") from None
    if not number.is_finite():
        raise SettlementInputError(f"不是有限数值：{value!r}")
    return number


def _amount(value: object, path: str) -> Decimal:
    try:
        number = _to_decimal(value)
        cents = number.quantize(CENT)
    except (SettlementInputError, InvalidOperation):
        raise SettlementInputError(f"{path}：金额无效 {value!r}") from None
    if number < 0 or cents != number:
        raise SettlementInputError(f"{path}：金额应为非负数且最多两位小数，而不是 {value!r}")
    return cents


# ---------------------------------------------------------------- §9 risk of falling into poverty

def risk_threshold(policy: PolicyParams, per_capita_income: Decimal | None) -> Decimal:
    """The lower of the fixed amount and the share of last year's per-capita rural disposable income."""
    absolute = policy.risk.absolute_threshold
    if per_capita_income is None:
        return absolute
    return min(absolute, _round(policy.risk.income_share * per_capita_income))


def at_risk(self_pay_total: Decimal, threshold: Decimal) -> bool:
    """§9 says "exceeds": a year-to-date self-pay equal to the threshold is not yet on the list."""
    return self_pay_total > threshold
