"""First start of `make run`: demo region tree, demo data and one account per role, then what makes every page
meaningful (claims.demo_pages: hits of every rule, cases in every state, a matching run with every difference, a
re-settlement, issued reports) — each part once, so a second start reuses what is there. In claims, the top app:
it calls every app's demo builders."""
import time
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from poverty_registry.audit.trail import audit_context, spread_journal
from poverty_registry.models import Person, Region
from poverty_registry.services import save_staff
from poverty_registry.vocab import ROLES

FIXTURE = Path(apps.get_app_config("poverty_registry").path) / "fixtures" / "yueyang_regions.csv"
DEMO_ACCOUNTS = (
    ("xiangzhen", "430621100", "township", "Rongjiawan-2026"),
    ("xiangzhen2", "430626100", "township", "Hanchang-2026"),
    ("xianji", "430621", "county", "Yueyangxian-2026"),
    ("shiji", "4306", "city", "Yueyangshi-2026"),
    ("jianguan", "4306", "supervisor", "Jijinjianguan-2026"),
    ("jianguan2", "4306", "supervisor", "Jijinjianguan2-2026"),
    ("admin", "4306", "admin", "Xitongguanli-2026"),
)


class Command(BaseCommand):
    help = "首次启动：导入岳阳市区划、生成演示数据、创建各角色演示账号（已有数据时跳过）"

    def add_arguments(self, parser):
        parser.add_argument("--persons", type=int, default=20000)
        parser.add_argument("--inbox", default=None, help="比对收件目录（默认 MATCHING_INBOX）")

    def handle(self, *args, persons, inbox, **options):
        started = time.perf_counter()
        if not Region.objects.filter(level=5).exists():  # migrations may have made the city row alone
            call_command("load_regions", str(FIXTURE), stdout=self.stdout)
        if not Person.objects.exists():
            call_command("seed_demo", persons=persons, seed=2026, stdout=self.stdout)
        users = {}
        lines = []
        for username, region, role, password in DEMO_ACCOUNTS:
            users[username], _ = save_staff(username, region_code=region, role=role, password=password)
            lines.append(f"  {username:<11} {password:<20} {ROLES[role]:<6} {users[username].region.full_name}")
        self._pages(users, Path(inbox or settings.MATCHING_INBOX), options["verbosity"])
        self.stdout.write(f"演示数据就绪，用时 {time.perf_counter() - started:.1f} 秒")
        self.stdout.write("\n演示账号（用户名 / 密码 / 角色 / 辖区）：")
        self.stdout.write("\n".join(lines))

    def _pages(self, users, inbox: Path, verbosity: int) -> None:
        from django.utils import timezone

        from claims import demo_pages

        today = timezone.localdate()
        clock = [time.perf_counter()]

        def timed(label, result):
            now = time.perf_counter()
            if verbosity > 1:
                self.stdout.write(f"  {label}：{now - clock[0]:.1f} 秒")
            clock[0] = now
            return result

        with audit_context(source="seed_demo"):
            supervision = timed("疑点与案件", demo_pages.seed_supervision(users["jianguan"], users["jianguan2"], today))
            run = timed("比对", demo_pages.seed_matching(inbox, today))
            resettle = timed("重算", demo_pages.seed_resettlement(users["shiji"], demo_pages.demo_year(today)))
            reports = timed("资助报表", demo_pages.seed_reports([("430621", users["xianji"]), ("4306", users["shiji"])],
                                                           today.year))
        timed("审计日志", spread_journal())
        if supervision["cases"] or run or resettle or reports:
            self.stdout.write(
                f"演示页面数据：疑点 {supervision['hits'] or 0} 条、案件 {supervision['cases']} 件、"
                f"比对差异 {sum(run.counts.values()) if run else 0} 条、"
                f"重算 {resettle.settlements_written if resettle else 0} 张结算单、资助报表 {len(reports)} 份")
