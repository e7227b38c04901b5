"""The audit trail (DOMAIN §7.3): statement-level PostgreSQL triggers write every insert, update and
delete of an audited table into the AuditRecord table (claims_auditrecord: the name it was created with),
hash-chained, append-only.

Triggers, not signals, so bulk writes (COPY, INSERT … ON CONFLICT, update()) are recorded in one
set-based statement each. Who and from where travel in the `audit.context` setting of the connection.

A statement of more than AUDIT_DIRECT_ROWS changes (an import, a subsidy run) is recorded in the same
transaction as hash-chained journal entries (claims_auditjournal, one per 50,000 changes, unindexed), and
spread out into indexed records after the commit (spread_journal, a Celery task queued by the bulk
write): an indexed, chained record costs ~11 µs, a journal line ~2 µs, and the bulk write waits only for
the journal.
"""
from __future__ import annotations

import contextlib
import json
import logging

from django.apps import apps
from django.conf import settings
from django.db import connection, transaction

from poverty_registry import locks

logger = logging.getLogger(__name__)

# The tables keep the names they were created with in claims (the chain's rows never moved): the PL/pgSQL
# below names them as written; a test holds them equal to the models' db_table.
AUDIT_TABLE = "claims_auditrecord"
JOURNAL_TABLE = "claims_auditjournal"

# Many-to-many tables that carry user permissions: audited with their owners.
PERMISSION_TABLES = (
    ("auth_group_permissions", "id", "", ""),
    ("poverty_registry_user_groups", "id", "", "user_id:poverty_registry_user"),
    ("poverty_registry_user_user_permissions", "id", "", "user_id:poverty_registry_user"),
)

# The content hash of one record: the trigger fills it with the values it is about to write,
# verify_chain with the stored columns; one definition, so both hash the same bytes.
ROW_HASH_SQL = """sha256(convert_to(concat_ws(chr(31), {id}::text, {at}, {table}, {pk}, {action},
      coalesce({before}::text, ''), coalesce({after}::text, ''), coalesce({actor_id}, ''),
      {username}, {ip}, {source}, {region}), 'UTF8'))"""
AT_TEXT_SQL = """to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')"""

TRIGGER_ROW_HASH = ROW_HASH_SQL.format(
    id="id", at="$1", table="%L", pk="object_pk", action="%L", before="before", after="after",
    actor_id="$2", username="$3", ip="$4", source="$5", region="region_code")
SPREAD_ROW_HASH = ROW_HASH_SQL.format(
    id="id", at=AT_TEXT_SQL.format("j.at"), table="j.table_name", pk="object_pk", action="j.action",
    before="before", after="after", actor_id="j.actor_id::text", username="j.actor_username", ip="j.ip",
    source="j.source", region="region_code")

# The content hash of one journal entry, as the trigger writes it and verify_journal recomputes it.
JOURNAL_HASH_SQL = """sha256(convert_to(concat_ws(chr(31), {id}::text, {at}, {table}, {action},
      coalesce({actor_id}, ''), {username}, {ip}, {source}, {rows}::text, {changes}::text), 'UTF8'))"""
TRIGGER_JOURNAL_HASH = JOURNAL_HASH_SQL.format(
    id="id", at="$1", table="%L", action="%L", actor_id="$2", username="$3", ip="$4", source="$5",
    rows="rows", changes="changes")
JOURNAL_ENTRY_ROWS = 50_000  # changes per journal entry: one json value of tens of MB, spread in one go

