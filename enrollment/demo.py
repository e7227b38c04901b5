"""Demo enrolments for the seeded persons (set-based): nearly all enrolled, a few left for the chase list."""
from __future__ import annotations

from django.db import connection

from poverty_registry import sql


def seed_enrolments(years: tuple[int, ...], unenrolled_per_mille: int = 20) -> int:
    """Enrol the ledger's persons for the given years, except about 2% per year (the chase list)."""
    with connection.cursor() as cursor:
        cursor.execute(sql.load(__name__, "demo_enrolments"),
                       {"years": list(years), "unenrolled_per_mille": unenrolled_per_mille})
        return cursor.rowcount
