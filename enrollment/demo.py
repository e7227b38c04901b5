"""Demo enrolments for the seeded persons (set-based): nearly all enrolled, a few left for the chase list."""
from __future__ import annotations

from django.db import connection

ENROL_SQL = """
INSERT INTO enrollment_enrolment (id_number, name, year, status, paid_date, region_id, person_id, updated_at)
SELECT p.id_number, p.name, y, 'enrolled', make_date(y - 1, 11 + (p.id %% 2)::int, 1 + (p.id %% 28)::int),
       p.region_id, p.id, now()
  FROM poverty_registry_person p CROSS JOIN unnest(%(years)s::int[]) AS y
 WHERE abs(hashtext(p.id_number || y::text)) %% 1000 >= %(unenrolled_per_mille)s
ON CONFLICT (id_number, year) DO NOTHING
"""


def seed_enrolments(years: tuple[int, ...], unenrolled_per_mille: int = 20) -> int:
    """Enrol the ledger's persons for the given years, except about 2% per year (the chase list)."""
    with connection.cursor() as cursor:
        cursor.execute(ENROL_SQL, {"years": list(years), "unenrolled_per_mille": unenrolled_per_mille})
        return cursor.rowcount
