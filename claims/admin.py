"""Admin of claims and supervision; the read-only, scoped audit trail browser."""
from __future__ import annotations

from django.apps import apps
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.html import format_html, format_html_join

from poverty_registry.admin_base import ReadOnlyScopedAdmin, ReferenceImportMixin, ScopedAdmin, ScopedExportMixin

from .audit_anchor import anchor_path, anchors_of_day
from .audit_display import LINK_TABLES, SOURCES, column_label, model_label, shown_value, source_label
from .models import AuditRecord


class TableFilter(admin.SimpleListFilter):
    title = "数据表"
    parameter_name = "table_name"

    def lookups(self, request, model_admin):
        audited = [(m._meta.db_table, m._meta.verbose_name) for m in apps.get_models() if getattr(m, "audited", False)]
        return audited + [(table, label) for table, (label, _) in LINK_TABLES.items()]

    def queryset(self, request, queryset):
        return queryset.filter(table_name=self.value()) if self.value() else queryset


class SourceFilter(admin.SimpleListFilter):
    """Where changes came from, named in words (the stored codes: claims.audit_display.SOURCES)."""

    title = "来源"
    parameter_name = "source"

    def lookups(self, request, model_admin):
        return list(SOURCES.items())

    def queryset(self, request, queryset):
        return queryset.filter(source=self.value()) if self.value() else queryset


class ObjectFilter(admin.SimpleListFilter):
    """Hidden filter behind the “审计记录” link of every change page."""

    title = "对象"
    parameter_name = "object_pk"

    def lookups(self, request, model_admin):
        value = request.GET.get(self.parameter_name)
        return [(value, f"#{value}")] if value else []

    def queryset(self, request, queryset):
        return queryset.filter(object_pk=self.value()) if self.value() else queryset


@admin.register(AuditRecord)
class AuditRecordAdmin(ReadOnlyScopedAdmin):
    list_display = ("id", "at", "actor_label", "ip_label", "action", "table_label", "object_pk", "source_label",
                    "changes_summary")
    list_filter = (TableFilter, ObjectFilter, "action", SourceFilter, ("at", admin.DateFieldListFilter))
    search_fields = ("=actor_username", "=object_pk")
    search_help_text = "按操作人账号或对象主键精确查询"
    ordering = ("-id",)

    def changelist_view(self, request, extra_context=None):
        from .audit import journal_pending

        entries, changes = journal_pending()
        if entries:  # a bulk write just committed: its records are being spread out of the journal
            self.message_user(request, f"另有 {changes} 条批量变更已记入审计批量日志，正在写入本列表，请稍后刷新。",
                              messages.INFO)
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        # before the model's own URLs: their "<object_id>/" would take "anchors/"
        return [path("anchors/", self.admin_site.admin_view(self.anchors_view), name="claims_auditrecord_anchors"),
                *super().get_urls()]

    def anchors_view(self, request):
        """The day's anchors of the audit chains, to print and sign (claims.audit_anchor). They cover every
        region's records: for those who may read the whole trail, the journal included."""
        if not request.user.has_perm("claims.view_auditjournal"):
            raise PermissionDenied
        try:
            day = parse_date(request.GET.get("date", "")) or timezone.localdate()
        except ValueError:
            day = timezone.localdate()
        anchors, checked = anchors_of_day(day)
        return render(request, "admin/claims/auditrecord/anchors.html", {
            **self.admin_site.each_context(request), "title": "审计锚点核对单", "day": day, "anchors": anchors,
            "checked": checked, "anchor_file": anchor_path(), "printed_at": timezone.now()})

    def get_fields(self, request, obj=None):
        return ("at", "actor_label", "actor_id", "ip_label", "source_label", "action", "table_label", "object_pk",
                "region_code", "changes_table", "chain_hex")

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    @admin.display(description="数据表")
    def table_label(self, obj):
        return model_label(obj.table_name)

    @admin.display(description="操作人")
    def actor_label(self, obj):
        return obj.actor_username or "系统（无登录账号）"

    @admin.display(description="IP地址")
    def ip_label(self, obj):
        return obj.ip or "本机（命令或后台任务）"

    @admin.display(description="来源")
    def source_label(self, obj):
        return source_label(obj.source)

    @admin.display(description="变更内容")
    def changes_summary(self, obj):
        fields = [column_label(obj.table_name, name) for name, _, _ in obj.changed_fields()
                  if name not in {"updated_at", "created_at"}]
        return "、".join(fields[:6]) + ("…" if len(fields) > 6 else "")

    @admin.display(description="修改前 → 修改后")
    def changes_table(self, obj):
        rows = format_html_join(
            "", "<tr><th>{}</th><td>{}</td><td>{}</td></tr>",
            ((column_label(obj.table_name, name), shown_value(obj.table_name, name, old),
              shown_value(obj.table_name, name, new)) for name, old, new in obj.changed_fields()),
        )
        return format_html('<table class="data"><tr><th>字段</th><th>修改前</th><th>修改后</th></tr>{}</table>', rows)

    @admin.display(description="链哈希")
    def chain_hex(self, obj):
        return bytes(obj.chain_hash).hex()


# ---- Fund supervision (DOMAIN §7): rule parameters, screening hits, cases ------------------------------------

from django.urls import NoReverseMatch, reverse  # noqa: E402

from .forms import SupervisionParamForm, rule_field_name  # noqa: E402
from .models import Case, CaseAttachment, CaseEvent, CaseHit, Recovery, ScreeningHit, SupervisionParam  # noqa: E402
from .resources import CaseResource, ScreeningHitResource, SupervisionParamResource  # noqa: E402
from .rules import PARAM_CHOICES, PARAMETERS, RULES, defaults_of, describe_params  # noqa: E402


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
    """Read-only here: cases move only through the supervision pages (the state machine in claims.cases)."""

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


from . import admin_settlement  # noqa: E402,F401 — hospitals, policy sets, claims, settlements