FUNCTIONS_SQL = r"""
-- One step of the chain: the hash of the predecessor's chain hash and this record's own hash.
CREATE OR REPLACE FUNCTION audit_hash_step(state bytea, prev bytea, row_hash bytea) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$ BEGIN RETURN sha256(coalesce(state, prev, '\x'::bytea) || row_hash); END $$;

CREATE OR REPLACE AGGREGATE audit_hash_chain(bytea, bytea) (SFUNC = audit_hash_step, STYPE = bytea);

-- Under the chain lock: the next `n` ids of a chained table (claims_auditrecord, claims_auditjournal) as one
-- block, and the chain hash they follow.
CREATE OR REPLACE FUNCTION audit_draw_block(chain_table text, n bigint, OUT first_id bigint, OUT prev bytea)
LANGUAGE plpgsql AS $$
BEGIN
  first_id := nextval(chain_table || '_id_seq');
  IF n > 1 THEN
    PERFORM setval(chain_table || '_id_seq', first_id + n - 1);
  END IF;
  EXECUTE format('SELECT chain_hash FROM %I ORDER BY id DESC LIMIT 1', chain_table) INTO prev;
  prev := coalesce(prev, '\x'::bytea);
END
$$;

-- The JSON of a row's audited columns `cols` (NULL: every column) as an SQL expression over `alias`.
-- json_build_object takes at most 100 arguments: 50 columns a call, more merged as jsonb.
CREATE OR REPLACE FUNCTION audit_json_expr(cols text[], alias text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN cols IS NULL THEN format('to_json(%s)', alias) ELSE (
    SELECT CASE WHEN count(*) = 1 THEN min(call)
                ELSE '(' || string_agg(call || '::jsonb', ' || ' ORDER BY g) || ')::json' END
      FROM (SELECT (i - 1) / 50 AS g,
                   'json_build_object(' || string_agg(format('%L, %s.%I', c, alias, c), ', ' ORDER BY i) || ')' AS call
              FROM unnest(cols) WITH ORDINALITY u(c, i) GROUP BY (i - 1) / 50) s) END
$$;

-- The composite type of a table's audited columns `cols` (NULL: the table's own row type), created when first
-- asked for and kept: a journal entry keeps its rows as text of this type, readable after any later migration
-- (another column list is another type).
CREATE OR REPLACE FUNCTION audit_row_type(tbl text, cols text[]) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  fields text;
  name text;
BEGIN
  IF cols IS NULL THEN
    RETURN quote_ident(tbl);
  END IF;
  SELECT string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY u.i)
    INTO fields
    FROM unnest(cols) WITH ORDINALITY u(c, i) JOIN pg_attribute a ON a.attrelid = tbl::regclass AND a.attname = u.c;
  name := 'audit_row_' || left(md5(tbl || ':' || fields), 16);
  IF to_regtype(name) IS NULL THEN
    EXECUTE format('CREATE TYPE %I AS (%s)', name, fields);
  END IF;
  RETURN name;
END
$$;

-- The changes a journal entry holds, as the records a direct write would have: (i, key, region, before, after).
-- An entry keeps its rows as text of the audited columns' type ({"type", "k": keys, "r": regions, "b": rows
-- before, "a": rows after}): a row's text costs a third of its JSON, built here, after the commit. Entries
-- written before kept the records' JSON ([[key, region, before, after], …]).
CREATE OR REPLACE FUNCTION audit_journal_changes(changes json)
RETURNS TABLE (i bigint, k text, region text, before json, after json) LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  typ text := changes ->> 'type';
  cols text[];
BEGIN
  IF json_typeof(changes) = 'array' THEN
    RETURN QUERY EXECUTE $q$
      SELECT e.i, e.v ->> 0, e.v ->> 1, CASE WHEN json_typeof(e.v -> 2) <> 'null' THEN e.v -> 2 END,
             CASE WHEN json_typeof(e.v -> 3) <> 'null' THEN e.v -> 3 END
        FROM json_array_elements($1) WITH ORDINALITY e(v, i)$q$ USING changes;
    RETURN;
  END IF;
  IF typ LIKE 'audit\_row\_%' THEN  -- the audited columns; a table's own type stands for the whole row
    SELECT array_agg(a.attname::text ORDER BY a.attnum) INTO cols
      FROM pg_attribute a JOIN pg_type t ON t.typrelid = a.attrelid
     WHERE t.oid = typ::regtype AND a.attnum > 0 AND NOT a.attisdropped;
  END IF;
  RETURN QUERY EXECUTE format($q$
    SELECT e.i, e.k, e.r, CASE WHEN e.b IS NOT NULL THEN %s END, CASE WHEN e.a IS NOT NULL THEN %s END
      FROM ROWS FROM (json_array_elements_text($1 -> 'k'), json_array_elements_text($1 -> 'r'),
                      json_array_elements_text($1 -> 'b'), json_array_elements_text($1 -> 'a'))
           WITH ORDINALITY e(k, r, b, a, i)
     CROSS JOIN LATERAL (SELECT e.b::%s AS xb, e.a::%s AS xa OFFSET 0) p$q$,  -- each row text read once
    audit_json_expr(cols, '(p.xb)'), audit_json_expr(cols, '(p.xa)'), typ, typ) USING changes;
END
$fn$;

-- Large statements (an import of 100,000 rows) sort their records in memory, not on disk.
CREATE OR REPLACE FUNCTION audit_capture() RETURNS trigger LANGUAGE plpgsql SET work_mem = '256MB' AS $fn$
DECLARE
  ctx jsonb := coalesce(nullif(current_setting('audit.context', true), '')::jsonb, '{}'::jsonb);
  actor text := ctx ->> 'user_id';
  username text := coalesce(ctx ->> 'username', '');
  ip text := coalesce(ctx ->> 'ip', '');
  source text := coalesce(ctx ->> 'source', '');
  pk text := TG_ARGV[0];
  region_key text := TG_ARGV[1];
  via text := TG_ARGV[2];
  -- The audited columns (secrets and bulky derived data left out); '' = the whole row.
  cols text[] := nullif(TG_ARGV[3], '')::text[];
  row_type text := TG_ARGV[4];  -- audit_row_type(table, cols): a journal entry's rows are text of this type
  json_o text := audit_json_expr(cols, 'o');
  json_n text := audit_json_expr(cols, 'n');
  row_o text; row_n text;
  region_o text := 'NULL::text'; region_n text := 'NULL::text';
  join_o text := ''; join_n text := '';
  changes text;
  journal_rows text;  -- the same changes as row texts, for a journal entry
  n bigint;
  first_id bigint;
  written bigint;
  entries bigint;
  prev bytea;
BEGIN
  IF cols IS NULL THEN
    row_o := 'ROW(o.*)'; row_n := 'ROW(n.*)';
  ELSE
    SELECT 'ROW(' || string_agg(format('o.%I', c), ', ') || ')' INTO row_o FROM unnest(cols) c;
    row_n := replace(row_o, 'o.', 'n.');
  END IF;
  IF region_key <> '' THEN
    region_o := format('o.%I::text', region_key); region_n := format('n.%I::text', region_key);
  ELSIF via <> '' THEN
    join_o := format(' LEFT JOIN %I po ON po.id = o.%I', split_part(via, ':', 2), split_part(via, ':', 1));
    join_n := format(' LEFT JOIN %I pn ON pn.id = n.%I', split_part(via, ':', 2), split_part(via, ':', 1));
    region_o := 'po.region_id::text'; region_n := 'pn.region_id::text';
  END IF;
  -- An update that changes no audited column is not a change: compared as plain rows, before any JSON.
  IF TG_OP = 'INSERT' THEN
    changes := format('SELECT n.%I AS k, NULL::json AS before, %s AS after, %s AS region FROM audit_new n%s',
                      pk, json_n, region_n, join_n);
    journal_rows := format('SELECT n.%I::text AS k, coalesce(%s, '''') AS r, NULL::text AS b, %s::text AS a'
                           ' FROM audit_new n%s', pk, region_n, row_n, join_n);
  ELSIF TG_OP = 'UPDATE' THEN
    changes := format('SELECT n.%I AS k, %s AS before, %s AS after, %s AS region'
                      ' FROM audit_old o JOIN audit_new n ON n.%I = o.%I%s WHERE %s IS DISTINCT FROM %s',
                      pk, json_o, json_n, region_n, pk, pk, join_n, row_o, row_n);
    journal_rows := format('SELECT n.%I::text AS k, coalesce(%s, '''') AS r, %s::text AS b, %s::text AS a'
                           ' FROM audit_old o JOIN audit_new n ON n.%I = o.%I%s WHERE %s IS DISTINCT FROM %s',
                           pk, region_n, row_o, row_n, pk, pk, join_n, row_o, row_n);
  ELSE
    changes := format('SELECT o.%I AS k, %s AS before, NULL::json AS after, %s AS region FROM audit_old o%s',
                      pk, json_o, region_o, join_o);
    journal_rows := format('SELECT o.%I::text AS k, coalesce(%s, '''') AS r, %s::text AS b, NULL::text AS a'
                           ' FROM audit_old o%s', pk, region_o, row_o, join_o);
  END IF;

  -- The chain lock is held to the end of the transaction: a statement with nothing to record (an update
  -- of unaudited columns only, an empty statement) must not take it, or it would wait for every other
  -- writer's commit for nothing.
  IF TG_OP = 'UPDATE' THEN
    -- count, not EXISTS: a first-row plan would join the transition tables by nested loop
    EXECUTE format('SELECT count(*) FROM audit_old o JOIN audit_new n ON n.%I = o.%I'
                   ' WHERE %s IS DISTINCT FROM %s', pk, pk, row_o, row_n) INTO n;
  ELSE
    EXECUTE format('SELECT count(*) FROM %I', CASE TG_OP WHEN 'INSERT' THEN 'audit_new' ELSE 'audit_old' END)
      INTO n;
  END IF;
  IF n = 0 THEN
    RETURN NULL;
  END IF;
  -- The lock comes before the ids are drawn, so id order is the order the chain is built in. Only these
  -- functions draw from the sequences, under the lock: the statement's ids are drawn as one block. One
  -- INSERT … SELECT hashes every record and chains them in id order (a window over the aggregate).
  -- Journal and records share the lock: one lock order, no deadlock between them.
  TAKE_CHAIN_LOCK;
  IF n > coalesce(nullif(current_setting('audit.direct_rows', true), '')::bigint, DIRECT_ROWS) THEN
    entries := (n + ENTRY_ROWS - 1) / ENTRY_ROWS;
    SELECT * INTO first_id, prev FROM audit_draw_block('claims_auditjournal', entries);
    EXECUTE format($q$
      INSERT INTO claims_auditjournal (id, at, table_name, action, actor_id, actor_username, ip, source, rows,
                                       changes, content_hash, chain_hash)
      SELECT id, now(), %L, %L, $2::bigint, $3, $4, $5, rows, changes, content_hash,
             audit_hash_chain($7, content_hash) OVER (ORDER BY id ROWS UNBOUNDED PRECEDING)
        FROM (SELECT j.*, TRIGGER_JOURNAL_HASH AS content_hash
                FROM (SELECT $6 + g AS id, count(*) AS rows,
                             json_build_object('type', $8, 'k', json_agg(k), 'r', json_agg(r), 'b', json_agg(b),
                                               'a', json_agg(a)) AS changes
                        FROM (SELECT c.*, (row_number() OVER () - 1) / ENTRY_ROWS AS g FROM (%s) c) x
                       GROUP BY g) j) r$q$, TG_TABLE_NAME, TG_OP, TG_TABLE_NAME, TG_OP, journal_rows)
    USING AT_TEXT_NOW, actor, username, ip, source, first_id, prev, row_type;
    GET DIAGNOSTICS written = ROW_COUNT;
    IF written <> entries THEN
      RAISE EXCEPTION 'audit: % journal entries written for % changes', written, n;
    END IF;
    RETURN NULL;
  END IF;
  SELECT * INTO first_id, prev FROM audit_draw_block('claims_auditrecord', n);
  EXECUTE format($q$
    INSERT INTO claims_auditrecord (id, at, table_name, object_pk, action, before, after, actor_id,
                                    actor_username, ip, source, region_code, row_hash, chain_hash)
    SELECT id, now(), %L, object_pk, %L, before, after, $2::bigint, $3, $4, $5,
           region_code, row_hash, audit_hash_chain($7, row_hash) OVER (ORDER BY id ROWS UNBOUNDED PRECEDING)
      FROM (SELECT h.*, TRIGGER_ROW_HASH AS row_hash
              FROM (SELECT $6 + row_number() OVER () - 1 AS id, c.k::text AS object_pk, c.before, c.after,
                           coalesce(c.region, '') AS region_code
                      FROM (%s) c) h) r$q$, TG_TABLE_NAME, TG_OP, TG_TABLE_NAME, TG_OP, changes)
  USING AT_TEXT_NOW, actor, username, ip, source, first_id, prev;
  GET DIAGNOSTICS written = ROW_COUNT;
  IF written <> n THEN  -- the block drawn must be the block used
    RAISE EXCEPTION 'audit: % records written for % changes', written, n;
  END IF;
  RETURN NULL;
END
$fn$;

-- Spreads the oldest journal entries not yet spread into indexed, chained records (their time, actor and
-- source the entry's): one entry per call keeps the chain lock short for the writers waiting on it.
CREATE OR REPLACE FUNCTION audit_spread_journal(max_entries int) RETURNS bigint LANGUAGE plpgsql
SET work_mem = '256MB' AS $fn$
DECLARE
  j claims_auditjournal;
  done bigint;
  first_id bigint;
  written bigint;
  total bigint := 0;
  prev bytea;
BEGIN
  TAKE_CHAIN_LOCK;
  SELECT coalesce(max(journal_id), 0) INTO done FROM claims_auditrecord WHERE journal_id IS NOT NULL;
  FOR j IN SELECT * FROM claims_auditjournal WHERE id > done ORDER BY id LIMIT max_entries LOOP
    SELECT * INTO first_id, prev FROM audit_draw_block('claims_auditrecord', j.rows);
    INSERT INTO claims_auditrecord (id, at, table_name, object_pk, action, before, after, actor_id,
                                    actor_username, ip, source, region_code, journal_id, row_hash, chain_hash)
    SELECT id, j.at, j.table_name, object_pk, j.action, before, after, j.actor_id, j.actor_username, j.ip,
           j.source, region_code, j.id, row_hash,
           audit_hash_chain(prev, row_hash) OVER (ORDER BY id ROWS UNBOUNDED PRECEDING)
      FROM (SELECT h.*, SPREAD_ROW_HASH AS row_hash
              FROM (SELECT first_id + e.i - 1 AS id, e.k AS object_pk, e.region AS region_code, e.before, e.after
                      FROM audit_journal_changes(j.changes) e) h) r;
    GET DIAGNOSTICS written = ROW_COUNT;
    IF written <> j.rows THEN
      RAISE EXCEPTION 'audit: journal entry % holds % changes, % spread', j.id, j.rows, written;
    END IF;
    total := total + written;
  END LOOP;
  RETURN total;
END
$fn$;
""".replace("TRIGGER_ROW_HASH", TRIGGER_ROW_HASH).replace("AT_TEXT_NOW", AT_TEXT_SQL.format("now()")).replace(
    "TRIGGER_JOURNAL_HASH", TRIGGER_JOURNAL_HASH).replace("SPREAD_ROW_HASH", SPREAD_ROW_HASH).replace(
    "ENTRY_ROWS", str(JOURNAL_ENTRY_ROWS)).replace("TAKE_CHAIN_LOCK", locks.plpgsql_xact_lock(locks.AUDIT_CHAIN))

