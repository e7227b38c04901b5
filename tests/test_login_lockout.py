"""The django-axes lockout page: in Chinese, saying how long until the next try (AXES_COOLOFF_TIME)."""
from __future__ import annotations

from django.urls import reverse

from tests.conftest import PASSWORD


def fail_until_locked(client, settings, username="clerk_a"):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("admin:login"), {"username": username, "password": "wrong-password"},
                    REMOTE_ADDR="10.0.0.9")
    return client.post(reverse("admin:login"), {"username": username, "password": PASSWORD}, REMOTE_ADDR="10.0.0.9")


def test_lockout_page_is_chinese_and_says_when_to_try_again(client, clerk_a, settings):
    locked = fail_until_locked(client, settings)
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "登录已暂时锁定" in page and "请在 <strong>30 分钟</strong>后再试" in page
    assert f"连续 {settings.AXES_FAILURE_LIMIT} 次密码错误" in page
    assert "Account locked" not in page and "too many" not in page.lower()


def test_lockout_page_follows_the_cool_off_setting(client, clerk_a, settings):
    settings.AXES_COOLOFF_TIME = 2  # hours, as an int
    page = fail_until_locked(client, settings).content.decode()
    assert "请在 <strong>120 分钟</strong>后再试" in page
