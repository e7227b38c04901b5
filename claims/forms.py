"""Forms of settlement and supervision: the policy set as readable fields over PolicyParams.to_dict()/from_dict
(errors in Chinese, named by field), a screening rule's parameters as fields declared in
claims.supervision.rules, and manual claim entry (who the patient is, derived fields)."""
from __future__ import annotations

import typing
from dataclasses import fields, is_dataclass
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError

from poverty_registry.idnumber import IdNumberError, parse_id_number
from poverty_registry.models import Person
from poverty_registry.scoping import region_scope
from poverty_registry.vocab import CATEGORY_SPELLINGS, ENROLMENT_STATUSES, HOSPITAL_LEVELS, code_of

from .models import Claim, Hospital, PolicySet, SupervisionParam
from .settlement.engine import CATEGORY_NAMES, PolicyParams, SettlementInputError
from .supervision.rules import CLEANERS, Param, ParamError, defaults_of, validate_params
from .supervision.rules import PARAMETERS as RULE_PARAMETERS

# Labels of the path segments of PolicyParams; a full label joins them: "基本医保 · 报销比例 · 县级".
SEGMENTS = {
    "basic": "基本医保", "critical": "大病保险", "assistance": "医疗救助", "hospital_waiver": "医院减免",
    "special_insurance": "扶贫特惠保", "backstop": "财政兜底", "risk": "因病返贫致贫预警",
    "deductible": "起付线（元）", "poor_deductible_factor": "贫困人口起付线系数", "ratio": "比例",
    "poor_bonus_in_county": "贫困人口县域内提高比例", "poor_bonus_out_of_county": "贫困人口县域外提高比例",
    "poor_ratio_ceiling": "贫困人口报销比例上限（空为不设）",
    "special_outpatient_deductible": "特殊病种门诊起付线（元）", "special_outpatient_ratio": "特殊病种门诊报销比例",
    "yearly_cap": "年度封顶线（元，空为不封顶）", "poor_deductible": "贫困人口年度起付线（元）",
    "bands": "分段报销比例", "poor_band_bonus": "贫困人口各段提高比例", "cap": "年度封顶线（元，空为不封顶）",
    "poor_cap": "贫困人口年度封顶线（元，空为不封顶）", "yearly_deductible": "年度起付线（元）",
    "in_county_only": "仅限县域内医院", "inpatient_limit_share": "住院个人自付控制比例",
    "special_outpatient_limit_share": "特殊病种门诊个人自付控制比例",
    "referral_counts_out_of_county": "县域外转诊按县域内兜底", "category_order": "贫困人口类别优先顺序",
    "settle_after_death": "死亡日期后入院仍予结算（由R01规则核查）",
    "absolute_threshold": "预警金额（元）", "income_share": "上年农村居民人均可支配收入的比例",
    **HOSPITAL_LEVELS,
    **{code: name for code, name in CATEGORY_NAMES.items()},
}
RATIO_HINT = "小数，0.70 即 70%"