APPEND_ONLY_SQL = r"""
CREATE OR REPLACE FUNCTION audit_forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Only a throw-away test database (ALTER DATABASE … SET audit.maintenance = on) may be emptied.
  IF TG_OP = 'TRUNCATE' AND current_setting('audit.maintenance', true) = 'on' THEN
    RETURN NULL;
  END IF;
  RAISE EXCEPTION '审计记录只能追加，不能修改或删除';
END
$$;

CREATE OR REPLACE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON claims_auditrecord
  FOR EACH ROW EXECUTE FUNCTION audit_forbid_change();
CREATE OR REPLACE TRIGGER audit_no_truncate BEFORE TRUNCATE ON claims_auditrecord
  FOR EACH STATEMENT EXECUTE FUNCTION audit_forbid_change();
CREATE OR REPLACE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON claims_auditjournal
  FOR EACH ROW EXECUTE FUNCTION audit_forbid_change();
CREATE OR REPLACE TRIGGER audit_no_truncate BEFORE TRUNCATE ON claims_auditjournal
  FOR EACH STATEMENT EXECUTE FUNCTION audit_forbid_change();
"""

TRIGGERS_SQL = """
CREATE OR REPLACE TRIGGER audit_insert AFTER INSERT ON {table} REFERENCING NEW TABLE AS audit_new
  FOR EACH STATEMENT EXECUTE FUNCTION audit_capture({args});
CREATE OR REPLACE TRIGGER audit_update AFTER UPDATE ON {table}
  REFERENCING OLD TABLE AS audit_old NEW TABLE AS audit_new
  FOR EACH STATEMENT EXECUTE FUNCTION audit_capture({args});
CREATE OR REPLACE TRIGGER audit_delete AFTER DELETE ON {table} REFERENCING OLD TABLE AS audit_old
  FOR EACH STATEMENT EXECUTE FUNCTION audit_capture({args});
"""


