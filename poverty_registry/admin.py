"""Admin of the registry: regions, staff accounts, households and persons — thin, scoped, masked."""
from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count

from . import services
from .admin_base import AccessLoggedAdmin, MaskedIdNumberAdmin, ScopedAdmin, ScopedExportMixin, shown_id_number
from .filters import PersonFilterSet
from .idnumber import IdNumberError, normalize_id_number
from .models import Household, Person, PersonCategory, Region, User
from .resources import HouseholdResource, PersonResource
from .scoping import region_scope
from .vocab import CATEGORIES, POVERTY_STATUSES


class FilterSetListFilter(admin.SimpleListFilter):
    """An admin list filter that applies one filter of the model's FilterSet."""

    filterset_class = PersonFilterSet

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        return self.filterset_class({self.parameter_name: value}, queryset=queryset).qs


class RegionListFilter(FilterSetListFilter):
    title = "所在区划"
    parameter_name = "region"

    def lookups(self, request, model_admin):
        scope = region_scope(request.user)
        if scope.is_empty:
            return []
        below = Region.objects.filter(level=2) if scope.is_all else \
            Region.objects.restrict(request.user, None).filter(parent_id=scope.code())
        return [(r.code, r.name) for r in below[:200]]


class CategoryListFilter(FilterSetListFilter):
    title = "人员类别（当前）"
    parameter_name = "category"

    def lookups(self, request, model_admin):
        return list(CATEGORIES.items())


class StatusListFilter(FilterSetListFilter):
    title = "脱贫状态"
    parameter_name = "poverty_status"

    def lookups(self, request, model_admin):
        return list(POVERTY_STATUSES.items())


@admin.register(Region)
class RegionAdmin(ScopedAdmin):
    list_display = ("code", "name", "level", "parent")
    list_filter = ("level",)
    search_fields = ("=code", "name")
    readonly_fields = ("level", "parent")

    def get_readonly_fields(self, request, obj=None):
        return ("code", "level", "parent") if obj else ("level", "parent")


# What a region's 系统管理员 (not a superuser) may set on an account of its region: names, e-mail, whether
# it is active, its role and its region — never is_superuser, is_staff, groups or user_permissions
# (permissions come from the role's group, set by services.sync_role_group). Listed field by field so that
# a field Django's UserAdmin adds in some release never reaches a form by default.
REGION_ADMIN_FIELDSETS = (
    (None, {"fields": ("username", "password")}),
    ("个人信息", {"fields": ("last_name", "first_name", "email")}),
    ("辖区与角色", {"fields": ("region", "role", "is_active")}),
    ("登录记录", {"fields": ("last_login", "date_joined")}),
)
REGION_ADMIN_ADD_FIELDSETS = (
    (None, {"classes": ("wide",), "fields": ("username", "usable_password", "password1", "password2")}),
    ("辖区与角色", {"fields": ("region", "role")}),
)
# Only a superuser (made on the server with createsuperuser) sees Django's own fields as well.
SUPERUSER_FIELDSETS = DjangoUserAdmin.fieldsets + (("辖区与角色", {"fields": ("region", "role")}),)
SUPERUSER_ADD_FIELDSETS = DjangoUserAdmin.add_fieldsets + (("辖区与角色", {"fields": ("region", "role")}),)
OWN_ACCOUNT_READONLY = ("region", "role", "is_superuser", "is_staff", "groups", "user_permissions")


