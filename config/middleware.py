"""A database connection lost in the middle of a request (a restart, a failover, a terminated backend):
the user gets a Chinese page saying nothing was saved, with status 503, instead of a traceback or a bare
500. The request's transaction is gone with the connection, so nothing it wrote is kept; the next request
opens a new connection (CONN_HEALTH_CHECKS)."""
from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.shortcuts import render

log = logging.getLogger(__name__)
CONNECTION_LOST = "与数据库的连接中断，本次操作未完成，也未保存任何内容。请稍后重新操作。"


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        log.error("请求 %s 时数据库连接中断：%s", request.path, exception)
        # Rendered without a database query: no session or user look-up on a dead connection.
        return render(None, "503.html", {"message": CONNECTION_LOST}, status=503)