def audited_tables() -> list[tuple[str, str, str, str, str]]:
    """(table, pk column, region key in the row, "fk:table" to find the region, "{audited,columns}") of every
    audited table. A model may name bulky derived columns in `audit_exclude` (their inputs are audited)."""
    tables = []
    for model in apps.get_models():
        if not getattr(model, "audited", False):
            continue
        table, pk = model._meta.db_table, model._meta.pk.column
        columns = audited_columns(model)
        path = model.region_field.split("__")
        if len(path) <= 2:  # the row's own column, or its foreign key to Region, holds the code
            tables.append((table, pk, model._meta.get_field(path[0]).column, "", columns))
        else:  # e.g. person__region__code: the region lives on the parent row
            fk = model._meta.get_field(path[0])
            tables.append((table, pk, "", f"{fk.column}:{fk.related_model._meta.db_table}", columns))
    return tables + [(*spec, "") for spec in PERMISSION_TABLES]


def audited_columns(model) -> str:
    """The columns whose values the trail keeps, as a PostgreSQL array literal: all but the password, the
    times the row stamps on itself (the record's own time says when) and what the model lists in
    `audit_exclude`."""
    excluded = {"password", *(model._meta.get_field(name).column for name in getattr(model, "audit_exclude", ()))}
    return "{" + ",".join(f.column for f in model._meta.concrete_fields
                          if f.column not in excluded and not getattr(f, "auto_now", False)
                          and not getattr(f, "auto_now_add", False)) + "}"


