"""Create or update a staff account with a region and a role."""
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from poverty_registry.models import Region
from poverty_registry.services import save_staff
from poverty_registry.vocab import ROLES


class Command(BaseCommand):
    help = "创建或更新工作人员账号（辖区与角色）"

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--region", required=True, help="区划代码")
        parser.add_argument("--role", required=True, choices=list(ROLES))
        parser.add_argument("--password")

    def handle(self, *args, username, region, role, password, **options):
        try:
            user, created = save_staff(username, region_code=region, role=role, password=password)
        except Region.DoesNotExist:
            raise CommandError(f"区划 {region} 不存在，请先导入区划") from None
        except ValidationError as exc:
            raise CommandError(f"密码不符合要求，账号未创建或修改：{'；'.join(exc.messages)}") from None
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        verb = "已创建" if created else "已更新"
        self.stdout.write(f"{verb}账号 {user.username}：{ROLES[role]}，辖区 {user.region}")