def _leaves(cls: type, prefix: str = "") -> list[tuple[str, object]]:
    """(dotted path, type hint) of every parameter of a PolicyParams dataclass, in declaration order."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in fields(cls):
        path = f"{prefix}{f.name}"
        if is_dataclass(hints[f.name]):
            out += _leaves(hints[f.name], f"{path}.")
        else:
            out.append((path, hints[f.name]))
    return out


PARAMETERS = _leaves(PolicyParams)


def field_name(path: str) -> str:
    return "p__" + path.replace(".", "__")


def label_of(path: str) -> str:
    return " · ".join(SEGMENTS.get(part, part) for part in path.split("."))


def _get(data: dict, path: str):
    for part in path.split("."):
        data = data[part]
    return data


def _set(data: dict, path: str, value) -> None:
    *parents, last = path.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[last] = value


def bands_text(bands: list) -> str:
    return "\n".join(f"{'不封顶' if upper is None else upper} {ratio}" for upper, ratio in bands)


def parse_bands(text: str) -> list:
    bands = []
    for number, line in enumerate(line for line in text.splitlines() if line.strip()):
        parts = line.replace(",", " ").replace("，", " ").split()
        if len(parts) != 2:
            raise ValidationError(f"第{number + 1}段应写成“上限 比例”，如“50000 0.60”；最后一段上限写“不封顶”")
        upper, ratio = parts
        bands.append([None if upper in ("不封顶", "-", "无") else upper, ratio])
    return bands


def order_text(order: list) -> str:
    return " > ".join(CATEGORY_NAMES.get(code, code) for code in order)


def parse_order(text: str) -> list:
    names = [part.strip() for part in text.replace(">", ",").replace("、", ",").replace("，", ",").split(",")]
    codes = []
    for name in filter(None, names):
        code = code_of(CATEGORY_SPELLINGS, name)
        if code is None:
            raise ValidationError(f"“{name}”不是人员类别")
        codes.append(code)
    return codes


class PolicyParamsForm(forms.ModelForm):
    """Every §6.4 parameter as its own labelled field; saving always makes a new version (the admin)."""

    note = forms.CharField(label="调整说明", max_length=200, required=False)
    # Opt-in: a re-settlement rewrites every claim of the year and cannot be taken back (issue 15).
    resettle = forms.BooleanField(label="保存后立即按新版本重新结算该年度", required=False, initial=False,
                                  help_text="不勾选时，已结算的单据保持原结果，此后到达或更正的单据按新版本结算；"
                                            "勾选后保存前会列出将重新结算的单据数，请核对后确认")

    class Meta:
        model = PolicySet
        fields = ("year", "region")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = self.instance.params if self.instance.pk else PolicyParams().to_dict()
        for path, hint in PARAMETERS:
            self.fields[field_name(path)] = self._field(path, hint, _get(current, path))
        if self.instance.pk:
            self.fields["note"].initial = ""

    @staticmethod
    def _field(path: str, hint, value) -> forms.Field:
        label = label_of(path)
        if hint is bool:
            return forms.BooleanField(label=label, required=False, initial=value)
        if path.endswith("bands"):
            return forms.CharField(label=label, initial=bands_text(value), widget=forms.Textarea(attrs={"rows": 3}),
                                   help_text="每行一段：上限（超过起付线的累计金额，元）与比例，最后一段上限写“不封顶”")
        if path.endswith("category_order"):
            return forms.CharField(label=label, initial=order_text(value), help_text="用 > 分隔，优先者在前")
        nullable = hint == Decimal | None
        is_ratio = any(word in path for word in ("ratio", "bonus", "share", "factor", "ceiling"))
        return forms.CharField(label=label, initial="" if value is None else value, required=not nullable,
                               help_text=RATIO_HINT if is_ratio else "",
                               widget=forms.TextInput(attrs={"size": 10}))

    def clean(self):
        cleaned = super().clean()
        data: dict = {}
        for path, hint in PARAMETERS:
            name = field_name(path)
            if name not in cleaned:
                continue
            value = cleaned[name]
            try:
                if path.endswith("bands"):
                    value = parse_bands(value)
                elif path.endswith("category_order"):
                    value = parse_order(value)
                elif hint is not bool:
                    value = (value or "").strip() or None
            except ValidationError as exc:
                self.add_error(name, exc)
                continue
            _set(data, path, value)
        if self.errors:
            return cleaned
        try:
            self.params = PolicyParams.from_dict(data)
        except SettlementInputError as exc:
            self.add_error(self._field_of(str(exc)), f"{exc}".replace("政策参数 ", "参数 "))
        return cleaned

    @staticmethod
    def _field_of(message: str) -> str | None:
        """The field a from_dict message names (its dotted path), or None for a form-wide error."""
        for path, _ in sorted(PARAMETERS, key=lambda p: -len(p[0])):
            if f" {path}" in message:
                return field_name(path)
        return None

    def sections(self) -> list[tuple[str, list]]:
        """Fields grouped by tier for the template."""
        groups: dict[str, list] = {}
        for path, _ in PARAMETERS:
            head = path.split(".")[0]
            groups.setdefault(SEGMENTS.get(head, "其他"), []).append(self[field_name(path)])
        return list(groups.items())


def changed_parameters(old: dict, new: dict) -> list[str]:
    """Labels of the parameters whose value differs between two PolicyParams.to_dict() documents."""
    def value(data, path):
        try:
            return _get(data, path)
        except (KeyError, TypeError):
            return None

    return [label_of(path) for path, _ in PARAMETERS if value(old, path) != value(new, path)]


class ClaimEntryForm(forms.ModelForm):
    """Manual entry of a claim: the patient must be in the ledger or enrolled for the year, in the user's region;
    level, year, person and region follow from the hospital and the ID number."""

    class Meta:
        model = Claim
        fields = ("hospital", "claim_no", "in_county", "referral", "visit_type", "id_number", "name",
                  "admission_date", "discharge_date", "diagnosis", "total_cost", "uncovered_cost")

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if "hospital" in self.fields:  # designated hospitals are public: any of them may send a bill
            self.fields["hospital"].queryset = Hospital.objects.all()

    def clean_id_number(self):
        try:
            return parse_id_number(self.cleaned_data["id_number"]).number
        except IdNumberError as exc:
            raise ValidationError(f"身份证号：{exc}") from None

    def clean(self):
        from enrollment.models import Enrolment

        cleaned = super().clean()
        admission, discharge = cleaned.get("admission_date"), cleaned.get("discharge_date")
        if admission and discharge and discharge < admission:
            self.add_error("discharge_date", "出院日期早于入院日期")
        total, uncovered = cleaned.get("total_cost"), cleaned.get("uncovered_cost")
        if total is not None and uncovered is not None and (uncovered < 0 or uncovered > total):
            self.add_error("uncovered_cost", "目录外费用应在0与医疗总费用之间")
        # a user who may not see full numbers changes a claim without its (masked, read-only) number
        number = cleaned.get("id_number") if "id_number" in self.fields else self.instance.id_number
        if not number or not admission:
            return cleaned
        person = Person.objects.filter(id_number=number).first()
        enrolment = Enrolment.objects.filter(id_number=number, year=admission.year, status="enrolled").first()
        if person is None and enrolment is None:
            self.add_error("id_number", f"查无此人：既不在建档立卡台账中，{admission.year}年度也未参保")
            return cleaned
        region = person.region_id if person else enrolment.region_id
        if not region_scope(self.user).covers(region):
            self.add_error("id_number", f"参保人所在区划 {region} 不在您的辖区内")
            return cleaned
        self.instance.person = person
        self.instance.region_id = region
        if cleaned.get("hospital"):
            self.instance.hospital_level = cleaned["hospital"].level
        return cleaned


# ---- screening rule parameters (基金监管规则参数) ------------------------------------------------------------

def rule_field_name(key: str) -> str:
    return f"param__{key}"


def _bounds_text(p: Param) -> str:
    default = "、".join(p.default) if isinstance(p.default, list) else p.default
    if p.kind == "statuses":
        default = "、".join(ENROLMENT_STATUSES.get(code, code) for code in p.default)
    limits = f"范围 {p.min}–{p.max} {p.unit}；" if p.min is not None and p.max is not None else ""
    return f"{p.help}。{limits}默认 {default}{p.unit if p.kind in ('int', 'decimal') else ''}"


def rule_param_field(p: Param, value) -> forms.Field:
    """The form field of one declared parameter: label with unit, bounds, explanation, Chinese errors."""
    label = f"{p.label}（{p.unit}）" if p.unit else p.label
    help_text = _bounds_text(p)
    if p.kind in ("int", "decimal"):
        errors = {"required": f"请填写{p.label}", "invalid": f"{p.label}须为{'整数' if p.kind == 'int' else '数字'}",
                  "min_value": f"{p.label}不能小于 {p.min}{p.unit}", "max_value": f"{p.label}不能大于 {p.max}{p.unit}",
                  "max_decimal_places": f"{p.label}最多保留两位小数", "max_digits": f"{p.label}数值过大"}
        if p.kind == "int":
            return forms.IntegerField(label=label, min_value=p.min, max_value=p.max, initial=value,
                                      help_text=help_text, error_messages=errors)
        return forms.DecimalField(label=label, min_value=p.min, max_value=p.max, max_digits=12, decimal_places=2,
                                  initial=value, help_text=help_text, error_messages=errors)
    if p.kind == "statuses":
        return forms.MultipleChoiceField(label=label, choices=list(ENROLMENT_STATUSES.items()), initial=value,
                                         widget=forms.CheckboxSelectMultiple, help_text=help_text,
                                         error_messages={"required": f"{p.label}至少选择一项",
                                                         "invalid_choice": "“%(value)s”不是参保状态"})
    return forms.CharField(label=label, initial=", ".join(value), widget=forms.Textarea(attrs={"rows": 2}),
                           help_text=help_text, error_messages={"required": f"请填写{p.label}"})


def parse_code_ranges(text: str) -> list[str]:
    """"O00-O9A, N70-N98" (commas, 、 or new lines) → ["O00-O9A", "N70-N98"]."""
    for separator in ("，", "、", "\n", ";", "；"):
        text = text.replace(separator, ",")
    return [part.strip() for part in text.split(",") if part.strip()]


class SupervisionParamForm(forms.ModelForm):
    """A screening rule's (or the penalty's) parameters as labelled fields, declared once in
    claims.supervision.rules.PARAMETERS; the stored JSON is what validate_params returns, as screening reads it.
    `rule_code` is the rule being set (the admin sets it per request; a saved row keeps its own)."""

    rule_code: str | None = None

    class Meta:
        model = SupervisionParam
        fields = ("code", "region", "year", "severity", "enabled", "note")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        code = self.instance.code if self.instance.pk else self.rule_code
        self.code = code if code in RULE_PARAMETERS else None
        if self.code is None:
            return
        if "code" in self.fields:  # the fields below belong to this rule: it is not changed here
            self.fields["code"].disabled = True
            self.initial["code"] = self.code
        current = {**defaults_of(self.code), **(self.instance.params or {})}
        for key, p in RULE_PARAMETERS[self.code].items():
            self.fields[rule_field_name(key)] = rule_param_field(p, current[key])

    def parameter_names(self) -> list[str]:
        return [rule_field_name(key) for key in RULE_PARAMETERS.get(self.code, {})]

    def clean(self):
        cleaned = super().clean()
        if self.code is None:
            return cleaned
        values = {}
        for key, p in RULE_PARAMETERS[self.code].items():
            name = rule_field_name(key)
            if name not in cleaned:
                continue  # the field's own error is already shown
            value = cleaned[name]
            if p.kind == "codes":
                value = parse_code_ranges(value)
            try:
                values[key] = CLEANERS[p.kind](value, p)
            except ParamError as exc:
                self.add_error(name, str(exc))
        if self.errors:
            return cleaned
        try:
            self.instance.params = validate_params(self.code, values)
        except ParamError as exc:  # across parameters: the penalty's lowest above its highest
            self.add_error(self.parameter_names()[-1], str(exc))
        return cleaned
