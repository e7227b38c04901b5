"""Default subsidy policy for 2026 (the current insurance year): the 2025 premium until the bureau issues
the year's figure, so enrolment rates and subsidies work from 1 January; a new version replaces it."""
import importlib

from django.db import migrations

defaults = importlib.import_module("enrollment.migrations.0003_default_policies_frozen_reports")
YEARS = {2026: "400"}


def load(apps, schema_editor):
    import datetime as dt

    Policy = apps.get_model("enrollment", "SubsidyPolicy")
    for year, premium in YEARS.items():
        if not Policy.objects.filter(year=year, region_id=defaults.CITY).exists():
            Policy.objects.create(year=year, region_id=defaults.CITY, version=1, premium=premium,
                                  cutoff_date=dt.date(year - 1, 12, 31), rules=defaults.rules(), in_force=True,
                                  note="默认参数：沿用上年个人缴费标准，待市局发布当年标准后以新版本替换")


def unload(apps, schema_editor):
    Policy = apps.get_model("enrollment", "SubsidyPolicy")
    Policy.objects.filter(region_id=defaults.CITY, version=1, year__in=list(YEARS), created_by__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("enrollment", "0003_default_policies_frozen_reports")]
    operations = [migrations.RunPython(load, unload)]
