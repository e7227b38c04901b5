"""The two views through which the base app's matching reads enrolment data (README "Layout"): poverty_registry
sits below enrollment and imports none of its code, so the nightly matching's set-based SQL reads these views,
whose columns are this app's promise to it. A simple view is inlined by the planner: the queries' plans are
those over the tables. A later migration that changes a column shown here (its type, its name) drops the view
first and creates it again after, with the same columns."""
from django.db import migrations

VIEWS = """
CREATE OR REPLACE VIEW enrolments_for_matching AS
  SELECT id, id_number, year, status, region_id, person_id FROM enrollment_enrolment;
COMMENT ON VIEW enrolments_for_matching IS
  'Enrolments as poverty_registry.matching reads them (one row per person and year); defined by enrollment.';
CREATE OR REPLACE VIEW subsidy_lines_for_matching AS
  SELECT id, person_id, year, subsidy FROM enrollment_subsidyline;
COMMENT ON VIEW subsidy_lines_for_matching IS
  'Subsidy lines as poverty_registry.matching reads them (a death''s follow-up); defined by enrollment.';
"""
DROP = "DROP VIEW IF EXISTS enrolments_for_matching; DROP VIEW IF EXISTS subsidy_lines_for_matching;"


class Migration(migrations.Migration):

    dependencies = [
        ('enrollment', '0009_subsidy_category_labels'),
    ]

    operations = [migrations.RunSQL(VIEWS, DROP)]
