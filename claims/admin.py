"""Admin of claims and supervision."""
from __future__ import annotations

from django.contrib import admin
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from poverty_registry.admin_base import ReadOnlyScopedAdmin, ReferenceImportMixin, ScopedAdmin, ScopedExportMixin

from .forms import SupervisionParamForm, rule_field_name
from .models import Case, CaseAttachment, CaseEvent, CaseHit, Recovery, ScreeningHit, SupervisionParam
from .resources import CaseResource, ScreeningHitResource, SupervisionParamResource
from .supervision.rules import PARAM_CHOICES, PARAMETERS, RULES, defaults_of, describe_params

# ---- Fund supervision (DOMAIN §7): rule parameters, screening hits, cases ------------------------------------


@admin.register(SupervisionParam)
class SupervisionParamAdmin(ReferenceImportMixin, ScopedAdmin):
    """Each parameter a labelled field (claims.forms.SupervisionParamForm); adding one first asks which rule;
    many settings at once import through django-import-export's preview (JSON text in the params column)."""

    resource_classes = [SupervisionParamResource]
    form = SupervisionParamForm
    list_display = ("code", "region", "year", "severity", "enabled", "params_text", "note", "updated_at")
    list_filter = ("code", "severity", "enabled", "year")
    search_fields = ("=region__code", "region__name")
    base_fields = ("code", "region", "year", "severity", "enabled", "note")

    def rule_code(self, request, obj=None) -> str | None:
        code = obj.code if obj is not None else request.GET.get("code")
        return code if code in PARAM_CHOICES else None

    def add_view(self, request, form_url="", extra_context=None):
        if self.rule_code(request) is None and self.has_add_permission(request):
            return render(request, "admin/claims/supervisionparam/pick_rule.html", {
                **self.admin_site.each_context(request), "opts": self.opts, "title": "选择要设置参数的规则",
                "rules": [(code, label, RULES[code].description if code in RULES else "认定欺诈骗保后的罚款倍数",
                           describe_params(code, defaults_of(code))) for code, label in PARAM_CHOICES.items()]})
        return super().add_view(request, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["fields"] = self.base_fields  # the parameter fields are the form's own, made per rule
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"rule_code": self.rule_code(request, obj)})

    def get_fieldsets(self, request, obj=None):
        code = self.rule_code(request, obj)
        fieldsets = [(None, {"fields": self.base_fields})]
        if obj is not None and not self.has_change_permission(request, obj):  # read-only: the values in words
            return [*fieldsets, ("规则参数", {"fields": ("params_text",)})]
        if code and PARAMETERS[code]:
            fieldsets.append((f"规则参数：{PARAM_CHOICES[code]}", {
                "fields": [rule_field_name(key) for key in PARAMETERS[code]],
                "description": RULES[code].description if code in RULES else "",
            }))
        elif code:
            fieldsets.append(("规则参数", {"fields": (),
                                           "description": "该规则没有可调整的参数，可设置风险等级与是否启用。"}))
        return fieldsets

    @admin.display(description="参数")
    def params_text(self, obj):
        return describe_params(obj.code, obj.params)


def _supervision_link(name: str, pk) -> str:
    try:
        return reverse(name, args=[pk])
    except NoReverseMatch:
        return ""


@admin.register(ScreeningHit)
class ScreeningHitAdmin(ScopedExportMixin, ReadOnlyScopedAdmin):
    resource_classes = [ScreeningHitResource]
    list_display = ("id", "rule", "severity", "status", "claim_link", "year", "region", "found_at", "checked_at")
    list_filter = ("rule", "severity", "status", "year")
    search_fields = ("=claim__claim_no",)
    search_help_text = "按结算单号精确查询"
    list_select_related = ("claim", "region")
    raw_id_fields = ("claim",)


    @admin.display(description="结算单")
    def claim_link(self, obj):
        url = _supervision_link("supervision:claim", obj.claim_id)
        return format_html('<a href="{}">{}</a>', url, obj.claim.claim_no) if url else obj.claim.claim_no


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class CaseHitInline(ReadOnlyInline):
    model = CaseHit
    fields = ("hit",)
    readonly_fields = fields


class CaseEventInline(ReadOnlyInline):
    model = CaseEvent
    fields = ("at", "action", "from_state", "to_state", "user", "note")
    readonly_fields = fields


class RecoveryInline(ReadOnlyInline):
    model = Recovery
    fields = ("paid_on", "amount", "payer", "receipt_no", "entered_by", "note")
    readonly_fields = fields


class CaseAttachmentInline(ReadOnlyInline):
    model = CaseAttachment
    fields = ("name", "size", "sha256", "uploaded_by", "uploaded_at")
    readonly_fields = fields


@admin.register(Case)
class CaseAdmin(ScopedExportMixin, ReadOnlyScopedAdmin):
    resource_classes = [CaseResource]
    """Read-only here: cases move only through the supervision pages (the state machine in claims.supervision.cases)."""

    list_display = ("id", "title", "source", "state", "region", "amount_to_recover", "penalty_amount",
                    "recovered_amount", "opened_by", "opened_at", "page_link")
    list_filter = ("state", "source", "target_kind")
    search_fields = ("title", "target_name", "=target_hospital__code")
    list_select_related = ("region", "opened_by", "target_hospital")
    inlines = (CaseHitInline, CaseEventInline, RecoveryInline, CaseAttachmentInline)


    @admin.display(description="办理页面")
    def page_link(self, obj):
        url = _supervision_link("supervision:case", obj.pk)
        return format_html('<a href="{}">办理</a>', url) if url else ""


from .settlement import admin as settlement_admin  # noqa: E402,F401 — hospitals, policy sets, claims, settlements
