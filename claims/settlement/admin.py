"""Admin of one-stop settlement: hospitals, policy sets (readable form, every save a new version), claims
(manual entry settles on save), settlement versions (read-only) and county incomes. Thin: services decide."""
from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from poverty_registry import confirmation
from poverty_registry.admin_base import (
    AccessLoggedAdmin,
    MaskedIdNumberAdmin,
    ReadOnlyScopedAdmin,
    ReferenceImportMixin,
    ScopedAdmin,
    ScopedExportMixin,
    shown_id_number,
)
from poverty_registry.scoping import region_scope

from .. import confirmations
from ..forms import ClaimEntryForm, PolicyParamsForm, changed_parameters
from ..models import Claim, Hospital, PolicySet, Settlement
from ..resources import ClaimResource, CountyIncomeResource, HospitalResource, SettlementResource
from ..supervision.screening import screen_on_commit
from . import policy_sets, services
from .models import CountyIncome


@admin.register(Hospital)
class HospitalAdmin(ReferenceImportMixin, ScopedAdmin):
    resource_classes = [HospitalResource]
    list_display = ("code", "name", "level", "region")
    list_filter = ("level",)
    search_fields = ("=code", "name")
    list_select_related = ("region",)
    autocomplete_fields = ("region",)


@admin.register(PolicySet)
class PolicySetAdmin(ScopedAdmin):
    """Own region's versions, plus the versions in force of the regions above (read to copy: a county that
    saves one gets its own version, which then wins for the county)."""

    form = PolicyParamsForm
    list_display = ("code", "year", "region", "version", "in_force", "note", "created_by", "created_at")
    list_filter = ("year", "in_force")
    search_fields = ("=code",)
    list_select_related = ("region", "created_by")
    change_form_template = "claims/policyset_change_form.html"

    def get_queryset(self, request):
        own = super().get_queryset(request)
        scope = region_scope(request.user)
        if scope.is_empty or scope.is_all or not request.user.has_perm("claims.view_policyset"):
            return own
        above = policy_sets.region_chain(scope.code())[1:]
        return PolicySet.objects.filter(Q(pk__in=own.values("pk")) | Q(region_id__in=above, in_force=True))

    def get_readonly_fields(self, request, obj=None):
        return ("year", "region") if obj else ()

    def get_fieldsets(self, request, obj=None):
        may_save = self.has_change_permission(request, obj) if obj else self.has_add_permission(request)
        # "resettle" is a choice made when saving: nothing to show to whom only reads
        return [(None, {"fields": ("year", "region", "note", "resettle") if may_save else ("year", "region", "note")})]

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["fields"] = ("year", "region") if obj is None else ()
        return super().get_form(request, obj, change, **kwargs)

    def has_delete_permission(self, request, obj=None):
        return False

    def target_region(self, request, obj):
        """Where a save goes: the policy's own region when the user manages it, else the user's region."""
        if region_scope(request.user).covers(obj.region_id):
            return obj.region
        if request.user.region is None:
            raise PermissionDenied
        return request.user.region

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """A valid save is shown first on a confirmation page (new version, changed parameters, and with
        re-settlement the claims it rewrites); only that page's POST saves."""
        if request.method == "POST":
            ask = self._save_ask(request, object_id)
            if ask is not None and not confirmation.is_confirmed(request, ask):
                return confirmation.confirmation_page(request, ask, template="admin/confirm_action.html", context={
                    **self.admin_site.each_context(request), "opts": self.opts})
        return super().changeform_view(request, object_id, form_url, extra_context)

    def _save_ask(self, request, object_id) -> confirmation.Ask | None:
        """The confirmation of a valid form; None lets the admin answer (errors, permissions, 404)."""
        obj = self.get_object(request, unquote(object_id)) if object_id else None
        if (object_id and obj is None) or not (self.has_change_permission(request, obj) if obj
                                               else self.has_add_permission(request)):
            return None
        form = self.get_form(request, obj, change=obj is not None)(request.POST, request.FILES, instance=obj)
        if not form.is_valid():
            return None
        target = self.target_region(request, form.instance)
        year = form.instance.year
        old = obj.params if obj is not None else self._in_force_params(year, target.code)
        changed = changed_parameters(old, form.params.to_dict()) if old else None
        return confirmations.policy_save_ask(year, target, policy_sets.next_version(year, target.code), changed,
                                             bool(form.cleaned_data.get("resettle")), self._back_url(obj))

    @staticmethod
    def _in_force_params(year: int, region_code: str) -> dict:
        try:
            return policy_sets.policy_for(year, region_code).params
        except policy_sets.PolicyNotFound:
            return {}

    def _back_url(self, obj) -> str:
        if obj is None:
            return reverse("admin:claims_policyset_add")
        return reverse("admin:claims_policyset_change", args=[obj.pk])

    def save_model(self, request, obj, form, change):
        region = self.target_region(request, obj)
        request._policy_saved = policy_sets.save_version(obj.year, region, form.params, user=request.user,
                                                      note=form.cleaned_data.get("note", ""))
        if form.cleaned_data.get("resettle"):
            request._resettle_run = services.start_resettle(obj.year, region.code, policy=request._policy_saved,
                                                            user=request.user)

    def save_related(self, request, form, formsets, change):
        pass

    def log_change(self, request, obj, message):
        return super().log_change(request, getattr(request, "_policy_saved", obj), message)

    def log_addition(self, request, obj, message):
        return super().log_addition(request, getattr(request, "_policy_saved", obj), message)

    def _after_save(self, request):
        saved = request._policy_saved
        messages.success(request, f"已保存为新版本：{saved}（{saved.code}），该版本现行有效。")
        run = getattr(request, "_resettle_run", None)
        if run is not None:
            return HttpResponseRedirect(reverse("claims:resettle_run", args=[run.pk]))
        return HttpResponseRedirect(reverse("admin:claims_policyset_change", args=[saved.pk]))

    def response_change(self, request, obj):
        return self._after_save(request)

    def response_add(self, request, obj, post_url_continue=None):
        return self._after_save(request)


