"""Settlement operations that touch the database (DOMAIN §6.3, §9): settle person-years set-based with the
pure engine (claims.settlement.engine), write a new Settlement version only where the result changed, keep the
old one (is_current False), and refresh the year-to-date totals behind the risk warning list.

One path serves a claim on arrival, an import, a late claim, a policy change and the batch re-settlement
of a year: load the facts with a few big queries, compute in Python, COPY the new versions into a staging
table and write them back with one UPDATE and one INSERT.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from poverty_registry import locks, sql
from poverty_registry.importing import copy_rows, tune_bulk_transaction
from poverty_registry.scoping import RegionScope

from ..models import Claim, PolicySet
from .engine import (
    ZERO,
    CategorySpan,
    ClaimFacts,
    ClaimSettlement,
    PersonFacts,
    at_risk,
    risk_threshold,
    settle_person_year,
)
from .models import ResettleChunk, ResettleRun
from .policy_sets import incomes_last_year, params_of, policies_for

Key = tuple[str, int]  # (id_number, year): the unit of settlement

REASON_FIRST = "首次结算"
REASON_LATE_CLAIM = "迟到单据重算"
REASON_CORRECTION = "单据更正重算"
REASON_POLICY = "政策调整重算"

FEW_KEYS = 200  # up to this many person-years lock one by one; more lock their buckets exclusively

TIER_COLUMNS = ("basic", "critical", "assistance", "hospital_waiver", "special_insurance", "backstop")
SETTLEMENT_COLUMNS = ("id", "claim_id", "version", "is_current", "policy_id", "category", "enrolled", *TIER_COLUMNS,
                      "self_pay", "digest", "reason", "region_id", "settled_at")


@dataclass
class SettleOutcome:
    person_years: int = 0
    claims: int = 0
    written: int = 0  # new settlement versions
    first_settled: int = 0
    paid_difference: Decimal = ZERO  # Σ (new total paid − old total paid) over the versions written
    unsettled: dict[int, str] = field(default_factory=dict)  # claim id → why it could not be settled

    def add(self, other: SettleOutcome) -> None:
        self.person_years += other.person_years
        self.claims += other.claims
        self.written += other.written
        self.first_settled += other.first_settled
        self.paid_difference += other.paid_difference
        self.unsettled.update(other.unsettled)


@dataclass
class _ClaimRow:
    claim_id: int
    facts: ClaimFacts
    region_id: str
    name: str
    person_id: int | None
    current_version: int
    current_id: int | None  # the current settlement version's row, retired when a new one is written
    current_digest: str | None
    current_paid: Decimal
    marked_settled: bool  # the claim's status already says settled


# ---------------------------------------------------------------- entry points

def settle_claims(claim_ids: Iterable[int], *, reason: str = REASON_LATE_CLAIM) -> SettleOutcome:
    """Settle arriving (or corrected) claims: each one's whole person-year is re-run, so a late claim
    re-settles the claims after it. `reason` labels the re-settled earlier claims."""
    keys = _keys_of_claims(claim_ids)
    return settle_person_years(keys, reason=reason)


def settle_person_years(keys: Iterable[Key], *, reason: str, lock: bool = True) -> SettleOutcome:
    """Settle each (id_number, year) in one transaction; only changed results become new versions."""
    keys = sorted(set(keys))
    if not keys:
        return SettleOutcome()
    with transaction.atomic():
        if lock:
            _lock(keys)
        rows = _load_claims(keys)
        persons = _load_persons(sorted({k[0] for k in keys}))
        return _settle_and_write(rows, persons, reason)


def start_resettle(year: int, region_code: str, *, reason: str = REASON_POLICY, policy: PolicySet | None = None,
                   user=None) -> ResettleRun:
    """Open a batch re-settlement run and queue it on Celery after commit; the page polls its row."""
    from ..tasks import resettle_year_task

    run = ResettleRun.objects.create(year=year, region_id=region_code, reason=reason, policy=policy,
                                     created_by=user)
    transaction.on_commit(lambda: resettle_year_task.delay(run.pk))
    return run


@dataclass(frozen=True)
class ResettlePreview:
    """What a batch re-settlement of a year in a region would take on (its confirmation page)."""

    persons: int
    claims: int
    paid: Decimal  # paid now by the six tiers on those claims' current settlements


def resettle_preview(year: int, region_code: str) -> ResettlePreview:
    with connection.cursor() as cursor:
        cursor.execute(sql.load(__name__, "resettle_preview"), {"year": year, "scope": _scope_pattern(region_code)})
        return ResettlePreview(*cursor.fetchone())


def _scope_pattern(region_code: str) -> str:
    """The LIKE pattern of the region a run was opened for (its code checked against the user's scope
    when the run was opened)."""
    return RegionScope(region_code.replace("%", "")).like_pattern()


def resettle_year(run_id: int, *, chunk_persons: int = 5_000) -> ResettleRun:
    """Run (or resume) a batch re-settlement in this process: split it into chunks if not yet done, then
    settle chunks until none is left. Several processes may call resettle_chunks on the same run at once."""
    prepare_resettle(run_id, chunk_persons=chunk_persons)
    return resettle_chunks(run_id)


def prepare_resettle(run_id: int, *, chunk_persons: int = 5_000) -> ResettleRun:
    """Split the run's persons into chunks, one lock bucket each (at most `chunk_persons` persons); a run
    that already has its chunks is left as it is."""
    with transaction.atomic():
        run = ResettleRun.objects.select_for_update().get(pk=run_id)
        if run.status == "done" or run.chunks.exists():
            return run
        with connection.cursor() as cursor:
            # Thousands of chunk queries follow: plan them on fresh statistics (a big import or the last
            # run may have changed the tables more than autovacuum has seen yet).
            cursor.execute(sql.inline("ANALYZE {claim}, {settlement}"))
            cursor.execute(
                sql.inline(f"SELECT {BUCKET_SQL.format('id_number')} AS bucket, "
                           "array_agg(id_number ORDER BY id_number) FROM (SELECT DISTINCT id_number FROM {claim} "
                           "WHERE year = %s AND region_id LIKE %s) p GROUP BY bucket ORDER BY bucket"),
                [LOCK_BUCKETS, run.year, _scope_pattern(run.region_id)],
            )
            by_bucket = cursor.fetchall()
        pieces = [(bucket, numbers[i:i + chunk_persons])
                  for bucket, numbers in by_bucket for i in range(0, len(numbers), chunk_persons)]
        ResettleChunk.objects.bulk_create(ResettleChunk(run=run, seq=seq, bucket=bucket, id_numbers=numbers)
                                          for seq, (bucket, numbers) in enumerate(pieces))
        run.status, run.started_at = "running", run.started_at or timezone.now()
        run.heartbeat_at = timezone.now()
        run.persons_total = sum(len(numbers) for _, numbers in by_bucket)
        run.save(update_fields=["status", "started_at", "heartbeat_at", "persons_total"])
    return run


def resettle_chunks(run_id: int) -> ResettleRun:
    """Take the run's chunks not yet done one at a time (SKIP LOCKED: parallel workers share them out),
    each in its own transaction with its results; the worker that finds none left closes the run."""
    # A failed run's message goes with its retry; a note of an automatic resume stays.
    ResettleRun.objects.filter(pk=run_id, status="failed").update(message="")
    ResettleRun.objects.filter(pk=run_id).exclude(status="done").update(status="running")
    run = ResettleRun.objects.get(pk=run_id)
    while True:
        with transaction.atomic():
            chunk = (ResettleChunk.objects.select_for_update(skip_locked=True)
                     .filter(run_id=run_id, done=False).order_by("seq").first())
            if chunk is None:
                break
            tune_bulk_transaction()
            # A chunk lost to a crash in the instant after its commit is simply settled again: its done
            # flag is in the same transaction. So the commit need not wait for the disk.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
            _check_references_early()
            _lock_buckets(run.year, [chunk.bucket], shared=False)
            outcome = settle_person_years([(i, run.year) for i in chunk.id_numbers], reason=run.reason, lock=False)
            ResettleChunk.objects.filter(pk=chunk.pk).update(done=True)
            ResettleRun.objects.filter(pk=run_id).update(
                persons_done=F("persons_done") + len(chunk.id_numbers),
                claims_done=F("claims_done") + outcome.claims,
                settlements_written=F("settlements_written") + outcome.written,
                paid_difference=F("paid_difference") + outcome.paid_difference,
                heartbeat_at=timezone.now(),
            )
    # Chunks still running in another worker keep the run open; that worker closes it.
    ResettleRun.objects.filter(pk=run_id).exclude(status="done").exclude(chunks__done=False).update(
        status="done", finished_at=timezone.now())
    return ResettleRun.objects.get(pk=run_id)


def abandoned_resettle_runs(lease: dt.timedelta) -> list[int]:
    """Runs a dead worker left unfinished: queued or running, no progress for `lease`, and no chunk held by
    a worker (a worker holds its chunk's row for the chunk's whole transaction)."""
    candidates = ResettleRun.objects.filter(status__in=("queued", "running"),
                                            heartbeat_at__lt=timezone.now() - lease).values_list("pk", flat=True)
    return [run_id for run_id in candidates if not _worked_on(run_id)]


def _worked_on(run_id: int) -> bool:
    """Does a worker hold the run (splitting it) or one of its chunks not done (settling it) right now?"""
    with transaction.atomic():
        if not ResettleRun.objects.select_for_update(skip_locked=True).filter(pk=run_id).exists():
            return True
        undone = ResettleChunk.objects.filter(run_id=run_id, done=False)
        return undone.count() != len(undone.select_for_update(skip_locked=True).values_list("pk", flat=True))


def fail_run(run_id: int, message: str) -> None:
    ResettleRun.objects.filter(pk=run_id).update(status="failed", message=message[:2000])


def _check_references_early() -> None:
    """Foreign keys checked at the end of each statement instead of at commit, so the checks of the new
    versions run before their audit records take the chain lock, not while it is held. The explanations
    are written before their versions: their one reference waits for the commit."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"SET CONSTRAINTS {connection.ops.quote_name(_detail_foreign_key())} DEFERRED")


