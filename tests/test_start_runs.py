"""Starting the screening of a year (立即筛查) and a matching run (立即比对) from the pages (issue 15, finding 3):
a real worker runs what the button starts, a second start while one runs is refused, a role without the
permission gets 403, and with Redis away the page says so and nothing is begun."""
from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import pytest
from django.urls import reverse

from claims.models import Claim, Hospital, ScreeningHit, ScreeningRun
from claims.supervision import screening_runs
from poverty_registry.background import BACKGROUND_UNAVAILABLE
from poverty_registry.models import MatchingItem, MatchingRun
from tests.conftest import VILLAGE_A, make_person
from tests.reliability.test_redis_away import redis_away  # noqa: F401 — fixture

YEAR = 2025
SCREEN = reverse("supervision:screen_now")
MATCH = reverse("matching:start_run")


def wait_for(predicate, timeout: float = 90, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


def the_same_bill_twice():
    """Two identical bills of one person: rule R06 hits the second."""
    person = make_person(VILLAGE_A, seq=41, name="重复甲")
    hospital = Hospital.objects.create(code="H4306210001X", name="岳阳县人民医院", level="county",
                                       region_id=VILLAGE_A[:6])
    for no in ("A1", "A2"):
        Claim.objects.create(hospital=hospital, claim_no=no, hospital_level="county", in_county=True,
                             visit_type="inpatient", id_number=person.id_number, name=person.name, person=person,
                             admission_date=dt.date(YEAR, 3, 1), discharge_date=dt.date(YEAR, 3, 5),
                             diagnosis="J18.900", total_cost=Decimal("3000.00"), uncovered_cost=Decimal("0.00"),
                             region_id=VILLAGE_A)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


# ---- 立即筛查 ---------------------------------------------------------------------------------------------

def test_screen_now_runs_in_the_worker_and_the_pages_tell_what_it_found(celery_worker_process, client, supervisor):
    the_same_bill_twice()
    client.force_login(supervisor)
    page = client.get(reverse("supervision:overview"), {"year": YEAR})
    assert "立即筛查 2025年" in page.content.decode() and "尚未运行" in page.content.decode()
    response = client.post(SCREEN, {"year": YEAR, "next": f"{reverse('supervision:overview')}?year={YEAR}"},
                           follow=True)
    assert any("已开始筛查2025年" in m for m in messages_of(response))
    run = ScreeningRun.objects.get()
    assert run.triggered_by == "页面：supervisor" and run.years == [YEAR]
    wait_for(lambda: ScreeningRun.objects.filter(pk=run.pk, status="finished").exists(), what="the screening")
    run.refresh_from_db()
    assert run.rules_done == run.rules_total == 9 and run.counts[str(YEAR)]["R06"] == 1
    assert ScreeningHit.objects.filter(rule="R06", claim__claim_no="A2").exists()
    status = client.get(reverse("supervision:screening_status")).json()
    assert status["running"] is False and status["percent"] == 100
    for name in ("supervision:overview", "supervision:hits"):
        html = client.get(reverse(name), {"year": YEAR}).content.decode()
        assert "最近一次筛查" in html and "R06 1" in html and f"共 {run.total_hits} 条疑点" in html, name


def test_a_second_screening_start_while_one_runs_is_refused(client, supervisor):
    running = screening_runs.begin([YEAR], "定时任务")
    client.force_login(supervisor)
    html = client.get(reverse("supervision:overview")).content.decode()
    assert 'id="task-progress"' in html and "立即筛查" not in html  # progress shown, no button
    response = client.post(SCREEN, {"year": YEAR}, follow=True)
    assert any(f"第{running.pk}次筛查正在进行中" in m for m in messages_of(response))
    assert ScreeningRun.objects.count() == 1
    progress = client.get(reverse("supervision:screening_status")).json()
    assert progress["running"] is True and "排队" in progress["stage"]


def test_screening_start_needs_the_permission_and_a_post(client, clerk_a, county_a, city_officer, supervisor):
    for user in (clerk_a, county_a, city_officer):
        client.force_login(user)
        assert client.post(SCREEN, {"year": YEAR}).status_code == 403, user
    client.force_login(supervisor)
    assert client.get(SCREEN).status_code == 405
    assert not ScreeningRun.objects.exists()


def test_screening_start_with_redis_away_says_so(client, supervisor, redis_away):  # noqa: F811
    client.force_login(supervisor)
    response = client.post(SCREEN, {"year": YEAR}, follow=True)
    assert BACKGROUND_UNAVAILABLE in messages_of(response)
    assert not ScreeningRun.objects.exists()


def test_an_abandoned_screening_run_does_not_block_the_next(supervisor):
    stale = screening_runs.begin([YEAR], "定时任务")
    ScreeningRun.objects.filter(pk=stale.pk).update(started_at=stale.created_at)  # started, lock not held
    fresh = screening_runs.begin([YEAR], "页面：supervisor")
    stale.refresh_from_db()
    assert stale.status == "failed" and fresh.status == "running"


# ---- 立即比对 ---------------------------------------------------------------------------------------------

def test_start_matching_runs_in_the_worker(celery_worker_process, client, county_a, settings, tmp_path):
    from tests.matching.scenario import plant_everything

    plant_everything(tmp_path)
    settings.MATCHING_INBOX = tmp_path  # the run keeps its inbox: the worker reads the one begun here
    client.force_login(county_a)
    assert "立即比对" in client.get(reverse("matching:runs")).content.decode()
    response = client.post(MATCH, follow=True)
    assert any("已开始第" in m for m in messages_of(response))
    run = MatchingRun.objects.get()
    wait_for(lambda: MatchingRun.objects.filter(pk=run.pk).exclude(status="running").exists(), what="the run")
    run.refresh_from_db()
    assert run.status == "finished" and run.task_id and run.triggered_by == "页面：county_a"
    assert MatchingItem.objects.filter(first_run=run, code="M02").exists()
    assert client.get(reverse("matching:run_status")).json()["running"] is False
    html = client.get(reverse("matching:runs")).content.decode()
    assert "最近一次比对" in html and f"第{run.pk}次比对" in html and "尚未运行" in html


def test_a_second_matching_start_while_one_runs_is_refused(client, county_a):
    running = MatchingRun.objects.create(run_date=dt.date.today(), inbox="/nonexistent", triggered_by="beat")
    client.force_login(county_a)
    html = client.get(reverse("matching:runs")).content.decode()
    assert 'id="task-progress"' in html and 'id="start-matching"' not in html
    response = client.post(MATCH, follow=True)
    assert any(f"第{running.pk}次比对正在进行中" in m for m in messages_of(response))
    assert MatchingRun.objects.count() == 1


def test_matching_start_needs_the_permission_and_a_post(client, clerk_a, supervisor, county_a):
    for user in (clerk_a, supervisor):
        client.force_login(user)
        assert client.post(MATCH).status_code == 403, user
        assert 'id="start-matching"' not in client.get(reverse("matching:runs")).content.decode()
    client.force_login(county_a)
    assert client.get(MATCH).status_code == 405
    assert not MatchingRun.objects.exists()


def test_matching_start_with_redis_away_says_so(client, city_officer, redis_away):  # noqa: F811
    client.force_login(city_officer)
    response = client.post(MATCH, follow=True)
    assert BACKGROUND_UNAVAILABLE in messages_of(response)
    assert not MatchingRun.objects.exists()
