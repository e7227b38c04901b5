"""The apps in layers (README "Layout"): poverty_registry is the base and imports no other app, enrollment imports
only the base, claims both. `make test` runs `lint-imports`; this test runs the same contract so a plain pytest
run catches an upward import too, function-local ones included."""
from __future__ import annotations

import pytest
from django.conf import settings

importlinter_cli = pytest.importorskip("importlinter.cli", reason="import-linter is a dev extra (make install)")


def test_no_app_imports_an_app_above_it(capsys, monkeypatch):
    monkeypatch.chdir(settings.BASE_DIR)  # the contract lives in pyproject.toml
    assert importlinter_cli.lint_imports(no_cache=True, no_logo=True) == 0, capsys.readouterr().out


def test_the_audit_tables_keep_the_names_the_trigger_sql_writes():
    """The trail's models moved from claims without their tables: the PL/pgSQL names them as created."""
    from poverty_registry.audit.trail import AUDIT_TABLE, JOURNAL_TABLE
    from poverty_registry.models import AuditJournal, AuditRecord

    assert (AuditRecord._meta.db_table, AuditJournal._meta.db_table) == (AUDIT_TABLE, JOURNAL_TABLE)
    assert (AuditRecord._meta.app_label, AuditJournal._meta.app_label) == ("poverty_registry", "poverty_registry")


@pytest.mark.django_db
def test_the_audit_permissions_belong_to_the_base_app():
    from django.contrib.auth.models import Permission

    assert Permission.objects.filter(content_type__app_label="poverty_registry",
                                     codename__in=["view_auditrecord", "view_auditjournal"]).count() == 2
    assert not Permission.objects.filter(content_type__app_label="claims", codename__contains="audit").exists()
