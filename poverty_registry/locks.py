"""Every PostgreSQL advisory lock the back office takes: one named number each, and the functions that take them.

Advisory locks live in one key space per database, so two features that pick the same number wait for each
other (or worse, one's shared lock admits the other): the numbers are kept here, side by side, and a test
proves them unique and that no code calls pg_advisory_* except through this module. A two-key lock is
(namespace, key) — a namespace below names the feature, the key the year, bucket or person; a one-key lock is
the number alone. Base layer: imports no other app.
"""
from __future__ import annotations

from collections.abc import Sequence

from django.db import connection

# ---- 63xx settlement (claims.settlement.services)
# (SETTLEMENT_BUCKET, year × 64 + bucket): person-years hash into 64 buckets per year; a small settlement
# holds its buckets shared, a batch chunk or big import exclusively, so chunks and single settlements take turns.
SETTLEMENT_BUCKET = 6301
# (SETTLEMENT_PERSON_YEAR, hashtext(id_number|year)): two settlements of one person-year never interleave.
SETTLEMENT_PERSON_YEAR = 6302

# ---- 64xx ledger (poverty_registry)
# (CATEGORY_SPANS, person id mod 64): writers of the same persons' category spans take turns before the
# overlap check. Taken inside the trigger of migration 0007, which keeps its own literal (a migration's
# behaviour is frozen): a test proves the two equal.
CATEGORY_SPANS = 6401
# (LEDGER_VILLAGE, hashtext(village code)): held by a ledger confirm to its commit for every village it touches,
# taken in key order before it counts (poverty_registry.importer): two confirms over the same households run
# one after the other, the second counting what the first wrote.
LEDGER_VILLAGE = 6402

# ---- 73xx audit, subsidies, supervision
# AUDIT_CHAIN (one key): the audit trail's hash chain is built by one writer at a time (DOMAIN §7.3); taken in
# the PL/pgSQL of the audit trigger functions (.audit.trail), so journal and records share one lock order.
AUDIT_CHAIN = 7303
# (SUBSIDY_YEAR, year): one subsidy computation of a year at a time (enrollment.subsidies).
SUBSIDY_YEAR = 7305
# (SCREENING_YEAR, year): the nightly screening of a year holds it exclusively, person runs shared
# (claims.supervision.screening), so person runs wait for the year's run rather than interleave with it.
SCREENING_YEAR = 7306
# (SCREENING_PERSON, hashtext(id_number)): two screening runs of one person do not interleave.
SCREENING_PERSON = 7307
# SCREENING_NIGHTLY (one key, session try-lock): one nightly screening at a time however often beat fires.
SCREENING_NIGHTLY = 7308
# (SUBSIDY_REPORT_SERIAL, year): reports of a year are numbered one at a time (enrollment.subsidy_reports). It shared
# 7306 with the screening's year lock until issue 13: issuing a report waited for the nightly screening.
SUBSIDY_REPORT_SERIAL = 7309


def _function(shared: bool) -> str:
    return "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"


def xact_lock(*keys: int, shared: bool = False) -> None:
    """Lock (key) or (namespace, key) to the end of the transaction; exclusive unless `shared`."""
    _check_arity(keys)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {_function(shared)}({', '.join(['%s'] * len(keys))})", list(keys))


def xact_lock_each(namespace: int, keys_sql: str, params: Sequence = (), *, shared: bool = False) -> None:
    """Lock (namespace, k) for every k (an int) the query `keys_sql` returns in its column `k`, in ascending
    order (one lock order for every taker, so takers of overlapping sets never deadlock), in one statement."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {_function(shared)}(%s, k) FROM ({keys_sql}) AS keys ORDER BY k",
                       [namespace, *params])


def try_lock(*keys: int) -> bool:
    """Take the session lock (key) or (namespace, key) if free; True when taken. Release it with unlock()."""
    _check_arity(keys)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT pg_try_advisory_lock({', '.join(['%s'] * len(keys))})", list(keys))
        return cursor.fetchone()[0]


def unlock(*keys: int) -> None:
    _check_arity(keys)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT pg_advisory_unlock({', '.join(['%s'] * len(keys))})", list(keys))


def plpgsql_xact_lock(*keys: int) -> str:
    """The statement taking this transaction lock, for the text of a PL/pgSQL function."""
    _check_arity(keys)
    return f"PERFORM pg_advisory_xact_lock({', '.join(str(int(key)) for key in keys)})"


def _check_arity(keys: Sequence[int]) -> None:
    if len(keys) not in (1, 2):
        raise TypeError("an advisory lock is one bigint key or two int keys (namespace, key)")
