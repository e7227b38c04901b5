"""Fault: two clerks confirm ledger imports over the same village at the same moment. The confirms run one
after the other (village locks); the second counts what the first wrote, and is refused as stale when its
outcome changed — no person of the first import is silently overwritten — or applies with its true counts."""
from __future__ import annotations

import threading
import time

import psycopg
import pytest
from django.db import connection

from poverty_registry import importing
from poverty_registry.audit.trail import verify_chain
from poverty_registry.locks import LEDGER_VILLAGE
from poverty_registry.models import ImportRun, Person
from tests import conftest
from tests.conftest import VILLAGE_A, make_person
from tests.poverty_registry.ledger_builders import ledger_xlsx, row

BLOCKER = "H999"  # an existing household every file lists unchanged: the upsert waits on its row lock


@pytest.fixture
def blocker_household(transactional_db, regions):
    return make_person(VILLAGE_A, seq=999, name="老户主", household_no=BLOCKER)


def ledger(names: list[str], households: list[str], first_seq: int = 100) -> bytes:
    head = Person.objects.get(household__household_no=BLOCKER)
    rows = [row(household, name, first_seq + i, VILLAGE_A,
                relation="户主" if household not in households[:i] else "配偶")
            for i, (household, name) in enumerate(zip(households, names))]
    rows.append([BLOCKER, head.name, head.id_number, "", "", "户主", "", VILLAGE_A, "", ""])
    return ledger_xlsx(rows, title=None)