@functools.cache
def _detail_foreign_key() -> str:
    """The name Django's migration gave the explanation's foreign key to its version."""
    with connection.cursor() as cursor:
        cursor.execute(sql.inline("SELECT conname FROM pg_constraint WHERE contype = 'f' "
                                  "AND conrelid = '{settlementdetail}'::regclass"))
        return cursor.fetchone()[0]


# ---------------------------------------------------------------- locking
# Person-years hash into LOCK_BUCKETS buckets per year. A settlement of a few person-years holds its
# buckets shared and each person-year exclusively; a large one (a batch chunk, a big import) holds its
# buckets exclusively. Locks are always taken in sorted order, buckets before persons.

LOCK_BUCKETS = 64
BUCKET_SQL = "(hashtext({}) & (%s - 1))"


def _lock_buckets(year: int, buckets: Iterable[int], *, shared: bool) -> None:
    locks.xact_lock_each(locks.SETTLEMENT_BUCKET, "SELECT %s * %s + b AS k FROM unnest(%s::int[]) AS b",
                         [year, LOCK_BUCKETS, sorted(set(buckets))], shared=shared)


def _lock(keys: Sequence[Key]) -> None:
    """Two settlements of one person-year never interleave (they would both write version n+1)."""
    # the keys' buckets, hashed by PostgreSQL like the chunks, locked in one statement in sorted order
    locks.xact_lock_each(
        locks.SETTLEMENT_BUCKET,
        f"SELECT DISTINCT y * %s + {BUCKET_SQL.format('n')} AS k FROM unnest(%s::text[], %s::int[]) AS u(n, y)",
        [LOCK_BUCKETS, LOCK_BUCKETS, [k[0] for k in keys], [k[1] for k in keys]], shared=len(keys) <= FEW_KEYS)
    if len(keys) > FEW_KEYS:
        return
    locks.xact_lock_each(locks.SETTLEMENT_PERSON_YEAR, "SELECT DISTINCT hashtext(k) AS k FROM unnest(%s::text[]) AS k",
                         [[f"{number}|{year}" for number, year in keys]])


