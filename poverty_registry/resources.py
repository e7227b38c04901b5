"""django-import-export declarations: the base resources every app's `resources.py` builds on, and the registry's
own (persons, households, matching work items).

An export resource is given the user: its rows are the user's region only (`restrict()`, whatever queryset it is
handed), ID numbers are masked unless the user holds view_full_id_number, headers are the fields' Chinese
`verbose_name`, choices their Chinese labels, booleans 是/否, and text a spreadsheet would run as a formula is
neutralised. A reference resource also imports, refusing rows outside the user's region as row errors.
"""
from __future__ import annotations

from django.core.exceptions import ValidationError
from import_export import resources, widgets
from import_export.fields import Field

from .access_log import may_see_full_id
from .idnumber import mask_id_number
from .models import Household, Person
from .scoping import region_scope
from .tabular import neutralise_formula
from .vocab import YES_NO, YES_NO_SPELLINGS, code_of

OUTSIDE_REGION = "所属区划不在您的辖区内，不能导入"


class ChoiceWidget(widgets.CharWidget):
    """A choice column: written as its Chinese label, read as the label or the stored code."""

    def __init__(self, choices, **kwargs):
        super().__init__(**kwargs)
        self.labels = {code: str(label) for code, label in choices}
        self.codes = {label: code for code, label in self.labels.items()}

    def clean(self, value, row=None, **kwargs):
        text = "" if value is None else str(value).strip()
        if not text or text in self.labels:
            return text
        if text in self.codes:
            return self.codes[text]
        raise ValueError(f"“{text}”不是有效的取值，可填：{'、'.join(self.labels.values())}")

    def render(self, value, obj=None, **kwargs):
        return self.labels.get(value, "" if value is None else value)


class YesNoWidget(widgets.BooleanWidget):
    """A boolean column as 是/否 (read: the vocabulary's spellings, or what import-export's own widget accepts)."""

    def clean(self, value, row=None, **kwargs):
        answer = code_of(YES_NO_SPELLINGS, value)
        return answer if answer is not None else super().clean(value, row, **kwargs)

    def render(self, value, obj=None, **kwargs):
        return "" if value is None else YES_NO[bool(value)]


class ScopedResource(resources.ModelResource):
    """Exports a model as the user may see it. `id_number_fields` name the attributes holding ID numbers;
    `full_ids` counts the numbers an export showed in full (for the access log)."""

    id_number_fields: tuple[str, ...] = ("id_number",)

    def __init__(self, user=None, **kwargs):
        super().__init__(**kwargs)
        self.user = user
        self.full_ids = 0

    @classmethod
    def field_from_django_field(cls, field_name, django_field, readonly):
        field = super().field_from_django_field(field_name, django_field, readonly)
        field.column_name = "编号" if django_field.primary_key else str(django_field.verbose_name)  # not "ID"
        if django_field.choices:
            field.widget = ChoiceWidget(django_field.flatchoices)
        elif django_field.get_internal_type() == "BooleanField":
            field.widget = YesNoWidget()
        return field

    def get_queryset(self):
        return self._meta.model.objects.restrict(self.user)

    def filter_export(self, queryset, **kwargs):
        # The admin hands over its change list's queryset (filters and search applied); it is restricted again
        # here so that no caller of the resource exports beyond the user's region.
        return queryset.restrict(self.user)

    def export_field(self, field, instance, **kwargs):
        if field.attribute in self.id_number_fields:
            number = field.get_value(instance)
            return self.shown_id_number(number) if number else ""
        return neutralise_formula(super().export_field(field, instance, **kwargs))

    def shown_id_number(self, number: str) -> str:
        if may_see_full_id(self.user):
            self.full_ids += 1
            return number
        return mask_id_number(number)


class ReferenceResource(ScopedResource):
    """A small reference table imported through the admin's preview (hospitals, county incomes, supervision
    parameters): a row whose region lies outside the user's is a row error; rows that change nothing are
    skipped (and leave no audit record)."""

    region_attribute = "region_id"

    class Meta:
        skip_unchanged = True
        clean_model_instances = True

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        errors = dict(import_validation_errors or {})
        code = getattr(instance, self.region_attribute, None)
        if code and not region_scope(self.user).covers(code):
            errors.setdefault(self.region_attribute.removesuffix("_id"), []).append(
                ValidationError(f"{OUTSIDE_REGION}（{code}）"))
        super().validate_instance(instance, errors, validate_unique)


def region_name_field(attribute: str = "region__name") -> Field:
    return Field(attribute=attribute, column_name="区划名称", readonly=True)


class PersonResource(ScopedResource):
    household_no = Field(attribute="household__household_no", column_name="户编号", readonly=True)
    region_name = region_name_field()

    class Meta:
        model = Person
        fields = ("household_no", "name", "id_number", "sex", "birth_date", "relation", "is_head", "region",
                  "region_name", "poverty_status", "phone", "death_date")
        export_order = fields


class HouseholdResource(ScopedResource):
    region_name = region_name_field()
    member_count = Field(attribute="member_count", column_name="人数", readonly=True)  # the admin's annotation

    class Meta:
        model = Household
        fields = ("household_no", "region", "region_name", "member_count", "created_at", "updated_at")
        export_order = fields

