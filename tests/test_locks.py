"""The advisory-lock registry (issue 13, finding 11): one number per lock, every pg_advisory_* call through
poverty_registry.locks, and two features that shared a number no longer wait for each other."""
from __future__ import annotations

import importlib
import re
from pathlib import Path

import psycopg
import pytest
from django.db import connection, transaction

from poverty_registry import locks
from tests import conftest
from tests.conftest import COUNTY_A

ROOT = Path(__file__).resolve().parent.parent
ADVISORY_CALL = re.compile(r"pg_(try_)?advisory", re.IGNORECASE)


def registry() -> dict[str, int]:
    return {name: value for name, value in vars(locks).items() if name.isupper() and isinstance(value, int)}


def test_every_lock_number_is_unique():
    numbers = registry()
    assert {"AUDIT_CHAIN", "SCREENING_YEAR", "SUBSIDY_REPORT_SERIAL", "CATEGORY_SPANS"} <= set(numbers)
    assert len(set(numbers.values())) == len(numbers), numbers


def test_migration_0007_takes_the_registry_category_spans_lock():
    migration = importlib.import_module("poverty_registry.migrations.0007_category_spans_checked_by_statement_trigger")
    assert migration.LOCK_SPACE == locks.CATEGORY_SPANS
    assert f"pg_advisory_xact_lock({locks.CATEGORY_SPANS}, b)" in migration.SPANS_CHECK_SQL


def source_files():
    for path in ROOT.rglob("*"):
        relative = path.relative_to(ROOT)
        if path.suffix not in (".py", ".sql") or relative.parts[0] in (".venv", "var", "tests", "node_modules"):
            continue
        if "migrations" in relative.parts or path == Path(locks.__file__):
            continue
        yield relative, path


def test_no_advisory_lock_is_taken_outside_the_registry():
    offenders = [f"{relative}:{number}: {line.strip()}"
                 for relative, path in source_files()
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if ADVISORY_CALL.search(line)]
    assert not offenders, "take advisory locks through poverty_registry.locks:\n" + "\n".join(offenders)


def test_the_source_walk_sees_the_lock_users():
    """The walk above would pass vacuously if it read no files: it reads the modules that take locks."""
    seen = {str(relative) for relative, _ in source_files()}
    assert {"poverty_registry/audit/trail.py", "claims/settlement/services.py", "claims/supervision/screening.py",
            "enrollment/subsidy_reports.py"} <= seen


@pytest.mark.django_db
def test_audit_functions_take_the_registry_chain_lock():
    with connection.cursor() as cursor:
        cursor.execute("SELECT proname, prosrc FROM pg_proc WHERE proname IN ('audit_capture', 'audit_spread_journal')")
        sources = dict(cursor.fetchall())
    assert set(sources) == {"audit_capture", "audit_spread_journal"}
    for source in sources.values():
        assert f"PERFORM pg_advisory_xact_lock({locks.AUDIT_CHAIN});" in source


@pytest.fixture
def other_session():
    with psycopg.connect(conftest.test_database_url(), autocommit=True) as other:
        yield other


def held_by_other(other, *keys) -> bool:
    """Whether another session could take this lock now (it takes and releases it)."""
    taken = other.execute(f"SELECT pg_try_advisory_lock({', '.join(['%s'] * len(keys))})", keys).fetchone()[0]
    if taken:
        other.execute(f"SELECT pg_advisory_unlock({', '.join(['%s'] * len(keys))})", keys)
    return not taken


def test_issuing_a_report_does_not_wait_for_the_years_screening(db, other_session, county_a):
    """Both once locked (7306, year): a report of 2025 waited for the nightly screening of 2025."""
    from enrollment.subsidy_reports import NothingToIssue, issue_report

    other_session.execute("BEGIN")
    other_session.execute("SELECT pg_advisory_xact_lock(%s, %s)", [locks.SCREENING_YEAR, 2025])
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")
        # The lock is taken first, then the empty year is refused: reaching the refusal proves no wait.
        with pytest.raises(NothingToIssue):
            issue_report(2025, COUNTY_A, county_a)
    finally:
        other_session.execute("ROLLBACK")
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")


def test_lock_functions_take_what_they_name(transactional_db, other_session):
    with transaction.atomic():
        locks.xact_lock(locks.SUBSIDY_YEAR, 2025)
        locks.xact_lock(locks.AUDIT_CHAIN)
        locks.xact_lock_each(locks.SETTLEMENT_BUCKET, "SELECT unnest(%s::int[]) AS k", [[3, 1, 2]])
        assert held_by_other(other_session, locks.SUBSIDY_YEAR, 2025)
        assert held_by_other(other_session, locks.AUDIT_CHAIN)
        assert all(held_by_other(other_session, locks.SETTLEMENT_BUCKET, k) for k in (1, 2, 3))
        assert not held_by_other(other_session, locks.SETTLEMENT_BUCKET, 4)
    assert not held_by_other(other_session, locks.SUBSIDY_YEAR, 2025)  # released with the transaction
    assert locks.try_lock(locks.SCREENING_NIGHTLY)
    try:
        assert held_by_other(other_session, locks.SCREENING_NIGHTLY)
    finally:
        locks.unlock(locks.SCREENING_NIGHTLY)
    assert not held_by_other(other_session, locks.SCREENING_NIGHTLY)
