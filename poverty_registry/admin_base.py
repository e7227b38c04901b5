"""The base of every ModelAdmin: region-scoped querysets, 404 outside the region, scoped FK choices,
and a link to each object's audit trail."""
from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header, urlencode
from import_export.admin import ExportMixin, ImportMixin
from import_export.formats.base_formats import BINARY_FORMATS, CSV, XLSX
from import_export.forms import ExportForm, ImportForm

from . import access_log
from .idnumber import mask_id_number
from .pagination import EstimatedCountPaginator
from .tabular import TableFormatError, check_upload


class ScopedAdmin(admin.ModelAdmin):
    list_per_page = 50
    show_full_result_count = False  # a count(*) over a city's ledger on every page is not free
    paginator = EstimatedCountPaginator  # nor is the filtered count: estimated above ADMIN_EXACT_COUNT_LIMIT rows

    def get_queryset(self, request):
        return super().get_queryset(request).restrict(request.user)

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("对象不存在或不在您的辖区内")
        return obj

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if hasattr(related._default_manager, "restrict") and "queryset" not in kwargs:
            kwargs["queryset"] = related._default_manager.restrict(request.user, None)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        if getattr(self.model, "audited", False):
            extra_context["audit_url"] = audit_url(self.model, object_id)
        return super().change_view(request, object_id, form_url, extra_context)


class AccessLoggedAdmin(ScopedAdmin):
    """The admin of a model whose pages show ID numbers: one access-log record per list page that shows them in
    full or answers a search by ID number, and per change page that shows one in full. `access_page_kind` set
    (a claim: "claim") records every change page opened, whatever the user may see."""

    access_page_kind: str | None = None
    access_list_shows_ids = True

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        cl = (getattr(response, "context_data", None) or {}).get("cl")
        if cl is not None and self.access_list_shows_ids:
            access_log.record_list(request, list(cl.result_list), self.model._meta.label_lower)
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if response.status_code == 200 and request.method == "GET":
            full = access_log.may_see_full_id(request.user)
            if full or self.access_page_kind:
                access_log.record_access(request, self.access_page_kind or "full_id_page",
                                         object_key=f"{self.model._meta.label_lower}:{object_id}", rows=1,
                                         full_ids=self.full_ids_on_page(object_id) if full else 0)
        return response

    def full_ids_on_page(self, object_id) -> int:
        """How many full ID numbers the change page shows a holder of the permission."""
        return 1


class MaskedIdNumberAdmin(admin.ModelAdmin):
    """On an existing object's page a user without view_full_id_number sees the masked number, read-only, in place
    of the `id_number` field: the form neither shows nor takes it. Admins list their fields through
    `masked_fields`."""

    def masked_fields(self, request, obj, fields):
        if obj is None or access_log.may_see_full_id(request.user):
            return fields
        return type(fields)("id_number_masked" if name == "id_number" else name for name in fields)

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if obj is None or access_log.may_see_full_id(request.user):
            return fields
        return ("id_number_masked", *fields)

    @admin.display(description="身份证号")
    def id_number_masked(self, obj):
        return mask_id_number(obj.id_number)


class ReadOnlyScopedAdmin(ScopedAdmin):
    """Records that only the system writes (audit trail, import history, screening hits, settlements)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ScopedExportMixin(ExportMixin):
    """The list page's "导出" through the model's resource (`resource_classes`, a ScopedResource): the change
    list's filters and search, restricted again by the resource to the user's region, xlsx or csv, one
    access-log record per file. Who holds the model's view permission may export
    (IMPORT_EXPORT_EXPORT_PERMISSION_CODE)."""

    export_formats = (XLSX, CSV)
    export_form_class = ExportForm  # no column picking: the ID column is masked, not left to the user
    to_encoding = "utf-8-sig"  # Excel opens a CSV as UTF-8 only with the BOM

    def get_export_resource_kwargs(self, request, **kwargs):
        return {"user": request.user}

    def get_export_filename(self, request, queryset, file_format):
        return f"{self.model._meta.verbose_name}_{timezone.localdate():%Y%m%d}.{file_format.get_extension()}"

    def get_export_data(self, file_format, request, queryset, **kwargs):
        if not self.has_export_permission(request):
            raise PermissionDenied
        resource = self.choose_export_resource_class(kwargs.get("export_form"), request)(
            **self.get_export_resource_kwargs(request))
        dataset = resource.export(queryset=queryset, force_native_type=type(file_format) in BINARY_FORMATS)
        dataset.title = str(self.model._meta.verbose_name)[:31]
        access_log.record_export(request, self.get_export_filename(request, queryset, file_format), len(dataset),
                                 full_ids=resource.full_ids)
        data = file_format.export_data(dataset)
        return data if file_format.is_binary() else data.encode(self.to_encoding)

    def _do_file_export(self, file_format, request, queryset, export_form=None):
        response = super()._do_file_export(file_format, request, queryset, export_form)
        # a Chinese file name needs RFC 6266's filename*= (import-export writes it unencoded)
        response["Content-Disposition"] = content_disposition_header(
            True, self.get_export_filename(request, queryset, file_format))
        return response


class CheckedImportForm(ImportForm):
    """import-export's upload form with the project's limits checked before any parse."""

    def clean_import_file(self):
        upload = self.cleaned_data["import_file"]
        try:
            check_upload(upload.read(), upload.name)
        except TableFormatError as exc:
            raise forms.ValidationError(str(exc)) from None
        upload.seek(0)
        return upload


class ReferenceImportMixin(ImportMixin):
    """Import of a small reference table through import-export's preview and confirm (resource: a
    ReferenceResource given the user). Only for holders of both add and change permission on the model."""

    import_formats = (XLSX, CSV)
    import_form_class = CheckedImportForm

    def has_import_permission(self, request):
        opts = self.opts
        return all(request.user.has_perm(f"{opts.app_label}.{get_permission_codename(action, opts)}")
                   for action in ("add", "change"))

    def get_import_resource_kwargs(self, request, **kwargs):
        return {"user": request.user}


def audit_url(model, object_pk) -> str:
    query = urlencode({"table_name": model._meta.db_table, "object_pk": object_pk})
    return f"{reverse('admin:poverty_registry_auditrecord_changelist')}?{query}"


def shown_id_number(user, number: str) -> str:
    """The full number only for holders of view_full_id_number; masked otherwise."""
    return number if access_log.may_see_full_id(user) else mask_id_number(number)