@admin.register(User)
class StaffAdmin(ScopedAdmin, DjangoUserAdmin):
    """Accounts: a region's 系统管理员 manages the accounts of its region through role and region only;
    nobody changes their own role or region; superuser accounts are managed by superusers only."""

    list_display = ("username", "last_name", "first_name", "role", "region", "is_active", "last_login")
    list_filter = ("role", "is_active")
    search_fields = ("username", "last_name", "first_name")
    autocomplete_fields = ("region",)
    add_form_template = "admin/poverty_registry/user/add_form.html"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs if request.user.is_superuser else qs.filter(is_superuser=False)

    def get_fieldsets(self, request, obj=None):
        if request.user.is_superuser:
            return SUPERUSER_FIELDSETS if obj else SUPERUSER_ADD_FIELDSETS
        return REGION_ADMIN_FIELDSETS if obj else REGION_ADMIN_ADD_FIELDSETS

    def get_readonly_fields(self, request, obj=None):
        readonly = ("last_login", "date_joined")
        if obj is not None and obj.pk == request.user.pk:
            return readonly + OWN_ACCOUNT_READONLY
        return readonly

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if not request.user.is_superuser:
            # An account a region admin makes always works inside a region, with a role.
            for name in ("region", "role"):
                if name in form.base_fields:
                    form.base_fields[name].required = True
        return form

    def has_delete_permission(self, request, obj=None):
        # Accounts are deactivated, not deleted: imports, cases and the audit trail name them.
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.is_staff = True  # every account made here signs in to the back office
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if not request.user.is_superuser or "role" in form.changed_data or not change:
            services.sync_role_group(form.instance)


class PersonCategoryInline(admin.TabularInline):
    model = PersonCategory
    extra = 0
    fields = ("category", "valid_from", "valid_to", "source")


def id_number_column(request):
    """A list column showing the ID number as this user may see it (one per request)."""
    if not hasattr(request, "_id_number_column"):
        user = request.user

        @admin.display(description="身份证号", ordering="id_number")
        def id_number(obj):
            return shown_id_number(user, obj.id_number)

        request._id_number_column = id_number
    return request._id_number_column


class MemberInline(admin.TabularInline):
    model = Person
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_fields(self, request, obj=None):
        return ("name", id_number_column(request), "relation", "poverty_status")

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)


@admin.register(Household)
class HouseholdAdmin(ScopedExportMixin, AccessLoggedAdmin):
    resource_classes = [HouseholdResource]
    list_display = ("household_no", "region", "member_count", "updated_at")
    search_fields = ("=household_no",)
    inlines = (MemberInline,)
    autocomplete_fields = ("region",)
    access_list_shows_ids = False  # the members' numbers are on the household's page only

    def full_ids_on_page(self, object_id) -> int:
        return Person.objects.filter(household_id=object_id).count()

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("region").annotate(member_count=Count("members"))

    @admin.display(description="人数", ordering="member_count")
    def member_count(self, obj):
        return obj.member_count


@admin.register(Person)
class PersonAdmin(ScopedExportMixin, MaskedIdNumberAdmin, AccessLoggedAdmin):
    resource_classes = [PersonResource]
    change_list_template = "admin/poverty_registry/person/change_list.html"  # the ledger import/export links
    list_filter = (RegionListFilter, CategoryListFilter, StatusListFilter)
    list_select_related = ("region",)
    search_fields = ("name",)
    search_help_text = "按姓名（开头匹配）或完整身份证号查询"
    inlines = (PersonCategoryInline,)
    autocomplete_fields = ("household", "region")
    readonly_fields = ("sex", "birth_date", "is_head", "created_at", "updated_at")
    fields = ("id_number", "name", "sex", "birth_date", "household", "relation", "is_head", "region",
              "poverty_status", "phone", "death_date", "created_at", "updated_at")

    def get_list_display(self, request):
        return ("name", id_number_column(request), "sex", "birth_date", "relation", "region", "poverty_status",
                "death_date")

    def get_fields(self, request, obj=None):
        return self.masked_fields(request, obj, self.fields)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            return queryset.filter(id_number=normalize_id_number(term)), False
        except IdNumberError:
            return queryset.filter(name__startswith=term), False
from . import admin_access, admin_imports  # noqa: E402,F401
from .audit import admin as audit_admin  # noqa: E402,F401 — the audit trail browser
