"""The figure cache: dashboard and statistics aggregates (a whole year of a region) kept for a few minutes in the
Django cache (Redis), so a city of 1,000,000 persons is not re-aggregated on every opening of the home page.

Keys name what was computed — the figure, the region scope, the year, the filter — and never the user: everyone
of one scope shares the figures, nobody sees another scope's. Callers only ask for a figure once they have
checked the permission it needs. Values go through JSON both ways (Decimals become strings, the caller turns
them back), so a figure looks the same fresh or cached. Best effort: when the cache fails the figure is
computed directly and the page never fails; after a failure the cache is left alone for a while, so a Redis
that hangs costs one timeout, not one per figure.

Freshness: the TTL (DASHBOARD_CACHE_SECONDS, default 300) is the only invalidation — an import, settlement or
subsidy computation shows on the dashboards within five minutes; each page says when its figures were
computed ("数据更新于 HH:MM")."""
from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from .scoping import RegionScope

logger = logging.getLogger(__name__)
PREFIX = "figures"
RETRY_AFTER_SECONDS = 30  # after a cache error, compute directly this long before trying the cache again
_cache_down_until = 0.0


@dataclass(frozen=True)
class Figures:
    value: Any  # as JSON gives it back: dicts, lists, strings, numbers
    computed_at: dt.datetime


def scope_part(scope: RegionScope) -> str | None:
    """The key part of a region scope: its code, "all" for the whole city (a superuser); None for an empty
    scope (an account without a region), whose figures of nothing are computed and never kept."""
    if scope.is_empty:
        return None
    return scope.prefix or "all"


def figure_key(key_parts: tuple) -> str:
    return ":".join([PREFIX, *(str(part) for part in key_parts)])


def cached_figures(key_parts: tuple, compute: Callable[[], Any], ttl: int | None = None) -> Figures:
    """The figure named by `key_parts` (figure name, region scope, year, filter …: never the user) from the
    cache, or computed by `compute()` and kept for `ttl` seconds (DASHBOARD_CACHE_SECONDS; 0 keeps nothing,
    nor does a None among the key parts)."""
    ttl = settings.DASHBOARD_CACHE_SECONDS if ttl is None else ttl
    if None in key_parts:  # a scope of nothing (scope_part): nothing to share
        ttl = 0
    key = figure_key(key_parts)
    kept = _get(key) if ttl > 0 else None
    if kept is not None:
        return Figures(kept["value"], dt.datetime.fromisoformat(kept["computed_at"]))
    entry = json.dumps({"value": compute(), "computed_at": timezone.now().isoformat()}, cls=DjangoJSONEncoder,
                       ensure_ascii=False)
    if ttl > 0:
        _set(key, entry, ttl)
    kept = json.loads(entry)
    return Figures(kept["value"], dt.datetime.fromisoformat(kept["computed_at"]))


def oldest(computed: list[dt.datetime]) -> dt.datetime | None:
    """When a page's figures were computed: the oldest of them."""
    return min(computed, default=None)


def _get(key: str) -> dict | None:
    global _cache_down_until
    if time.monotonic() < _cache_down_until:
        return None
    try:
        entry = cache.get(key)
    except Exception:  # noqa: BLE001 — any cache failure: compute the figure directly
        logger.warning("图表数据缓存不可用，直接计算", exc_info=True)
        _cache_down_until = time.monotonic() + RETRY_AFTER_SECONDS
        return None
    return json.loads(entry) if entry else None


def _set(key: str, entry: str, ttl: int) -> None:
    global _cache_down_until
    if time.monotonic() < _cache_down_until:
        return
    try:
        cache.set(key, entry, ttl)
    except Exception:  # noqa: BLE001
        logger.warning("图表数据缓存不可用，未保存", exc_info=True)
        _cache_down_until = time.monotonic() + RETRY_AFTER_SECONDS


def forget_failures() -> None:
    """Try the cache again now (tests that take Redis away and bring it back)."""
    global _cache_down_until
    _cache_down_until = 0.0