@admin.register(Claim)
class ClaimAdmin(ScopedExportMixin, MaskedIdNumberAdmin, AccessLoggedAdmin):
    resource_classes = [ClaimResource]
    form = ClaimEntryForm
    access_page_kind = "claim"  # a claim carries the diagnosis: every opening is recorded
    list_filter = ("year", "status", "visit_type", "hospital_level", "in_county")
    search_fields = ("=claim_no", "=id_number", "name")
    search_help_text = "按结算单号、完整身份证号精确查询，或按姓名查询"
    list_select_related = ("hospital", "region")
    readonly_fields = ("status", "year", "hospital_level", "region", "sheet_link")

    def get_list_display(self, request):
        user = request.user

        @admin.display(description="身份证号")
        def id_number(obj):
            return shown_id_number(user, obj.id_number)

        return ("claim_no", "hospital", "name", id_number, "visit_type", "admission_date", "discharge_date",
                "total_cost", "status", "sheet_link")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        user = request.user

        class Form(form):
            def __init__(self, *args, **kw):
                super().__init__(*args, user=user, **kw)

        return Form

    def get_fields(self, request, obj=None):
        fields = list(ClaimEntryForm.Meta.fields)
        return self.masked_fields(request, obj, [*fields, *self.readonly_fields] if obj else fields)

    def has_change_permission(self, request, obj=None):
        # a settled claim is corrected by a new claim file line (replace while unsettled) or by the bureau's
        # correction procedure, never edited in place
        if obj is not None and obj.status != "unsettled":
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        outcome = services.settle_claims([obj.pk])
        screen_on_commit([obj.id_number], [obj.year])  # §7.1 screening rules on the new claim
        if obj.pk in outcome.unsettled:
            messages.warning(request, f"结算单已保存但未结算：{outcome.unsettled[obj.pk]}")
        else:
            messages.success(request, f"结算单已结算（写入 {outcome.written} 个结算版本）")

    @admin.display(description="结算单")
    def sheet_link(self, obj):
        if obj.pk is None or obj.status == "unsettled":
            return "—"
        return format_html('<a href="{}">查看结算单</a>', reverse("claims:sheet", args=[obj.pk]))


@admin.register(Settlement)
class SettlementAdmin(ScopedExportMixin, ReadOnlyScopedAdmin):
    resource_classes = [SettlementResource]
    list_display = ("claim", "version", "is_current", "category", "basic", "critical", "assistance",
                    "hospital_waiver", "special_insurance", "backstop", "self_pay", "reason", "settled_at",
                    "sheet_link")
    list_filter = ("is_current", "reason", "category")
    search_fields = ("=claim__claim_no",)
    list_select_related = ("claim",)
    exclude = ("digest",)


    @admin.display(description="结算单")
    def sheet_link(self, obj):
        return format_html('<a href="{}">查看</a>', reverse("claims:sheet", args=[obj.claim_id]))


@admin.register(CountyIncome)
class CountyIncomeAdmin(ReferenceImportMixin, ScopedAdmin):
    resource_classes = [CountyIncomeResource]
    list_display = ("region", "year", "amount", "source")
    list_filter = ("year",)
    autocomplete_fields = ("region",)
