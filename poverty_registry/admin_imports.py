"""Admin of the import history (ImportRun): read-only, scoped; each row links to its import page."""
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from .admin_base import ReadOnlyScopedAdmin
from .importing import KINDS
from .models import ImportRun


@admin.register(ImportRun)
class ImportRunAdmin(ReadOnlyScopedAdmin):
    list_display = ("id", "created_at", "kind_label", "file_name", "user", "region", "status", "rows_read",
                    "rows_rejected", "open_link")
    list_filter = ("kind", "status")
    search_fields = ("file_name", "=user__username")
    list_select_related = ("user", "region")
    exclude = ("file",)


    @admin.display(description="导入类型")
    def kind_label(self, obj):
        kind = KINDS.get(obj.kind)
        return kind.label if kind else obj.kind

    @admin.display(description="查看")
    def open_link(self, obj):
        return format_html('<a href="{}">打开</a>', reverse("imports:detail", args=[obj.pk]))
