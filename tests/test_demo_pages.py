"""The demo data of a fresh `make run` makes every page meaningful (issue 15, finding 3): setup_demo on an empty
database gives hits of every screening rule, a case in every state, a matching run with every difference, a
re-settlement that changed payments and issued subsidy reports — and a second setup_demo adds nothing."""
from __future__ import annotations

import time

import pytest
from django.core.management import call_command
from django.urls import reverse

from claims.models import Case, Claim, ScreeningHit, ScreeningRun
from claims.settlement.models import ResettleRun
from claims.supervision.rules import RULES
from enrollment.models import SubsidyReport
from enrollment.subsidy_reports import verify_report
from poverty_registry.matching.vocab import DIFFERENCES
from poverty_registry.models import MatchingItem, MatchingRun, Person, User

MODELS = (Person, Claim, ScreeningHit, ScreeningRun, Case, MatchingRun, MatchingItem, ResettleRun, SubsidyReport)


@pytest.fixture
def demo(transactional_db, tmp_path):
    started = time.perf_counter()
    call_command("setup_demo", persons=5000, inbox=str(tmp_path), verbosity=0)
    return time.perf_counter() - started, tmp_path


def test_setup_demo_fills_every_page(demo, client):
    assert set(ScreeningHit.objects.filter(status="active").values_list("rule", flat=True)) == set(RULES)
    assert set(Case.objects.values_list("state", flat=True)) == set(Case.STATES)
    run = MatchingRun.objects.get()
    assert run.status == "finished" and all(run.counts[code] > 0 for code in DIFFERENCES), run.counts
    assert set(MatchingItem.objects.filter(first_run=run).values_list("code", flat=True)) == set(DIFFERENCES)
    resettle = ResettleRun.objects.get()
    assert resettle.status == "done" and resettle.settlements_written > 0 and resettle.paid_difference != 0
    assert resettle.policy.version == 2  # a policy change, then the year re-settled under it
    reports = list(SubsidyReport.objects.all())
    assert reports and all(r.persons > 0 and verify_report(r) for r in reports)
    screening = ScreeningRun.objects.get()
    assert screening.status == "finished" and screening.total_hits > 0

    client.force_login(User.objects.get(username="jianguan"))
    html = client.get(reverse("supervision:overview")).content.decode()
    assert "最近一次筛查" in html and "立即筛查" in html
    client.force_login(User.objects.get(username="xianji"))
    html = client.get(reverse("matching:runs")).content.decode()
    assert f"第{run.pk}次比对" in html and "立即比对" in html
    clerk = User.objects.get(username="xiangzhen")  # the demo township's clerk has one of each in the queue
    assert set(MatchingItem.objects.restrict(clerk).values_list("code", flat=True)) == set(DIFFERENCES)


def test_a_second_setup_demo_reuses_the_data(demo):
    seconds, inbox = demo
    counts = {model: model.objects.count() for model in MODELS}
    started = time.perf_counter()
    call_command("setup_demo", persons=5000, inbox=str(inbox), verbosity=0)
    assert {model: model.objects.count() for model in MODELS} == counts
    assert time.perf_counter() - started < seconds / 2
