"""import-export declarations of claims and supervision: the admin's "导出" of claims, settlements, screening
hits and cases (scoped, masked, in Chinese: poverty_registry.resources.ScopedResource), and the reference tables
imported through the admin's preview — hospitals, county incomes, supervision parameters (ReferenceResource:
rows outside the user's region are row errors)."""
from __future__ import annotations

import json

from import_export import widgets
from import_export.fields import Field

from poverty_registry.resources import ReferenceResource, ScopedResource, region_name_field
from poverty_registry.vocab import CATEGORIES

from .models import Case, Claim, Hospital, ScreeningHit, Settlement, SupervisionParam
from .settlement.models import CountyIncome


class ClaimColumns(ScopedResource):
    """The claim's columns on a settlement's or a hit's row (its ID number masked by permission)."""

    id_number_fields = ("claim__id_number",)
    claim_no = Field(attribute="claim__claim_no", column_name="结算单号", readonly=True)
    claim_name = Field(attribute="claim__name", column_name="姓名", readonly=True)
    claim_id_number = Field(attribute="claim__id_number", column_name="身份证号", readonly=True)


class ClaimResource(ScopedResource):
    hospital_code = Field(attribute="hospital__code", column_name="医疗机构编码", readonly=True)
    hospital_name = Field(attribute="hospital__name", column_name="医疗机构名称", readonly=True)
    region_name = region_name_field()

    class Meta:
        model = Claim
        fields = ("claim_no", "hospital_code", "hospital_name", "hospital_level", "in_county", "referral",
                  "visit_type", "name", "id_number", "admission_date", "discharge_date", "diagnosis", "total_cost",
                  "uncovered_cost", "year", "region", "region_name", "status", "received_at")
        export_order = fields


class SettlementResource(ClaimColumns):
    category_label = Field(column_name="适用人员类别", readonly=True)

    class Meta:
        model = Settlement
        fields = ("claim_no", "claim_name", "claim_id_number", "version", "is_current", "category_label",
                  "enrolled", "basic", "critical", "assistance", "hospital_waiver", "special_insurance", "backstop",
                  "self_pay", "reason", "region", "settled_at")
        export_order = fields

    def dehydrate_category_label(self, settlement):
        return CATEGORIES.get(settlement.category, settlement.category)


class ScreeningHitResource(ClaimColumns):
    region_name = region_name_field()

    class Meta:
        model = ScreeningHit
        fields = ("id", "rule", "severity", "status", "claim_no", "claim_name", "claim_id_number", "year", "region",
                  "region_name", "found_at", "checked_at", "resolved_at")
        export_order = fields


class CaseResource(ScopedResource):
    id_number_fields = ("target_id_number",)
    target_hospital_name = Field(attribute="target_hospital__name", column_name="定点医疗机构", readonly=True)
    opened_by_name = Field(attribute="opened_by__username", column_name="立案人", readonly=True)
    region_name = region_name_field()

    class Meta:
        model = Case
        fields = ("id", "title", "source", "state", "region", "region_name", "target_kind", "target_hospital_name",
                  "target_name", "target_id_number", "amount_to_recover", "penalty_amount", "recovered_amount",
                  "opened_by_name", "opened_at", "decided_at", "closed_at")
        export_order = fields


class HospitalResource(ReferenceResource):
    class Meta:
        model = Hospital
        fields = ("code", "name", "level", "region")
        import_id_fields = ("code",)


class CountyIncomeResource(ReferenceResource):
    class Meta:
        model = CountyIncome
        fields = ("region", "year", "amount", "source")
        import_id_fields = ("region", "year")


class ParamsWidget(widgets.JSONWidget):
    """The rule's parameters as JSON text, Chinese kept readable; an empty cell is {} (the defaults)."""

    def clean(self, value, row=None, **kwargs):
        return super().clean(value, row, **kwargs) or {}

    def render(self, value, obj=None, **kwargs):
        return json.dumps(value or {}, ensure_ascii=False)


class SupervisionParamResource(ReferenceResource):
    class Meta:
        model = SupervisionParam
        fields = ("code", "region", "year", "severity", "enabled", "params", "note")
        import_id_fields = ("code", "region", "year")

    @classmethod
    def field_from_django_field(cls, field_name, django_field, readonly):
        field = super().field_from_django_field(field_name, django_field, readonly)
        if field_name == "params":
            field.widget = ParamsWidget()
        return field
