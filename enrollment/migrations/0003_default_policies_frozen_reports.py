"""Default subsidy policies 2020–2025 for 岳阳市 (DOMAIN §5), and the database rule that an issued
report's lines and stub, and the log of subsidy changes, are never changed or deleted."""
import datetime as dt

from django.db import migrations

PREMIUM = {2020: "280", 2021: "320", 2022: "350", 2023: "380", 2024: "400", 2025: "400"}
ASSISTANCE_FUND = "医疗救助资金"
TRANSITION_FUND = "财政衔接推进乡村振兴补助资金"
CITY = "4306"  # 岳阳市; the region itself arrives with load_regions (the policy's FK has no DB constraint)


def rules():
    none = {"kind": "none", "value": "0", "fund": ""}
    return {
        "tekun": {"kind": "percent", "value": "100", "fund": ASSISTANCE_FUND},
        "dibao": {"kind": "percent", "value": "50", "fund": ASSISTANCE_FUND},
        "monitor": {"kind": "fixed", "value": "100.00", "fund": TRANSITION_FUND},
        "tuopin": {"kind": "fixed", "value": "100.00", "fund": TRANSITION_FUND},
        "low_income": dict(none),
        "severe_disability": dict(none),
    }


def load_defaults(apps, schema_editor):
    Policy = apps.get_model("enrollment", "SubsidyPolicy")
    for year, premium in PREMIUM.items():
        if not Policy.objects.filter(year=year, region_id=CITY).exists():
            Policy.objects.create(year=year, region_id=CITY, version=1, premium=premium,
                                  cutoff_date=dt.date(year - 1, 12, 31), rules=rules(), in_force=True,
                                  note="默认参数：国家居民医保个人缴费最低标准；岳阳市特困100%、低保50%、监测/脱贫定额")


def remove_defaults(apps, schema_editor):
    Policy = apps.get_model("enrollment", "SubsidyPolicy")
    Policy.objects.filter(region_id=CITY, version=1, year__in=list(PREMIUM), created_by__isnull=True).delete()


FROZEN_SQL = """
CREATE OR REPLACE FUNCTION enrollment_report_line_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '资助变化记录和已出具报表的明细只能追加，不能修改或删除（存根冻结）';
END
$$;
CREATE OR REPLACE FUNCTION enrollment_report_stub_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.checksum = '' THEN
    RETURN NEW;  -- the stub is completed once, in the transaction that issues it
  END IF;
  RAISE EXCEPTION '已出具的资助报表不能修改或删除（存根冻结）';
END
$$;
CREATE TRIGGER subsidy_changes_append_only BEFORE UPDATE OR DELETE ON enrollment_subsidychange
  FOR EACH ROW EXECUTE FUNCTION enrollment_report_line_frozen();
CREATE TRIGGER report_lines_frozen BEFORE UPDATE OR DELETE ON enrollment_subsidyreportline
  FOR EACH ROW EXECUTE FUNCTION enrollment_report_line_frozen();
CREATE TRIGGER report_stub_frozen BEFORE UPDATE OR DELETE ON enrollment_subsidyreport
  FOR EACH ROW EXECUTE FUNCTION enrollment_report_stub_frozen();
"""

UNFROZEN_SQL = """
DROP TRIGGER IF EXISTS subsidy_changes_append_only ON enrollment_subsidychange;
DROP TRIGGER IF EXISTS report_lines_frozen ON enrollment_subsidyreportline;
DROP TRIGGER IF EXISTS report_stub_frozen ON enrollment_subsidyreport;
DROP FUNCTION IF EXISTS enrollment_report_line_frozen();
DROP FUNCTION IF EXISTS enrollment_report_stub_frozen();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("enrollment", "0002_subsidies_reports_chase"),
        ("poverty_registry", "0002_importfile_importrun"),
    ]

    operations = [
        migrations.RunPython(load_defaults, remove_defaults),
        migrations.RunSQL(FROZEN_SQL, UNFROZEN_SQL),
    ]
