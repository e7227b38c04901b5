"""First start of `make run`: demo region tree, demo data and one account per role — once."""
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand

from poverty_registry.models import Person, Region
from poverty_registry.services import save_staff
from poverty_registry.vocab import ROLES

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "yueyang_regions.csv"
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

    def handle(self, *args, persons, **options):
        if not Region.objects.filter(level=5).exists():  # migrations may have made the city row alone
            call_command("load_regions", str(FIXTURE), stdout=self.stdout)
        if not Person.objects.exists():
            call_command("seed_demo", persons=persons, seed=2026, stdout=self.stdout)
        self.stdout.write("\n演示账号（用户名 / 密码 / 角色 / 辖区）：")
        for username, region, role, password in DEMO_ACCOUNTS:
            user, _ = save_staff(username, region_code=region, role=role, password=password)
            self.stdout.write(f"  {username:<11} {password:<20} {ROLES[role]:<6} {user.region.full_name}")
