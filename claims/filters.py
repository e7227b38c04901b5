"""The year-and-region filter shared by the settlement pages and their exports (statistics, risk warnings,
batch re-settlement), kept inside the user's own region."""
from __future__ import annotations

from django import forms
from django.db.models import Max
from django.utils import timezone

from poverty_registry.scoping import region_scope

from .models import Claim


class YearRegionForm(forms.Form):
    year = forms.IntegerField(label="年度", min_value=2000, max_value=2100, required=False)
    region = forms.CharField(label="区划代码", max_length=12, required=False,
                             help_text="留空为本辖区全部；填写下级区划代码（县6位、乡镇9位）可缩小范围")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_region(self):
        region = (self.cleaned_data.get("region") or "").strip()
        if region and not region_scope(self.user).covers(region):
            raise forms.ValidationError(f"区划 {region} 不在您的辖区内")
        return region

    def year_and_region(self) -> tuple[int, str]:
        """(year, region prefix) — the latest year with claims in the user's region when none is given;
        PermissionDenied for an account without a region."""
        scope = region_scope(self.user).code()
        year = region = None
        if self.is_bound and self.is_valid():
            year, region = self.cleaned_data.get("year"), self.cleaned_data.get("region")
        if not year:
            year = Claim.objects.restrict(self.user).aggregate(last=Max("year"))["last"] or timezone.localdate().year
        return year, region or scope
