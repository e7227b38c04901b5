"""Whether the background task service (the Celery broker) answers, asked cheaply before work is handed to it:
an upload too large for the request is refused while it is away, and the home page says so."""
from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

BACKGROUND_UNAVAILABLE = "后台任务服务暂不可用，请稍后再试"
PING_SECONDS = 1.0  # a broker that does not connect within this is away for the purpose of one page


class BackgroundUnavailable(ValueError):
    """The broker is away: work that needs a worker cannot be started now (a message for the clerk)."""

    def __init__(self, message: str = BACKGROUND_UNAVAILABLE):
        super().__init__(message)


def broker_available() -> bool:
    """One connection attempt to the broker, no retries, a short timeout."""
    from celery import current_app

    try:
        with current_app.connection_for_write(connect_timeout=PING_SECONDS) as connection:
            connection.ensure_connection(max_retries=0, timeout=PING_SECONDS)
    except Exception:  # noqa: BLE001 — any failure to connect means "not now"
        logger.warning("后台任务服务（Celery 消息队列）连接失败", exc_info=True)
        return False
    return True


def enqueue(task, *args) -> bool:
    """Send a task; False (logged) when the broker refuses it, for the caller to end what waited for it."""
    try:
        task.delay(*args)
    except Exception:  # noqa: BLE001 — the broker went away between the check and the send
        logger.exception("后台任务未能提交：%s%r", task.name, args)
        return False
    return True
