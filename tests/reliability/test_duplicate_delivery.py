"""A duplicate Celery delivery of every task the project registers (a redelivery after a lost ack, a
visibility timeout, a retry): the task runs twice with the same message (same arguments, same task id)
and the second run changes nothing — every table's rows, the audit trail included, are as the first left
them. A task registered without a case here fails `test_every_task_has_a_duplicate_delivery_case`."""
from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest
from django.db import connection

from tests.claims.settlement_helpers import policies  # noqa: F401
from tests.conftest import VILLAGE_A
from tests.reliability.audit_check import assert_audit_verifies

CASES = {}
EXPECTED = {}  # task → {table: [columns a second run rightly refreshes]}
OUTSIDE = {}  # task → what it writes outside the database (tmp_path → state), compared the same way


def case(name: str, expected: dict[str, list[str]] | None = None, outside=None):
    """Register the set-up of a task's duplicate delivery: returns (args, kwargs) of the message."""
    def register(setup):
        CASES[name], EXPECTED[name] = setup, expected or {}
        OUTSIDE[name] = outside or (lambda tmp_path: None)
        return setup
    return register


def project_tasks() -> set[str]:
    from config.celery import app

    app.loader.import_default_modules()
    return {name for name in app.tasks if not name.startswith("celery.")}


def test_every_task_has_a_duplicate_delivery_case():
    assert project_tasks() - set(CASES) == set(), "add a duplicate-delivery case for each new task"


