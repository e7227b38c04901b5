"""Screen a year's claims with the anti-fraud rules R01–R09 (DOMAIN §7.1)."""
import json
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from claims.supervision.rules import RULES
from claims.supervision.screening import screen_year
from poverty_registry.audit.trail import audit_context


class Command(BaseCommand):
    help = "按基金监管规则 R01–R09 筛查某年度全部结算单，记录疑点（重复运行不会重复记录）"

    def add_arguments(self, parser):
        parser.add_argument("--year", type=int, default=None, help="结算年度，默认当年")
        parser.add_argument("--rule", action="append", choices=list(RULES), help="只运行指定规则（可重复）")
        parser.add_argument("--json", action="store_true", help="以 JSON 输出各规则疑点数")

    def handle(self, *args, year, rule, **options):
        year = year or timezone.localdate().year
        if not 1900 <= year <= 2999:
            raise CommandError(f"年度 {year} 无效")
        started = time.perf_counter()
        with audit_context(source="screen_claims"):
            counts = screen_year(year, rule)
        seconds = time.perf_counter() - started
        if options["json"]:
            self.stdout.write(json.dumps({"hits": counts}))
        else:
            lines = [f"{code} {RULES[code].name}：{n}" for code, n in counts.items()]
            self.stdout.write(f"{year} 年筛查完成，用时 {seconds:.1f} 秒\n" + "\n".join(lines))
