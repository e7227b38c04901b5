"""SQL where SQL lives (poverty_registry.sql): every .sql file loads, every placeholder in it is a table that
exists or a fragment it declares, and no code or .sql file names one of our tables by hand."""
from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest
from django.db import connection

from poverty_registry import sql

ROOT = Path(__file__).resolve().parent.parent
APP_DIRS = [ROOT / app for app in sql.OUR_APPS]
# The audit trail's PL/pgSQL is being moved into .sql files by its own change.
NOT_YET = {ROOT / "poverty_registry" / "audit" / "trail.py", ROOT / "poverty_registry" / "audit" / "anchor.py"}


def sql_files() -> list[Path]:
    return sorted(path for app in APP_DIRS for path in app.rglob("*.sql") if "migrations" not in path.parts)


def python_files() -> list[Path]:
    return sorted(path for app in [*APP_DIRS, ROOT / "config"] for path in app.rglob("*.py")
                  if "migrations" not in path.parts and path not in NOT_YET)


def table_words() -> re.Pattern:
    names = sorted(sql.tables().values(), key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b")


def declared_fragments(text: str) -> set[str]:
    line = sql.FRAGMENTS_LINE.match(text)
    return {n.strip() for n in line[1].split(",") if n.strip()} if line else set()


def test_there_are_sql_files_in_every_app():
    assert {path.relative_to(ROOT).parts[0] for path in sql_files()} == set(sql.OUR_APPS)


@pytest.mark.django_db
@pytest.mark.parametrize("path", sql_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_sql_file_loads_and_names_real_tables(path):
    raw = path.read_text(encoding="utf-8")
    fragments = declared_fragments(raw)
    loaded = sql.parse(raw, str(path))
    # Only the declared fragments are left for the code to fill; each of them is used.
    assert set(sql.PLACEHOLDER.findall(loaded)) == fragments
    used = set(sql.PLACEHOLDER.findall(raw[len(sql.FRAGMENTS_LINE.match(raw)[0]):] if fragments else raw))
    tables = {sql.tables()[name] for name in used - fragments}
    assert tables <= set(connection.introspection.table_names())


def test_the_loader_reads_a_file_once_by_module_and_name():
    first = sql.load("claims.settlement.services", "settlement_claims")
    assert sql.load("claims.settlement.services", "settlement_claims") is first
    assert f"FROM {sql.table('claim')} c" in first and "{" not in first


def test_an_unknown_placeholder_is_an_error_not_sql():
    with pytest.raises(sql.SqlFileError, match="claimz"):
        sql.parse("SELECT * FROM {claimz}")
    with pytest.raises(sql.SqlFileError, match="also model names"):
        sql.parse("-- fragments: claim\nSELECT 1")


def test_fragments_are_filled_by_the_code_and_counts_are_no_placeholders():
    text = sql.parse("-- fragments: hit\nSELECT 1 FROM {claim} c WHERE {hit} AND c.id_number ~ '^[0-9]{17}'")
    assert sql.fill(text, hit="c.year = %s") == (
        f"SELECT 1 FROM {sql.table('claim')} c WHERE c.year = %s AND c.id_number ~ '^[0-9]{{17}}'\n")


def test_model_names_are_unique_across_our_apps():
    assert len(sql.tables()) == len(set(sql.tables().values()))


def test_no_sql_file_names_a_table_by_hand():
    words = table_words()
    named = {str(path.relative_to(ROOT)): sorted(set(words.findall(path.read_text(encoding="utf-8"))))
             for path in sql_files()}
    assert {path: tables for path, tables in named.items() if tables} == {}


def test_no_python_string_names_a_table_by_hand():
    """Table names come from the models (Model._meta.db_table, sql.table()) or from {placeholders}; a string
    literal spelling one breaks the day the model moves. A model's own `db_table = "…"` (the audit trail kept its
    tables' names when it moved to the base) is where the name is declared, not a copy."""
    words = table_words()
    named = {}
    for path in python_files():
        source = path.read_text(encoding="utf-8")
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.STRING and words.search(token.string) and "db_table =" not in token.line:
                named.setdefault(str(path.relative_to(ROOT)), set()).update(words.findall(token.string))
    assert named == {}