def install_triggers(using: str = "default", **kwargs) -> None:
    """post_migrate: (re)create the audit functions and a trigger on every audited table. Idempotent."""
    from django.db import connections

    connection = connections[using]
    existing = set(connection.introspection.table_names())
    with connection.cursor() as cursor:
        cursor.execute(FUNCTIONS_SQL.replace("DIRECT_ROWS", str(int(settings.AUDIT_DIRECT_ROWS))))
        cursor.execute(APPEND_ONLY_SQL)
        for table, pk, region_key, via, columns in audited_tables():
            if table not in existing:  # a model whose migration has not run yet
                continue
            cursor.execute("SELECT audit_row_type(%s, nullif(%s, '')::text[])", [table, columns])
            row_type = cursor.fetchone()[0]
            args = ", ".join(f"'{value}'" for value in (pk, region_key, via, columns, row_type))
            cursor.execute(TRIGGERS_SQL.format(table=connection.ops.quote_name(table), args=args))


def set_context(**context) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('audit.context', %s, false)", [json.dumps(context, default=str)])


def clear_context() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('audit.context', '', false)")


@contextlib.contextmanager
def audit_context(user=None, source: str = "", ip: str = ""):
    """Who is changing data outside a web request (a command, a Celery task)."""
    set_context(user_id=getattr(user, "pk", None), username=getattr(user, "username", ""), ip=ip, source=source)
    try:
        yield
    finally:
        clear_context()


