"""Disk full / MEDIA_ROOT not writable while a supervisor adds evidence to a case: a clear Chinese message
on the case page, no evidence row (nor case event) without its file and no file without its row, an audit
chain that verifies, and the same upload succeeding once the storage is back. (Tests run as root, which
chmod does not stop: the faults are MEDIA_ROOT under a regular file, and a storage that raises ENOSPC.)
Import uploads keep their bytes in the database (ImportFile); their fault is covered in the import tests."""
from __future__ import annotations

import errno

import pytest
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from claims.models import CaseAttachment, CaseEvent
from claims.supervision import cases as service
from tests.claims.test_cases import hit, staff  # noqa: F401
from tests.reliability.audit_check import assert_audit_verifies

pytestmark = pytest.mark.django_db


def _upload(client, case):
    evidence = SimpleUploadedFile("询问笔录.pdf", b"%PDF-1.4 evidence", content_type="application/pdf")
    return client.post(reverse("supervision:case_action", args=[case.pk]),
                       {"action": "attachment", "file": evidence}, follow=True)


def _no_evidence_written(case, media_root) -> None:
    assert not CaseAttachment.objects.filter(case=case).exists()
    assert not CaseEvent.objects.filter(case=case, action="上传材料").exists()
    if media_root.is_dir():
        assert not any(p.is_file() for p in media_root.rglob("*"))


@pytest.fixture
def case(staff, hit, client):  # noqa: F811
    client.force_login(staff["jg_a"])
    return service.open_case_from_hits(staff["jg_a"], [hit.pk])


def test_media_root_not_a_directory(case, client, settings, tmp_path):
    blocker = tmp_path / "media"
    blocker.write_text("a regular file where the media folder should be")
    settings.MEDIA_ROOT = blocker / "inside"

    response = _upload(client, case)
    assert response.status_code == 200
    assert service.STORAGE_FAILED in response.content.decode()
    _no_evidence_written(case, blocker)
    assert_audit_verifies()

    settings.MEDIA_ROOT = tmp_path / "media-ok"  # the fault cleared: the same upload goes through
    response = _upload(client, case)
    assert "已上传证据材料" in response.content.decode()
    attachment = CaseAttachment.objects.get(case=case)
    assert attachment.file.read() == b"%PDF-1.4 evidence"
    assert CaseEvent.objects.filter(case=case, action="上传材料").count() == 1
    assert_audit_verifies()


def test_disk_full_while_saving_evidence(case, client, settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path

    def disk_full(self, name, content):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(FileSystemStorage, "_save", disk_full)
        response = _upload(client, case)
    assert service.STORAGE_FAILED in response.content.decode()
    _no_evidence_written(case, tmp_path)
    assert_audit_verifies()

    response = _upload(client, case)
    assert "已上传证据材料" in response.content.decode()
    assert CaseAttachment.objects.filter(case=case).count() == 1


def test_database_failure_after_the_file_leaves_no_orphan_file(case, client, settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path

    def refused(*args, **kwargs):
        raise RuntimeError("数据库写入失败")

    monkeypatch.setattr(CaseEvent.objects, "create", refused)
    with pytest.raises(RuntimeError):
        service.add_attachment(case, case.opened_by, SimpleUploadedFile("询问笔录.pdf", b"%PDF-1.4 evidence"))
    assert not CaseAttachment.objects.filter(case=case).exists()
    assert not any(p.is_file() for p in tmp_path.rglob("*"))
