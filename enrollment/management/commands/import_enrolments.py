"""Import the tax/insurance system's enrolment list (DOMAIN §5) from the command line."""
import json

from django.core.management.base import BaseCommand, CommandError

from poverty_registry import importing


class Command(BaseCommand):
    help = "导入参保名单（CSV/Excel：身份证号,姓名,参保年度,参保状态,缴费日期,参保地区划）"

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--user", help="按该账号的辖区检查参保地区划（不填则不限辖区）")
        parser.add_argument("--dry-run", action="store_true", help="只检查并统计，不写入")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, path, user, dry_run, **options):
        try:
            outcome = importing.import_path_as("enrolment", path, user, dry_run=dry_run, source="import_enrolments")
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        result = outcome.as_json()
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False))
            return
        self.stdout.write(f"读取 {result['rows_read']} 行：新增 {result['created']}，更新 {result['updated']}，"
                          f"未变 {result['unchanged']}，拒绝 {result['rows_rejected']}")
        for error in outcome.errors[:50]:
            self.stdout.write(f"  {error.text()}")