# ---------------------------------------------------------------- loading

def _keys_of_claims(claim_ids: Iterable[int]) -> list[Key]:
    return sorted(set(Claim.objects.filter(pk__in=list(claim_ids)).values_list("id_number", "year")))


def _load_claims(keys: Sequence[Key]) -> dict[Key, list[_ClaimRow]]:
    with connection.cursor() as cursor:
        cursor.execute(sql.load(__name__, "settlement_claims"), [[k[0] for k in keys], [k[1] for k in keys]])
        rows = cursor.fetchall()
    by_key: dict[Key, list[_ClaimRow]] = defaultdict(list)
    for r in rows:
        facts = ClaimFacts(r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10])
        by_key[(r[11], r[12])].append(
            _ClaimRow(r[0], facts, r[13], r[14], r[15], r[16] or 0, r[17], r[18], r[19] if r[19] is not None else ZERO,
                      r[20]))
    return by_key


@dataclass
class _Person:
    facts: PersonFacts
    person_id: int | None


def _load_persons(id_numbers: Sequence[str]) -> dict[str, _Person]:
    """Categories (dated), enrolled years and death date of each ID number, in three queries."""
    with connection.cursor() as cursor:
        cursor.execute(sql.inline("SELECT id_number, id, death_date FROM {person} WHERE id_number = ANY(%s)"),
                       [list(id_numbers)])
        ledger = {row[0]: (row[1], row[2]) for row in cursor.fetchall()}
        cursor.execute(
            sql.inline("SELECT p.id_number, c.category, c.valid_from, c.valid_to FROM {personcategory} c "
                       "JOIN {person} p ON p.id = c.person_id WHERE p.id_number = ANY(%s)"),
            [list(ledger)],
        )
        spans = defaultdict(list)
        for number, category, valid_from, valid_to in cursor.fetchall():
            spans[number].append(CategorySpan(category, valid_from, valid_to))
        cursor.execute(sql.inline("SELECT id_number, year FROM {enrolment} WHERE status = 'enrolled' "
                                  "AND id_number = ANY(%s)"), [list(id_numbers)])
        years = defaultdict(set)
        for number, year in cursor.fetchall():
            years[number].add(year)
    return {
        number: _Person(
            PersonFacts(number, tuple(spans.get(number, ())), frozenset(years.get(number, ())),
                        ledger[number][1] if number in ledger else None),
            ledger[number][0] if number in ledger else None,
        )
        for number in id_numbers
    }


