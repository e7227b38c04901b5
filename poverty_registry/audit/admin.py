"""Admin of the audit trail: the read-only, scoped browser of its records and the day's anchors to print."""
from __future__ import annotations

from django.apps import apps
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.html import format_html, format_html_join

from ..admin_base import ReadOnlyScopedAdmin
from ..models import AuditRecord
from .anchor import anchor_path, anchors_of_day
from .display import LINK_TABLES, SOURCES, column_label, model_label, shown_value, source_label
from .trail import journal_pending


class TableFilter(admin.SimpleListFilter):
    title = "数据表"
    parameter_name = "table_name"

    def lookups(self, request, model_admin):
        audited = [(m._meta.db_table, m._meta.verbose_name) for m in apps.get_models() if getattr(m, "audited", False)]
        return audited + [(table, label) for table, (label, _) in LINK_TABLES.items()]

    def queryset(self, request, queryset):
        return queryset.filter(table_name=self.value()) if self.value() else queryset


class SourceFilter(admin.SimpleListFilter):
    """Where changes came from, named in words (the stored codes: poverty_registry.audit.display.SOURCES)."""

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
        entries, changes = journal_pending()
        if entries:  # a bulk write just committed: its records are being spread out of the journal
            self.message_user(request, f"另有 {changes} 条批量变更已记入审计批量日志，正在写入本列表，请稍后刷新。",
                              messages.INFO)
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        # before the model's own URLs: their "<object_id>/" would take "anchors/"
        return [path("anchors/", self.admin_site.admin_view(self.anchors_view),
                     name="poverty_registry_auditrecord_anchors"),
                *super().get_urls()]

    def anchors_view(self, request):
        """The day's anchors of the audit chains, to print and sign (poverty_registry.audit.anchor). They cover every
        region's records: for those who may read the whole trail, the journal included."""
        if not request.user.has_perm("poverty_registry.view_auditjournal"):
            raise PermissionDenied
        try:
            day = parse_date(request.GET.get("date", "")) or timezone.localdate()
        except ValueError:
            day = timezone.localdate()
        anchors, checked = anchors_of_day(day)
        return render(request, "admin/poverty_registry/auditrecord/anchors.html", {
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
