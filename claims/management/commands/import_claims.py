"""Import a hospital's claim file (DOMAIN §6.1) from the command line and settle what it touched."""
import json

from django.core.management.base import BaseCommand, CommandError

from poverty_registry import importing


class Command(BaseCommand):
    help = "导入医疗机构结算单（CSV/Excel，DOMAIN §6.1 列）并结算受影响的人员年度"

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--user", help="按该账号的辖区检查参保人（不填则不限辖区）")
        parser.add_argument("--dry-run", action="store_true", help="只检查并统计，不写入")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, path, user, dry_run, **options):
        try:
            outcome = importing.import_path_as("claims", path, user, dry_run=dry_run, source="import_claims")
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        result = outcome.as_json()
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False))
            return
        self.stdout.write(f"读取 {result['rows_read']} 行：新增 {result['created']}，替换 {result['updated']}，"
                          f"结算 {result['settled']}，拒绝 {result['rows_rejected']}")
        for error in outcome.errors[:50]:
            self.stdout.write(f"  {error.text()}")