# ---------------------------------------------------------------- computing

_DETAIL_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def detail_json(result: ClaimSettlement) -> tuple[str, str]:
    """(JSON text, digest) of a settlement's explanation: per tier base, deductible, ratio, bands, cap left,
    amount and the Chinese note. The digest tells whether a re-settlement changed anything."""
    body = _DETAIL_ENCODER.encode({
        "category": result.category,
        "poor": result.poor,
        "enrolled": result.enrolled,
        "covered_cost": str(result.covered_cost),
        "reimbursed": str(result.reimbursed),
        "effective_ratio": str(result.effective_ratio),
        "tiers": [
            {
                "tier": t.tier,
                "base": str(t.base),
                "deductible": str(t.deductible),
                "ratio": None if t.ratio is None else str(t.ratio),
                "bands": [[str(low), str(high), str(ratio), str(amount)] for low, high, ratio, amount in t.bands],
                "cap_left": None if t.cap_left is None else str(t.cap_left),
                "amount": str(t.amount),
                "note": t.note_zh,
            }
            for t in result.tiers
        ],
    })
    return body, hashlib.blake2b(body.encode(), digest_size=12).hexdigest()


@dataclass
class _YearTotal:
    name: str
    person_id: int | None
    region_id: str
    category: str
    claims: int
    total_cost: Decimal
    reimbursed: Decimal
    self_pay: Decimal


