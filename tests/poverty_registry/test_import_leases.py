"""Leases of running import runs (poverty_registry.import_leases): renewed while the run works, expired by beat
when its process is gone, never for a run that ended; an interrupted preview is previewed again."""
from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from poverty_registry import import_leases, importing
from poverty_registry.models import ImportRun
from tests.conftest import VILLAGE_A
from tests.poverty_registry.ledger_builders import ledger_xlsx, row


@pytest.fixture
def run(clerk_a):
    return importing.upload("ledger", ledger_xlsx([row("H001", "甲", 1, VILLAGE_A)], title=None), "台账.xlsx",
                            clerk_a)


def test_beat_expires_only_running_runs_whose_lease_ran_out(run, settings):
    settings.IMPORT_LEASE_SECONDS = 60
    long_ago = timezone.now() - dt.timedelta(minutes=5)
    ImportRun.objects.filter(pk=run.pk).update(status="importing", lease_until=long_ago)
    live = ImportRun.objects.create(kind="ledger", file_name="b.xlsx", file_id=run.file_id, user=run.user,
                                    status="previewing", lease_until=timezone.now() + dt.timedelta(minutes=1))
    never_leased = ImportRun.objects.create(kind="ledger", file_name="c.xlsx", file_id=run.file_id, user=run.user)
    ImportRun.objects.filter(pk=never_leased.pk).update(created_at=long_ago)  # an upload whose worker never began
    ended = ImportRun.objects.create(kind="ledger", file_name="d.xlsx", file_id=run.file_id, user=run.user,
                                     status="imported", lease_until=long_ago)

    assert import_leases.expire_leases() == 2
    statuses = dict(ImportRun.objects.values_list("pk", "status"))
    assert [statuses[r.pk] for r in (run, live, never_leased, ended)] == [
        "interrupted", "previewing", "interrupted", "imported"]


def test_a_working_run_renews_its_lease_on_progress(run, settings):
    settings.IMPORT_LEASE_SECONDS = 60
    renewed = []
    ImportRun.objects.filter(pk=run.pk).update(status="importing", attempt=3, lease_until=timezone.now())
    assert import_leases.renew(run.pk, 3) and not import_leases.renew(run.pk, 2)  # an older attempt renews nothing
    run.refresh_from_db()
    assert run.lease_until > timezone.now() + dt.timedelta(seconds=50)
    with import_leases.kept(run.pk, 3) as beat:
        import_leases.beating(lambda percent, stage: renewed.append(percent), beat)(50, "写入台账")
    assert renewed == [50]


def test_an_interrupted_preview_is_previewed_again_from_the_kept_file(run, client):
    ImportRun.objects.filter(pk=run.pk).update(status="interrupted", previewed_at=None,
                                               message=import_leases.INTERRUPTED_MESSAGE)
    client.force_login(run.user)
    page = client.get(reverse("imports:detail", args=[run.pk])).content.decode()
    assert "已中断（可重试）" in page and 'id="retry-preview"' in page and 'id="retry-confirm"' not in page
    with pytest.raises(importing.StalePreview, match="没有可用的预览结果"):
        importing.retry(run.pk, "confirm")
    client.post(reverse("imports:retry", args=[run.pk]), {"step": "preview"})
    run.refresh_from_db()
    assert run.status == "previewed" and run.preview_counts["persons_created"] == 1 and run.message == ""
    with pytest.raises(importing.StalePreview, match="不能重试"):
        importing.retry(run.pk, "preview")


def test_only_the_uploader_retries(run, client, clerk_b):
    ImportRun.objects.filter(pk=run.pk).update(status="interrupted")
    client.force_login(clerk_b)
    assert client.post(reverse("imports:retry", args=[run.pk]), {"step": "preview"}).status_code == 404