# Every record's content hash and chain hash recomputed from its stored columns, beside the stored ones: what
# verify_chain compares, and exactly what a consistent rewrite of the trail would have to store (the anchors in
# poverty_registry.audit.anchor are what catches that).
RECOMPUTED_RECORDS_SQL = f"""
SELECT id, row_hash, chain_hash, rh, audit_hash_chain(NULL::bytea, rh) OVER (ORDER BY id) AS chain
  FROM (SELECT a.id, a.row_hash, a.chain_hash, {ROW_HASH_SQL.format(
      id="a.id", at=AT_TEXT_SQL.format("a.at"), table="a.table_name", pk="a.object_pk", action="a.action",
      before="a.before", after="a.after", actor_id="a.actor_id::text", username="a.actor_username", ip="a.ip",
      source="a.source", region="a.region_code")} AS rh FROM claims_auditrecord a) x
"""
VERIFY_SQL = f"""
SELECT id FROM ({RECOMPUTED_RECORDS_SQL}) y
WHERE row_hash IS DISTINCT FROM rh OR chain_hash IS DISTINCT FROM chain
ORDER BY id LIMIT 1
"""

# The same for the journal: (id, content_hash, chain_hash, recomputed ch, recomputed chain).
RECOMPUTED_JOURNAL_SQL = f"""
SELECT id, content_hash, chain_hash, ch, audit_hash_chain(NULL::bytea, ch) OVER (ORDER BY id) AS chain
  FROM (SELECT j.id, j.content_hash, j.chain_hash, {JOURNAL_HASH_SQL.format(
      id="j.id", at=AT_TEXT_SQL.format("j.at"), table="j.table_name", action="j.action",
      actor_id="j.actor_id::text", username="j.actor_username", ip="j.ip", source="j.source", rows="j.rows",
      changes="j.changes")} AS ch FROM claims_auditjournal j) x
"""
VERIFY_JOURNAL_SQL = f"""
SELECT id FROM ({RECOMPUTED_JOURNAL_SQL}) y
WHERE content_hash IS DISTINCT FROM ch OR chain_hash IS DISTINCT FROM chain
ORDER BY id LIMIT 1
"""

