"""The ledger's parse cache (poverty_registry.importer): its key names the pickle's format, and an entry
that cannot be read — another format, another type, fields missing, bytes that do not unpickle — is a miss:
the file is parsed again and the entry replaced, never an error for the clerk."""
from __future__ import annotations

import datetime as dt
import pickle

import pytest
from django.core.cache import cache

from poverty_registry import importer
from poverty_registry.ledger_file import LedgerParse, parse_ledger
from tests.conftest import VILLAGE_A
from tests.poverty_registry.ledger_builders import ledger_xlsx, row

TODAY = dt.date(2026, 3, 2)
VILLAGES = {VILLAGE_A}


@pytest.fixture
def upload():
    importer._last_parse.clear()  # the in-process copy would answer before Redis
    data = ledger_xlsx([row(f"{VILLAGE_A}70001", "缓存甲", 701, VILLAGE_A),
                        row(f"{VILLAGE_A}70001", "缓存乙", 702, VILLAGE_A, relation="配偶")])
    key = importer.parse_key(data, "台账.xlsx", VILLAGES, TODAY)
    yield data, key
    cache.delete(key)
    importer._last_parse.clear()


def _parse(data):
    importer._last_parse.clear()
    return importer.cached_parse(data, "台账.xlsx", VILLAGES, TODAY)


def test_key_names_the_format(upload, monkeypatch):
    data, key = upload
    assert f":v{importer.PARSE_FORMAT}:" in key
    monkeypatch.setattr(importer, "PARSE_FORMAT", importer.PARSE_FORMAT + 1)
    assert importer.parse_key(data, "台账.xlsx", VILLAGES, TODAY) != key


def test_an_entry_of_the_current_format_is_read(upload, monkeypatch):
    data, key = upload
    cache.set(key, parse_ledger(data, "台账.xlsx", allowed_villages=VILLAGES, today=TODAY))
    monkeypatch.setattr(importer, "parse_ledger", _must_not_parse)
    parse, store = _parse(data)
    assert [r.name for r in parse.accepted] == ["缓存甲", "缓存乙"]
    assert store is importer._nothing_to_store


def test_an_entry_of_another_format_is_not_read(upload, monkeypatch):
    data, key = upload
    cache.set(key, parse_ledger(data, "台账.xlsx", allowed_villages=VILLAGES, today=TODAY))
    monkeypatch.setattr(importer, "PARSE_FORMAT", importer.PARSE_FORMAT + 1)
    parse, store = _parse(data)
    assert store is not importer._nothing_to_store  # parsed again, to be stored under the new key


def _must_not_parse(*args, **kwargs):
    raise AssertionError("parsed although the cache held a readable parse")


def _without_header(parse: LedgerParse) -> LedgerParse:
    del parse.header
    return parse


def _raw_bytes(key: str, value: bytes) -> None:
    """Bytes Django's Redis cache will try to unpickle (its serializer unpickles anything but an integer)."""
    client = cache._cache.get_client(key, write=True)
    client.set(cache.make_and_validate_key(key), value)


@pytest.mark.parametrize("entry", ["not pickle", "truncated pickle", "another type", "fields missing",
                                   "rows of another shape"])
def test_an_unreadable_entry_is_a_miss(entry, upload, caplog):
    data, key = upload
    fresh = parse_ledger(data, "台账.xlsx", allowed_villages=VILLAGES, today=TODAY)
    if entry == "not pickle":
        _raw_bytes(key, b"\x80\x05garbage, not a pickle")
    elif entry == "truncated pickle":
        _raw_bytes(key, pickle.dumps(fresh)[:-40])
    elif entry == "another type":
        cache.set(key, {"accepted": fresh.accepted})
    elif entry == "fields missing":
        cache.set(key, _without_header(parse_ledger(data, "台账.xlsx", allowed_villages=VILLAGES, today=TODAY)))
    else:  # an older LedgerRow with one column fewer
        state = fresh.__getstate__()
        state = {**state, "accepted": [r[:-1] for r in state["accepted"]]}

        class Stale:  # pickles as a LedgerParse whose rows are a column short
            def __reduce__(self):
                return (LedgerParse.__new__, (LedgerParse,), state)

        _raw_bytes(key, pickle.dumps(Stale()))
    parse, store = _parse(data)
    assert parse.accepted == fresh.accepted and parse.errors == fresh.errors
    assert store is not importer._nothing_to_store
    assert "重新解析文件" in caplog.text
    importer._store_parse(key, parse)  # the new parse replaces the unreadable entry
    assert importer._cached(key).accepted == fresh.accepted