def waiting_backends(cursor) -> list[str]:
    cursor.execute("SELECT l.locktype, l.classid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                   "WHERE NOT l.granted AND a.datname = current_database()")
    return [f"{locktype}:{classid}" for locktype, classid in cursor.fetchall()]


def wait_until(condition, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if (found := condition()):
            return found
        time.sleep(0.05)
    raise AssertionError("timed out")


def confirm_in_thread(run: ImportRun, results: dict) -> threading.Thread:
    """A confirm as a request would run it: its own thread, its own database connection."""
    def work():
        try:
            results[run.pk] = importing.confirm(run.pk, run.user, run.file_id)
        except BaseException as exc:  # noqa: BLE001 — reported to the test
            results[run.pk] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=work)
    thread.start()
    return thread


BLOCK_LEDGER = "SELECT 1 FROM poverty_registry_household WHERE household_no = 'H999' FOR UPDATE"
BLOCK_ENROLMENTS = "SELECT 1 FROM enrollment_enrolment WHERE name = '老参保人' FOR UPDATE"


def confirm_both_at_once(first: ImportRun, second: ImportRun, block: str = BLOCK_LEDGER
                         ) -> tuple[ImportRun, ImportRun, list[str]]:
    """The first confirm is held inside its transaction, its rows half written, while the second starts; then
    both are let go. Returns both runs and the locks the confirms waited on."""
    results: dict = {}
    with psycopg.connect(conftest.test_database_url()) as holder, holder.cursor() as cursor:
        cursor.execute(block)
        threads = [confirm_in_thread(first, results)]
        with psycopg.connect(conftest.test_database_url(), autocommit=True) as observer, observer.cursor() as watch:
            wait_until(lambda: len(waiting_backends(watch)) == 1)  # the first, on the blocker's row
            threads.append(confirm_in_thread(second, results))
            waited = wait_until(lambda: (lambda w: w if len(w) == 2 else None)(waiting_backends(watch)))
        holder.rollback()
    for thread in threads:
        thread.join(120)
    for run in (first, second):
        assert isinstance(results[run.pk], ImportRun), results[run.pk]
        run.refresh_from_db()
    return first, second, waited


@pytest.mark.parametrize("order", ["甲先", "乙先"])
def test_the_second_confirm_over_the_same_households_is_refused_and_overwrites_nobody(order, clerk_a,
                                                                                      blocker_household):
    households = ["H001", "H001", "H002"]
    runs = {team: importing.upload("ledger", ledger([f"{team}一", f"{team}二", f"{team}三"], households),
                                   f"{team}.xlsx", clerk_a) for team in ("甲", "乙")}
    for run in runs.values():
        assert run.status == "previewed" and run.preview_counts["persons_created"] == 3
    first_team = order[0]
    second_team = "乙" if first_team == "甲" else "甲"
    first, second, waited = confirm_both_at_once(runs[first_team], runs[second_team])

    assert f"advisory:{LEDGER_VILLAGE}" in waited  # the second waited for the village, before counting
    assert first.status == "imported" and first.result_counts == first.preview_counts
    assert second.status == "stale" and second.message == "台账已被他人修改，请重新预览"
    assert second.result_counts == {}
    names = set(Person.objects.exclude(household__household_no=BLOCKER).values_list("name", flat=True))
    assert names == {f"{first_team}一", f"{first_team}二", f"{first_team}三"}
    assert verify_chain()[1] is None

    # The refused clerk previews again from the kept file: the preview now counts the first import's persons.
    again = importing.retry(second.pk, "preview")
    assert again.status == "previewed" and again.preview_counts["persons_updated"] == 3


@pytest.mark.parametrize("order", ["甲先", "乙先"])
def test_a_second_confirm_in_the_same_village_waits_and_applies_with_its_true_counts(order, clerk_a,
                                                                                     blocker_household):
    files = {"甲": ledger(["甲一", "甲二"], ["H001", "H002"]),
             "乙": ledger(["乙一", "乙二"], ["H003", "H004"], first_seq=200)}
    runs = {team: importing.upload("ledger", data, f"{team}.xlsx", clerk_a) for team, data in files.items()}
    first_team = order[0]
    first, second, waited = confirm_both_at_once(runs[first_team], runs["乙" if first_team == "甲" else "甲"])

    assert f"advisory:{LEDGER_VILLAGE}" in waited
    for run in (first, second):
        assert run.status == "imported" and run.result_counts == run.preview_counts, (run.message, run.errors)
        assert run.result_counts["persons_created"] == 2 and run.result_counts["persons_unchanged"] == 1
    assert Person.objects.count() == 5
    assert verify_chain()[1] is None


@pytest.mark.parametrize("order", ["甲先", "乙先"])
def test_enrolment_confirms_need_no_village_lock_their_counts_are_the_writes(order, clerk_a, regions,
                                                                            transactional_db):
    """An enrolment (or claim) import counts what its INSERT … ON CONFLICT returns, which waits for a concurrent
    confirm's rows and sees them committed: the second confirm's true counts differ from its preview, and it is
    refused and rolled back without a lock of its own."""
    from enrollment.models import Enrolment
    from tests.poverty_registry.ledger_builders import id_number

    Enrolment.objects.create(id_number=id_number(999), name="老参保人", year=2024, status="enrolled",
                             region_id=VILLAGE_A)
    files = {team: ("身份证号,姓名,参保年度,参保状态,缴费日期,参保地区划\n"
                    + "".join(f"{id_number(i)},{team}{i},2024,{status},,{VILLAGE_A}\n" for i in (1, 2, 3))
                    + f"{id_number(999)},老参保人,2024,正常参保,,{VILLAGE_A}\n").encode()
             for team, status in (("甲", "正常参保"), ("乙", "未缴费"))}
    runs = {team: importing.upload("enrolment", data, f"{team}.csv", clerk_a) for team, data in files.items()}
    first_team = order[0]
    first, second, _ = confirm_both_at_once(runs[first_team], runs["乙" if first_team == "甲" else "甲"],
                                            BLOCK_ENROLMENTS)

    assert first.status == "imported" and first.result_counts == first.preview_counts
    assert second.status == "stale" and second.message == "台账已被他人修改，请重新预览"
    assert set(Enrolment.objects.exclude(name="老参保人").values_list("name", flat=True)) == {
        f"{first_team}1", f"{first_team}2", f"{first_team}3"}
