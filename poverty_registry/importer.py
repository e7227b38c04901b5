"""The township ledger import (DOMAIN §4): one service for the admin pages, the command and Celery.

Rows are checked in Python (ledger_file), then written set-based in one transaction: COPY into a
staging table, scope and household checks against the database, INSERT … ON CONFLICT upserts of
households and persons that touch only what changed, and categories started or ended on the import
date. The audit trail records every written row through its statement-level triggers.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import threading
from collections.abc import Callable

from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from . import importing, locks, sql
from .idnumber import mask_id_number
from .ledger_file import (
    COLUMN_SYNONYMS,
    COLUMNS,
    REQUIRED_COLUMNS,
    TEMPLATE_SHEET,
    TEXT_COLUMNS,
    LedgerParse,
    find_ledger_header,
    parse_ledger,
    template_notes,
    with_extra_errors,
)
from .models import Person, Region
from .scoping import region_scope
from .tabular import RowError, read_table
from .vocab import ID_FALLBACK_MARKERS, ID_HEADER_MARKERS

logger = logging.getLogger(__name__)
PARSE_CACHE_SECONDS = 3600
# The shape of a pickled LedgerParse (its fields, LedgerRow's, __getstate__): raise it with any change, so a
# deploy never reads the entries the previous code left in Redis (they expire unread).
PARSE_FORMAT = 2  # 2: a parse knows its masked rows (an exported ledger imported again)
ANALYZE_AFTER_ROWS = 1000  # a file this large can change the ledger's statistics
STAGE_COLUMNS = {"excel_row": "integer PRIMARY KEY", "household_no": "text NOT NULL", "name": "text NOT NULL",
                 "id_number": "text NOT NULL", "sex": "char(1) NOT NULL", "birth_date": "date NOT NULL",
                 "relation": "text NOT NULL", "is_head": "boolean NOT NULL", "village_code": "text NOT NULL",
                 "status": "text", "phone": "text", "categories": "text"}

# The writes, in order, each with the table whose statistics the next ones need once a large file wrote it.
UPSERTS = (("ledger_upsert_households", "household"), ("ledger_heads_step_down", None),
           ("ledger_upsert_persons", "person"))
CATEGORY_WRITES = ("ledger_categories_drop", "ledger_categories_end", "ledger_categories_start")


class LedgerKind(importing.ImportKind):
    code = "ledger"
    label = "建档立卡台账"
    permission = "poverty_registry.add_person"
    template_name = "建档立卡台账导入模板.xlsx"
    count_labels = {"households_imported": "导入户数", "persons_created": "新增人员",
                    "persons_updated": "修改人员", "persons_unchanged": "未变人员"}
    sheet_title, columns, synonyms, required = TEMPLATE_SHEET, COLUMNS, COLUMN_SYNONYMS, REQUIRED_COLUMNS
    header_markers, fallback_markers, text_columns = ID_HEADER_MARKERS, ID_FALLBACK_MARKERS, TEXT_COLUMNS

    def read(self, data, filename):
        table = read_table(data, filename)
        return table, find_ledger_header(table)

    def template_notes(self):
        return template_notes()

    def run(self, data, filename, user, *, dry_run, progress):
        today = timezone.localdate()
        progress(5, "读取并核对文件")
        parse, store_parse = cached_parse(data, filename, allowed_villages(user), today, masked_persons(user))
        progress(45, "与台账比对")
        return importing.in_transaction(lambda: self._apply(parse, user, today, dry_run, progress, store_parse),
                                        dry_run=dry_run)

    def _apply(self, parse: LedgerParse, user, today: dt.date, dry_run: bool, progress,
               store_parse: Callable[[], None]) -> importing.ImportOutcome:
        with connection.cursor() as cursor:
            if parse.stage_payload is None:
                parse.stage_payload = importing.copy_payload(_stage_row(row) for row in parse.accepted)
            importing.stage(cursor, "ledger_stage", STAGE_COLUMNS, parse.stage_payload)
            importing.analyze_sampled(cursor, "pg_temp.ledger_stage")
            if not dry_run:  # before anything read from the ledger: the scope, the heads, the count
                progress(50, "等待同村其他导入完成")
                lock_villages(cursor)
            parse = self._reject_conflicts(cursor, parse, user)
            with_categories = parse.has_column("categories")
            store_parse()  # pickling holds the interpreter: while this thread waits for the count, not before
            cursor.execute(sql.load(__name__, "ledger_count"), {"today": today, "with_categories": with_categories})
            created, updated, households_changed = cursor.fetchone()
            # The count's conditions are the writes' conditions: a file that changes nothing writes nothing,
            # and need not run the statements to find that out (a re-import of 100,000 unchanged rows).
            if not dry_run and (created or updated or households_changed):
                progress(60, "写入台账")
                for statement, written in UPSERTS:
                    cursor.execute(sql.load(__name__, statement))
                    if written and len(parse.accepted) >= ANALYZE_AFTER_ROWS:
                        # The next statements join what this one wrote: plan them on statistics that
                        # count it (ANALYZE sees this transaction's rows), not on those of an emptier ledger.
                        importing.analyze_sampled(cursor, sql.table(written))
                if with_categories:
                    progress(85, "更新人员类别")
                    for statement in CATEGORY_WRITES:
                        cursor.execute(sql.load(__name__, statement),
                                       {"today": today, "yesterday": today - dt.timedelta(days=1)})
        progress(100, "完成")
        accepted = len(parse.accepted)
        return importing.ImportOutcome(
            rows_read=parse.rows_read,
            counts={"households_imported": parse.households_accepted, "persons_created": created,
                    "persons_updated": updated,
                    "persons_unchanged": accepted - created - updated},
            rows_rejected=len(parse.rejected_rows),
            errors=parse.errors,
        )

    def _reject_conflicts(self, cursor, parse: LedgerParse, user) -> LedgerParse:
        """Re-check scope inside the transaction (NetBox's lesson) and head conflicts with the ledger."""
        extra: list[RowError] = []
        scope = region_scope(user)
        id_label, household_label, relation_label = (
            parse.header.labels.get(column, COLUMNS[column]) for column in ("id_number", "household_no", "relation"))
        if not scope.is_all:  # the empty scope's pattern matches nothing: every stored row is out of it
            cursor.execute(sql.load(__name__, "ledger_out_of_scope"), {"prefix": scope.like_pattern()})
            conflicts = cursor.fetchall()
            places = _region_names({region for _, _, region in conflicts})
            for excel_row, what, region in conflicts:
                place = places.get(region, region)
                if what == "person":
                    extra.append(RowError(excel_row, id_label, f"该人员已在{place}登记，不在您的辖区，"
                                                                "请联系县级经办办理迁移"))
                else:
                    extra.append(RowError(excel_row, household_label, f"该户编号已属于{place}，不在您的辖区"))
        cursor.execute(sql.load(__name__, "ledger_head_conflicts"))
        for excel_row, head_name in cursor.fetchall():
            extra.append(RowError(excel_row, relation_label,
                                  f"该户在台账中的户主是{head_name}，本文件未包含其记录；更换户主请在文件中一并填写原户主"))
        if not extra:
            return parse
        parse = with_extra_errors(parse, extra)
        cursor.execute("DELETE FROM ledger_stage WHERE NOT (excel_row = ANY (%s))",
                       [[row.excel_row for row in parse.accepted]])
        return parse


def lock_villages(cursor) -> None:
    """Take the village locks of the staged file, in key order, until they cover every village it touches:
    a person moved by a confirm that held the lock before us may now be registered in one more village."""
    held: set[int] = set()
    while True:
        cursor.execute(sql.load(__name__, "ledger_touched_villages"))
        missing = {key for (key,) in cursor.fetchall()} - held
        if not missing:
            return
        locks.xact_lock_each(locks.LEDGER_VILLAGE, "SELECT unnest(%s::int[]) AS k", [sorted(missing)])
        held |= missing


def masked_persons(user):
    """What tells a ledger parse which registered person a masked number of an exported ledger stands for: the
    person of the user's region with that masked number, 户编号 and 姓名 (none when two would fit)."""
    def unmask(keys: set[tuple[str, str, str]]) -> dict[tuple[str, str, str], str]:
        found: dict[tuple[str, str, str], str | None] = {}
        persons = Person.objects.restrict(user).filter(household__household_no__in={k[1] for k in keys})
        for number, household_no, name in persons.values_list("id_number", "household__household_no", "name"):
            key = (mask_id_number(number), household_no, name)
            if key in keys:
                found[key] = None if key in found else number
        return {key: number for key, number in found.items() if number}
    return unmask


def cached_parse(data: bytes, filename: str, villages: set[str], today: dt.date, unmask=None
                 ) -> tuple[LedgerParse, Callable[[], None]]:
    """Preview and confirm check the same file against the same villages on the same day: parse it once.
    The key covers everything the parse depends on, so a hit is the same result. The last parse is also
    kept in this process (a Celery worker or a command usually runs both steps), which spares unpickling
    100,000 rows from Redis; another process finds it in Redis. Returns the parse and what stores a new one
    in Redis: only a confirm in another process reads it, seconds later at the earliest, so the caller stores
    it on a thread of its own while it waits for the database (a third of a second for 100,000 rows, during
    which the pickler holds the interpreter). A confirm that comes first finds nothing and parses again.
    A parse of masked numbers (an exported ledger) is never kept: whom they stand for is the database's now."""
    key = parse_key(data, filename, villages, today)
    last_key, last = _last_parse.get("last", (None, None))  # one read: another thread may replace it meanwhile
    if last_key == key:
        return last, _nothing_to_store
    parse = _cached(key)
    found = parse is not None
    if not found:
        parse = parse_ledger(data, filename, allowed_villages=villages, today=today, unmask=unmask)
        if parse.masked:
            return parse, _nothing_to_store
    _last_parse["last"] = (key, parse)
    if found:
        return parse, _nothing_to_store

    def store() -> None:
        threading.Thread(target=_store_parse, args=(key, parse), name="ledger-parse-cache", daemon=True).start()

    return parse, store


def parse_key(data: bytes, filename: str, villages: set[str], today: dt.date) -> str:
    """Everything a parse depends on, and the format its pickle was written in."""
    scope = hashlib.sha256(",".join(sorted(villages)).encode()).hexdigest()
    return (f"ledger-parse:v{PARSE_FORMAT}:{importing.digest(data)}:{scope}:{today.isoformat()}:"
            f"{filename.rsplit('.', 1)[-1].lower()}")


def _nothing_to_store() -> None:
    pass


_PARSE_FIELDS = tuple(f.name for f in dataclasses.fields(LedgerParse))


def _cached(key: str) -> LedgerParse | None:
    """The cached parse, or None: a cache that is away or an entry that cannot be read (written by other code,
    truncated, another type, fields missing) costs a parse, nothing else; the new parse then replaces it."""
    try:
        parse = cache.get(key)
    except Exception:  # noqa: BLE001 — unpickling can raise anything the pickled classes' code raises
        logger.warning("解析结果缓存不可用或缓存内容不可读，重新解析文件", exc_info=True)
        return None
    if parse is None:
        return None
    if not isinstance(parse, LedgerParse) or any(name not in vars(parse) for name in _PARSE_FIELDS):
        logger.warning("解析结果缓存内容不可读（%s），重新解析文件", type(parse).__name__)
        return None
    return parse


def _store_parse(key: str, parse: LedgerParse) -> None:
    try:
        cache.set(key, parse, PARSE_CACHE_SECONDS)
    except Exception:  # noqa: BLE001 — a cache that cannot take it costs the confirm a parse, nothing else
        logger.warning("解析结果未能写入缓存", exc_info=True)


_last_parse: dict = {}


def allowed_villages(user) -> set[str]:
    return set(Region.objects.restrict(user, None).filter(level=5).values_list("code", flat=True))


def _region_names(codes: set[str]) -> dict[str, str]:
    return {region.code: region.full_name for region in Region.objects.filter(code__in=codes)}


def _stage_row(row) -> tuple:
    return (row.excel_row, row.household_no, row.name, row.id_number, row.sex, row.birth_date, row.relation,
            row.is_head, row.village_code, row.status, row.phone or None, ",".join(sorted(row.categories)) or None)


LEDGER = importing.register(LedgerKind())