def _settle_and_write(rows: dict[Key, list[_ClaimRow]], persons: dict[str, _Person], reason: str) -> SettleOutcome:
    outcome = SettleOutcome(person_years=len(rows))
    year_regions = defaultdict(set)
    for (_, year), claims in rows.items():
        year_regions[year].add(_person_year_region(claims))
    policies = {year: policies_for(year, regions) for year, regions in year_regions.items()}
    now = timezone.now()
    new_rows, retired, totals = [], [], {}
    settled_ids = []
    for key, claims in rows.items():
        outcome.claims += len(claims)
        region = _person_year_region(claims)
        policy = policies[key[1]].get(region)
        if policy is None:
            for claim in claims:
                outcome.unsettled[claim.claim_id] = f"未找到{key[1]}年度适用于区划{region}的现行结算政策"
            continue
        person = persons.get(key[0]) or _Person(PersonFacts(key[0]), None)
        by_no = {claim.facts.claim_no: claim for claim in claims}
        results = settle_person_year(person.facts, [c.facts for c in claims], params_of(policy))
        for result in results:
            claim = by_no[result.claim_no]
            text, digest = detail_json(result)
            if not claim.marked_settled:
                settled_ids.append(claim.claim_id)
            if digest == claim.current_digest:
                continue
            first = claim.current_version == 0
            if not first:
                retired.append(claim.current_id)
            outcome.written += 1
            outcome.first_settled += first
            outcome.paid_difference += result.reimbursed - claim.current_paid
            amounts = [t.amount for t in result.tiers]
            new_rows.append((claim.claim_id, claim.current_version + 1, True, policy.pk, result.category or "",
                             result.enrolled, *amounts, result.self_pay, digest,
                             REASON_FIRST if first else reason, claim.region_id, now, text))
        totals[key] = _year_total(_latest(claims), person, results)
    # Unaudited writes first: the audit chain lock, held to the commit, is taken as late as possible.
    _write_year_totals(totals, policies)
    _write_versions(new_rows, retired)
    _mark_settled(settled_ids)
    return outcome


def _latest(claims: list[_ClaimRow]) -> _ClaimRow:
    return max(claims, key=lambda c: (c.facts.discharge_date, c.facts.claim_no))


def _person_year_region(claims: list[_ClaimRow]) -> str:
    """The region whose policy settles a person-year: that of the person's latest claim of the year."""
    return _latest(claims).region_id


def _year_total(last: _ClaimRow, person: _Person, results: list[ClaimSettlement]) -> _YearTotal:
    return _YearTotal(
        name=last.name, person_id=person.person_id or last.person_id, region_id=last.region_id,
        category=results[-1].category or "", claims=len(results),
        total_cost=sum((r.total_cost for r in results), ZERO),
        reimbursed=sum((r.reimbursed for r in results), ZERO),
        self_pay=sum((r.self_pay for r in results), ZERO),
    )


# ---------------------------------------------------------------- writing

SMALL_WRITE = 64  # up to this many rows travel as arrays (unnest); more are COPYed into a staging table
SETTLEMENT_TYPES = ("bigint", "bigint", "int", "boolean", "bigint", "text", "boolean", *["numeric"] * 7, "text",
                    "text", "text", "timestamptz")


@contextlib.contextmanager
def _staged(name: str, columns: Sequence[str], types: Sequence[str], rows: list[tuple]):
    """A FROM item named `name` holding rows: a COPYed temporary table for a batch, unnest() of arrays for a
    settlement on arrival (no catalog churn, fewer round trips). Yields (FROM item, parameters)."""
    if len(rows) <= SMALL_WRITE:
        arrays = [list(column) for column in zip(*rows)]
        unnest = ", ".join(f"%s::{t}[]" for t in types)
        yield f"unnest({unnest}) AS {name}({', '.join(columns)})", arrays
        return
    definition = ", ".join(f"{c} {t}" for c, t in zip(columns, types))
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE {name} ({definition}) ON COMMIT DROP")
    copy_rows(name, columns, rows)
    yield name, []
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {name}")


