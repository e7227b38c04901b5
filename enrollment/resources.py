"""import-export declarations of 资助参保: the admin's "导出" of enrolments and subsidy lines (scoped, masked,
in Chinese: poverty_registry.resources.ScopedResource)."""
from __future__ import annotations

from import_export.fields import Field

from poverty_registry.resources import ScopedResource, region_name_field
from poverty_registry.vocab import CATEGORIES

from .models import Enrolment, SubsidyLine


class EnrolmentResource(ScopedResource):
    region_name = region_name_field()

    class Meta:
        model = Enrolment
        fields = ("name", "id_number", "year", "status", "paid_date", "region", "region_name", "updated_at")
        export_order = fields


class SubsidyLineResource(ScopedResource):
    region_name = region_name_field()
    category_label = Field(column_name="资助类别", readonly=True)
    policy_label = Field(attribute="policy", column_name="所用政策版本", readonly=True)

    class Meta:
        model = SubsidyLine
        fields = ("name", "id_number", "year", "category_label", "premium", "subsidy", "fund", "policy_label",
                  "region", "region_name", "computed_at")
        export_order = fields

    def dehydrate_category_label(self, line):
        return CATEGORIES.get(line.category, line.category)
