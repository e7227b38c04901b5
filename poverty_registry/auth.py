"""Signing in: who may (an account without a region may not), and the Chinese page shown to a
username + address locked out by django-axes after repeated failures."""
from __future__ import annotations

import math

from axes.helpers import get_cool_off, get_failure_limit
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.shortcuts import render

from .scoping import region_scope

NO_REGION_LOGIN = "该账号未分配辖区，不能登录。请联系系统管理员为账号设置所属区划和角色。"


class StaffAuthenticationForm(AdminAuthenticationForm):
    """The admin login (the site's only login): besides Django's checks, an account that is not a
    superuser and has no region is refused — it would see nothing, and no region must never mean all."""

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if region_scope(user).is_empty:
            raise ValidationError(NO_REGION_LOGIN, code="no_region")


def cool_off_minutes(request=None) -> int | None:
    cool_off = get_cool_off(request)
    return math.ceil(cool_off.total_seconds() / 60) if cool_off else None


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: the lockout page in Chinese, saying how long until the next try."""
    context = {
        "failure_limit": get_failure_limit(request, credentials),
        "minutes": cool_off_minutes(request),
        "title": "登录已暂时锁定",
    }
    return render(request, "registration/lockout.html", context, status=settings.AXES_HTTP_RESPONSE_CODE)
