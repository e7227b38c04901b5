"""Admin of claims and supervision; the read-only, scoped audit trail browser."""
from __future__ import annotations

import json

from django.apps import apps
from django.contrib import admin
from django.utils.html import format_html, format_html_join

from poverty_registry.admin_base import ScopedAdmin

from .models import AuditRecord


def model_of(table_name: str):
    return next((m for m in apps.get_models() if m._meta.db_table == table_name), None)


def model_label(table_name: str) -> str:
    model = model_of(table_name)
    return str(model._meta.verbose_name) if model else table_name


def column_label(table_name: str, column: str) -> str:
    """The field's Chinese name for a column of the audited row."""
    model = model_of(table_name)
    if model is not None:
        for field in model._meta.concrete_fields:
            if field.column == column:
                return str(field.verbose_name)
    return column


class TableFilter(admin.SimpleListFilter):
    title = "数据表"
    parameter_name = "table_name"

    def lookups(self, request, model_admin):
        return [(m._meta.db_table, m._meta.verbose_name) for m in apps.get_models() if getattr(m, "audited", False)]

    def queryset(self, request, queryset):
        return queryset.filter(table_name=self.value()) if self.value() else queryset


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
class AuditRecordAdmin(ScopedAdmin):
    list_display = ("id", "at", "actor_username", "ip", "action", "table_label", "object_pk", "changes_summary")
    list_filter = (TableFilter, ObjectFilter, "action", "source", ("at", admin.DateFieldListFilter))
    search_fields = ("=actor_username", "=object_pk")
    search_help_text = "按操作人账号或对象主键精确查询"
    date_hierarchy = "at"
    ordering = ("-id",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_fields(self, request, obj=None):
        return ("at", "actor_username", "actor_id", "ip", "source", "action", "table_label", "object_pk",
                "region_code", "changes_table", "chain_hex")

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    @admin.display(description="数据表")
    def table_label(self, obj):
        return model_label(obj.table_name)

    @admin.display(description="变更内容")
    def changes_summary(self, obj):
        fields = [column_label(obj.table_name, name) for name, _, _ in obj.changed_fields()
                  if name not in {"updated_at", "created_at"}]
        return "、".join(fields[:6]) + ("…" if len(fields) > 6 else "")

    @admin.display(description="修改前 → 修改后")
    def changes_table(self, obj):
        rows = format_html_join(
            "", "<tr><th>{}</th><td>{}</td><td>{}</td></tr>",
            ((column_label(obj.table_name, name), _shown(old), _shown(new)) for name, old, new in obj.changed_fields()),
        )
        return format_html('<table class="data"><tr><th>字段</th><th>修改前</th><th>修改后</th></tr>{}</table>', rows)

    @admin.display(description="链哈希")
    def chain_hex(self, obj):
        return bytes(obj.chain_hash).hex()


def _shown(value) -> str:
    if value is None:
        return "—"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
