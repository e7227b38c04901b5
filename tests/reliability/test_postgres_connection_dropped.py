"""The PostgreSQL connection of a request terminated in its middle (a restart, a failover; here
pg_terminate_backend from a second connection while an import is being previewed): the user gets a Chinese
page saying nothing was saved (503, no traceback), no import run is left "previewing", the audit chain
verifies, and the next request, on a new connection, succeeds."""
from __future__ import annotations

import psycopg
import pytest
from django.db import close_old_connections, connection
from django.test import Client
from django.urls import reverse

from config.middleware import CONNECTION_LOST
from poverty_registry import importing
from poverty_registry.models import ImportRun, Person
from tests import conftest
from tests.conftest import VILLAGE_A
from tests.poverty_registry.ledger_builders import ledger_xlsx, row
from tests.reliability.audit_check import assert_audit_verifies

pytestmark = pytest.mark.django_db(transaction=True)


def _terminate_own_backend() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with psycopg.connect(conftest.test_database_url(), autocommit=True) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]


def _post_ledger(client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = ledger_xlsx([row(f"{VILLAGE_A}80001", "断线甲", 801, VILLAGE_A)])
    return client.post(reverse("imports:new", args=["ledger"]),
                       {"file": SimpleUploadedFile("台账.xlsx", data)})


def test_connection_terminated_mid_preview(clerk_a, monkeypatch):
    client = Client(raise_request_exception=False)
    client.force_login(clerk_a)
    record = importing._recorded

    def terminated_then_record(*args, **kwargs):
        _terminate_own_backend()  # the preview has run; the run's state is about to be written
        return record(*args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(importing, "_recorded", terminated_then_record)
        response = _post_ledger(client)
    assert response.status_code == 503
    page = response.content.decode()
    assert CONNECTION_LOST in page and "Traceback" not in page

    close_old_connections()  # what Django does at the start of the next request (the test client skips it)
    assert not ImportRun.objects.exists()  # nothing half-written: no run left "previewing"
    assert not Person.objects.exists()
    assert_audit_verifies()

    response = _post_ledger(client)
    assert response.status_code == 302
    run = ImportRun.objects.get()
    assert run.status == "previewed" and run.preview_counts["persons_created"] == 1


def test_server_error_page_is_chinese(clerk_a, monkeypatch):
    """Any other failure: the 500 page is Chinese and says the operation was not completed."""
    client = Client(raise_request_exception=False)
    client.force_login(clerk_a)

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(importing, "upload", broken)
    response = _post_ledger(client)
    assert response.status_code == 500
    page = response.content.decode()
    assert "系统内部错误" in page and "未能完成" in page and "boom" not in page
