"""Admin of 资助参保: enrolments (manual entry), policy parameters (every save is a new version), the subsidy
ledger, issued reports and chase-list entries — thin, scoped, masked."""
from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html

from poverty_registry.admin import id_number_column
from poverty_registry.admin_base import ReadOnlyScopedAdmin, ScopedAdmin, ScopedExportMixin
from poverty_registry.idnumber import IdNumberError, parse_id_number
from poverty_registry.vocab import CATEGORIES

from . import services
from .models import RULE_KINDS, ChaseEntry, Enrolment, SubsidyLine, SubsidyPolicy, SubsidyReport
from .resources import EnrolmentResource, SubsidyLineResource
from .subsidy_rules import check_rules, default_rules


class EnrolmentForm(forms.ModelForm):
    class Meta:
        model = Enrolment
        fields = ("id_number", "name", "year", "status", "paid_date", "region")

    def clean_id_number(self):
        try:
            return parse_id_number(self.cleaned_data["id_number"]).number
        except IdNumberError as exc:
            raise ValidationError(f"身份证号{exc}") from None


@admin.register(Enrolment)
class EnrolmentAdmin(ScopedExportMixin, ScopedAdmin):
    resource_classes = [EnrolmentResource]
    form = EnrolmentForm
    list_filter = ("year", "status")
    list_select_related = ("region",)
    search_fields = ("=id_number", "name")
    search_help_text = "按完整身份证号或姓名查询"
    autocomplete_fields = ("region",)
    fields = ("id_number", "name", "year", "status", "paid_date", "region", "person", "updated_at")
    readonly_fields = ("person", "updated_at")

    def get_list_display(self, request):
        return ("name", id_number_column(request), "year", "status", "paid_date", "region", "person")

    def save_model(self, request, obj, form, change):
        services.record_enrolment(obj)


def _rule_fields() -> dict:
    """Per category: how it is subsidised, by how much and from which fund (initial values from the rule)."""
    fields = {}
    for code, label in CATEGORIES.items():
        fields[f"{code}_kind"] = forms.ChoiceField(label=f"{label}：资助方式", choices=RULE_KINDS.items())
        fields[f"{code}_value"] = forms.DecimalField(label=f"{label}：比例（%）或定额（元）", min_value=0,
                                                     max_digits=12, decimal_places=2, initial=0)
        fields[f"{code}_fund"] = forms.CharField(label=f"{label}：资金来源", required=False, max_length=60)
    return fields


class PolicyFormBase(forms.ModelForm):
    """The policy's fields plus the per-category rule fields; the rules are stored as one JSON document."""

    class Meta:
        model = SubsidyPolicy
        fields = ("year", "region", "premium", "cutoff_date", "note")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "cutoff_date" in self.fields:
            self.fields["cutoff_date"].required = False
            self.fields["cutoff_date"].help_text = "留空则为上一年12月31日"
        rules = self.instance.rules if self.instance.pk else default_rules()
        for code in CATEGORIES:
            rule = rules.get(code) or {"kind": "none", "value": "0", "fund": ""}
            self.initial.setdefault(f"{code}_kind", rule["kind"])
            self.initial.setdefault(f"{code}_value", rule.get("value") or "0")
            self.initial.setdefault(f"{code}_fund", rule.get("fund", ""))

    def rules(self) -> dict:
        data = self.cleaned_data
        return {code: {"kind": data[f"{code}_kind"], "value": str(data[f"{code}_value"]),
                       "fund": data[f"{code}_fund"].strip()} for code in CATEGORIES}

    def clean(self):
        data = super().clean()
        if not self.errors:
            problems = check_rules(data["premium"], self.rules())
            if problems:
                raise ValidationError(problems)
        return data


PolicyForm = type("PolicyForm", (PolicyFormBase,), _rule_fields())


@admin.register(SubsidyPolicy)
class SubsidyPolicyAdmin(ScopedAdmin):
    form = PolicyForm
    list_display = ("year", "region", "version", "in_force", "premium", "cutoff_date", "rules_summary", "created_by",
                    "created_at")
    list_filter = ("year", "in_force")
    list_select_related = ("region", "created_by")
    autocomplete_fields = ("region",)

    def get_fieldsets(self, request, obj=None):
        if obj is not None and not self.has_change_permission(request, obj):
            return ((None, {"fields": ("year", "region", "version", "in_force", "premium", "cutoff_date",
                                       "rules_summary", "note", "created_by", "created_at")}),)
        rule_fields = [f"{code}_{part}" for code in CATEGORIES for part in ("kind", "value", "fund")]
        return (
            (None, {"fields": ("year", "region", "premium", "cutoff_date", "note"),
                    "description": "保存即生成新版本，原版本保留不变；已计算的资助明细和已出具的报表不受影响，"
                                   "重新计算后按新版本执行。"}),
            ("各类别资助标准", {"fields": rule_fields}),
        )

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return ("version", "in_force", "rules_summary", "created_by", "created_at")

    def save_model(self, request, obj, form, change):
        new = services.issue_policy_version(
            year=obj.year, region_code=obj.region_id, premium=obj.premium, cutoff_date=obj.cutoff_date,
            rules=form.rules(), note=obj.note, user=request.user)
        obj.__dict__.update({k: v for k, v in new.__dict__.items() if not k.startswith("_")})

    @admin.display(description="资助标准")
    def rules_summary(self, obj):
        parts = []
        for code, label in CATEGORIES.items():
            rule = obj.rule(code)
            if rule["kind"] == "percent":
                parts.append(f"{label}{rule['value']}%")
            elif rule["kind"] == "fixed":
                parts.append(f"{label}{rule['value']}元")
        return "；".join(parts) or "—"


@admin.register(SubsidyLine)
class SubsidyLineAdmin(ScopedExportMixin, ReadOnlyScopedAdmin):
    resource_classes = [SubsidyLineResource]
    list_filter = ("year", "category")
    list_select_related = ("region", "policy")
    search_fields = ("=id_number", "name")

    def get_list_display(self, request):
        return ("name", id_number_column(request), "year", "category_label", "premium", "subsidy", "fund",
                "policy", "region", "computed_at")

    def get_fields(self, request, obj=None):
        return ("name", id_number_column(request), "year", "category_label", "premium", "subsidy", "fund", "policy",
                "region", "computed_at")

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    @admin.display(description="资助类别", ordering="category")
    def category_label(self, obj):
        return CATEGORIES.get(obj.category, obj.category)


@admin.register(SubsidyReport)
class SubsidyReportAdmin(ReadOnlyScopedAdmin):
    list_display = ("serial_no", "year", "region", "persons", "total_subsidy", "issued_by", "issued_at", "open_link")
    list_filter = ("year",)
    search_fields = ("=serial_no",)
    list_select_related = ("region", "issued_by")
    fields = ("serial_no", "year", "region", "persons", "total_subsidy", "issued_by", "issued_at", "checksum")
    readonly_fields = fields

    @admin.display(description="查看")
    def open_link(self, obj):
        return format_html('<a href="{}">打开</a>', reverse("enrollment:report", args=[obj.pk]))


@admin.register(ChaseEntry)
class ChaseEntryAdmin(ScopedAdmin):
    list_display = ("person", "year", "status", "note", "updated_by", "updated_at")
    list_filter = ("year", "status")
    list_select_related = ("person", "updated_by")
    fields = ("person", "year", "status", "note", "updated_by", "updated_at")
    readonly_fields = ("person", "year", "updated_by", "updated_at")

    def has_add_permission(self, request):
        return False  # entries start from the chase list (未参保人员), where the person is known to be missing

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)
