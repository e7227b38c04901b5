"""List the accounts that opened more persons' full ID numbers in a day than ACCESS_FULL_ID_DAILY_LIMIT
(the beat does this every night for the day before; this command recomputes any day)."""
from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from poverty_registry.access_log import daily_limit, flag_day


class Command(BaseCommand):
    help = "计算某日查看完整身份证号超过阈值的账号（默认：昨天）"

    def add_arguments(self, parser):
        parser.add_argument("--date", help="日期 YYYY-MM-DD，默认昨天")
        parser.add_argument("--limit", type=int, help="阈值，默认 ACCESS_FULL_ID_DAILY_LIMIT")

    def handle(self, *args, date=None, limit=None, **options):
        try:
            day = dt.date.fromisoformat(date) if date else timezone.localdate() - dt.timedelta(days=1)
        except ValueError:
            raise CommandError("日期格式应为 YYYY-MM-DD") from None
        limit = daily_limit() if limit is None else limit
        flags = flag_day(day, limit)
        for flag in flags:
            self.stdout.write(f"{flag.day} {flag.username}（{flag.region_code or '全市'}）："
                              f"{flag.full_ids} 个完整身份证号，{flag.views} 次访问")
        self.stdout.write(f"{day} 超过阈值 {limit} 的账号：{len(flags)} 个")