def _write_versions(new_rows: list[tuple], retired: list[int]) -> None:
    """Retire the current versions (by primary key: an index look-up whatever the table's statistics say),
    then write the new ones and their explanations (the last item of each row) under ids drawn beforehand:
    a batch by COPY straight into the tables (the audit triggers see a COPY as one statement), a few as
    INSERTs from arrays."""
    if not new_rows:
        return
    with connection.cursor() as cursor:
        cursor.execute(sql.inline("UPDATE {settlement} SET is_current = false WHERE id = ANY(%s)"), [retired])
        cursor.execute(sql.inline("SELECT nextval(pg_get_serial_sequence('{settlement}', 'id')) "
                                  "FROM generate_series(1, %s)"), [len(new_rows)])
        ids = [row[0] for row in cursor.fetchall()]
    new_rows.sort(key=lambda row: row[0])  # claim order: the (claim, version) index is filled in order
    versions = [(pk, *row[:-1]) for pk, row in zip(ids, new_rows)]
    details = [(pk, row[-1]) for pk, row in zip(ids, new_rows)]
    # The explanations go first (unaudited, their foreign key is checked at commit), the audited versions last.
    if len(new_rows) > SMALL_WRITE:
        copy_rows(sql.table("settlementdetail"), ("settlement_id", "detail"), details)
        copy_rows(sql.table("settlement"), SETTLEMENT_COLUMNS, versions)
        return
    with _staged("detail_stage", ("settlement_id", "detail"), ("bigint", "text"), details) as (source, params), \
            connection.cursor() as cursor:
        cursor.execute(sql.inline(f"INSERT INTO {{settlementdetail}} (settlement_id, detail) "
                                  f"SELECT settlement_id, detail FROM {source}"), params)
    columns = ", ".join(SETTLEMENT_COLUMNS)
    with _staged("settlement_stage", SETTLEMENT_COLUMNS, SETTLEMENT_TYPES, versions) as (source, params), \
            connection.cursor() as cursor:
        cursor.execute(sql.inline(f"INSERT INTO {{settlement}} ({columns}) SELECT {columns} FROM {source}"), params)


def _mark_settled(claim_ids: list[int]) -> None:
    if claim_ids:
        with connection.cursor() as cursor:
            cursor.execute(sql.inline("UPDATE {claim} SET status = 'settled' WHERE id = ANY(%s)"), [claim_ids])


TOTAL_COLUMNS = ("id_number", "year", "name", "person_id", "region_id", "category", "claim_count", "total_cost",
                 "reimbursed", "self_pay", "threshold", "at_risk", "updated_at")
TOTAL_TYPES = ("text", "int", "text", "bigint", "text", "text", "int", *["numeric"] * 4, "boolean", "timestamptz")


def _write_year_totals(totals: dict[Key, _YearTotal], policies: dict[int, dict[str, PolicySet]]) -> None:
    """Upsert each settled person-year's totals with its §9 threshold: the warning list follows every
    settlement."""
    if not totals:
        return
    incomes = {year: incomes_last_year(year, {t.region_id[:6] for (_, y), t in totals.items() if y == year})
               for year in {year for _, year in totals}}
    now = timezone.now()
    rows = []
    for (number, year), t in totals.items():
        threshold = risk_threshold(params_of(policies[year][t.region_id]), incomes[year].get(t.region_id[:6]))
        rows.append((number, year, t.name, t.person_id, t.region_id, t.category, t.claims, t.total_cost,
                     t.reimbursed, t.self_pay, threshold, at_risk(t.self_pay, threshold), now))
    columns = ", ".join(TOTAL_COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in TOTAL_COLUMNS[2:])
    with _staged("year_total_stage", TOTAL_COLUMNS, TOTAL_TYPES, rows) as (source, params), \
            connection.cursor() as cursor:
        cursor.execute(sql.inline(f"INSERT INTO {{personyeartotal}} ({columns}) SELECT {columns} FROM {source} "
                                  f"ON CONFLICT (id_number, year) DO UPDATE SET {updates}"), params)


# ---------------------------------------------------------------- reading versions (the settlement sheet)

def paid_total(settlement) -> Decimal:
    return sum((getattr(settlement, column) for column in TIER_COLUMNS), ZERO)
