"""The temporary folder that large uploads spool to (FILE_UPLOAD_TEMP_DIR) is full or not writable: the import page
and a case's evidence upload say so in Chinese (never a 500 from the CSRF check reading the form), nothing is
kept, and the same upload goes through once the folder is back. (Tests run as root, which chmod does not stop:
the fault is the folder under a regular file.)"""
from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from claims.models import CaseAttachment
from claims.supervision import cases as service
from poverty_registry.models import ImportFile, ImportRun
from poverty_registry.uploads import UPLOAD_NOT_STORED
from tests.claims.test_cases import hit, staff  # noqa: F401
from tests.conftest import VILLAGE_A
from tests.poverty_registry.ledger_builders import ledger_xlsx, row
from tests.reliability.audit_check import assert_audit_verifies

pytestmark = pytest.mark.django_db


@pytest.fixture
def spooling_broken(settings, tmp_path):
    """Every upload spools to disk (no in-memory uploads), into a folder that cannot exist."""
    blocker = tmp_path / "tmp"
    blocker.write_text("a regular file where the temporary folder should be")
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0
    settings.FILE_UPLOAD_TEMP_DIR = str(blocker / "uploads")
    return settings


def test_import_upload_with_the_temporary_folder_gone(client, clerk_a, spooling_broken, tmp_path):
    client.force_login(clerk_a)
    data = ledger_xlsx([row(f"{VILLAGE_A}70001", "临时甲", 701, VILLAGE_A)])

    def post():
        return client.post(reverse("imports:new", args=["ledger"]),
                           {"file": SimpleUploadedFile("台账.xlsx", data)}, follow=True)

    response = post()
    assert response.status_code == 200
    assert UPLOAD_NOT_STORED in response.content.decode()
    assert not ImportRun.objects.exists() and not ImportFile.objects.exists()
    assert_audit_verifies()

    spooling_broken.FILE_UPLOAD_TEMP_DIR = str(tmp_path)  # the folder is back
    response = post()
    assert ImportRun.objects.get().status == "previewed"


def test_evidence_upload_with_the_temporary_folder_gone(client, staff, hit, spooling_broken, tmp_path):  # noqa: F811
    spooling_broken.MEDIA_ROOT = tmp_path / "media"
    client.force_login(staff["jg_a"])
    case = service.open_case_from_hits(staff["jg_a"], [hit.pk])

    def post():
        evidence = SimpleUploadedFile("询问笔录.pdf", b"%PDF-1.4 evidence", content_type="application/pdf")
        return client.post(reverse("supervision:case_action", args=[case.pk]),
                           {"action": "attachment", "file": evidence}, follow=True)

    response = post()
    assert response.status_code == 200
    assert UPLOAD_NOT_STORED in response.content.decode()
    assert not CaseAttachment.objects.exists()
    assert_audit_verifies()

    spooling_broken.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    assert "已上传证据材料" in post().content.decode()
    assert CaseAttachment.objects.get().file.read() == b"%PDF-1.4 evidence"