def database_state(ignore: dict[str, list[str]]) -> dict[str, str]:
    """Every table of the database, each as a digest of all its rows (less the columns to ignore)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
        tables = [row[0] for row in cursor.fetchall()]
        state = {}
        for table in tables:
            cursor.execute("SELECT count(*), md5(coalesce(string_agg(r, '|' ORDER BY r), '')) "
                           f"FROM (SELECT (to_jsonb(t) - %s::text[])::text AS r "
                           f"FROM {connection.ops.quote_name(table)} t) rows", [ignore.get(table, [])])
            state[table] = cursor.fetchone()
    return state


def changed_tables(before: dict, after: dict) -> list[str]:
    return sorted(t for t in before.keys() | after.keys() if before.get(t) != after.get(t))


@pytest.fixture
def eager():
    """Tasks a task queues run in place (a chord's counties and its finish), as a worker would run them."""
    from config.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


# --- the cases -------------------------------------------------------------------------------------------

def _ledger_run(clerk, status: str):
    from poverty_registry import importing
    from poverty_registry.models import ImportRun
    from tests.poverty_registry.ledger_builders import ledger_xlsx, row

    data = ledger_xlsx([row(f"{VILLAGE_A}90001", "重投甲", 901, VILLAGE_A),
                        row(f"{VILLAGE_A}90001", "重投乙", 902, VILLAGE_A, relation="配偶")])
    run = importing.upload("ledger", data, "台账.xlsx", clerk)
    assert run.status == "previewed", run.message
    # As a background run stands when its task is delivered: previewing (upload), importing (confirm).
    ImportRun.objects.filter(pk=run.pk).update(status=status)
    return run


@case("imports.preview")
def _preview(clerk_a, **_):
    return (_ledger_run(clerk_a, "previewing").pk,), {}


@case("imports.commit")
def _commit(clerk_a, **_):
    return (_ledger_run(clerk_a, "importing").pk,), {}


def _inbox(tmp_path, settings):
    from tests.matching.scenario import plant_everything

    folder = tmp_path / "inbox"
    folder.mkdir()
    settings.MATCHING_INBOX = folder
    plant_everything(folder)
    return folder


def _prepared_run(tmp_path, settings):
    from poverty_registry.matching import run as matching

    run, _ = matching.begin(_inbox(tmp_path, settings), "test", dt.date(2024, 6, 15))
    matching.prepare(run.pk)
    return run


@case("matching.start")
def _start(tmp_path, settings, **_):
    return (str(_inbox(tmp_path, settings)), "test", "2024-06-15"), {}


@case("matching.nightly")
def _nightly(tmp_path, settings, **_):
    _inbox(tmp_path, settings)
    return (), {}


@case("matching.county")
def _county(tmp_path, settings, **_):
    return (_prepared_run(tmp_path, settings).pk, VILLAGE_A[:6]), {}


@case("matching.finish")
def _finish(tmp_path, settings, **_):
    from poverty_registry.matching import run as matching

    run = _prepared_run(tmp_path, settings)
    for county in matching.pending_counties(run.pk):
        matching.run_shard(run.pk, county)
    return ([], run.pk), {}


@case("matching.recover")
def _recover_matching(tmp_path, settings, **_):
    from poverty_registry.models import MatchingRun

    run = _prepared_run(tmp_path, settings)
    MatchingRun.objects.filter(pk=run.pk).update(heartbeat_at=dt.datetime(2024, 6, 15, tzinfo=dt.UTC))
    return (), {}


def _resettle_run(**fields):
    from claims.settlement.models import ResettleRun
    from tests.claims.test_resettle_parallel import _persons_with_claims

    _persons_with_claims(3)
    return ResettleRun.objects.create(year=2024, region_id="4306", reason="首次结算", **fields)


@case("resettle.year")
def _resettle(**_):
    return (_resettle_run().pk,), {}


@case("resettle.chunks")
def _resettle_chunks(**_):
    from claims.settlement.services import prepare_resettle

    run = _resettle_run()
    prepare_resettle(run.pk, chunk_persons=1)
    return (run.pk,), {}


@case("resettle.recover")
def _recover_resettle(**_):
    _resettle_run(heartbeat_at=dt.datetime(2024, 6, 15, tzinfo=dt.UTC))
    return (), {}


@case("audit.spread_journal")
def _spread(settings, **_):
    from tests.claims.test_resettle_parallel import _persons_with_claims

    settings.AUDIT_DIRECT_ROWS = 1  # the claims' inserts below go through the journal
    _persons_with_claims(2)
    return (), {}


def _claims_to_screen():
    from tests.claims.test_resettle_parallel import _persons_with_claims

    return [p.id_number for p in _persons_with_claims(3)]


# A hit found again is stamped "last screened" (最近筛查时间) again: that is the screening's record of itself.
@case("supervision.screen_nightly", expected={"claims_screeninghit": ["checked_at"]})
def _screen_nightly(**_):
    _claims_to_screen()
    return (2024,), {}


@case("supervision.screen_persons", expected={"claims_screeninghit": ["checked_at"]})
def _screen_persons(**_):
    return (_claims_to_screen(), 2024), {}


@case("imports.expire_leases")
def _expire_leases(clerk_a, **_):
    from django.utils import timezone

    from poverty_registry.models import ImportRun

    run = _ledger_run(clerk_a, "importing")
    ImportRun.objects.filter(pk=run.pk).update(lease_until=timezone.now() - dt.timedelta(minutes=5))
    return (), {}


def _anchor_lines(tmp_path):
    return (tmp_path / "anchors.jsonl").read_text()


@case("audit.anchor", outside=_anchor_lines)
def _anchor(settings, tmp_path, **_):
    from tests.conftest import make_person

    settings.AUDIT_ANCHOR_FILE = tmp_path / "anchors.jsonl"
    make_person(VILLAGE_A, seq=905, name="锚点样本")  # the head moves: the first delivery anchors it
    return (), {}


@case("access_log.flag_yesterday", expected={"poverty_registry_accessflag": ["computed_at"]})
def _flag_yesterday(clerk_a, settings, **_):
    from django.utils import timezone

    from poverty_registry.models import AccessRecord

    settings.ACCESS_FULL_ID_DAILY_LIMIT = 10
    yesterday = timezone.now() - dt.timedelta(days=1)
    AccessRecord.objects.bulk_create(
        AccessRecord(at=yesterday, user_id=clerk_a.pk, username=clerk_a.username, region_code=clerk_a.region_id,
                     kind="full_id_list", rows=50, full_ids=50) for _ in range(2))
    return (), {}


# --- the test -----------------------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", sorted(CASES))
def test_duplicate_delivery_changes_nothing(name, eager, regions, policies, clerk_a, tmp_path,  # noqa: F811
                                            settings):
    from config.celery import app

    args, kwargs = CASES[name](clerk_a=clerk_a, tmp_path=tmp_path, settings=settings, policies=policies)
    app.loader.import_default_modules()
    task, task_id = app.tasks[name], str(uuid.uuid4())
    first = task.apply(args, kwargs, task_id=task_id)
    assert first.successful(), first.traceback
    state, outside = database_state(EXPECTED[name]), OUTSIDE[name](tmp_path)
    second = task.apply(args, kwargs, task_id=task_id)
    assert second.successful(), second.traceback
    assert changed_tables(state, database_state(EXPECTED[name])) == []
    assert OUTSIDE[name](tmp_path) == outside
    assert_audit_verifies()


@pytest.mark.django_db(transaction=True)
def test_duplicate_confirm_deliveries_at_once_import_once(regions, clerk_a):
    """Two deliveries of one confirm running at the same time: one writes, the other changes nothing."""
    from poverty_registry.models import ImportRun, Person
    from poverty_registry.tasks import commit_import

    run = _ledger_run(clerk_a, "importing")
    results, errors = [], []

    def deliver():
        try:
            results.append(commit_import.apply((run.pk,)).get())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors and results == ["imported", "imported"]
    run = ImportRun.objects.get(pk=run.pk)
    assert run.status == "imported" and run.result_counts == run.preview_counts
    assert Person.objects.count() == 2
    assert_audit_verifies()
