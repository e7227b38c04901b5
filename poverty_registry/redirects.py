"""Where a page may send the user back to: only a path on this site, never a URL taken on trust from the request."""
from __future__ import annotations

from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request, value: str | None, fallback: str, *args, **kwargs) -> str:
    """`value` if it points at this host (scheme-relative `//evil`, `javascript:` and other hosts refused),
    else `fallback` resolved like redirect() does (a URL name with `args`/`kwargs`, or a path)."""
    if value and url_has_allowed_host_and_scheme(value, allowed_hosts={request.get_host()},
                                                 require_https=request.is_secure()):
        return value
    return resolve_url(fallback, *args, **kwargs)