# Every entry spread so far against its records, change by change in record order: a record missing, added,
# altered or moved shows as its entry.
VERIFY_SPREAD_SQL = """
WITH spread AS (SELECT coalesce(max(journal_id), 0) AS upto FROM claims_auditrecord WHERE journal_id IS NOT NULL)
SELECT coalesce(e.jid, r.journal_id) FROM
  (SELECT j.id AS jid, e.i, j.at, j.table_name, j.action, j.actor_id, j.actor_username, j.ip, j.source,
          e.k, e.region, e.before::text AS b, e.after::text AS a
     FROM claims_auditjournal j CROSS JOIN LATERAL audit_journal_changes(j.changes) e
    WHERE j.id <= (SELECT upto FROM spread)) e
  FULL JOIN
  (SELECT journal_id, row_number() OVER (PARTITION BY journal_id ORDER BY id) AS i, at, table_name, action,
          actor_id, actor_username, ip, source, object_pk, region_code, before::text AS b, after::text AS a
     FROM claims_auditrecord WHERE journal_id IS NOT NULL) r
  ON r.journal_id = e.jid AND r.i = e.i
WHERE r.journal_id IS NULL OR e.jid IS NULL
   OR (r.at, r.table_name, r.action, r.actor_id, r.actor_username, r.ip, r.source, r.object_pk, r.region_code, r.b, r.a)
      IS DISTINCT FROM (e.at, e.table_name, e.action, e.actor_id, e.actor_username, e.ip, e.source, e.k, e.region,
                        e.b, e.a)
ORDER BY 1 LIMIT 1
"""


def verify_journal() -> tuple[int, int | None]:
    """(journal entries checked, id of the first entry whose content, chain or spread-out records do not
    match, or None)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM claims_auditjournal")
        total = cursor.fetchone()[0]
        cursor.execute(VERIFY_JOURNAL_SQL)
        broken = [row[0] for row in cursor.fetchall()]
        cursor.execute(VERIFY_SPREAD_SQL)
        broken += [row[0] for row in cursor.fetchall()]
    return total, (min(broken) if broken else None)


def spread_journal() -> int:
    """Spread every journal entry not yet spread into indexed records, an entry per transaction (each holds
    the chain lock only for its own entry). Idempotent; returns the records written."""
    total = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT audit_spread_journal(1)")
            written = cursor.fetchone()[0]
        if not written:
            return total
        total += written


def journal_pending() -> tuple[int, int]:
    """(entries, changes) written to the journal and not yet spread into records."""
    with connection.cursor() as cursor:
        cursor.execute("""SELECT count(*), coalesce(sum(rows), 0) FROM claims_auditjournal
                           WHERE id > (SELECT coalesce(max(journal_id), 0) FROM claims_auditrecord
                                        WHERE journal_id IS NOT NULL)""")
        return tuple(cursor.fetchone())


def spread_after_commit() -> None:
    """For a bulk write: once its transaction commits, a worker spreads its journal entries (the beat's
    periodic run catches up if the broker is away)."""
    def queue():
        from .tasks import spread_audit_journal  # the task module imports this one

        try:  # no retries: with the broker away the write's caller must not wait, beat's run catches up
            spread_audit_journal.apply_async(retry=False)
        except Exception:  # noqa: BLE001 — the write is committed; the periodic run spreads it
            logger.warning("审计批量日志展开任务未能入队，将由定时任务补做", exc_info=True)

    transaction.on_commit(queue)


def verify_chain() -> tuple[int, int | None]:
    """(records checked, id of the first broken record or None) — one set-based pass."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM claims_auditrecord")
        total = cursor.fetchone()[0]
        cursor.execute(VERIFY_SQL)
        row = cursor.fetchone()
    return total, (row[0] if row else None)
