"""Admin of the access log: who looked at personal data (AccessRecord) and the accounts over the daily limit
of full ID numbers (AccessFlag). Read-only, region-scoped, for supervisors and superusers only (roles.py)."""
from __future__ import annotations

import datetime as dt

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from .access_log import daily_limit
from .admin_base import ReadOnlyScopedAdmin
from .models import AccessFlag, AccessRecord, User


class AccountFilter(admin.SimpleListFilter):
    """The accounts of the viewer's region (a deleted account is still found by the search box)."""

    title = "账号"
    parameter_name = "user_id"

    def lookups(self, request, model_admin):
        users = User.objects.restrict(request.user, None).order_by("username").values_list("pk", "username")[:300]
        return [(str(pk), username) for pk, username in users]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(user_id=int(value)) if value and value.isdigit() else queryset


@admin.register(AccessRecord)
class AccessRecordAdmin(ReadOnlyScopedAdmin):
    list_display = ("at", "username", "region_code", "ip", "kind", "object_text", "file_name", "filters", "rows",
                    "full_ids")
    list_filter = ("kind", AccountFilter, ("at", admin.DateFieldListFilter))
    search_fields = ("=username", "=object_key", "=ip")
    search_help_text = "按账号、对象或IP地址精确查询"
    ordering = ("-id",)

    fields = ("at", "user_id", "username", "region_code", "ip", "kind", "path", "object_text", "file_name",
              "filters", "rows", "full_ids")
    readonly_fields = fields

    @admin.display(description="对象")
    def object_text(self, obj):
        return obj.object_label


@admin.register(AccessFlag)
class AccessFlagAdmin(ReadOnlyScopedAdmin):
    list_display = ("day", "username", "region_code", "full_ids", "views", "limit", "records_link")
    list_filter = (("day", admin.DateFieldListFilter),)
    search_fields = ("=username",)
    ordering = ("-day", "-full_ids")

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}),
                         "subtitle": f"当前阈值：每日 {daily_limit()} 个完整身份证号（部署设置可调）"}
        return super().changelist_view(request, extra_context)

    @admin.display(description="当日访问记录")
    def records_link(self, obj):
        query = {"username": obj.username, "at__gte": obj.day.isoformat(),
                 "at__lt": (obj.day + dt.timedelta(days=1)).isoformat()}
        return format_html('<a href="{}?{}">查看</a>', reverse("admin:poverty_registry_accessrecord_changelist"),
                           urlencode(query))
