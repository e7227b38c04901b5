"""Fault: Redis (the cache and the Celery broker) is away — REDIS_URL on a closed port (issue 13, finding 6).
Login still works (sessions are in the database); a small file previews and imports inline, its progress best
effort; a large one is refused with a message and no run; a confirm that needs a worker waits, still
confirmable; the home page says the background service is down."""
from __future__ import annotations

import pytest
from celery import current_app
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from poverty_registry import importing
from poverty_registry.background import BACKGROUND_UNAVAILABLE
from poverty_registry.models import ImportRun, Person
from tests.conftest import PASSWORD, VILLAGE_A
from tests.poverty_registry.ledger_builders import ledger_xlsx, row

CLOSED = "redis://127.0.0.1:1/0"


@pytest.fixture
def redis_away(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CLOSED,
                                   "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}}
    settings.CELERY_BROKER_URL = settings.CELERY_RESULT_BACKEND = CLOSED  # Celery reads these live
    assert current_app.conf.broker_url == CLOSED
    from django.core.cache import cache

    with pytest.raises(Exception):  # noqa: B017,PT011 — the premise: the cache is really away
        cache.get("anything")


def ledger_file(count: int = 2) -> SimpleUploadedFile:
    rows = [row(f"H{i:03d}", f"李{i}", i, VILLAGE_A) for i in range(1, count + 1)]
    return SimpleUploadedFile("台账.xlsx", ledger_xlsx(rows))


def test_login_works_with_sessions_in_the_database(settings, client, clerk_a, redis_away):
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"
    response = client.post(reverse("admin:login"), {"username": "clerk_a", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200


def test_home_page_says_the_background_service_is_down(client, clerk_a, redis_away):
    client.force_login(clerk_a)
    page = client.get(reverse("home")).content.decode()
    assert 'id="background-down"' in page and "后台任务服务暂不可用" in page


def test_home_page_says_nothing_while_the_service_is_up(client, clerk_a):
    client.force_login(clerk_a)
    assert 'id="background-down"' not in client.get(reverse("home")).content.decode()


def test_a_small_file_previews_and_imports_inline(client, clerk_a, redis_away):
    client.force_login(clerk_a)
    response = client.post(reverse("imports:new", args=["ledger"]), {"file": ledger_file()})
    run = ImportRun.objects.latest("id")
    assert response.status_code == 302 and run.status == "previewed" and not run.background
    status = client.get(reverse("imports:status", args=[run.pk])).json()
    assert (status["status"], status["percent"]) == ("previewed", 100)
    assert client.get(reverse("imports:detail", args=[run.pk])).status_code == 200
    client.post(reverse("imports:confirm", args=[run.pk]), {"sha256": run.file_id})
    run.refresh_from_db()
    assert run.status == "imported" and Person.objects.count() == 2


def test_a_large_file_is_refused_with_a_message_and_no_run(client, clerk_a, redis_away, monkeypatch):
    monkeypatch.setattr(importing, "LARGE_IMPORT_ROWS", 1)
    client.force_login(clerk_a)
    response = client.post(reverse("imports:new", args=["ledger"]), {"file": ledger_file()}, follow=True)
    assert BACKGROUND_UNAVAILABLE in response.content.decode()
    assert not ImportRun.objects.exists()


def test_a_confirm_that_needs_a_worker_waits_and_stays_confirmable(client, clerk_a, redis_away, monkeypatch):
    client.force_login(clerk_a)
    client.post(reverse("imports:new", args=["ledger"]), {"file": ledger_file()})
    run = ImportRun.objects.latest("id")
    ImportRun.objects.filter(pk=run.pk).update(background=True)  # as if it had been previewed on a worker
    response = client.post(reverse("imports:confirm", args=[run.pk]), {"sha256": run.file_id}, follow=True)
    assert BACKGROUND_UNAVAILABLE in response.content.decode()
    run.refresh_from_db()
    assert run.status == "previewed" and not Person.objects.exists()


def test_progress_that_cannot_be_written_never_fails_the_import(redis_away, clerk_a, tmp_path):
    report = importing.progress_reporter(1)
    report(10, "读取")
    report(20, "写入")  # the first failure is logged; the rest are not tried
    path = tmp_path / "台账.xlsx"
    path.write_bytes(ledger_file(3).read())
    assert importing.import_path("ledger", path, clerk_a, dry_run=False).counts["persons_created"] == 3
