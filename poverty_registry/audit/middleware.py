"""Who changes data, for the audit triggers: the signed-in user and their address on the connection per request,
and the login's own write (last_login) under the account that signs in."""
from __future__ import annotations

import logging

from django.db import DatabaseError

from .trail import clear_context, set_context

logger = logging.getLogger(__name__)


class AuditContextMiddleware:
    """Puts the signed-in user and their address on the connection for the triggers, per request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            set_context(user_id=user.pk, username=user.username, ip=client_ip(request), source="web")
            request.audit_context_set = True
        try:
            return self.get_response(request)
        finally:
            # also after a login inside this request (record_login): the connection outlives the request
            if getattr(request, "audit_context_set", False):
                try:
                    clear_context()
                except DatabaseError:  # the connection died in the request: it is closed with its context
                    logger.warning("请求结束时无法清除审计上下文（数据库连接已中断）")


def record_login(sender, request, user, **kwargs):
    """Django's update_last_login, under the account that signs in and its address: the request began
    anonymous, so without this the trail's login rows had neither operator nor IP."""
    from django.contrib.auth.models import update_last_login

    if request is not None:
        set_context(user_id=user.pk, username=user.username, ip=client_ip(request), source="login")
        request.audit_context_set = True
    update_last_login(sender, user, **kwargs)


def client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "")
